#!/usr/bin/env python3
"""Where the delivery benchmark's CPU goes, from `perf script` on stdin.

Reads the samples of a `perf record --call-graph dwarf` run of
`courier-bench delivery` (infra/profile.sh) and sorts those taken in the
tasks of each path (`delivery_round`: Courier's delivery path;
`fair_round`: the fair baseline) into what the work is for. The rest
(the receiver, HTTP connection tasks and the runtime, which both paths
share, and the benchmark's own set-up) is counted apart.
"""

import re
import sys
from collections import Counter

# First match wins, in this order.
CATEGORIES = [
    ("the POST: envelope, signatures, headers, HTTP (Sender::send)", r"Sender::send"),
    ("endpoint read: copy, open the sealed secrets and headers",
     r"EmbeddedStore::opened|State::stored|endpoints::<impl [^>]*>::endpoint|courier::sealing::|Secret::parse"),
    ("log entry: claim, insert, statistics, counter (record_attempt)",
     r"record_attempt|insert_entry|find_attempt|apply_outcome|log_attempt|for_attempt|log::<impl [^>]*>::entry"),
    ("message decode: the JSON body to DeliveryMessage and Event",
     r"DeliveryMessage::from_json|deserialize_struct<serde_json::read::StrRead, courier::"),
    ("queue: take visible messages, delete, visibility",
     r"take_visible|with_receipt|EmbeddedQueue|remove_entry"),
    ("the delivery's other steps: circuit gate, chain position, the entry built",
     r"attempt::<impl [^>]*>::deliver"),
]
OTHER = "the batch: its stream of deliveries, maps by endpoint, allocator"


def samples(lines):
    """Yields each sample's frames (function names), leaf first."""
    frames = None
    for line in lines:
        if not line.strip():
            if frames is not None:
                yield frames
            frames = None
        elif not line[0].isspace():
            frames = [line.split()[0]]
        elif frames is not None:
            parts = line.strip().split(" ", 1)
            frames.append(re.sub(r"\+0x[0-9a-f]+ .*$|\+0x[0-9a-f]+$", "", parts[-1]))
    if frames is not None:
        yield frames


def path_of(stack):
    """The path whose task took the sample, if any."""
    if "run_task" not in stack:
        return None
    if "delivery_round" in stack:
        return "courier delivery"
    if "fair_round" in stack:
        return "fair baseline"
    return None


def apart_of(thread, stack):
    """What a sample outside the two paths' tasks was for."""
    if "baseline_round" in stack:
        return "the bare loop (second reference line)"
    if re.search(r"sink", thread + " " + stack, re.I):
        return "the receiver (in-process sink)"
    if "block_on" in stack and "run_task" not in stack:
        return "the benchmark's set-up (bodies, messages), outside the clock"
    return "shared by both paths: HTTP connection tasks, the runtime, the kernel"


def category(stack):
    for name, pattern in CATEGORIES:
        if re.search(pattern, stack):
            return name
    return OTHER


def main():
    by_path = {"courier delivery": Counter(), "fair baseline": Counter()}
    apart = Counter()
    for frames in samples(sys.stdin):
        stack = " ".join(frames[1:])
        path = path_of(stack)
        if path is None:
            apart[apart_of(frames[0], stack)] += 1
            continue
        by_path[path][category(stack)] += 1
    if not sum(by_path["courier delivery"].values()):
        sys.exit("no samples of the delivery path: was it built with symbols (cargo --profile profiling)?")
    for path, counts in by_path.items():
        total = sum(counts.values())
        print(f"{path}: {total} samples in its tasks")
        for name, n in counts.most_common():
            print(f"  {n:6d}  {100 * n / max(total, 1):4.0f}%  {name}")
    send = CATEGORIES[0][0]
    c, f = by_path["courier delivery"], by_path["fair baseline"]
    beyond = sum(c.values()) - c[send]
    print(f"beyond the POST: courier {beyond} samples, fair baseline {sum(f.values()) - f[send]}"
          f" (the same number of deliveries each)")
    for name, n in apart.most_common():
        print(f"apart: {n:6d}  {name}")


if __name__ == "__main__":
    main()
