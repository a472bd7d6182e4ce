#!/usr/bin/env python3
"""Count meson's results in a testlog.json: "N passed, N failed[, N skipped]"."""
import json
import sys

passed = failed = skipped = 0
with open(sys.argv[1]) as f:
    for line in f:
        r = json.loads(line)["result"]
        if r in ("OK", "EXPECTEDFAIL"):
            passed += 1
        elif r == "SKIP":
            skipped += 1
        else:
            failed += 1
out = f"{passed} passed, {failed} failed"
if skipped:
    out += f", {skipped} skipped"
print(out)
