#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# State that a killed run (or a hand) left half-made: enroll repairs it,
# cleanup removes it. Pins are removed by hand the way an interrupted
# cleanup removes them: links first, then programs, then maps.
. "${BASH_SOURCE[0]%/*}/lib.sh"

na_setup

mkdir "$CG/a" "$CG/b" || bail_out "cannot create cgroups in $CG"
ida=$(cgid "$CG/a")
idb=$(cgid "$CG/b")

run na enroll "$REL/a"
[ "$RC" = 0 ] || bail_out "cannot enroll $REL/a: $ERR"
full=$(pins)

# ---- a link pin removed ----

rm "$SD/cg${ida}_sockops"
check "status shows the enrollment incomplete" \
	test "$(status_entry "$REL/a" | cut -d' ' -f3)" = incomplete
EXPECT_OUT="^repaired enrollment of $REL/a \\(mode all\\)$" expect_ok \
	"enroll repairs a removed sock_ops link" na enroll "$REL/a"
check "the link is pinned again" test "$(pins)" = "$full"
check "status shows the links ok" test "$(status_entry "$REL/a")" = "all active ok $ida"

rm "$SD/cg${ida}_create" "$SD/cg${ida}_sockops"
EXPECT_OUT="^repaired enrollment of $REL/a " expect_ok "enroll repairs both links removed" na enroll "$REL/a"
check "both links are pinned again" test "$(pins)" = "$full"

# Repairing keeps the mode the cgroup has when the same mode is asked.
run na enroll --mode opt-in "$REL/a"
rm "$SD/cg${ida}_create"
EXPECT_OUT="^repaired enrollment of $REL/a \\(mode opt-in\\)$" expect_ok \
	"enroll --mode opt-in repairs an opt-in enrollment" na enroll --mode opt-in "$REL/a"
check "status shows it opt-in and ok" test "$(status_entry "$REL/a")" = "opt-in active ok $ida"
run na enroll --mode all "$REL/a"

# ---- a program pin removed ----

rm "$SD/prog_msg"
EXPECT_OUT="^$REL/a is enrolled " expect_ok "enroll re-creates a removed program" na enroll "$REL/a"
check "all pins are back" test "$(pins)" = "$full"
check "status shows the cgroup ok" test "$(status_entry "$REL/a")" = "all active ok $ida"

# ---- only the maps left ----

rm "$SD"/cg* "$SD"/prog_*
begin "status on a state with only maps does not say nothing is loaded"
run na status
[ "$RC" = 0 ] || why "exit code $RC"
grep -q 'nothing loaded' <<<"$OUT" && why "it says nothing is loaded while maps are pinned"
end
EXPECT_OUT="^repaired enrollment of $REL/a " expect_ok \
	"enroll re-creates programs and links from the maps" na enroll "$REL/a"
check "all pins are back" test "$(pins)" = "$full"
check "the enrollment survived in the maps" test "$(status_entry "$REL/a")" = "all active ok $ida"
EXPECT_OUT="^enrolled $REL/b " expect_ok "enroll another cgroup on the repaired state" na enroll "$REL/b"
EXPECT_OUT="^removed netaccel from the kernel" expect_ok "cleanup removes the repaired state" na cleanup
check "the state directory is gone" test ! -e "$SD"

# ---- partial state, removed by cleanup ----

run na enroll "$REL/a"
rm "$SD/prog_msg" "$SD/na_stats"
EXPECT_OUT="^removed incomplete netaccel state $SD$" expect_ok \
	"cleanup removes a state with some pins missing" na cleanup
check "the state directory is gone" test ! -e "$SD"

run na enroll "$REL/a"
rm "$SD"/cg* "$SD"/prog_* "$SD/na_cgslot"
EXPECT_OUT="^removed incomplete netaccel state $SD$" expect_ok \
	"cleanup removes a state with only some maps" na cleanup
check "the state directory is gone" test ! -e "$SD"

mkdir "$SD"
EXPECT_OUT="$SD" expect_ok "cleanup removes an empty state directory" na cleanup
check "the state directory is gone" test ! -e "$SD"

mkdir "$SD"
EXPECT_OUT="^enrolled $REL/a " expect_ok "enroll fills an empty state directory" na enroll "$REL/a"
check "all pins are there" test "$(pins)" = "$full"

# ---- a map removed under its programs ----

# Not what an interrupted run leaves (maps go last), but a hand can: the
# programs would use one map and the next run another. The CLI refuses to
# work on such a state and names the way out.
rm "$SD/na_sk_state"
begin "enroll on programs whose map is gone fails with one line naming cleanup --force"
run na enroll "$REL/a"
[ "$RC" = 1 ] || why "expected exit code 1, got $RC"
one_error_line
grep -q 'cleanup --force' <<<"$ERR" || why "the message does not name cleanup --force"
end
EXPECT_OUT='inconsistent.*cleanup --force' expect_ok "status reports the inconsistent state and the way out" na status
EXPECT_MSG='cleanup --force' expect_fail "cleanup without --force refuses it" 1 na cleanup
EXPECT_OUT="$SD" expect_ok "cleanup --force removes it" na cleanup --force
check "the state directory is gone" test ! -e "$SD"

# ---- a stale link of a cgroup no slot holds ----

run na enroll "$REL/a"
run na enroll "$REL/b"
# What a run killed between freeing a slot and unpinning its links leaves:
# the map says b is not enrolled, its links still hang on the cgroup.
# bpffs allows renaming a pin within the file system: keep b's links aside
# while unenroll frees its slot, then put them back.
mkdir "$SD-keep" 2>/dev/null && NA_STATE_DIRS+=("$SD-keep")
if mv "$SD/cg${idb}_create" "$SD/cg${idb}_sockops" "$SD-keep/" 2>/dev/null; then
	run na unenroll "$REL/b"
	mv "$SD-keep"/* "$SD/"
	rmdir "$SD-keep"
	check "status does not list b" test -z "$(status_entry "$REL/b")"
	EXPECT_OUT="^$REL/a is enrolled " expect_ok "enroll runs with a stale link in the state" na enroll "$REL/a"
	check "enroll removed the stale links" test ! -e "$SD/cg${idb}_create" -a ! -e "$SD/cg${idb}_sockops"
	check "and kept the live ones" test -e "$SD/cg${ida}_create" -a -e "$SD/cg${ida}_sockops"
else
	rmdir "$SD-keep" 2>/dev/null
	skip "enroll removes stale links" "bpffs cannot move pins here"
fi

EXPECT_OUT="^removed netaccel from the kernel" expect_ok "cleanup" na cleanup
check "the state directory is gone" test ! -e "$SD"

na_done
