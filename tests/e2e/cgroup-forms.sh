#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Every way to name a cgroup, on the real hierarchy: an absolute path, a
# path relative to the cgroup v2 root (with and without a leading slash),
# pid:<PID> and container:<ID or prefix>. Each form must enroll the cgroup
# it names (status shows its path and id) and unenroll it again.
. "${BASH_SOURCE[0]%/*}/lib.sh"

na_setup

hex() {
	od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'
}

mkdir -p "$CG/a/b" "$CG/p" "$CG/docker" || bail_out "cannot create cgroups in $CG"

# Fake containers: real cgroup directories named the way container
# runtimes name them. Random ids, so that nothing else on the host shares
# their prefixes.
id_docker=$(hex 32)
id_containerd=$(hex 32)
id_crio=$(hex 32)
id_libpod=$(hex 32)
id_bare=$(hex 32)
mkdir "$CG/docker-$id_docker.scope" \
	"$CG/cri-containerd-$id_containerd.scope" \
	"$CG/crio-$id_crio.scope" \
	"$CG/libpod-$id_libpod.scope" \
	"$CG/docker/$id_bare" || bail_out "cannot create the container cgroups"

# enroll_form <description> <spec> <relative path it names> [<unenroll spec>]
enroll_form() {
	local desc=$1 spec=$2 rel=$3 unspec=${4:-$2} id

	id=$(cgid "$CGROOT/$rel")
	EXPECT_OUT="^enrolled $rel \\(mode all\\)$" expect_ok "enroll $desc" na enroll "$spec"
	check "status shows $rel enrolled, active, with its id" \
		test "$(status_entry "$rel")" = "all active ok $id"
	check "both links of $rel are pinned" \
		test -e "$SD/cg${id}_create" -a -e "$SD/cg${id}_sockops"
	EXPECT_OUT="^unenrolled $rel$" expect_ok "unenroll $desc" na unenroll "$unspec"
	check "status no longer shows $rel" test -z "$(status_entry "$rel")"
	check "no link of $rel is left" test ! -e "$SD/cg${id}_create" -a ! -e "$SD/cg${id}_sockops"
}

enroll_form "by absolute path" "$CG/a/b" "$REL/a/b"
enroll_form "by path relative to the root" "$REL/a/b" "$REL/a/b"
enroll_form "by path with a leading slash" "/$REL/a/b" "$REL/a/b"
enroll_form "by path with a trailing slash" "$REL/a/b/" "$REL/a/b"
enroll_form "by path with . and .." "$REL/a/./../a/b" "$REL/a/b"
enroll_form "by absolute path with doubled slashes" "$CGROOT//$REL//a/b" "$REL/a/b"

start_in_cgroup "$CG/p"
pid=$NA_LASTPID
enroll_form "by pid:<PID> of a process in the cgroup" "pid:$pid" "$REL/p"
enroll_form "by pid:<PID>, unenroll by path" "pid:$pid" "$REL/p" "$CG/p"
enroll_form "by path, unenroll by pid:<PID>" "$REL/p" "$REL/p" "pid:$pid"

enroll_form "by container:<12-digit prefix> (docker-<id>.scope)" \
	"container:${id_docker:0:12}" "$REL/docker-$id_docker.scope"
enroll_form "by container:<full id> (docker-<id>.scope)" \
	"container:$id_docker" "$REL/docker-$id_docker.scope"
enroll_form "by container:<prefix> (cri-containerd-<id>.scope)" \
	"container:${id_containerd:0:12}" "$REL/cri-containerd-$id_containerd.scope"
enroll_form "by container:<prefix> (crio-<id>.scope)" \
	"container:${id_crio:0:12}" "$REL/crio-$id_crio.scope"
enroll_form "by container:<prefix> (libpod-<id>.scope)" \
	"container:${id_libpod:0:12}" "$REL/libpod-$id_libpod.scope"
enroll_form "by container:<prefix> (docker/<id>, the cgroupfs driver)" \
	"container:${id_bare:0:12}" "$REL/docker/$id_bare"
enroll_form "by container:<prefix>, unenroll by path" \
	"container:${id_docker:0:8}" "$REL/docker-$id_docker.scope" "$CG/docker-$id_docker.scope"

# A prefix that two containers share names neither; their 11th digits
# differ, so one more digit names one of them.
case ${id_docker:10:1} in 0) other=1 ;; *) other=0 ;; esac
twin=${id_docker:0:10}$other$(hex 27 | cut -c2-)
mkdir "$CG/docker-$twin.scope" || bail_out "cannot create $CG/docker-$twin.scope"
EXPECT_MSG='ambiguous' expect_fail "container:<prefix> of two containers is refused" 1 \
	na enroll "container:${id_docker:0:10}"
EXPECT_OUT="^enrolled $REL/docker-$id_docker.scope " expect_ok \
	"one more digit tells the two containers apart" na enroll "container:${id_docker:0:11}"
EXPECT_OUT="^unenrolled $REL/docker-$id_docker.scope$" expect_ok \
	"unenroll it by its prefix" na unenroll "container:${id_docker:0:11}"
# The runtime's monitor scope holds conmon, not the container.
id_conmon=$(hex 32)
mkdir "$CG/libpod-conmon-$id_conmon.scope" || bail_out "cannot create a conmon scope"
EXPECT_MSG='no such container' expect_fail "a libpod-conmon-<id>.scope is not a container" 1 \
	na enroll "container:${id_conmon:0:12}"

# Two forms naming one cgroup make one enrollment.
EXPECT_OUT="^enrolled $REL/p " expect_ok "enroll by path" na enroll "$CG/p"
EXPECT_OUT="^$REL/p is enrolled " expect_ok "enroll the same cgroup by pid:<PID>" na enroll "pid:$pid"
check "status shows $REL/p once" test "$(status_entry "$REL/p" | wc -l)" = 1
EXPECT_OUT="^unenrolled $REL/p$" expect_ok "unenroll by relative path" na unenroll "$REL/p"

# A parent and its child are two enrollments.
EXPECT_OUT="^enrolled $REL/a " expect_ok "enroll a parent" na enroll "$REL/a"
EXPECT_OUT="^enrolled $REL/a/b " expect_ok "enroll its child" na enroll "$REL/a/b"
check "status shows both" test "$(status_entry "$REL/a" | wc -l)$(status_entry "$REL/a/b" | wc -l)" = 11
EXPECT_OUT="^unenrolled $REL/a$" expect_ok "unenroll the parent" na unenroll "$REL/a"
check "the child stays enrolled" test "$(status_entry "$REL/a/b" | cut -d' ' -f1-3)" = "all active ok"
EXPECT_OUT="^removed netaccel " expect_ok "cleanup" na cleanup
check "cleanup removed the state directory" test ! -e "$SD"

na_done
