/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What the files of tests/lib share and the tests do not use: where a
 * world's directories are, and the parts of the teardown (teardown.c)
 * that the set-up and the CLI runner call too. The interfaces are
 * na_test.h and na_world.h.
 */
#ifndef NA_TEST_INTERNAL_H
#define NA_TEST_INTERNAL_H

#include <stdbool.h>
#include <sys/types.h>

#include "na_world.h"

#define WORLD_PREFIX "netaccel-test-"
#define BPFFS "/sys/fs/bpf"

/* ---- teardown.c ---------------------------------------------------------- */

/* Reap pid within timeout_ms (SIGKILL after): exit code, 128 + signal, or -errno. */
int reap_bounded(pid_t pid, int timeout_ms);

/* Whether path exists (lstat, links not followed). */
bool exists(const char *path);

/* Tear w down at exit and on fatal signals (SIGPIPE ignored). */
void arm_teardown(struct na_world *w);

/* In a forked helper: default signal handling, no alarm, no signal blocked. */
void reset_signals_in_child(void);

/* Remove the worlds of test programs that died without their teardown. */
void sweep_stale(const char *ctl, const char *cgroot);

#endif /* NA_TEST_INTERNAL_H */
