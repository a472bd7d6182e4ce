/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What the files of test_transparency share: the fixture's world and
 * cgroup (test_transparency.c), the ways client and listener address each
 * other, the helpers (transparency_helpers.c), and each file's test
 * functions, which the table in test_transparency.c lists in its order.
 */
#ifndef NA_TEST_TRANSPARENCY_H
#define NA_TEST_TRANSPARENCY_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <sys/types.h>

#include "na_check.h"

#define KiB 1024
#define MiB (1024 * 1024)

/* The fixture (test_transparency.c). */
extern struct na_world world;	/* this program's world */
extern struct na_cgroup app;	/* the enrolled cgroup, mode all */
extern bool plain;		/* NETACCEL_TEST_PLAIN: not enrolled */

/* How client and listener address each other. */
struct family {
	const char *name;
	const char *listen;	/* listener address */
	int lflags;		/* NA_TEST_DUALSTACK / NA_TEST_V6ONLY */
	const char *connect;	/* address the client connects to */
	bool xns;		/* the listener is in the other container's
				 * network namespace (ns_server) */
};

/* The two containers' network namespaces (test_transparency.c): the test
 * runs in ns_client, and an xns family's listeners are made in
 * ns_server. */
extern int ns_client, ns_server;

/* Position of f in the families of the table, to give each its own seeds. */
size_t family_index(const struct family *f);

/* ---- helpers (transparency_helpers.c) ----------------------------------- */

/* A non-blocking listener of f that no socket was accepted from yet. */
int listen_fresh(const struct family *f);

/* A non-blocking listener of f, primed: its accepted sockets can join. */
int listen_on(const struct family *f);

/* A blocking listener of f. */
int listen_blocking(const struct family *f);

/* An event-driven pair on lfd, warmed up: later bytes can take the fast path. */
void make_pair(int lfd, const struct family *f, int *cfd, int *sfd);

/* An event-driven pair on lfd before anything was read on it. */
void make_cold_pair(int lfd, const struct family *f, int *cfd, int *sfd);

/* A client of lfd: connect_flags as for na_test_connect_ex. */
int connect_to(int lfd, const struct family *f, int connect_flags);

/* accept4(lfd, sock_flags), bounded; fails the test on error. */
int accept_on(int lfd, int sock_flags);

/* The counters of the app cgroup now (zeros in plain mode). */
void stats_now(struct na_stats *s);

/* Counter deltas of the app cgroup since before (not in plain mode). */
void delta_now(const struct na_stats *before, struct na_stats *d);

/*
 * Unless in plain mode: d = the counter deltas of the app cgroup since
 * before; when bad (an expression over d) holds, d is printed and the test
 * fails with the fail_msg() arguments that follow.
 */
#define ASSERT_DELTAS(before, d, bad, ...)                                  \
	do {                                                                \
		if (!plain) {                                               \
			delta_now((before), &(d));                          \
			if (bad) {                                          \
				na_test_stats_print("counter deltas", &(d)); \
				fail_msg(__VA_ARGS__);                      \
			}                                                   \
		}                                                           \
	} while (0)

/* Since before, bytes went through the redirect, in at least min_msgs messages. */
void assert_all_redirected(const struct na_stats *before, uint64_t bytes,
			   uint64_t min_msgs, const char *what);

/* Since before, bytes went through the redirect or moved to TCP as a stream. */
void assert_redirected_or_moved(const struct na_stats *before, uint64_t bytes,
				const char *what);

/* Since before, at least min_kept blocking sockets kept on TCP, nothing redirected. */
void assert_kept_blocking(const struct na_stats *before, uint64_t min_kept,
			  const char *what);

/* n warmed-up event-driven connections to lfd. */
void open_conns(int lfd, const struct family *f, struct na_test_conn *c,
		size_t n);

/* ---- forked helper processes ---------------------------------------------- */

/* In a forked helper (no cmocka there): report, and end with exit code 1. */
#define HELPER_CHECK(cond, ...)                                             \
	do {                                                                \
		if (!(cond)) {                                              \
			na_test_diag(__VA_ARGS__);                          \
			return 1;                                           \
		}                                                           \
	} while (0)

/* A call returning 0 or a negative errno, in a helper. */
#define HELPER_OK(expr)                                                     \
	do {                                                                \
		int h_err_ = (expr);                                        \
		HELPER_CHECK(h_err_ == 0, "helper %d: %s failed: %s", (int)getpid(), \
			     #expr, strerror(-h_err_));                     \
	} while (0)

/* Send step byte c to the other side of a helper's socketpair. */
int step_send(int fd, char c);

/* Wait (bounded) for step byte want: -EPIPE when the other side is gone. */
int step_wait(int fd, char want, int timeout_ms);

/*
 * Wait (bounded) until task *id below dir ("/proc", "/proc/self/task")
 * sleeps, blocked in recv() say; *id is read anew each time, 0 while not
 * known yet. False when the task has ended or the wait timed out.
 */
bool wait_task_sleeps(const char *dir, const pid_t *id, int timeout_ms);

/* Wait (bounded) until the single-threaded helper pid sleeps. */
bool wait_proc_sleeps(pid_t pid, int timeout_ms);

/* ---- the tests, by file --------------------------------------------------- */

/* transparency_streams.c */
void test_bulk(void **state);
void test_write_before_accept(void **state);
void test_peer_not_accepted(void **state);
void test_half_close(void **state);
void test_reader_blocking(void **state);
void test_reader_poll(void **state);
void test_reader_epoll_et(void **state);
void test_epoll_rdhup_on_close(void **state);

/* transparency_recv.c */
void test_msg_peek(void **state);
void test_msg_waitall(void **state);
void test_blocking_read_across_shutdown(void **state);
void test_blocking_accepted_shutdown(void **state);
void test_blocking_accepted_threads(void **state);

/* transparency_queued.c */
void test_fionread(void **state);
void test_fionread_first(void **state);
void test_fionread_status(void **state);
void test_fionread_lone_client(void **state);
void test_so_rcvlowat(void **state);
void test_so_rcvlowat_on_fast_path(void **state);
void test_so_rcvlowat_before_connect(void **state);

/* transparency_writes.c */
void test_sendfile(void **state);
void test_splice(void **state);
void test_tiny_write_flood(void **state);
void test_large_writes(void **state);

/* transparency_flow.c */
void test_close_with_unread_data(void **state);
void test_flow_control(void **state);
void test_backlog_and_back(void **state);
void test_stream_small_writes(void **state);
void test_stream_big_writes(void **state);

/* transparency_slowcopy.c */
void test_slowcopy_stream_misaligned(void **state);
void test_slowcopy_stream_aligned(void **state);
void test_slowcopy_exchanges_misaligned(void **state);

/* transparency_turn.c */
void test_receiver_turns_blocking(void **state);

/* transparency_splice.c */
void test_splice_reader(void **state);
void test_listener_of_splicer(void **state);
void test_recv_then_splice(void **state);

#endif /* NA_TEST_TRANSPARENCY_H */
