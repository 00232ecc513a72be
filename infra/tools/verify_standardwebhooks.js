#!/usr/bin/env node
// Verifies Standard Webhooks signatures with the official `standardwebhooks`
// npm package, beside verify_standardwebhooks.py (the PyPI one): the same
// input, output and exit codes, so one self-test and one Rust helper drive
// both.
//
// Input on stdin: one JSON object, or a JSON array of them:
//   {"secret": "whsec_...", "headers": {"webhook-id", "webhook-timestamp",
//    "webhook-signature"}, "body": "<raw body string, exactly as sent>"}
// Output: one line per item, `ok` or `error: <reason>` (for an array,
// prefixed with the item's index). Exit 0 when every item verified, 1 when
// any did not, 2 when the input itself is unusable.
//
// The package is found through NODE_PATH, which infra/test.sh exports as
// $COURIER_TEST_NODE_PATH (infra/lib/install.sh installs it there).
"use strict";

const { Webhook } = require("standardwebhooks");

function verify(item) {
  if (item === null || typeof item !== "object" || Array.isArray(item)) {
    return "item is not a JSON object";
  }
  const { secret, headers, body } = item;
  if (typeof secret !== "string" || headers === null || typeof headers !== "object" || typeof body !== "string") {
    return 'item needs "secret" (string), "headers" (object) and "body" (string)';
  }
  try {
    // jsonParse false: verify the signature only; the body need not be JSON.
    const strings = Object.fromEntries(Object.entries(headers).map(([k, v]) => [String(k), String(v)]));
    new Webhook(secret).verify(body, strings, { jsonParse: false });
  } catch (err) {
    return `${err.name}: ${err.message}`;
  }
  return null;
}

function main(input) {
  let doc;
  try {
    doc = JSON.parse(input);
  } catch (err) {
    console.log(`error: stdin is not JSON: ${err.message}`);
    return 2;
  }
  const items = Array.isArray(doc) ? doc : [doc];
  if (items.length === 0) {
    console.log("error: empty array");
    return 2;
  }
  let failed = 0;
  items.forEach((item, i) => {
    const err = verify(item);
    const line = err === null ? "ok" : `error: ${err}`;
    console.log(Array.isArray(doc) ? `${i}: ${line}` : line);
    if (err !== null) failed += 1;
  });
  return failed ? 1 : 0;
}

let input = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => { input += chunk; });
process.stdin.on("end", () => { process.exitCode = main(input); });
