/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Unit tests for cgroup/: mountinfo parsing and every form of
 * na_cgroup_resolve(), against a fake cgroup root, a fake proc directory
 * and mountinfo files built in a temporary directory.
 *
 * This file builds the fixture and holds the assertions and the table of
 * tests; the tests are in cgroup_*.c, one file per function or form.
 */
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test_cgroup.h"

/* ---- building the fixture ---- */

__attribute__((format(printf, 3, 4)))
void fmt_path(char *buf, const char *base, const char *fmt, ...)
{
	char rel[PATH_MAX];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(rel, sizeof(rel), fmt, ap);
	va_end(ap);
	assert_true(n > 0 && (size_t)n < sizeof(rel));
	n = snprintf(buf, PATH_MAX, "%s/%s", base, rel);
	assert_true(n > 0 && n < PATH_MAX);
}

/* mkdir -p base/rel */
static void make_dirs(const char *base, const char *rel)
{
	char path[PATH_MAX];
	char *p;

	fmt_path(path, base, "%s", rel);
	for (p = path + strlen(base) + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		assert_true(!mkdir(path, 0755) || errno == EEXIST);
		*p = '/';
	}
	assert_true(!mkdir(path, 0755) || errno == EEXIST);
}

void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

/* A cgroup: a directory holding cgroup.procs. */
static void make_cgroup(const struct fixture *fx, const char *rel)
{
	char path[PATH_MAX];

	make_dirs(fx->root, rel);
	fmt_path(path, fx->root, "%s/cgroup.procs", rel);
	write_file(path, "");
}

static void make_proc(const struct fixture *fx, int pid, const char *text)
{
	char path[PATH_MAX];

	fmt_path(path, fx->proc, "%d", pid);
	assert_int_equal(mkdir(path, 0755), 0);
	fmt_path(path, fx->proc, "%d/cgroup", pid);
	write_file(path, text);
}

static void make_paths(struct fixture *fx)
{
	char path[PATH_MAX];

	make_cgroup(fx, ".");
	make_cgroup(fx, "app.slice");
	make_cgroup(fx, "app.slice/api.service");
	make_cgroup(fx, "enter");
	make_cgroup(fx, "with space");
	make_dirs(fx->root, "plain");
	fmt_path(path, fx->root, "app.slice/file");
	write_file(path, "not a cgroup\n");
	/* outside the root, and ways to reach it from inside */
	make_dirs(fx->base, "outside");
	fmt_path(path, fx->base, "outside/cgroup.procs");
	write_file(path, "");
	fmt_path(path, fx->root, "escape");
	assert_int_equal(symlink("../outside", path), 0);
	fmt_path(path, fx->base, "rootlink");
	assert_int_equal(symlink("cgroup", path), 0);
}

static void make_containers(struct fixture *fx)
{
	static const char *const cgroups[] = {
		"system.slice/docker-" ID_DOCKER ".scope",
		"kubepods.slice/kubepods-burstable.slice/"
			"kubepods-burstable-pod1234.slice/"
			"cri-containerd-" ID_CRI ".scope",
		"kubepods.slice/crio-" ID_CRIO ".scope",
		"kubepods.slice/crio-conmon-" ID_CRIO ".scope",
		"machine.slice/libpod-" ID_LIBPOD ".scope",
		"machine.slice/libpod-conmon-" ID_LIBPOD ".scope",
		"machine.slice/libpod-conmon-" ID_CONMON ".scope",
		"docker/" ID_BARE,
		"libpod_parent/libpod-" ID_PODMANFS,
		"system.slice/docker-" ID_AMBIG1 ".scope",
		"system.slice/docker-" ID_AMBIG2 ".scope",
		"system.slice/docker-" ID_NESTED ".scope",
		"system.slice/docker-" ID_NESTED ".scope/init/" ID_NESTED,
		"kubepods/" ID_NESTED,
		"d/2/3/4/5/6/7/8/9/10/11/docker-" ID_DEPTH12 ".scope",
		"d/2/3/4/5/6/7/8/9/10/11/12/docker-" ID_DEPTH13 ".scope",
		"many/docker-" ID_MANY(1) ".scope",
		"many/docker-" ID_MANY(2) ".scope",
		"many/docker-" ID_MANY(3) ".scope",
		"many/docker-" ID_MANY(4) ".scope",
		"many/docker-" ID_MANY(5) ".scope",
	};
	char path[PATH_MAX];
	size_t i;

	for (i = 0; i < sizeof(cgroups) / sizeof(cgroups[0]); i++)
		make_cgroup(fx, cgroups[i]);
	make_dirs(fx->root, "system.slice/docker-" ID_NOPROCS ".scope");
	make_dirs(fx->base, "outside/docker-" ID_LINKED ".scope");
	fmt_path(path, fx->base, "outside/docker-%s.scope/cgroup.procs",
		 ID_LINKED);
	write_file(path, "");
}

static void make_procs(struct fixture *fx)
{
	make_proc(fx, 100, "0::/app.slice/api.service\n");
	/* a hybrid host: v1 hierarchies first, then the unified one */
	make_proc(fx, 101,
		  "12:memory:/user.slice\n"
		  "4:cpu,cpuacct:/\n"
		  "1:name=systemd:/user.slice/session-1.scope\n"
		  "0::/app.slice\n");
	make_proc(fx, 102, "0::/\n");
	make_proc(fx, 103, "2:cpu:/\n1:name=systemd:/\n");
	make_proc(fx, 104, "0::/gone\n");
	make_proc(fx, 105, "0::/../outside\n");
	make_proc(fx, 106, "0::/plain\n");
}

static int setup(void **state)
{
	char tmpl[PATH_MAX];
	struct fixture *fx;
	const char *tmp = getenv("TMPDIR");

	fx = calloc(1, sizeof(*fx));
	if (!fx)
		return -1;
	snprintf(tmpl, sizeof(tmpl), "%s/na-cgroup-test.XXXXXX",
		 tmp && *tmp ? tmp : "/tmp");
	/* canonical, so that expected paths compare equal to realpath() */
	if (!mkdtemp(tmpl) || !realpath(tmpl, fx->base)) {
		free(fx);
		return -1;
	}
	*state = fx;
	fmt_path(fx->root, fx->base, "cgroup");
	fmt_path(fx->proc, fx->base, "proc");
	make_dirs(fx->base, "cgroup");
	make_dirs(fx->base, "proc");
	make_paths(fx);
	make_containers(fx);
	make_procs(fx);
	return 0;
}

static int remove_entry(const char *path, const struct stat *st, int flag,
			struct FTW *ftw)
{
	return remove(path);
}

static int teardown(void **state)
{
	struct fixture *fx = *state;
	int ret;

	if (!fx)
		return 0;
	ret = nftw(fx->base, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(fx);
	return ret ? -1 : 0;
}

/* ---- assertions ---- */

/* err is one line, starts with spec, and mentions each given string. */
void check_err(const char *err, const char *spec, ...)
{
	const char *needle;
	va_list ap;

	print_message("# %s\n", err);
	assert_null(strchr(err, '\n'));
	assert_true(!strncmp(err, spec, strlen(spec)));
	va_start(ap, spec);
	while ((needle = va_arg(ap, const char *))) {
		if (!strstr(err, needle))
			print_error("\"%s\" not in \"%s\"\n", needle, err);
		assert_non_null(strstr(err, needle));
	}
	va_end(ap);
}

void check_resolved(const struct fixture *fx, const struct na_cgroup *cg,
		    const char *rel)
{
	char path[PATH_MAX];
	struct stat st;

	if (*rel)
		fmt_path(path, fx->root, "%s", rel);
	else
		snprintf(path, sizeof(path), "%s", fx->root);
	assert_string_equal(cg->path, path);
	assert_string_equal(cg->rel, rel);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(cg->id, st.st_ino);
}

/* Resolve spec and expect the cgroup rel below the fixture root. */
void expect_cgroup(const struct fixture *fx, const char *spec,
		   const char *rel)
{
	struct na_cgroup cg;
	char err[ERRLEN];
	int ret;

	ret = na_cgroup_resolve(fx->root, fx->proc, spec, &cg, err,
				sizeof(err));
	if (ret)
		print_error("%s: %d %s\n", spec, ret, err);
	assert_int_equal(ret, 0);
	check_resolved(fx, &cg, rel);
}

/* Resolve spec, expect error ret; the message is left in err. */
void expect_error(const struct fixture *fx, const char *spec, int ret,
		  char *err)
{
	struct na_cgroup cg;
	int got;

	got = na_cgroup_resolve(fx->root, fx->proc, spec, &cg, err, ERRLEN);
	if (got != ret)
		print_error("%s: %d %s\n", spec, got, got ? err : cg.path);
	assert_int_equal(got, ret);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mount_pure_v2),
		cmocka_unit_test(test_mount_hybrid),
		cmocka_unit_test(test_mount_none),
		cmocka_unit_test(test_mount_escaped),
		cmocka_unit_test(test_mount_malformed),
		cmocka_unit_test(test_mount_prefers_whole),
		cmocka_unit_test(test_mount_too_long),
		cmocka_unit_test(test_mount_unreadable),
		cmocka_unit_test(test_mount_this_host),
		cmocka_unit_test(test_path_relative),
		cmocka_unit_test(test_path_leading_slash),
		cmocka_unit_test(test_path_absolute),
		cmocka_unit_test(test_path_root),
		cmocka_unit_test(test_path_root_spelling),
		cmocka_unit_test(test_path_missing),
		cmocka_unit_test(test_path_not_cgroup),
		cmocka_unit_test(test_path_outside),
		cmocka_unit_test(test_path_dotdot),
		cmocka_unit_test(test_path_symlink_escape),
		cmocka_unit_test(test_empty_spec),
		cmocka_unit_test(test_bad_root),
		cmocka_unit_test(test_err_buffer),
		cmocka_unit_test(test_err_one_line),
		cmocka_unit_test(test_pid),
		cmocka_unit_test(test_pid_invalid),
		cmocka_unit_test(test_pid_no_process),
		cmocka_unit_test(test_pid_no_v2),
		cmocka_unit_test(test_pid_bad_cgroup),
		cmocka_unit_test(test_pid_self),
		cmocka_unit_test(test_container_runtimes),
		cmocka_unit_test(test_container_prefix),
		cmocka_unit_test(test_container_ambiguous),
		cmocka_unit_test(test_container_many),
		cmocka_unit_test(test_container_nested),
		cmocka_unit_test(test_container_not_found),
		cmocka_unit_test(test_container_ignored),
		cmocka_unit_test(test_container_depth),
		cmocka_unit_test(test_container_invalid),
		cmocka_unit_test(test_from_path),
		cmocka_unit_test(test_of_pid),
		cmocka_unit_test(test_enter),
	};

	return cmocka_run_group_tests_name("cgroup", tests, setup, teardown);
}
