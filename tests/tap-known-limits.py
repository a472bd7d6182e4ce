#!/usr/bin/env python3
"""Run a TAP test and mark the failures listed in a known-limits file as TODO.

Usage: tap-known-limits.py LIMITS-FILE COMMAND [ARGS...]

Each line of LIMITS-FILE is "<name prefix> | <kernels> | <reason>", where
<kernels> is "all" or conditions on the running kernel's version, all of
which must hold: "< 6.12.85", ">= 6.1, < 6.2". A "not ok" line whose
description starts with a listed name that applies to this kernel gets
"# TODO <reason>" appended; the exit status is then that of the remaining,
unlisted failures (0 when there are none). Every other line passes through.
A listed test that passes is left as it is, with a diagnostic line, so a
kernel that lost the limit shows up in the log.
"""
import os
import re
import subprocess
import sys


def kernel_version():
    """The running kernel's version; Debian's package version where the
    release string carries only the ABI (6.1.0-57-amd64)."""
    # uname -v: "#1 SMP PREEMPT_DYNAMIC Debian 6.1.192-3 (...)"; not
    # /proc/version, whose compiler part says "Debian 12.2.0" first.
    m = re.search(r"Debian (\d+)\.(\d+)\.(\d+)", os.uname().version)
    if m:
        return tuple(int(x) for x in m.groups())
    m = re.match(r"(\d+)\.(\d+)(?:\.(\d+))?", os.uname().release)
    return tuple(int(x or 0) for x in m.groups())


def applies(cond, version):
    if cond == "all":
        return True
    for c in cond.split(","):
        m = re.fullmatch(r"\s*(<=|>=|<|>|=)\s*(\d+(?:\.\d+){0,2})\s*", c)
        if not m:
            raise ValueError(f"bad kernel condition '{c}'")
        want = tuple(int(x) for x in m.group(2).split("."))
        have = version[: len(want)]
        ok = {"<": have < want, "<=": have <= want, ">": have > want,
              ">=": have >= want, "=": have == want}[m.group(1)]
        if not ok:
            return False
    return True


def load(path):
    limits = []
    version = kernel_version()
    for line in open(path):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        fields = [f.strip() for f in line.split("|", 2)]
        if len(fields) != 3:
            raise ValueError(f"{path}: not '<name> | <kernels> | <reason>': {line}")
        name, cond, reason = fields
        if applies(cond, version):
            limits.append((name, f"{reason} (Linux {'.'.join(map(str, version))})"))
    return limits


def main():
    if len(sys.argv) < 3:
        print("usage: tap-known-limits.py LIMITS-FILE COMMAND [ARGS...]", file=sys.stderr)
        return 2
    limits = load(sys.argv[1])
    proc = subprocess.Popen(sys.argv[2:], stdout=subprocess.PIPE, text=True)
    unexplained = known_failures = 0
    for line in proc.stdout:
        line = line.rstrip("\n")
        m = re.match(r"(not ok|ok)\s+\d+\s*-?\s*(.*)", line)
        if m and "#" not in m.group(2):
            known = next((r for n, r in limits if m.group(2).startswith(n)), None)
            if m.group(1) == "not ok":
                if known:
                    line += " # TODO " + known
                    known_failures += 1
                else:
                    unexplained += 1
            elif known:
                print(line)
                line = "# known kernel limit did not show here: " + m.group(2)
        print(line, flush=True)
    rc = proc.wait()
    if rc < 0:
        return 128 - rc
    if unexplained or (rc and not known_failures):
        return rc or 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
