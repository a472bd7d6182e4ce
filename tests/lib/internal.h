/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What the files of tests/lib share and the tests do not use: where a
 * world's directories are, the parts of the teardown (teardown.c) that
 * the set-up and the CLI runner call too, and what the traffic engine's
 * styles share. The interfaces are na_test.h and na_world.h. The
 * functions carry the na_tl_ prefix, so that the library (and the bench,
 * which builds from these files) exports no bare names such as load.
 */
#ifndef NA_TEST_INTERNAL_H
#define NA_TEST_INTERNAL_H

#include <stdarg.h>
#include <stdbool.h>
#include <sys/types.h>

#include "na_test.h"
#include "na_world.h"

#define WORLD_PREFIX "netaccel-test-"
#define BPFFS "/sys/fs/bpf"

/* ---- sock.c -------------------------------------------------------------- */

/* One line on stdout, prefix then fmt, flushed: a TAP comment or bail-out. */
void na_tl_vprint_line(const char *prefix, const char *fmt, va_list ap);

/* ---- teardown.c ---------------------------------------------------------- */

/* Whether path exists (lstat, links not followed). */
bool na_tl_exists(const char *path);

/* Tear w down at exit and on fatal signals (SIGPIPE ignored). */
void na_tl_arm_teardown(struct na_world *w);

/* In a forked helper: default signal handling, no alarm, no signal blocked. */
void na_tl_reset_signals_in_child(void);

/* Remove the worlds of test programs that died without their teardown. */
void na_tl_sweep_stale(const char *ctl, const char *cgroot);

/* ---- traffic engine (traffic.c, traffic_events.c, traffic_threads.c) ---- */

#define DEFAULT_CHUNK (64 * 1024)
#define READ_BUF (256 * 1024)
#define MAX_WRITE_BUF (64 * 1024 * 1024)
#define SLICE_MS 50		/* how often a waiting loop looks at stop */

/* One direction's bookkeeping (traffic.c). */

/* *p, read atomically (the engine's counters are read while it runs). */
size_t na_tl_load(const size_t *p);

/* *p = v, atomically. */
void na_tl_store(size_t *p, size_t v);

/* Called by the writer of d only: an unbounded stream ends where it is. */
void na_tl_maybe_freeze(struct na_test_dir *d, const struct na_test_run_opts *o);

/* The reader has everything it will get (or the direction failed). */
bool na_tl_dir_finished(const struct na_test_dir *d);

/* The writer of d has bytes left to send and d has not failed. */
bool na_tl_dir_wants_write(const struct na_test_dir *d);

/* Record err as d's first error. */
void na_tl_set_err(struct na_test_dir *d, int err);

/* shutdown(SHUT_WR) of fd once d is sent whole, when d asks for it. */
void na_tl_do_shutdown(struct na_test_dir *d, int fd);

/* Check n received bytes at the current reader offset and account them. */
void na_tl_dir_account(struct na_test_dir *d, const char *buf, size_t n);

/* The reader of d saw end of file: an error before the last byte. */
void na_tl_dir_eof(struct na_test_dir *d);

/* Whether fd is in non-blocking mode. */
bool na_tl_fd_nonblock(int fd);

/* The engines, each bounded by deadline (na_test_now_ms()). */

/* POLL (traffic_events.c). */
int na_tl_run_poll(struct na_test_conn *c, size_t n,
		   const struct na_test_run_opts *o, int64_t deadline);

/* EPOLL_ET (traffic_events.c). */
int na_tl_run_epoll_et(struct na_test_conn *c, size_t n,
		       const struct na_test_run_opts *o, int64_t deadline);

/* BLOCKING and THREADS (traffic_threads.c). */
int na_tl_run_threads(struct na_test_conn *c, size_t n,
		      const struct na_test_run_opts *o, int64_t deadline);

#endif /* NA_TEST_INTERNAL_H */
