// SPDX-License-Identifier: GPL-2.0-only
/*
 * libnetaccel without the kernel: the reason contract (reason.c), the
 * state directory's checks that refuse a place before touching anything
 * (state.c), the removal of pins (pins.c), here on plain files, and what
 * reconcile decides for each enrolled slot (bypass.c). No case mounts, or
 * calls BPF.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include <netaccel/state.h>

#include "internal.h"

static void reason_first_failure_wins(void **state)
{
	struct na_reason why = { 0 };

	(void)state;
	assert_int_equal(na_reason_set(&why, -ENOENT, "inner %d", 1), -ENOENT);
	assert_int_equal(na_reason_set(&why, -EIO, "outer"), -EIO);
	assert_string_equal(why.msg, "inner 1");
	assert_int_equal(why.kind, NA_WHY_OTHER);
	assert_true(na_reason_said(&why));
	na_reason_clear(&why);
	assert_false(na_reason_said(&why));
	assert_int_equal(na_reason_set_kind(&why, NA_WHY_STATE_INCOMPLETE, -ENODATA, "half"),
			 -ENODATA);
	assert_int_equal(why.kind, NA_WHY_STATE_INCOMPLETE);
	/* No reason wanted: only the errno comes back. */
	assert_int_equal(na_reason_set(NULL, -EPERM, "nobody reads this"), -EPERM);
	assert_false(na_reason_said(NULL));
}

static void reason_is_one_bounded_line(void **state)
{
	struct na_reason why = { 0 };
	char big[2 * NA_REASON_MAX];

	(void)state;
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	na_reason_set(&why, -EINVAL, "%s", big);
	assert_int_equal(strlen(why.msg), NA_REASON_MAX - 1);
}

static int logged;
static enum na_log_level last_level;

static void count_log(enum na_log_level level, const char *msg)
{
	(void)msg;
	logged++;
	last_level = level;
}

/* NETACCEL_COPY_SLOW answers for the copy probe; anything else but 0 or 1
 * is said, and the probe measures. */
static void copy_probe_env_answers(void **state)
{
	int r;

	(void)state;
	na_set_log(count_log);
	logged = 0;
	setenv(NA_COPY_SLOW_ENV, "1", 1);
	assert_int_equal(na_copy_misaligned_slow(), 1);
	setenv(NA_COPY_SLOW_ENV, "0", 1);
	assert_int_equal(na_copy_misaligned_slow(), 0);
	assert_int_equal(logged, 0);
	setenv(NA_COPY_SLOW_ENV, "yes", 1);
	r = na_copy_misaligned_slow();
	assert_true(r >= -1 && r <= 1);
	assert_int_equal(logged, 1);
	unsetenv(NA_COPY_SLOW_ENV);
	na_set_log(NULL);
}

static void bpffs_must_be_absolute(void **state)
{
	struct na_reason why = { 0 };

	(void)state;
	assert_int_equal(na_state_ensure_bpffs("netaccel", &why), -EINVAL);
	assert_non_null(strstr(why.msg, "must be an absolute path"));
	na_reason_clear(&why);
	assert_int_equal(na_state_ensure_bpffs("/", &why), -EINVAL);
	na_reason_clear(&why);
	assert_int_equal(na_state_ensure_bpffs("/sys/fs/bpf/", &why), -EINVAL);
}

static void bpffs_elsewhere_is_not_mounted(void **state)
{
	struct na_reason why = { 0 };
	char dir[] = "/tmp/na-unit-XXXXXX", sub[64];

	(void)state;
	/* A parent that does not exist. */
	assert_int_equal(na_state_ensure_bpffs("/nonexistent-na-unit/state", &why), -ENOTSUP);
	assert_non_null(strstr(why.msg, "/nonexistent-na-unit does not exist"));
	/* A parent that exists but is no bpffs: said, never mounted over. */
	assert_non_null(mkdtemp(dir));
	snprintf(sub, sizeof(sub), "%s/state", dir);
	na_reason_clear(&why);
	logged = 0;
	na_set_log(count_log);
	assert_int_equal(na_state_ensure_bpffs(sub, &why), -ENOTSUP);
	na_set_log(NULL);
	assert_non_null(strstr(why.msg, "is not on a bpffs mount"));
	assert_int_equal(logged, 0);
	assert_int_equal(rmdir(dir), 0);
}

static void open_without_state_says_so(void **state)
{
	struct na_reason why = { 0 };
	struct na_state st;
	char dir[] = "/tmp/na-unit-XXXXXX", sub[64];

	(void)state;
	/* Nothing there: -ENOENT, with a reason a caller may print. */
	assert_int_equal(na_state_open(&st, "/nonexistent-na-unit/state", 0, &why), -ENOENT);
	assert_true(na_reason_said(&why));
	/* A directory that is not on bpffs is refused, and left as it was. */
	assert_non_null(mkdtemp(dir));
	snprintf(sub, sizeof(sub), "%s", dir);
	assert_int_equal(na_state_open(&st, sub, 0, &why), -ENOTSUP);
	assert_non_null(strstr(why.msg, "is not on a bpffs mount"));
	assert_int_equal(rmdir(dir), 0);
}

static void touch(const char *dir, const char *name)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fclose(f);
}

static bool exists(const char *dir, const char *name)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return access(path, F_OK) == 0;
}

static void unpin_dir_takes_all_then_the_dir(void **state)
{
	static const char *const order[] = { "cg", "link_", "prog_", "" };
	char dir[] = "/tmp/na-unit-XXXXXX";
	int first = -1;

	(void)state;
	assert_non_null(mkdtemp(dir));
	touch(dir, "cg12_sockops");
	touch(dir, "cg12_create");
	touch(dir, "link_rxwatch");
	touch(dir, "prog_msg");
	touch(dir, "na_stats");
	assert_int_equal(na_unpin_dir(dir, order, 4, &first), 0);
	assert_int_equal(first, 2);
	assert_int_not_equal(access(dir, F_OK), 0);
	/* Gone already: nothing to do, not an error. */
	assert_int_equal(na_unpin_dir(dir, order, 4, &first), 0);
	assert_int_equal(first, 0);
}

static void unpin_dir_keeps_what_it_cannot_remove(void **state)
{
	static const char *const order[] = { "prog_", "" };
	char dir[] = "/tmp/na-unit-XXXXXX", sub[64];

	(void)state;
	assert_non_null(mkdtemp(dir));
	touch(dir, "prog_x");
	/* A subdirectory (another datapath's state) is not a pin. */
	snprintf(sub, sizeof(sub), "%s/portmap", dir);
	assert_int_equal(mkdir(sub, 0700), 0);
	assert_true(na_unpin_dir(dir, order, 2, NULL) < 0);
	assert_false(exists(dir, "prog_x"));
	assert_true(exists(dir, "portmap"));
	assert_int_equal(rmdir(sub), 0);
	assert_int_equal(rmdir(dir), 0);
}

static bool only_id_7(uint64_t id, void *arg)
{
	(*(int *)arg)++;
	return id == 7;
}

static void sweep_removes_links_of_unused_cgroups(void **state)
{
	static const char *const all[] = { "" };
	char dir[] = "/tmp/na-unit-XXXXXX";
	int asked = 0;

	(void)state;
	assert_non_null(mkdtemp(dir));
	touch(dir, "cg7_sockops");
	touch(dir, "cg8_sockops");
	touch(dir, "cg8_create");
	touch(dir, "cgx_create");	/* not a cgroup link's name */
	touch(dir, "prog_sockops");
	logged = 0;
	na_set_log(count_log);
	assert_int_equal(na_sweep_cgroup_links(dir, only_id_7, &asked), 2);
	na_set_log(NULL);
	assert_int_equal(asked, 3);
	assert_int_equal(logged, 2);
	assert_int_equal(last_level, NA_LOG_INFO);
	assert_true(exists(dir, "cg7_sockops"));
	assert_false(exists(dir, "cg8_sockops"));
	assert_false(exists(dir, "cg8_create"));
	assert_true(exists(dir, "cgx_create"));
	assert_true(exists(dir, "prog_sockops"));
	assert_int_equal(na_unpin_dir(dir, all, 1, NULL), 0);
}

/* What reconcile does with each enrolled slot (lib/bypass.c). */
static void reconcile_decisions(void **state)
{
	(void)state;
	/* Enrolled, cgroup there: left alone, drained or not. */
	assert_int_equal(na_bypass_reconcile_slot(NA_SLOT_ACTIVE, false, true), 0);
	assert_int_equal(na_bypass_reconcile_slot(NA_SLOT_ACTIVE, false, false), 0);
	/* Its cgroup removed: drained, and freed at once when nothing is left. */
	assert_int_equal(na_bypass_reconcile_slot(NA_SLOT_ACTIVE, true, false), NA_RECONCILE_DRAIN);
	assert_int_equal(na_bypass_reconcile_slot(NA_SLOT_ACTIVE, true, true),
			 NA_RECONCILE_DRAIN | NA_RECONCILE_FREE);
	/* Draining: freed once its sockets are gone, never before. */
	assert_int_equal(na_bypass_reconcile_slot(NA_SLOT_DRAINING, false, false), 0);
	assert_int_equal(na_bypass_reconcile_slot(NA_SLOT_DRAINING, true, false), 0);
	assert_int_equal(na_bypass_reconcile_slot(NA_SLOT_DRAINING, false, true), NA_RECONCILE_FREE);
	/* A free slot is nothing to do. */
	assert_int_equal(na_bypass_reconcile_slot(NA_SLOT_FREE, true, true), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(reason_first_failure_wins),
		cmocka_unit_test(reason_is_one_bounded_line),
		cmocka_unit_test(copy_probe_env_answers),
		cmocka_unit_test(bpffs_must_be_absolute),
		cmocka_unit_test(bpffs_elsewhere_is_not_mounted),
		cmocka_unit_test(open_without_state_says_so),
		cmocka_unit_test(unpin_dir_takes_all_then_the_dir),
		cmocka_unit_test(unpin_dir_keeps_what_it_cannot_remove),
		cmocka_unit_test(sweep_removes_links_of_unused_cgroups),
		cmocka_unit_test(reconcile_decisions),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
