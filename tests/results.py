#!/usr/bin/env python3
"""Count meson's test results: "N passed, N failed[, N skipped]".

Usage: results.py [--no-skips] [--known] [LABEL=]TESTLOG.json...

With several logs (a native run and runs inside other kernels), each gets
a line "LABEL: counts" and the last line counts them all. --no-skips counts
a skipped test as failed; --known first lists the subtests marked TODO (a
known difference of the kernel, tests/privileged/kernel-limits.txt). A log
that is missing or empty counts as one failure. Exit status 1 when
anything failed.
"""
import json
import sys


def count(path, label, no_skips, known):
    passed = failed = skipped = 0
    try:
        with open(path) as f:
            lines = f.read().splitlines()
    except OSError:
        lines = []
    for line in lines:
        t = json.loads(line)
        r = t["result"]
        if known:
            for tap in t.get("stdout", "").splitlines():
                if tap.startswith("not ok") and "# TODO" in tap:
                    print(f"{label}: {t['name']}: {tap}")
        if r in ("OK", "EXPECTEDFAIL"):
            passed += 1
        elif r == "SKIP":
            if no_skips:
                print(f"test: {label}: {t['name']} was skipped; skips count as failures here",
                      file=sys.stderr)
                failed += 1
            else:
                skipped += 1
        else:
            failed += 1
    if not lines:
        print(f"test: {label}: no results", file=sys.stderr)
        failed += 1
    return passed, failed, skipped


def line(p, f, s):
    return f"{p} passed, {f} failed" + (f", {s} skipped" if s else "")


def main():
    args = sys.argv[1:]
    no_skips = "--no-skips" in args
    known = "--known" in args
    args = [a for a in args if a not in ("--no-skips", "--known")]
    if not args:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    total = [0, 0, 0]
    for arg in args:
        label, _, path = arg.rpartition("=")
        c = count(path, label or path, no_skips, known)
        if len(args) > 1:
            print(f"{label or path}: {line(*c)}")
        total = [a + b for a, b in zip(total, c)]
    print(line(*total))
    return 1 if total[1] else 0


if __name__ == "__main__":
    sys.exit(main())
