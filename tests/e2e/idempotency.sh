#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Every command can be run again: enroll twice, enroll with another mode,
# unenroll twice, cleanup twice, status and stats with nothing loaded. The
# second run says what is, exits 0 and duplicates nothing.
. "${BASH_SOURCE[0]%/*}/lib.sh"

na_setup

mkdir "$CG/a" "$CG/b" || bail_out "cannot create cgroups in $CG"
ida=$(cgid "$CG/a")

# json_check "<description>" <expression> <want> <why> <command...>: the
# command exits 0 and the json expression over its stdout, each line of it
# followed by a space, is want.
json_check() {
	local desc=$1 expr=$2 want=$3 reason=$4
	shift 4

	begin "$desc"
	run "$@"
	[ "$RC" = 0 ] || why "exit code $RC"
	[ "$(json "$expr" <<<"$OUT" | tr '\n' ' ')" = "$want" ] || why "$reason"
	end
}

# ---- nothing loaded ----

EXPECT_OUT='nothing loaded' expect_ok "status with nothing loaded" na status
EXPECT_OUT='nothing loaded' expect_ok "stats with nothing loaded" na stats
json_check "status --json with nothing loaded says loaded: false" \
	'd["loaded"], len(d["cgroups"])' "False 0 " "expected loaded false and no cgroups" \
	na status --json
json_check "stats --json with nothing loaded has no cgroups and a zero total" \
	'len(d["cgroups"]), sum(d["total"].values())' "0 0 " "expected no cgroups and zero counters" \
	na stats --json
EXPECT_OUT="^$REL/a is not enrolled$" expect_ok "unenroll with nothing loaded" na unenroll "$REL/a"
EXPECT_OUT="^nothing to clean up in $SD$" expect_ok "cleanup with nothing loaded" na cleanup
EXPECT_OUT="^nothing to clean up in $SD$" expect_ok "cleanup --force with nothing loaded" na cleanup --force
check "none of them created the state directory" test ! -e "$SD"

# ---- enroll ----

EXPECT_OUT="^enrolled $REL/a \\(mode all\\)$" expect_ok "enroll" na enroll "$REL/a"
first=$(pins)
# On a kernel whose FIONREAD leaves out redirected bytes, the fionread
# protection's program and link too.
lf='' pf=''
fionread_gap && lf='link_fionread ' pf='prog_fionread '
check "the state has programs, maps, the receive watch and the cgroup's four links" test \
	"$first" = "cg${ida}_create cg${ida}_getsockopt cg${ida}_setsockopt cg${ida}_sockops ${lf}link_rxwatch na_cgroups na_cgslot na_endpoints na_fitgen na_listeners na_net_allow na_nets na_nscookie na_procs na_rxstate na_sk_state na_sockaddr na_sockhash na_stats prog_create ${pf}prog_getsockopt prog_msg prog_rxwatch prog_setsockopt prog_sockops "
inodes=$(find "$SD" -mindepth 1 -printf '%P %i\n' | sort)

EXPECT_OUT="^$REL/a is enrolled \\(mode all\\)$" expect_ok "enroll again says it is enrolled" na enroll "$REL/a"
check "enroll again made no new pin" test "$(find "$SD" -mindepth 1 -printf '%P %i\n' | sort)" = "$inodes"
check "status shows the cgroup once" test "$(status_entry "$REL/a")" = "all active ok $ida"
EXPECT_OUT="^$REL/a is enrolled \\(mode all\\)$" expect_ok "enroll --mode all is the same" na enroll --mode all "$REL/a"

EXPECT_OUT="opt-in" expect_ok "enroll --mode opt-in changes the mode" na enroll --mode opt-in "$REL/a"
check "status shows mode opt-in" test "$(status_entry "$REL/a")" = "opt-in active ok $ida"
check "changing the mode made no new pin" test "$(find "$SD" -mindepth 1 -printf '%P %i\n' | sort)" = "$inodes"
EXPECT_OUT="^$REL/a is enrolled \\(mode opt-in\\)$" expect_ok "enroll -m opt-in again says it is enrolled" \
	na enroll -m opt-in "$REL/a"
EXPECT_OUT="^$REL/a is enrolled \\(mode opt-in\\)$" expect_ok "enroll without --mode keeps the mode" na enroll "$REL/a"
check "status still shows mode opt-in" test "$(status_entry "$REL/a")" = "opt-in active ok $ida"
EXPECT_OUT="all" expect_ok "enroll --mode all changes it back" na enroll --mode all "$REL/a"
check "status shows mode all" test "$(status_entry "$REL/a")" = "all active ok $ida"

# Global options may come after the command too.
EXPECT_OUT="^enrolled $REL/b \\(mode opt-in\\)$" expect_ok "enroll with options after the cgroup" \
	"$CTL" enroll "$REL/b" --mode opt-in --state-dir "$SD"
check "status shows both cgroups" test "$(status_entry "$REL/b" | cut -d' ' -f1-3)" = "opt-in active ok"

# ---- unenroll ----

EXPECT_OUT="^unenrolled $REL/a$" expect_ok "unenroll" na unenroll "$REL/a"
check "status no longer shows it" test -z "$(status_entry "$REL/a")"
check "its links are gone" test ! -e "$SD/cg${ida}_create" -a ! -e "$SD/cg${ida}_sockops"
EXPECT_OUT="^$REL/a is not enrolled$" expect_ok "unenroll again says it is not enrolled" na unenroll "$REL/a"
check "the other cgroup stays enrolled" test "$(status_entry "$REL/b" | cut -d' ' -f1-3)" = "opt-in active ok"
EXPECT_OUT="^enrolled $REL/a \\(mode all\\)$" expect_ok "enroll after unenroll enrolls afresh" na enroll "$REL/a"

# ---- cleanup ----

EXPECT_OUT="^removed netaccel from the kernel" expect_ok "cleanup" na cleanup
check "cleanup removed the state directory" test ! -e "$SD"
EXPECT_OUT="^nothing to clean up in $SD$" expect_ok "cleanup again says there is nothing to clean up" na cleanup
EXPECT_OUT='nothing loaded' expect_ok "status after cleanup" na status
EXPECT_OUT="^$REL/a is not enrolled$" expect_ok "unenroll after cleanup" na unenroll "$REL/a"

# ---- NETACCEL_STATE_DIR ----

SD2=$(extra_state_dir env)
EXPECT_OUT="^enrolled $REL/a " expect_ok "enroll with the state directory from NETACCEL_STATE_DIR" \
	env NETACCEL_STATE_DIR="$SD2" "$CTL" enroll "$REL/a"
check "the state went to \$NETACCEL_STATE_DIR" test -e "$SD2/cg${ida}_sockops" -a ! -e "$SD"
EXPECT_OUT="^$REL/a is enrolled " expect_ok "--state-dir wins over NETACCEL_STATE_DIR" \
	env NETACCEL_STATE_DIR="$SD" "$CTL" --state-dir "$SD2" enroll "$REL/a"
check "nothing went to the directory in the environment" test ! -e "$SD"
EXPECT_OUT="removed netaccel" expect_ok "cleanup with NETACCEL_STATE_DIR" \
	env NETACCEL_STATE_DIR="$SD2" "$CTL" cleanup
check "cleanup removed \$NETACCEL_STATE_DIR" test ! -e "$SD2"

na_done
