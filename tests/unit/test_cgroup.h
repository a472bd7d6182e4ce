/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What the files of test_cgroup share: the container ids and the fixture
 * that setup() builds, the helpers and assertions (test_cgroup.c), and
 * each file's test functions, which the table in test_cgroup.c lists in
 * its order.
 */
#ifndef NA_TEST_CGROUP_H
#define NA_TEST_CGROUP_H

#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "na_cgroup.h"

/* 64-digit container ids: an 8-digit head that tells them apart, one tail */
#define TAIL		"0123456789abcdef0123456789abcdef0123456789abcdef01234567"
#define ID_DOCKER	"d0c4e700" TAIL	/* system.slice/docker-<id>.scope */
#define ID_CRI		"c0ffee00" TAIL	/* kubepods .../cri-containerd-<id>.scope */
#define ID_CRIO		"c4100000" TAIL	/* crio-<id>.scope + crio-conmon-<id>.scope */
#define ID_LIBPOD	"b0d00000" TAIL	/* libpod-<id>.scope + libpod-conmon-<id>.scope */
#define ID_CONMON	"e0e00000" TAIL	/* only libpod-conmon-<id>.scope */
#define ID_BARE		"ba5e0000" TAIL	/* docker/<id> (cgroupfs driver) */
#define ID_PODMANFS	"9d0df500" TAIL	/* libpod_parent/libpod-<id> (podman, cgroupfs) */
#define ID_AMBIG1	"abcd1111" TAIL	/* two ids sharing "abcd" */
#define ID_AMBIG2	"abcd2222" TAIL
#define ID_NESTED	"aee50000" TAIL	/* a scope, a bare dir, and one inside */
#define ID_NOPROCS	"0e0e0000" TAIL	/* docker-<id>.scope without cgroup.procs */
#define ID_LINKED	"1111aaaa" TAIL	/* only reachable through a symlink */
#define ID_DEPTH12	"dee12000" TAIL	/* 12 levels below the root: found */
#define ID_DEPTH13	"dee13000" TAIL	/* 13 levels below the root: too deep */
#define ID_MANY(n)	"f000000" #n TAIL	/* five ids sharing "f" */

#define ERRLEN 1024

struct fixture {
	char base[PATH_MAX];	/* the mkdtemp() directory */
	char root[PATH_MAX];	/* base/cgroup: the fake cgroup v2 root */
	char proc[PATH_MAX];	/* base/proc: <pid>/cgroup files */
};

/* ---- helpers and assertions (test_cgroup.c) ---- */

/* buf = base/<fmt ...>, failing the test when it does not fit. */
__attribute__((format(printf, 3, 4)))
void fmt_path(char *buf, const char *base, const char *fmt, ...);

/* Write text to the file path, failing the test on error. */
void write_file(const char *path, const char *text);

/* err is one line, starts with spec, and mentions each given string. */
void check_err(const char *err, const char *spec, ...);

/* cg is the cgroup rel below the fixture root: path, rel and id. */
void check_resolved(const struct fixture *fx, const struct na_cgroup *cg,
		    const char *rel);

/* Resolve spec and expect the cgroup rel below the fixture root. */
void expect_cgroup(const struct fixture *fx, const char *spec,
		   const char *rel);

/* Resolve spec, expect error ret; the message is left in err. */
void expect_error(const struct fixture *fx, const char *spec, int ret,
		  char *err);

/* ---- the tests, by file ---- */

/* cgroup_mount.c */
void test_mount_pure_v2(void **state);
void test_mount_hybrid(void **state);
void test_mount_none(void **state);
void test_mount_escaped(void **state);
void test_mount_malformed(void **state);
void test_mount_prefers_whole(void **state);
void test_mount_too_long(void **state);
void test_mount_unreadable(void **state);
void test_mount_this_host(void **state);

/* cgroup_resolve.c */
void test_path_relative(void **state);
void test_path_leading_slash(void **state);
void test_path_absolute(void **state);
void test_path_root(void **state);
void test_path_root_spelling(void **state);
void test_path_missing(void **state);
void test_path_not_cgroup(void **state);
void test_path_outside(void **state);
void test_path_dotdot(void **state);
void test_path_symlink_escape(void **state);
void test_empty_spec(void **state);
void test_bad_root(void **state);
void test_err_buffer(void **state);
void test_err_one_line(void **state);
void test_pid(void **state);
void test_pid_invalid(void **state);
void test_pid_no_process(void **state);
void test_pid_no_v2(void **state);
void test_pid_bad_cgroup(void **state);
void test_pid_self(void **state);

/* cgroup_container.c */
void test_container_runtimes(void **state);
void test_container_prefix(void **state);
void test_container_ambiguous(void **state);
void test_container_many(void **state);
void test_container_nested(void **state);
void test_container_not_found(void **state);
void test_container_ignored(void **state);
void test_container_depth(void **state);
void test_container_invalid(void **state);

/* cgroup_enter.c */
void test_from_path(void **state);
void test_of_pid(void **state);
void test_enter(void **state);

#endif /* NA_TEST_CGROUP_H */
