#!/bin/bash
# Inside the virtual machine, under pid1.py: make the machine look like a
# host of netaccel's (the mounts a distribution's init makes, loopback, the
# kernel's own modules), then run the suites the host asked for in
# /vm-out/job and leave meson's results in /vm-out.
set -uo pipefail
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root LANG=C.UTF-8

mountpoint -q /proc || mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t tmpfs -o mode=755 tmpfs /run
mount -t tmpfs -o mode=1777 tmpfs /tmp
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
# devtmpfs has no /dev/fd and /dev/std*; udev makes them on a host, and
# bash's process substitution needs /dev/fd.
for l in fd:/proc/self/fd stdin:/proc/self/fd/0 stdout:/proc/self/fd/1 stderr:/proc/self/fd/2; do
	[ -e "/dev/${l%%:*}" ] || ln -s "${l#*:}" "/dev/${l%%:*}"
done
mount -t cgroup2 cgroup2 /sys/fs/cgroup 2>/dev/null ||
	{ echo "vm: cannot mount cgroup2" >&2; exit 1; }
# As systemd does on every Debian host.
mount -t bpf -o mode=0700 bpf /sys/fs/bpf || { echo "vm: cannot mount bpffs" >&2; exit 1; }
hostname netaccel-vm
ip link set lo up

# shellcheck source=/dev/null
. /vm-out/job
kver=$(uname -r)
mkdir -p /lib/modules
rm -rf "/lib/modules/$kver"
ln -s "$NA_VM_MODULES" "/lib/modules/$kver"

echo "vm: Linux $kver, $(nproc) CPUs, $(awk '/MemTotal/ {print int($2 / 1024)}' /proc/meminfo) MiB"
# What this kernel lacks, in the log before the results.
"$NA_VM_BUILD/ctl/netaccel-ctl" --state-dir /sys/fs/bpf/netaccel-vm status | sed -n '/^kernel /,$p'
cd "$NA_VM_SOURCE" || exit 1
if [ -n "${NA_VM_COMMAND:-}" ]; then
	bash -c "$NA_VM_COMMAND"
	exit
fi
args=()
for s in $NA_VM_SUITES; do
	args+=(--suite "$s")
done
# Through a pipe: meson prints plain lines, not a terminal's progress bar.
# shellcheck disable=SC2086
meson test -C "$NA_VM_BUILD" --no-rebuild --print-errorlogs \
	--timeout-multiplier "$NA_VM_TIMEOUT_MULTIPLIER" "${args[@]}" $NA_VM_MESON_ARGS | cat
rc=${PIPESTATUS[0]}
cp "$NA_VM_BUILD/meson-logs/testlog.json" "$NA_VM_BUILD/meson-logs/testlog.txt" /vm-out/ 2>/dev/null
exit $rc
