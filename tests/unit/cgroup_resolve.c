/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Unit tests of na_cgroup_resolve() for paths (relative, absolute, the
 * root, missing, outside, through .. or a symlink), for pid:<PID>, and of
 * the error messages it writes.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "test_cgroup.h"

/* ---- na_cgroup_resolve: paths ---- */

void test_path_relative(void **state)
{
	expect_cgroup(*state, "app.slice/api.service", "app.slice/api.service");
	expect_cgroup(*state, "app.slice", "app.slice");
	expect_cgroup(*state, "with space", "with space");
	expect_cgroup(*state, "app.slice/./api.service/", "app.slice/api.service");
}

void test_path_leading_slash(void **state)
{
	expect_cgroup(*state, "/app.slice/api.service", "app.slice/api.service");
	expect_cgroup(*state, "//app.slice", "app.slice");
}

void test_path_absolute(void **state)
{
	struct fixture *fx = *state;
	char spec[PATH_MAX];

	fmt_path(spec, fx->root, "app.slice/api.service");
	expect_cgroup(fx, spec, "app.slice/api.service");
	fmt_path(spec, fx->root, "app.slice/../app.slice");
	expect_cgroup(fx, spec, "app.slice");
}

void test_path_root(void **state)
{
	struct fixture *fx = *state;
	char spec[PATH_MAX];

	expect_cgroup(fx, fx->root, "");
	assert_true(snprintf(spec, sizeof(spec), "%s/", fx->root) < PATH_MAX);
	expect_cgroup(fx, spec, "");
	expect_cgroup(fx, "/", "");
	expect_cgroup(fx, ".", "");
}

/* The root given through a symlink, with a trailing slash. */
void test_path_root_spelling(void **state)
{
	struct fixture *fx = *state;
	char root[PATH_MAX];
	char spec[PATH_MAX];
	struct na_cgroup cg;
	char err[ERRLEN];

	fmt_path(root, fx->base, "rootlink/");
	fmt_path(spec, fx->base, "rootlink/app.slice");
	assert_int_equal(na_cgroup_resolve(root, fx->proc, spec, &cg, err,
					   sizeof(err)), 0);
	check_resolved(fx, &cg, "app.slice");
	assert_int_equal(na_cgroup_resolve(root, fx->proc, "app.slice", &cg,
					   err, sizeof(err)), 0);
	check_resolved(fx, &cg, "app.slice");
}

void test_path_missing(void **state)
{
	struct fixture *fx = *state;
	char looked[PATH_MAX];
	char spec[PATH_MAX];
	char err[ERRLEN];

	fmt_path(looked, fx->root, "app.slice/x");
	expect_error(fx, "app.slice/x", -ENOENT, err);
	check_err(err, "app.slice/x", "no such cgroup", looked, NULL);

	expect_error(fx, "/app.slice/x", -ENOENT, err);
	check_err(err, "/app.slice/x", "no such cgroup", looked, NULL);

	fmt_path(spec, fx->root, "app.slice/x");
	expect_error(fx, spec, -ENOENT, err);
	check_err(err, spec, "no such cgroup", looked, NULL);

	/* absolute, outside the root, and nowhere */
	fmt_path(spec, fx->base, "nowhere");
	fmt_path(looked, fx->root, "%s", spec + 1);
	expect_error(fx, spec, -ENOENT, err);
	check_err(err, spec, "no such cgroup", looked, NULL);
}

void test_path_not_cgroup(void **state)
{
	struct fixture *fx = *state;
	char path[PATH_MAX];
	char err[ERRLEN];

	fmt_path(path, fx->root, "plain");
	expect_error(fx, "plain", -ENOTDIR, err);
	check_err(err, "plain", "not a cgroup", "no cgroup.procs", path, NULL);

	fmt_path(path, fx->root, "app.slice/file");
	expect_error(fx, "app.slice/file", -ENOTDIR, err);
	check_err(err, "app.slice/file", "not a cgroup", path, NULL);
}

void test_path_outside(void **state)
{
	struct fixture *fx = *state;
	char outside[PATH_MAX];
	char err[ERRLEN];

	fmt_path(outside, fx->base, "outside");
	expect_error(fx, outside, -EXDEV, err);
	check_err(err, outside, "not inside the cgroup v2 hierarchy mounted at",
		  fx->root, NULL);
	expect_error(fx, "/etc", -EXDEV, err);
	check_err(err, "/etc", "not inside the cgroup v2 hierarchy", fx->root,
		  NULL);
}

void test_path_dotdot(void **state)
{
	struct fixture *fx = *state;
	char outside[PATH_MAX];
	char spec[PATH_MAX];
	char err[ERRLEN];

	fmt_path(outside, fx->base, "outside");
	expect_error(fx, "../outside", -EXDEV, err);
	check_err(err, "../outside", outside, "not inside", fx->root, NULL);
	expect_error(fx, "app.slice/../../outside", -EXDEV, err);
	check_err(err, "app.slice/../../outside", "not inside", NULL);
	fmt_path(spec, fx->root, "../outside");
	expect_error(fx, spec, -EXDEV, err);
	check_err(err, spec, "not inside", NULL);
	expect_error(fx, "..", -EXDEV, err);
	check_err(err, "..", "not inside", NULL);
}

void test_path_symlink_escape(void **state)
{
	struct fixture *fx = *state;
	char outside[PATH_MAX];
	char err[ERRLEN];

	fmt_path(outside, fx->base, "outside");
	expect_error(fx, "escape", -EXDEV, err);
	check_err(err, "escape", outside, "not inside", fx->root, NULL);
}

void test_empty_spec(void **state)
{
	struct fixture *fx = *state;
	struct na_cgroup cg;
	char err[ERRLEN];

	expect_error(fx, "", -EINVAL, err);
	check_err(err, "", "empty", NULL);
	assert_int_equal(na_cgroup_resolve(fx->root, fx->proc, NULL, &cg, err,
					   sizeof(err)), -EINVAL);
}

void test_bad_root(void **state)
{
	struct fixture *fx = *state;
	char root[PATH_MAX];
	struct na_cgroup cg;
	char err[ERRLEN];

	fmt_path(root, fx->base, "no-such-root");
	assert_int_equal(na_cgroup_resolve(root, fx->proc, "app.slice", &cg,
					   err, sizeof(err)), -ENOENT);
	check_err(err, "app.slice", root, NULL);
}

/* err may be NULL or short; a message never overruns it. */
void test_err_buffer(void **state)
{
	struct fixture *fx = *state;
	struct na_cgroup cg;
	char err[8];

	memset(err, 'x', sizeof(err));
	assert_int_equal(na_cgroup_resolve(fx->root, fx->proc, "nope", &cg,
					   NULL, 0), -ENOENT);
	assert_int_equal(na_cgroup_resolve(fx->root, fx->proc, "nope", &cg,
					   err, 6), -ENOENT);
	assert_string_equal(err, "nope:");
	assert_int_equal(err[6], 'x');
}

void test_err_one_line(void **state)
{
	char err[ERRLEN];

	expect_error(*state, "a\nb", -ENOENT, err);
	assert_null(strchr(err, '\n'));
	assert_true(!strncmp(err, "a?b: ", 5));
}

/* ---- na_cgroup_resolve: pid:<PID> ---- */

void test_pid(void **state)
{
	expect_cgroup(*state, "pid:100", "app.slice/api.service");
	expect_cgroup(*state, "pid:101", "app.slice");
	expect_cgroup(*state, "pid:102", "");
}

void test_pid_invalid(void **state)
{
	static const char *const specs[] = {
		"pid:", "pid:abc", "pid:-1", "pid:0", "pid:+5", "pid: 5",
		"pid:5 ", "pid:12x", "pid:0x10", "pid:2147483648",
		"pid:99999999999999999999999",
	};
	char err[ERRLEN];
	size_t i;

	for (i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
		expect_error(*state, specs[i], -EINVAL, err);
		check_err(err, specs[i], "process id", NULL);
	}
}

void test_pid_no_process(void **state)
{
	struct fixture *fx = *state;
	char file[PATH_MAX];
	char err[ERRLEN];

	fmt_path(file, fx->proc, "999/cgroup");
	expect_error(fx, "pid:999", -ESRCH, err);
	check_err(err, "pid:999", "pid:999: no such process", file, NULL);
}

void test_pid_no_v2(void **state)
{
	struct fixture *fx = *state;
	char file[PATH_MAX];
	char err[ERRLEN];

	fmt_path(file, fx->proc, "103/cgroup");
	expect_error(fx, "pid:103", -ENODATA, err);
	check_err(err, "pid:103", "0::", file, NULL);
}

void test_pid_bad_cgroup(void **state)
{
	struct fixture *fx = *state;
	char path[PATH_MAX];
	char err[ERRLEN];

	fmt_path(path, fx->root, "gone");
	expect_error(fx, "pid:104", -ENOENT, err);
	check_err(err, "pid:104", "no such cgroup", path, NULL);
	expect_error(fx, "pid:105", -EXDEV, err);
	check_err(err, "pid:105", "not inside", fx->root, NULL);
	expect_error(fx, "pid:106", -ENOTDIR, err);
	check_err(err, "pid:106", "not a cgroup", NULL);
}

/* The real /proc: this process is in some cgroup v2 or in none. */
void test_pid_self(void **state)
{
	char mount[PATH_MAX];
	char spec[32];
	struct na_cgroup cg;
	char err[ERRLEN];
	int ret;

	if (na_cgroup_find_mount(NULL, mount, sizeof(mount))) {
		skip();
		return;
	}
	snprintf(spec, sizeof(spec), "pid:%d", (int)getpid());
	ret = na_cgroup_resolve(mount, NULL, spec, &cg, err, sizeof(err));
	if (ret)
		print_message("# %s\n", err);
	assert_true(ret == 0 || ret == -EXDEV || ret == -ENOENT);
}
