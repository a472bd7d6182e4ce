#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# A cgroup removed after enrollment (a stopped service, a container gone)
# can still be unenrolled by the path it had, in every path form; and a
# path whose cgroup was removed and made again (a restarted service) does
# not keep a stale enrollment.
. "${BASH_SOURCE[0]%/*}/lib.sh"

na_setup

mkdir -p "$CG/a" "$CG/b" "$CG/c" "$CG/d/e" "$CG/r" || bail_out "cannot create cgroups in $CG"

# gone <name> <unenroll spec>: enroll $REL/<name>, remove it, unenroll it
# by the spec.
gone() {
	local name=$1 spec=$2 id

	id=$(cgid "$CG/$name")
	run na enroll "$REL/$name"
	[ "$RC" = 0 ] || bail_out "cannot enroll $REL/$name: $ERR"
	rmdir "$CG/$name" || bail_out "cannot remove $CG/$name"
	check "status still lists $REL/$name after rmdir" \
		test "$(status_entry "$REL/$name" | cut -d' ' -f1,2)" = "all active"
	EXPECT_OUT="^unenrolled " expect_ok "unenroll the removed $REL/$name by '$spec'" na unenroll "$spec"
	[ "$OUT" = "unenrolled $REL/$name" ] || named+=("'$spec' printed '$OUT'")
	check "status no longer lists $REL/$name" test -z "$(status_entry "$REL/$name")"
	check "no link of $REL/$name is left" test ! -e "$SD/cg${id}_create" -a ! -e "$SD/cg${id}_sockops"
	EXPECT_MSG='no such cgroup' expect_fail "unenroll the removed $REL/$name again" 1 na unenroll "$spec"
}

named=()
gone a "$REL/a"
gone b "$CG/b"
gone c "/$REL/c"
gone d/e "$REL/d/e"
begin "unenroll of a removed cgroup names it (unenrolled <path>)"
for w in "${named[@]}"; do
	why "$w"
done
end

EXPECT_MSG='no such cgroup' expect_fail "unenroll a removed path that was never enrolled" 1 \
	na unenroll "$REL/never"

# The same path, a new cgroup: what systemd does when it restarts a
# service. The old enrollment is of a cgroup that is gone; unenroll by the
# path must not leave it behind.
run na enroll "$REL/r"
{ rmdir "$CG/r" && mkdir "$CG/r"; } || bail_out "cannot re-create $CG/r"
begin "unenroll by path after the cgroup was re-created leaves no enrollment of that path"
run na unenroll "$REL/r"
[ "$RC" = 0 ] || why "exit code $RC"
left=$(status_entry "$REL/r")
[ -z "$left" ] || why "status still lists $REL/r: $left"
end

# Without an unenroll: status marks the removed cgroup, and the next
# command that changes the state ends that enrollment by itself.
mkdir "$CG/s" "$CG/t" || bail_out "cannot create cgroups in $CG"
run na enroll "$REL/s"
rmdir "$CG/s" || bail_out "cannot remove $CG/s"
EXPECT_OUT="$REL/s .*\\(cgroup removed\\)" expect_ok "status marks an enrolled cgroup that was removed" na status
run na enroll "$REL/t"
begin "the next enroll ends the enrollment of the removed cgroup"
[ -z "$(status_entry "$REL/s")" ] || why "status still lists $REL/s: $(status_entry "$REL/s")"
end
rmdir "$CG/t"

EXPECT_OUT="^removed netaccel from the kernel" expect_ok "cleanup after cgroups were removed" na cleanup
check "the state directory is gone" test ! -e "$SD"

na_done
