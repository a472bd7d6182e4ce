/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Unit tests for cgroup/: mountinfo parsing and every form of
 * na_cgroup_resolve(), against a fake cgroup root, a fake proc directory
 * and mountinfo files built in a temporary directory.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

/* ---- building the fixture ---- */

__attribute__((format(printf, 3, 4)))
static void fmt_path(char *buf, const char *base, const char *fmt, ...)
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

static void write_file(const char *path, const char *text)
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
static void check_err(const char *err, const char *spec, ...)
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

static void check_resolved(const struct fixture *fx, const struct na_cgroup *cg,
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
static void expect_cgroup(const struct fixture *fx, const char *spec,
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
static void expect_error(const struct fixture *fx, const char *spec, int ret,
			 char *err)
{
	struct na_cgroup cg;
	int got;

	got = na_cgroup_resolve(fx->root, fx->proc, spec, &cg, err, ERRLEN);
	if (got != ret)
		print_error("%s: %d %s\n", spec, got, got ? err : cg.path);
	assert_int_equal(got, ret);
}

/* ---- na_cgroup_find_mount ---- */

static const char mi_pure_v2[] =
	"22 1 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw\n"
	"25 22 0:23 / /sys rw,nosuid,nodev,noexec,relatime shared:2 - sysfs sysfs rw\n"
	"26 25 0:24 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot\n"
	"27 25 0:25 / /sys/fs/bpf rw,nosuid,nodev,noexec,relatime shared:5 - bpf bpf rw,mode=700\n";

static const char mi_hybrid[] =
	"31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
	"32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
	"35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
	"40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd\n"
	"41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";

static const char mi_no_cgroup2[] =
	"31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
	"32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
	"40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd\n";

static const char mi_escaped[] =
	"50 1 0:40 / /mnt/my\\040cgroup\\011tab\\134x rw,relatime shared:1 master:2 - cgroup2 none rw\n";

/* lines a parser must survive, and cgroup2 where fstype is not */
static const char mi_malformed[] =
	"\n"
	"garbage\n"
	"1 2 3\n"
	"60 1 0:40 / /a rw - \n"
	"61 1 0:40 / /b rw shared:1 cgroup2 cgroup2 rw\n"
	"62 1 0:40 / relative rw - cgroup2 cgroup2 rw\n"
	"63 1 0:40 / /c rw - tmpfs cgroup2 cgroup2\n"
	"64  1 0:40 / /d rw - cgroup2 cgroup2 rw\n"
	"65 1 0:41 / /sys/fs/cgroup rw,relatime - cgroup2 cgroup2 rw";

/* a subtree listed first, then the whole hierarchy */
static const char mi_subtree_first[] =
	"70 1 0:41 /system.slice/x.service /srv/cg rw - cgroup2 cgroup2 rw\n"
	"71 1 0:41 /../.. /other rw - cgroup2 cgroup2 rw\n"
	"72 1 0:41 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n"
	"73 1 0:41 / /later rw - cgroup2 cgroup2 rw\n";

static const char mi_subtree_only[] =
	"70 1 0:41 /system.slice/x.service /srv/cg rw - cgroup2 cgroup2 rw\n"
	"71 1 0:41 /other /other rw - cgroup2 cgroup2 rw\n";

static int find_mount_in(const struct fixture *fx, const char *text,
			 char *out, size_t outlen)
{
	char path[PATH_MAX];

	fmt_path(path, fx->base, "mountinfo");
	write_file(path, text);
	return na_cgroup_find_mount(path, out, outlen);
}

static void test_mount_pure_v2(void **state)
{
	char out[PATH_MAX];

	assert_int_equal(find_mount_in(*state, mi_pure_v2, out, sizeof(out)), 0);
	assert_string_equal(out, "/sys/fs/cgroup");
}

static void test_mount_hybrid(void **state)
{
	char out[PATH_MAX];

	assert_int_equal(find_mount_in(*state, mi_hybrid, out, sizeof(out)), 0);
	assert_string_equal(out, "/sys/fs/cgroup/unified");
}

static void test_mount_none(void **state)
{
	char out[PATH_MAX];

	assert_int_equal(find_mount_in(*state, mi_no_cgroup2, out, sizeof(out)),
			 -ENOENT);
	assert_int_equal(find_mount_in(*state, "", out, sizeof(out)), -ENOENT);
}

static void test_mount_escaped(void **state)
{
	char out[PATH_MAX];

	assert_int_equal(find_mount_in(*state, mi_escaped, out, sizeof(out)), 0);
	assert_string_equal(out, "/mnt/my cgroup\ttab\\x");
}

static void test_mount_malformed(void **state)
{
	char out[PATH_MAX];

	assert_int_equal(find_mount_in(*state, mi_malformed, out, sizeof(out)),
			 0);
	assert_string_equal(out, "/sys/fs/cgroup");
}

static void test_mount_prefers_whole(void **state)
{
	char out[PATH_MAX];

	assert_int_equal(find_mount_in(*state, mi_subtree_first, out,
				       sizeof(out)), 0);
	assert_string_equal(out, "/sys/fs/cgroup");
	assert_int_equal(find_mount_in(*state, mi_subtree_only, out,
				       sizeof(out)), 0);
	assert_string_equal(out, "/srv/cg");
}

static void test_mount_too_long(void **state)
{
	char out[15];

	assert_int_equal(find_mount_in(*state, mi_pure_v2, out, 14),
			 -ENAMETOOLONG);
	assert_int_equal(find_mount_in(*state, mi_pure_v2, out, sizeof(out)),
			 0);
	assert_string_equal(out, "/sys/fs/cgroup");
}

static void test_mount_unreadable(void **state)
{
	struct fixture *fx = *state;
	char path[PATH_MAX];
	char out[PATH_MAX];

	fmt_path(path, fx->base, "no-such-mountinfo");
	assert_int_equal(na_cgroup_find_mount(path, out, sizeof(out)), -ENOENT);
	/* a directory opens but cannot be read */
	assert_true(na_cgroup_find_mount(fx->base, out, sizeof(out)) < 0);
}

/* This host: whatever it has, the answer is consistent. */
static void test_mount_this_host(void **state)
{
	char out[PATH_MAX];
	struct stat st;
	int ret;

	ret = na_cgroup_find_mount(NULL, out, sizeof(out));
	assert_true(ret == 0 || ret == -ENOENT);
	if (!ret) {
		assert_int_equal(stat(out, &st), 0);
		assert_true(S_ISDIR(st.st_mode));
	}
}

/* ---- na_cgroup_resolve: paths ---- */

static void test_path_relative(void **state)
{
	expect_cgroup(*state, "app.slice/api.service", "app.slice/api.service");
	expect_cgroup(*state, "app.slice", "app.slice");
	expect_cgroup(*state, "with space", "with space");
	expect_cgroup(*state, "app.slice/./api.service/", "app.slice/api.service");
}

static void test_path_leading_slash(void **state)
{
	expect_cgroup(*state, "/app.slice/api.service", "app.slice/api.service");
	expect_cgroup(*state, "//app.slice", "app.slice");
}

static void test_path_absolute(void **state)
{
	struct fixture *fx = *state;
	char spec[PATH_MAX];

	fmt_path(spec, fx->root, "app.slice/api.service");
	expect_cgroup(fx, spec, "app.slice/api.service");
	fmt_path(spec, fx->root, "app.slice/../app.slice");
	expect_cgroup(fx, spec, "app.slice");
}

static void test_path_root(void **state)
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
static void test_path_root_spelling(void **state)
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

static void test_path_missing(void **state)
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

static void test_path_not_cgroup(void **state)
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

static void test_path_outside(void **state)
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

static void test_path_dotdot(void **state)
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

static void test_path_symlink_escape(void **state)
{
	struct fixture *fx = *state;
	char outside[PATH_MAX];
	char err[ERRLEN];

	fmt_path(outside, fx->base, "outside");
	expect_error(fx, "escape", -EXDEV, err);
	check_err(err, "escape", outside, "not inside", fx->root, NULL);
}

static void test_empty_spec(void **state)
{
	struct fixture *fx = *state;
	struct na_cgroup cg;
	char err[ERRLEN];

	expect_error(fx, "", -EINVAL, err);
	check_err(err, "", "empty", NULL);
	assert_int_equal(na_cgroup_resolve(fx->root, fx->proc, NULL, &cg, err,
					   sizeof(err)), -EINVAL);
}

static void test_bad_root(void **state)
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
static void test_err_buffer(void **state)
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

static void test_err_one_line(void **state)
{
	char err[ERRLEN];

	expect_error(*state, "a\nb", -ENOENT, err);
	assert_null(strchr(err, '\n'));
	assert_true(!strncmp(err, "a?b: ", 5));
}

/* ---- na_cgroup_resolve: pid:<PID> ---- */

static void test_pid(void **state)
{
	expect_cgroup(*state, "pid:100", "app.slice/api.service");
	expect_cgroup(*state, "pid:101", "app.slice");
	expect_cgroup(*state, "pid:102", "");
}

static void test_pid_invalid(void **state)
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

static void test_pid_no_process(void **state)
{
	struct fixture *fx = *state;
	char file[PATH_MAX];
	char err[ERRLEN];

	fmt_path(file, fx->proc, "999/cgroup");
	expect_error(fx, "pid:999", -ESRCH, err);
	check_err(err, "pid:999", "pid:999: no such process", file, NULL);
}

static void test_pid_no_v2(void **state)
{
	struct fixture *fx = *state;
	char file[PATH_MAX];
	char err[ERRLEN];

	fmt_path(file, fx->proc, "103/cgroup");
	expect_error(fx, "pid:103", -ENODATA, err);
	check_err(err, "pid:103", "0::", file, NULL);
}

static void test_pid_bad_cgroup(void **state)
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
static void test_pid_self(void **state)
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

/* ---- na_cgroup_resolve: container:<ID> ---- */

static void test_container_runtimes(void **state)
{
	expect_cgroup(*state, "container:" ID_DOCKER,
		      "system.slice/docker-" ID_DOCKER ".scope");
	expect_cgroup(*state, "container:" ID_CRI,
		      "kubepods.slice/kubepods-burstable.slice/"
		      "kubepods-burstable-pod1234.slice/"
		      "cri-containerd-" ID_CRI ".scope");
	expect_cgroup(*state, "container:" ID_CRIO,
		      "kubepods.slice/crio-" ID_CRIO ".scope");
	expect_cgroup(*state, "container:" ID_LIBPOD,
		      "machine.slice/libpod-" ID_LIBPOD ".scope");
	expect_cgroup(*state, "container:" ID_BARE, "docker/" ID_BARE);
}

static void test_container_prefix(void **state)
{
	expect_cgroup(*state, "container:d0c4",
		      "system.slice/docker-" ID_DOCKER ".scope");
	expect_cgroup(*state, "container:c0ffee",
		      "kubepods.slice/kubepods-burstable.slice/"
		      "kubepods-burstable-pod1234.slice/"
		      "cri-containerd-" ID_CRI ".scope");
	expect_cgroup(*state, "container:ba5e", "docker/" ID_BARE);
	expect_cgroup(*state, "container:abcd1",
		      "system.slice/docker-" ID_AMBIG1 ".scope");
	/* libpod-conmon-<id> is the same id, not a second match */
	expect_cgroup(*state, "container:b0d0",
		      "machine.slice/libpod-" ID_LIBPOD ".scope");
}

static void test_container_ambiguous(void **state)
{
	char err[ERRLEN];

	expect_error(*state, "container:abcd", -ENOTUNIQ, err);
	check_err(err, "container:abcd", "ambiguous", ID_AMBIG1 ", " ID_AMBIG2,
		  "give more characters", NULL);
}

/* Many matches: a few are listed, then "and more". */
static void test_container_many(void **state)
{
	char err[ERRLEN];

	expect_error(*state, "container:f", -ENOTUNIQ, err);
	check_err(err, "container:f", "ambiguous", ID_MANY(1) ", " ID_MANY(2)
		  ", " ID_MANY(3) ", ", " and more (give more characters)",
		  NULL);
	expect_error(*state, "container:a", -ENOTUNIQ, err);
	check_err(err, "container:a", ID_AMBIG1, ID_AMBIG2, ID_NESTED, NULL);
	expect_error(*state, "container:d", -ENOTUNIQ, err);
	check_err(err, "container:d", ID_DOCKER, ID_DEPTH12, NULL);
}

/* One id in several directories: the shallowest, a scope on a tie. */
static void test_container_nested(void **state)
{
	expect_cgroup(*state, "container:" ID_NESTED,
		      "system.slice/docker-" ID_NESTED ".scope");
	expect_cgroup(*state, "container:aee5",
		      "system.slice/docker-" ID_NESTED ".scope");
}

static void test_container_not_found(void **state)
{
	struct fixture *fx = *state;
	char err[ERRLEN];

	expect_error(fx, "container:0123", -ENOENT, err);
	check_err(err, "container:0123", "no such container", fx->root,
		  "docker-<id>.scope", "cri-containerd-<id>.scope",
		  "crio-<id>.scope", "libpod-<id>.scope", "full id", NULL);
}

/* Names that look like containers but are not to be matched. */
static void test_container_ignored(void **state)
{
	char err[ERRLEN];

	/* only a conmon scope */
	expect_error(*state, "container:e0e0", -ENOENT, err);
	/* no cgroup.procs */
	expect_error(*state, "container:" ID_NOPROCS, -ENOENT, err);
	/* behind a symlink out of the root */
	expect_error(*state, "container:" ID_LINKED, -ENOENT, err);
}

static void test_container_depth(void **state)
{
	char err[ERRLEN];

	expect_cgroup(*state, "container:" ID_DEPTH12,
		      "d/2/3/4/5/6/7/8/9/10/11/docker-" ID_DEPTH12 ".scope");
	expect_error(*state, "container:" ID_DEPTH13, -ENOENT, err);
	check_err(err, "container:" ID_DEPTH13, "12 levels", NULL);
}

static void test_container_invalid(void **state)
{
	static const char *const specs[] = {
		"container:", "container:ABCD", "container:D0C4", "container:xyz",
		"container:d0c4 ", "container:docker-d0c4",
		"container:" ID_DOCKER "0",
	};
	char err[ERRLEN];
	size_t i;

	for (i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
		expect_error(*state, specs[i], -EINVAL, err);
		check_err(err, specs[i], "invalid container id", "lowercase hex",
			  NULL);
	}
}

/* ---- na_cgroup_from_path, na_cgroup_of_pid, na_cgroup_enter ---- */

static void test_from_path(void **state)
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

static void test_of_pid(void **state)
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

static void test_enter(void **state)
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
