#!/usr/bin/python3
"""Second stage, PID 1 on the guest's root (the host's, under an overlay).

Runs guest.sh and reaps every orphan meanwhile, as init does, so that a
test that checks whether a process is gone never sees a zombie. When
guest.sh ends, its status is written for the host and the machine powers
off.
"""
import os
import sys

here = os.path.dirname(os.path.abspath(__file__))
if not os.path.exists("/proc/self"):
    os.makedirs("/proc", exist_ok=True)
    os.system("mount -t proc proc /proc")
pid = os.fork()
if pid == 0:
    os.execv("/bin/bash", ["bash", os.path.join(here, "guest.sh")])
status = 1
while True:
    try:
        done, st = os.wait()
    except ChildProcessError:
        break
    if done == pid:
        status = os.waitstatus_to_exitcode(st)
        break
try:
    with open("/vm-out/status", "w") as f:
        f.write(f"{status}\n")
except OSError as e:
    print(f"vm: cannot write the status: {e}", file=sys.stderr)
os.sync()
with open("/proc/sysrq-trigger", "w") as f:
    f.write("o")
