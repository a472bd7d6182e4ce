#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Without the capabilities it needs, every command fails with one line that
# names what is missing, and changes nothing. The capabilities are dropped
# from the bounding set with capsh (libcap2-bin), so the root shell it starts
# and the CLI run without them.
. "${BASH_SOURCE[0]%/*}/lib.sh"

na_setup
command -v capsh >/dev/null || skip_all "needs capsh (libcap2-bin)"

mkdir "$CG/a" "$CG/b" || bail_out "cannot create cgroups in $CG"

# without <caps> <netaccel-ctl arguments...>: the CLI on our state without
# those capabilities (comma-separated, capsh spelling).
# shellcheck disable=SC2317 # called through expect_fail and expect_ok
without() {
	local caps=$1 cmd
	shift
	printf -v cmd '%q ' "$CTL" --state-dir "$SD" "$@"
	capsh --drop="$caps" -- -c "exec $cmd"
}

# Does dropping really drop? CAP_BPF is bit 39, CAP_NET_ADMIN 12,
# CAP_SYS_ADMIN 21.
eff=$(capsh --drop=cap_bpf,cap_net_admin,cap_sys_admin -- -c 'sed -n "s/^CapEff:\t//p" /proc/self/status')
if [ -z "$eff" ] || (( (0x$eff >> 39 & 1) || (0x$eff >> 12 & 1) || (0x$eff >> 21 & 1) )); then
	skip_all "capsh --drop does not drop capabilities here (CapEff $eff)"
fi

NONE=cap_bpf,cap_net_admin,cap_sys_admin
CHANGE='needs CAP_BPF, CAP_NET_ADMIN and CAP_PERFMON; missing: CAP_BPF, CAP_NET_ADMIN'
READ='needs CAP_BPF; missing: CAP_BPF'

# ---- nothing loaded ----

EXPECT_MSG="enroll $CHANGE" expect_fail "enroll without privileges, nothing loaded" 1 without $NONE enroll "$REL/a"
check "enroll without privileges created no state directory" test ! -e "$SD"
EXPECT_MSG="unenroll $CHANGE" expect_fail "unenroll without privileges, nothing loaded" 1 without $NONE unenroll "$REL/a"
EXPECT_MSG="cleanup $CHANGE" expect_fail "cleanup without privileges, nothing loaded" 1 without $NONE cleanup
EXPECT_MSG="status $READ" expect_fail "status without privileges, nothing loaded" 1 without $NONE status
EXPECT_MSG="stats $READ" expect_fail "stats without privileges, nothing loaded" 1 without $NONE stats

# ---- a cgroup enrolled ----

run na enroll "$REL/a"
[ "$RC" = 0 ] || bail_out "cannot enroll $REL/a: $ERR"

EXPECT_MSG="enroll $CHANGE" expect_fail "enroll another cgroup without privileges" 1 without $NONE enroll "$REL/b"
EXPECT_MSG="enroll $CHANGE" expect_fail "change the mode without privileges" 1 without $NONE enroll --mode opt-in "$REL/a"
EXPECT_MSG="unenroll $CHANGE" expect_fail "unenroll without privileges" 1 without $NONE unenroll "$REL/a"
EXPECT_MSG="cleanup $CHANGE" expect_fail "cleanup without privileges" 1 without $NONE cleanup
EXPECT_MSG="cleanup $CHANGE" expect_fail "cleanup --force without privileges" 1 without $NONE cleanup --force
EXPECT_MSG="status $READ" expect_fail "status without privileges" 1 without $NONE status
EXPECT_MSG="status $READ" expect_fail "status --json without privileges" 1 without $NONE status --json
EXPECT_MSG="stats $READ" expect_fail "stats without privileges" 1 without $NONE stats
EXPECT_MSG="stats $READ" expect_fail "stats <cgroup> without privileges" 1 without $NONE stats "$REL/a"

# ---- one capability missing ----

EXPECT_MSG='missing: CAP_NET_ADMIN \(' expect_fail "enroll without CAP_NET_ADMIN names only it" 1 \
	without cap_net_admin enroll "$REL/b"
EXPECT_MSG='missing: CAP_NET_ADMIN \(' expect_fail "cleanup without CAP_NET_ADMIN names only it" 1 \
	without cap_net_admin cleanup
EXPECT_MSG='missing: CAP_PERFMON \(' expect_fail "enroll without CAP_PERFMON and CAP_SYS_ADMIN names CAP_PERFMON" 1 \
	without cap_perfmon,cap_sys_admin enroll "$REL/b"
EXPECT_OUT="^$REL/a " expect_ok "status needs no CAP_NET_ADMIN" without cap_net_admin status
EXPECT_MSG='missing: CAP_BPF \(' expect_fail "enroll without CAP_BPF and CAP_SYS_ADMIN names CAP_BPF" 1 \
	without cap_bpf,cap_sys_admin enroll "$REL/b"
# Before CAP_BPF existed CAP_SYS_ADMIN did its job, and still does.
EXPECT_OUT="^$REL/a " expect_ok "status with CAP_SYS_ADMIN instead of CAP_BPF" without cap_bpf status

# Help needs nothing.
EXPECT_OUT='^Usage: ' expect_ok "enroll --help without privileges" without $NONE enroll --help

check "$REL/a is still enrolled" test "$(status_entry "$REL/a" | cut -d' ' -f1-3)" = "all active ok"

na_done
