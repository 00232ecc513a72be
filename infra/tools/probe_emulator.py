#!/usr/bin/env python3
"""Waits until a local AWS emulator answers a real API call.

    probe_emulator.py dynamodb|sqs ENDPOINT [--pid PID] [--timeout SECONDS]

dynamodb: ListTables must succeed. sqs: CreateQueue + DeleteQueue of a probe
queue must succeed. Exits 0 once it does, 1 on timeout or when PID (the
emulator's process) has died. Needs boto3 (the test venv has it).
"""

import argparse
import os
import sys
import time

import boto3
from botocore.config import Config


def probe(kind: str, endpoint: str) -> str:
    client = boto3.client(
        kind,
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(connect_timeout=2, read_timeout=10, retries={"max_attempts": 1}),
    )
    if kind == "dynamodb":
        tables = client.list_tables()["TableNames"]
        return f"ListTables ok ({len(tables)} tables)"
    url = client.create_queue(QueueName="courier-emulator-probe")["QueueUrl"]
    client.delete_queue(QueueUrl=url)
    return "CreateQueue/DeleteQueue ok"


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("kind", choices=["dynamodb", "sqs"])
    ap.add_argument("endpoint")
    ap.add_argument("--pid", type=int)
    ap.add_argument("--timeout", type=float, default=60.0)
    args = ap.parse_args()

    deadline = time.monotonic() + args.timeout
    last = "no attempt"
    while time.monotonic() < deadline:
        if args.pid is not None and not alive(args.pid):
            print(f"{args.kind}: process {args.pid} exited before answering ({last})", file=sys.stderr)
            return 1
        try:
            print(f"{args.kind} at {args.endpoint}: {probe(args.kind, args.endpoint)}", file=sys.stderr)
            return 0
        except Exception as exc:  # noqa: BLE001 - any failure means "not ready yet"
            last = f"{type(exc).__name__}: {exc}"
        time.sleep(0.3)
    print(f"{args.kind} at {args.endpoint}: no answer within {args.timeout:.0f}s ({last})", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
