/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Unit tests of na_cgroup_find_mount(): where mountinfo says the cgroup v2
 * hierarchy is, on pure v2 and hybrid hosts, with escaped, malformed, too
 * long or unreadable input.
 */
#include <errno.h>
#include <sys/stat.h>

#include "test_cgroup.h"

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

void test_mount_pure_v2(void **state)
{
	char out[PATH_MAX];

	assert_int_equal(find_mount_in(*state, mi_pure_v2, out, sizeof(out)), 0);
	assert_string_equal(out, "/sys/fs/cgroup");
}

void test_mount_hybrid(void **state)
{
	char out[PATH_MAX];

	assert_int_equal(find_mount_in(*state, mi_hybrid, out, sizeof(out)), 0);
	assert_string_equal(out, "/sys/fs/cgroup/unified");
}

void test_mount_none(void **state)
{
	char out[PATH_MAX];

	assert_int_equal(find_mount_in(*state, mi_no_cgroup2, out, sizeof(out)),
			 -ENOENT);
	assert_int_equal(find_mount_in(*state, "", out, sizeof(out)), -ENOENT);
}

void test_mount_escaped(void **state)
{
	char out[PATH_MAX];

	assert_int_equal(find_mount_in(*state, mi_escaped, out, sizeof(out)), 0);
	assert_string_equal(out, "/mnt/my cgroup\ttab\\x");
}

void test_mount_malformed(void **state)
{
	char out[PATH_MAX];

	assert_int_equal(find_mount_in(*state, mi_malformed, out, sizeof(out)),
			 0);
	assert_string_equal(out, "/sys/fs/cgroup");
}

void test_mount_prefers_whole(void **state)
{
	char out[PATH_MAX];

	assert_int_equal(find_mount_in(*state, mi_subtree_first, out,
				       sizeof(out)), 0);
	assert_string_equal(out, "/sys/fs/cgroup");
	assert_int_equal(find_mount_in(*state, mi_subtree_only, out,
				       sizeof(out)), 0);
	assert_string_equal(out, "/srv/cg");
}

void test_mount_too_long(void **state)
{
	char out[15];

	assert_int_equal(find_mount_in(*state, mi_pure_v2, out, 14),
			 -ENAMETOOLONG);
	assert_int_equal(find_mount_in(*state, mi_pure_v2, out, sizeof(out)),
			 0);
	assert_string_equal(out, "/sys/fs/cgroup");
}

void test_mount_unreadable(void **state)
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
void test_mount_this_host(void **state)
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
