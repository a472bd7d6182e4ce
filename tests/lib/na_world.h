/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The world of one privileged test program: scratch cgroups under
 * <cgroup v2 root>/netaccel-test-<name>-<pid>, a private netaccel state
 * directory /sys/fs/bpf/netaccel-test-<name>-<pid>, the CLI run against
 * that state, and forked helper processes. The names carry the pid so that
 * test programs run in parallel without meeting.
 *
 * Teardown always runs: from the cmocka group teardown, at exit, and on
 * SIGINT/SIGTERM/SIGHUP/SIGALRM (meson's timeout). It removes the state
 * (`cleanup --force`, then whatever pins remain), moves the process back to
 * its original cgroup, kills what is left in the scratch cgroups and
 * removes them deepest first. A world left behind by a test that was
 * SIGKILLed is swept by the next na_world_init.
 */
#ifndef NA_WORLD_H
#define NA_WORLD_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "na_cgroup.h"
#include "netaccel_abi.h"

#define NA_WORLD_MAX_CGROUPS 32
#define NA_WORLD_MAX_KIDS 32
#define NA_WORLD_CTL_TIMEOUT_MS 60000

struct na_world {
	char name[64];
	pid_t owner;			/* the process the world belongs to */
	char cgroot[PATH_MAX];		/* cgroup v2 mount point */
	char orig_cg[PATH_MAX];		/* where the process started */
	char base[PATH_MAX];		/* <cgroot>/netaccel-test-<name>-<pid> */
	char state_dir[PATH_MAX];	/* /sys/fs/bpf/netaccel-test-<name>-<pid> */
	const char *ctl;		/* $NETACCEL_CTL */

	/* Created cgroups, parents before children (base is [0]). */
	char cgroups[NA_WORLD_MAX_CGROUPS][PATH_MAX];
	int ncgroups;

	pid_t kids[NA_WORLD_MAX_KIDS];	/* forked helpers still to reap */
	int nkids;

	/* fds open when the current test started (na_world_test_begin). */
	unsigned char fds_at_start[1024 / 8];

	volatile int torn_down;
};

/* Output of one CLI run. */
struct na_ctl_result {
	int status;		/* exit code, or 128 + signal */
	char out[65536];	/* stdout, NUL-terminated, truncated */
	char err[8192];		/* stderr, NUL-terminated, truncated */
};

/*
 * Exit the program as skipped when it cannot run here (not root, no cgroup
 * v2, $NETACCEL_CTL unset): a TAP "1..0 # SKIP" plan when cmocka speaks
 * TAP, exit code 77 otherwise.
 */
void na_world_require(void);

/* Exit the program as skipped, with why: what na_world_require does, for
 * programs that need something else than the world. */
void na_world_skip(const char *why) __attribute__((noreturn));

/* Stop the program: a TAP "Bail out!" line with the reason, exit 1 (the
 * teardown runs at exit). For a group set-up that cannot build the world. */
void na_world_bail(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));

/* Build the world: find cgroup v2, remember the current cgroup, sweep the
 * leftovers of killed test programs, create base, arm the teardown. */
int na_world_init(struct na_world *w, const char *name);

/* Idempotent; safe to call from a signal handler (best effort). */
void na_world_teardown(struct na_world *w);

/*
 * Create the cgroup base/rel (its parent must exist already) and describe
 * it in out (path, id = inode). An existing directory is reused.
 */
int na_world_cgroup(struct na_world *w, const char *rel, struct na_cgroup *out);

/* Move the calling process (all its threads) into cgroup path. */
int na_world_enter(struct na_world *w, const char *path);

/* Move it back to the cgroup it started in. */
int na_world_leave(struct na_world *w);

/*
 * Run the CLI with --state-dir <state_dir> and the NULL-terminated
 * arguments; capture exit code, stdout and stderr. Returns 0 when the CLI
 * ran (whatever its exit code), or a negative errno (-ETIMEDOUT: killed
 * after NA_WORLD_CTL_TIMEOUT_MS).
 */
int na_world_ctl(struct na_world *w, struct na_ctl_result *r, ...)
	__attribute__((sentinel));

/*
 * Like na_world_ctl, but returns the exit code (or the negative errno) and,
 * when it is not 0, prints the command and its stderr as TAP comments.
 */
int na_world_ctl_ok(struct na_world *w, ...) __attribute__((sentinel));

/* `enroll <path> --mode <mode>` / `unenroll <path>`: the exit code. */
int na_world_enroll(struct na_world *w, const char *path, const char *mode);
int na_world_unenroll(struct na_world *w, const char *path);

/* Counters of cgroup cgid from the world's state (0: all cgroups). */
int na_world_stats(struct na_world *w, uint64_t cgid, struct na_stats *out);

/* Does the state directory exist? */
bool na_world_state_exists(struct na_world *w);

/*
 * fork() a helper: in the child, fn(arg) runs with default signal handling
 * and its return value is the exit code (the world's teardown never runs
 * in a child). The parent records the pid for teardown. Returns the pid.
 */
pid_t na_world_fork(struct na_world *w, int (*fn)(void *), void *arg);

/* Reap helper pid within timeout_ms (SIGKILL after it); returns its exit
 * code, 128 + signal, or a negative errno. */
int na_world_wait(struct na_world *w, pid_t pid, int timeout_ms);

/*
 * Per-test bracket: begin remembers the open fds; end kills and reaps the
 * helpers, closes every fd the test opened, and moves the process back to
 * its original cgroup, so that a failed test cannot leak into the next.
 * watchdog_s arms alarm(): a test still running then (a hang no bounded
 * wait caught) ends the program through the teardown.
 */
void na_world_test_begin(struct na_world *w, unsigned watchdog_s);
void na_world_test_end(struct na_world *w);

#endif /* NA_WORLD_H */
