/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Unit tests of na_cgroup_from_path(), na_cgroup_of_pid() and
 * na_cgroup_enter().
 */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "test_cgroup.h"

/* ---- na_cgroup_from_path, na_cgroup_of_pid, na_cgroup_enter ---- */

void test_from_path(void **state)
{
	struct fixture *fx = *state;
	char path[PATH_MAX];
	struct na_cgroup cg;

	fmt_path(path, fx->root, "app.slice/api.service");
	assert_int_equal(na_cgroup_from_path(fx->root, path, &cg), 0);
	check_resolved(fx, &cg, "app.slice/api.service");
	assert_int_equal(na_cgroup_from_path(fx->root, fx->root, &cg), 0);
	check_resolved(fx, &cg, "");

	fmt_path(path, fx->base, "outside");
	assert_int_equal(na_cgroup_from_path(fx->root, path, &cg), -EXDEV);
	fmt_path(path, fx->root, "escape");
	assert_int_equal(na_cgroup_from_path(fx->root, path, &cg), -EXDEV);
	fmt_path(path, fx->root, "app.slice/file");
	assert_int_equal(na_cgroup_from_path(fx->root, path, &cg), -ENOTDIR);
	fmt_path(path, fx->root, "gone");
	assert_int_equal(na_cgroup_from_path(fx->root, path, &cg), -ENOENT);
}

void test_of_pid(void **state)
{
	struct fixture *fx = *state;
	char expect[PATH_MAX];
	char out[PATH_MAX];

	fmt_path(expect, fx->root, "app.slice/api.service");
	assert_int_equal(na_cgroup_of_pid(fx->root, fx->proc, 100, out,
					  sizeof(out)), 0);
	assert_string_equal(out, expect);
	assert_int_equal(na_cgroup_of_pid(fx->root, fx->proc, 102, out,
					  sizeof(out)), 0);
	assert_string_equal(out, fx->root);
	assert_int_equal(na_cgroup_of_pid("/", fx->proc, 101, out,
					  sizeof(out)), 0);
	assert_string_equal(out, "/app.slice");

	assert_int_equal(na_cgroup_of_pid(fx->root, fx->proc, 999, out,
					  sizeof(out)), -ESRCH);
	assert_int_equal(na_cgroup_of_pid(fx->root, fx->proc, 103, out,
					  sizeof(out)), -ENODATA);
	assert_int_equal(na_cgroup_of_pid(fx->root, fx->proc, 0, out,
					  sizeof(out)), -EINVAL);
	assert_int_equal(na_cgroup_of_pid(fx->root, fx->proc, -1, out,
					  sizeof(out)), -EINVAL);
	assert_int_equal(na_cgroup_of_pid(fx->root, fx->proc, 100, out, 8),
			 -ENAMETOOLONG);
}

static void read_procs(const struct fixture *fx, char *buf, size_t len)
{
	char path[PATH_MAX];
	ssize_t n;
	int fd;

	fmt_path(path, fx->root, "enter/cgroup.procs");
	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	n = read(fd, buf, len - 1);
	assert_true(n >= 0);
	buf[n] = '\0';
	close(fd);
}

void test_enter(void **state)
{
	struct fixture *fx = *state;
	char path[PATH_MAX];
	char buf[64];

	fmt_path(path, fx->root, "enter");
	assert_int_equal(na_cgroup_enter(path, 4242), 0);
	read_procs(fx, buf, sizeof(buf));
	assert_string_equal(buf, "4242");
	fmt_path(path, fx->root, "enter/cgroup.procs");
	write_file(path, "");
	fmt_path(path, fx->root, "enter");
	assert_int_equal(na_cgroup_enter(path, 0), 0);
	read_procs(fx, buf, sizeof(buf));
	assert_string_equal(buf, "0");

	assert_int_equal(na_cgroup_enter(path, -1), -EINVAL);
	fmt_path(path, fx->root, "gone");
	assert_int_equal(na_cgroup_enter(path, 1), -ENOENT);
}
