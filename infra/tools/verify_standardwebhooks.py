#!/usr/bin/env python3
"""Verifies Standard Webhooks signatures with the official `standardwebhooks`
package (the reference implementation), for the Rust tests to check that
courier's signatures interoperate.

Input on stdin: one JSON object, or a JSON array of them:

    {"secret": "whsec_...",
     "headers": {"webhook-id": "...", "webhook-timestamp": "...", "webhook-signature": "v1,..."},
     "body": "<raw body string, exactly as sent>"}

Output: one line per item, `ok` or `error: <reason>` (for an array, prefixed
with the item's index: `0: ok`). Exit 0 when every item verified, 1 when any
did not, 2 when the input itself is unusable.

The package checks the timestamp against the current time (5 minutes of
tolerance), as a receiver would. Run it with the test venv's python
($COURIER_TEST_PYTHON), which has the package installed.
"""

import json
import sys

from standardwebhooks.webhooks import Webhook


def verify(item: object) -> str | None:
    """Returns None when the item verifies, else the reason it does not."""
    if not isinstance(item, dict):
        return "item is not a JSON object"
    secret, headers, body = item.get("secret"), item.get("headers"), item.get("body")
    if not isinstance(secret, str) or not isinstance(headers, dict) or not isinstance(body, str):
        return 'item needs "secret" (string), "headers" (object) and "body" (string)'
    try:
        # json_parse=False: verify the signature only; the body need not be JSON.
        Webhook(secret).verify(body, {str(k): str(v) for k, v in headers.items()}, json_parse=False)
    except Exception as exc:  # noqa: BLE001 - any failure is a verification failure
        return f"{type(exc).__name__}: {exc}"
    return None


def main() -> int:
    try:
        doc = json.load(sys.stdin)
    except json.JSONDecodeError as exc:
        print(f"error: stdin is not JSON: {exc}")
        return 2
    items = doc if isinstance(doc, list) else [doc]
    if not items:
        print("error: empty array")
        return 2
    failed = 0
    for i, item in enumerate(items):
        err = verify(item)
        line = "ok" if err is None else f"error: {err}"
        print(f"{i}: {line}" if isinstance(doc, list) else line)
        failed += err is not None
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
