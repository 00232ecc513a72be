#!/usr/bin/env python3
"""Self-test of a Standard Webhooks verifier (verify_standardwebhooks.py, the
PyPI package, by default; or the command given as arguments, such as
`node verify_standardwebhooks.js`, the npm package), so the Rust interop tests
that use it cannot pass because the verifier accepts everything. Signs with plain hmac
(Standard Webhooks v1: base64(HMAC-SHA256(secret, "{id}.{ts}.{body}"))) and
checks that good messages verify and altered ones fail.

Run with the test venv's python: $COURIER_TEST_PYTHON selftest_verify_standardwebhooks.py [VERIFIER CMD...]
"""

import base64
import hashlib
import hmac
import json
import os
import subprocess
import sys
import time

VERIFIER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "verify_standardwebhooks.py")
KEY = os.urandom(24)
SECRET = "whsec_" + base64.b64encode(KEY).decode()
BODY = '{"type":"invoice.paid","data":{"id":"in_1","amount":4200,"note":"h\u00e9llo \u2713"}}'


def signed(body=BODY, ts=None, msg_id="msg_2Lh9KsbxQ0c3dTz", key=KEY):
    ts = str(int(time.time()) if ts is None else ts)
    mac = hmac.new(key, f"{msg_id}.{ts}.{body}".encode(), hashlib.sha256).digest()
    headers = {"webhook-id": msg_id, "webhook-timestamp": ts, "webhook-signature": "v1," + base64.b64encode(mac).decode()}
    return {"secret": SECRET, "headers": headers, "body": body}


COMMAND = sys.argv[1:] or [sys.executable, VERIFIER]


def run(doc):
    p = subprocess.run(COMMAND, input=json.dumps(doc), capture_output=True, text=True)
    return p.returncode, p.stdout.strip()


def main() -> int:
    good = signed()
    rotated = signed()
    rotated["headers"]["webhook-signature"] = "v1,AAAA " + rotated["headers"]["webhook-signature"]
    cases = [
        ("valid", good, 0),
        ("valid, non-JSON body", signed(body="plain text"), 0),
        ("valid, one of several signatures", rotated, 0),
        ("tampered body", dict(good, body=BODY.replace("4200", "4201")), 1),
        ("wrong secret", signed(key=os.urandom(24)), 1),
        ("timestamp an hour old", signed(ts=int(time.time()) - 3600), 1),
        ("id changed", dict(good, headers=dict(good["headers"], **{"webhook-id": "msg_other"})), 1),
        ("array with one bad item", [good, dict(good, body=BODY + " ")], 1),
        ("array of good items", [good, signed(body="x")], 0),
    ]
    failed = 0
    for name, doc, want in cases:
        rc, out = run(doc)
        if rc != want:
            failed += 1
            print(f"FAIL {name}: exit {rc}, wanted {want} ({out})")
    print(f"verifier self-test ({' '.join(os.path.basename(c) for c in COMMAND)}): {len(cases) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
