#!/usr/bin/env bash
# Runs after every other test: fails when a test left kernel state behind
# (pins, cgroups or network namespaces of the test naming scheme), and
# removes it so that the next run starts clean.
set -u
[ "$(id -u)" -eq 0 ] || { echo "1..0 # SKIP needs root"; exit 0; }

# Names end in the pid of the test that made them; a test still running
# (from another build directory, say) is not a leftover.
owner_alive() {
	local pid=${1##*-}
	case "$pid" in '' | *[!0-9]*) return 1 ;; esac
	[ -d "/proc/$pid" ]
}

left=()
for d in /sys/fs/bpf/netaccel-test-* /sys/fs/bpf/netaccel-e2e-*; do
	[ -e "$d" ] || continue
	owner_alive "$d" && continue
	left+=("pins $d")
	NETACCEL_STATE_DIR=$d "$NETACCEL_CTL" cleanup --force >/dev/null 2>&1
	rm -rf "$d" 2>/dev/null
done
cgroot=$(awk '$9 == "cgroup2" { print $5; exit }' /proc/self/mountinfo)
if [ -n "$cgroot" ]; then
	while read -r cg; do
		[ -n "$cg" ] || continue
		owner_alive "$cg" && continue
		left+=("cgroup $cg")
		find "$cg" -depth -type d -exec rmdir {} \; 2>/dev/null
	done < <(find "$cgroot" -maxdepth 2 -type d \( -name 'netaccel-test-*' -o -name 'netaccel-e2e-*' \) 2>/dev/null)
fi
for ns in $(ip netns list 2>/dev/null | awk '{print $1}'); do
	case "$ns" in
	netaccel-test-*|netaccel-e2e-*) left+=("netns $ns"); ip netns del "$ns" ;;
	esac
done

echo "1..1"
if [ ${#left[@]} -eq 0 ]; then
	echo "ok 1 - no test left pins, cgroups or namespaces behind"
	exit 0
fi
echo "not ok 1 - tests left state behind (now removed)"
printf '# %s\n' "${left[@]}"
exit 1
