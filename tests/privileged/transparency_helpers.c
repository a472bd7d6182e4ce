/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The helpers of the transparency tests: listeners and pairs for each way
 * client and listener address each other, the counter assertions that
 * prove or disprove the fast path, and the step bytes and process states
 * that keep this program and a forked helper in order.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sched.h>

#include "test_transparency.h"

/* ---- helpers ------------------------------------------------------------ */

/* A listener of an event-driven server (O_NONBLOCK from the start) that
 * netaccel has not seen hand out any socket yet. */
/* Listen as f says, in the server container's namespace for an xns
 * family (a socket stays in the namespace it was made in). */
static int listen_in(const struct family *f, int flags)
{
	int lfd;

	if (f->xns && setns(ns_server, CLONE_NEWNET))
		fail_msg("cannot enter the server's network namespace: %s", strerror(errno));
	lfd = na_test_listen(f->listen, 0, flags);
	if (f->xns && setns(ns_client, CLONE_NEWNET))
		fail_msg("cannot come back to the client's network namespace: %s", strerror(errno));
	return lfd;
}

int listen_fresh(const struct family *f)
{
	int lfd;

	NA_ASSERT_FD(lfd, listen_in(f, f->lflags | NA_TEST_NONBLOCK));
	return lfd;
}

/* The listener of an event-driven server, primed: its accepted sockets can
 * join the fast path from the first connection a test makes. */
int listen_on(const struct family *f)
{
	int lfd = listen_fresh(f);
	int err = na_test_prime(lfd, f->connect);

	if (err)
		fail_msg("%s: cannot prime the listener: %s", f->name, strerror(-err));
	return lfd;
}

/* The listener of a plain blocking server. */
int listen_blocking(const struct family *f)
{
	int lfd;

	NA_ASSERT_FD(lfd, listen_in(f, f->lflags));
	return lfd;
}

/*
 * An event-driven pair (both ends non-blocking), warmed up: each end has
 * read a first message with recv(), so that every byte sent from now on
 * can take the fast path.
 */
void make_pair(int lfd, const struct family *f, int *cfd, int *sfd)
{
	int err = na_test_pair_ex(lfd, f->connect, NA_TEST_PAIR_EVENT, cfd, sfd);

	if (err)
		fail_msg("%s: cannot connect, accept and warm up: %s", f->name,
			 strerror(-err));
}

/* An event-driven pair before anything was read on it. */
void make_cold_pair(int lfd, const struct family *f, int *cfd, int *sfd)
{
	int err = na_test_pair_ex(lfd, f->connect, NA_TEST_PAIR_NONBLOCK, cfd, sfd);

	if (err)
		fail_msg("%s: cannot connect and accept: %s", f->name, strerror(-err));
}

/* A client of lfd: connect_flags as for na_test_connect_ex. */
int connect_to(int lfd, const struct family *f, int connect_flags)
{
	int port = na_test_local_port(lfd), fd;

	assert_true(port > 0);
	NA_ASSERT_FD(fd, na_test_connect_ex(f->connect, (uint16_t)port, NULL, 0,
					    connect_flags, NA_TEST_TIMEOUT_MS));
	return fd;
}

int accept_on(int lfd, int sock_flags)
{
	int fd;

	NA_ASSERT_FD(fd, na_test_accept4(lfd, sock_flags, NA_TEST_TIMEOUT_MS));
	return fd;
}

void stats_now(struct na_stats *s)
{
	if (plain) {
		memset(s, 0, sizeof(*s));
		return;
	}
	NA_STATS(&world, app.id, s);
}

/* Counter deltas of the app cgroup since before (not in plain mode). */
void delta_now(const struct na_stats *before, struct na_stats *d)
{
	struct na_stats after;

	stats_now(&after);
	na_test_stats_delta(before, &after, d);
	if (getenv("NETACCEL_TEST_VERBOSE"))
		na_test_stats_print("counter deltas", d);
}

/*
 * The counters of the app cgroup since before: every byte sent went
 * through the redirect (at least min_msgs messages) or, with may_move,
 * took TCP only because a sender moved there as a stream of small messages
 * (stream_moved), after the fast path carried some; no first send missed.
 */
static bool bytes_carried(const struct na_stats *d, uint64_t bytes, bool may_move)
{
	if (may_move)
		return d->bytes_redirected + d->bytes_passed == bytes && d->bytes_redirected &&
		       (!d->bytes_passed || d->stream_moved);
	return d->bytes_redirected == bytes && !d->bytes_passed;
}

static void assert_fast_path(const struct na_stats *before, uint64_t bytes,
			     uint64_t min_msgs, bool may_move, const char *what)
{
	struct na_stats d;

	ASSERT_DELTAS(before, d,
		      !bytes_carried(&d, bytes, may_move) || d.msgs_redirected < min_msgs ||
		      d.misses != 0,
		      "%s: %llu bytes sent after the warm-up: the fast path carried %llu "
		      "bytes in %llu messages (at least %llu expected); %llu bytes took "
		      "TCP, %llu senders moved there as streams of small messages, %llu "
		      "first sends missed",
		      what, (unsigned long long)bytes,
		      (unsigned long long)d.bytes_redirected,
		      (unsigned long long)d.msgs_redirected,
		      (unsigned long long)min_msgs,
		      (unsigned long long)d.bytes_passed,
		      (unsigned long long)d.stream_moved,
		      (unsigned long long)d.misses);
}

/* All of it through the redirect. */
void assert_all_redirected(const struct na_stats *before, uint64_t bytes,
			   uint64_t min_msgs, const char *what)
{
	assert_fast_path(before, bytes, min_msgs, false, what);
}

/*
 * For a sender whose messages may be small, read by another thread that can
 * fall behind (splice and sendfile hand the socket one page at a time on
 * older kernels): such a stream moves to TCP after NA_STREAM_WINDOW
 * messages, which TCP carries faster.
 */
void assert_redirected_or_moved(const struct na_stats *before, uint64_t bytes,
				const char *what)
{
	assert_fast_path(before, bytes, 1, true, what);
}

/*
 * The connections made since before stayed on plain TCP because a socket
 * was blocking when they were established, or (an accepted one) because
 * its listener's sockets were never seen reading non-blocking: nothing was
 * redirected, and at least min_kept sockets were counted as kept for one
 * of those reasons. (An event-driven client of a blocking server may join;
 * the accepted end then takes it off the fast path again, peers_dropped,
 * or, had it sent first, it found no peer: a miss.)
 */
void assert_kept_blocking(const struct na_stats *before, uint64_t min_kept,
			  const char *what)
{
	struct na_stats d;

	ASSERT_DELTAS(before, d,
		      d.kept_blocking + d.kept_unseen < min_kept || d.bytes_redirected ||
		      d.msgs_redirected || d.sockets_joined > d.misses + d.peers_dropped,
		      "%s: expected the blocking connection(s) kept on TCP (kept_blocking "
		      "+ kept_unseen >= %llu, nothing redirected, no join but a client "
		      "dropped again or that missed); kept_blocking %llu, kept_unseen %llu, "
		      "joined %llu, %llu bytes redirected", what,
		      (unsigned long long)min_kept,
		      (unsigned long long)d.kept_blocking,
		      (unsigned long long)d.kept_unseen,
		      (unsigned long long)d.sockets_joined,
		      (unsigned long long)d.bytes_redirected);
}

/* ---- forked helper processes ---------------------------------------------- */

/* One step byte between this program and a helper (a unix socketpair). */
int step_send(int fd, char c)
{
	return write(fd, &c, 1) == 1 ? 0 : -errno;
}

/* Wait (bounded) for step byte want: -EPIPE when the other side is gone,
 * -EPROTO for another byte. */
int step_wait(int fd, char want, int timeout_ms)
{
	int err = na_test_wait_fd(fd, POLLIN, timeout_ms);
	ssize_t n;
	char c;

	if (err)
		return err;
	n = read(fd, &c, 1);
	if (n < 0)
		return -errno;
	if (n == 0)
		return -EPIPE;
	return c == want ? 0 : -EPROTO;
}

/* Scheduler state letter of task id below dir ('S' sleeping, ...), 0 if gone. */
static char task_state(const char *dir, pid_t id)
{
	char path[64], buf[512], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/%d/stat", dir, (int)id);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	p = strrchr(buf, ')');
	return p && p[1] == ' ' ? p[2] : 0;
}

/* Wait (bounded) until task *id below dir sleeps. No event says "blocked
 * in recv()": look every millisecond. */
bool wait_task_sleeps(const char *dir, const pid_t *id, int timeout_ms)
{
	int64_t deadline = na_test_now_ms() + timeout_ms;

	while (na_test_now_ms() < deadline) {
		pid_t now = __atomic_load_n(id, __ATOMIC_SEQ_CST);
		char st = now ? task_state(dir, now) : '?';

		if (st == 'S')
			return true;
		if (st == 0 || st == 'Z' || st == 'X')
			return false;	/* it ran on and ended */
		usleep(1000);
	}
	return false;
}

/* Wait (bounded) until the single-threaded helper pid sleeps. */
bool wait_proc_sleeps(pid_t pid, int timeout_ms)
{
	return wait_task_sleeps("/proc", &pid, timeout_ms);
}

/* n connections to lfd, each direction set up by the caller afterwards. */
void open_conns(int lfd, const struct family *f, struct na_test_conn *c,
		size_t n)
{
	for (size_t i = 0; i < n; i++)
		make_pair(lfd, f, &c[i].fd[0], &c[i].fd[1]);
}
