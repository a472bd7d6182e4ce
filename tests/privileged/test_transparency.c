/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The local bypass is transparent: in an enrolled cgroup (mode all), with
 * client and server both in it, applications see exactly what TCP gives
 * them (every byte, in order, EOF on shutdown, the same poll/epoll
 * wake-ups, MSG_PEEK, MSG_WAITALL, FIONREAD, SO_RCVLOWAT, sendfile and
 * splice), for IPv4, IPv6 and IPv4-mapped IPv6.
 *
 * Only event-driven sockets take the fast path: both ends non-blocking
 * (listener included), no SO_RCVLOWAT, and a receiver seen reading with
 * recv() before bytes are redirected to it. An accepted socket joins only
 * once its listener was seen handing out such sockets, so every
 * event-driven listener of these tests is primed first (na_test_prime: a
 * throwaway connection whose accepted end reads with recv()), before any
 * counter snapshot. The tests about the fast path make event-driven pairs
 * and warm them up (one small message each way, read with recv()); the
 * counters then prove that every later byte took the fast path. The tests
 * about blocking sockets, SO_RCVLOWAT and splice() readers assert
 * plain-TCP behaviour and that the counters kept those sockets (or their
 * bytes) on TCP, for the right reason.
 *
 * netaccel remembers processes that splice from a fast-path socket, or
 * read one they made blocking after it joined: no byte is redirected to
 * their sockets any more, and their new connections do not join. Every
 * scenario that does either runs in a forked helper process, so that this
 * program's later tests still get the fast path.
 *
 * Every assertion after a transfer is about bytes a user would miss or a
 * counter that shows the redirect; assertions run only after every helper
 * thread is joined.
 *
 * NETACCEL_TEST_PLAIN=1 runs the same tests without enrolling (plain TCP,
 * counters not checked): what fails only when enrolled is the datapath's.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <linux/sockios.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "na_check.h"

#define KiB 1024
#define MiB (1024 * 1024)

static struct na_world world;
static struct na_cgroup app;	/* the enrolled cgroup, mode all */
static bool plain;		/* NETACCEL_TEST_PLAIN: not enrolled */

/* How client and listener address each other. */
struct family {
	const char *name;
	const char *listen;	/* listener address */
	int lflags;		/* NA_TEST_DUALSTACK / NA_TEST_V6ONLY */
	const char *connect;	/* address the client connects to */
};

static const struct family fam_v4 = { "IPv4", "127.0.0.1", 0, "127.0.0.1" };
static const struct family fam_v6 = { "IPv6", "::1", NA_TEST_V6ONLY, "::1" };
static const struct family fam_v6_to_v4 = {
	"IPv6 client to ::ffff:127.0.0.1, IPv4 listener",
	"127.0.0.1", 0, "::ffff:127.0.0.1" };
static const struct family fam_v4_to_dual = {
	"IPv4 client to a dual-stack [::] listener",
	"::", NA_TEST_DUALSTACK, "127.0.0.1" };

static const struct family *const families[] = {
	&fam_v4, &fam_v6, &fam_v6_to_v4, &fam_v4_to_dual,
};
#define NFAMILIES (sizeof(families) / sizeof(families[0]))

/* Position of f in families, to give each family its own seeds. */
static size_t family_index(const struct family *f)
{
	for (size_t k = 0; k < NFAMILIES; k++)
		if (families[k] == f)
			return k;
	return 0;
}

/* ---- fixture ------------------------------------------------------------ */

static int group_setup(void **state)
{
	int err = na_world_init(&world, "transparency");

	if (err)
		na_world_bail("cannot build the test world: %s", strerror(-err));
	err = na_world_cgroup(&world, "app", &app);
	if (err)
		na_world_bail("cannot create the app cgroup: %s", strerror(-err));
	plain = getenv("NETACCEL_TEST_PLAIN") && *getenv("NETACCEL_TEST_PLAIN") == '1';
	if (plain) {
		na_test_diag("NETACCEL_TEST_PLAIN: plain TCP, counters not checked");
		return 0;
	}
	if (na_world_enroll(&world, app.path, "all") != 0)
		na_world_bail("cannot enroll %s", app.path);
	return 0;
}

static int group_teardown(void **state)
{
	na_world_teardown(&world);
	return 0;
}

/* Each test runs inside the enrolled cgroup: its sockets are eligible. */
static int test_setup(void **state)
{
	na_world_test_begin(&world, 120);
	if (na_world_enter(&world, app.path)) {
		na_test_diag("cannot enter %s", app.path);
		return -1;
	}
	return 0;
}

static int test_teardown(void **state)
{
	na_world_test_end(&world);
	return 0;
}

/* ---- helpers ------------------------------------------------------------ */

/* A listener of an event-driven server (O_NONBLOCK from the start) that
 * netaccel has not seen hand out any socket yet. */
static int listen_fresh(const struct family *f)
{
	int lfd;

	NA_ASSERT_FD(lfd, na_test_listen(f->listen, 0, f->lflags | NA_TEST_NONBLOCK));
	return lfd;
}

/* The listener of an event-driven server, primed: its accepted sockets can
 * join the fast path from the first connection a test makes. */
static int listen_on(const struct family *f)
{
	int lfd = listen_fresh(f);
	int err = na_test_prime(lfd, f->connect);

	if (err)
		fail_msg("%s: cannot prime the listener: %s", f->name, strerror(-err));
	return lfd;
}

/* The listener of a plain blocking server. */
static int listen_blocking(const struct family *f)
{
	int lfd;

	NA_ASSERT_FD(lfd, na_test_listen(f->listen, 0, f->lflags));
	return lfd;
}

/*
 * An event-driven pair (both ends non-blocking), warmed up: each end has
 * read a first message with recv(), so that every byte sent from now on
 * can take the fast path.
 */
static void make_pair(int lfd, const struct family *f, int *cfd, int *sfd)
{
	int err = na_test_pair_ex(lfd, f->connect, NA_TEST_PAIR_EVENT, cfd, sfd);

	if (err)
		fail_msg("%s: cannot connect, accept and warm up: %s", f->name,
			 strerror(-err));
}

/* An event-driven pair before anything was read on it. */
static void make_cold_pair(int lfd, const struct family *f, int *cfd, int *sfd)
{
	int err = na_test_pair_ex(lfd, f->connect, NA_TEST_PAIR_NONBLOCK, cfd, sfd);

	if (err)
		fail_msg("%s: cannot connect and accept: %s", f->name, strerror(-err));
}

/* A client of lfd: connect_flags as for na_test_connect_ex. */
static int connect_to(int lfd, const struct family *f, int connect_flags)
{
	int port = na_test_local_port(lfd), fd;

	assert_true(port > 0);
	NA_ASSERT_FD(fd, na_test_connect_ex(f->connect, (uint16_t)port, NULL, 0,
					    connect_flags, NA_TEST_TIMEOUT_MS));
	return fd;
}

static int accept_on(int lfd, int sock_flags)
{
	int fd;

	NA_ASSERT_FD(fd, na_test_accept4(lfd, sock_flags, NA_TEST_TIMEOUT_MS));
	return fd;
}

static void stats_now(struct na_stats *s)
{
	if (plain) {
		memset(s, 0, sizeof(*s));
		return;
	}
	NA_STATS(&world, app.id, s);
}

/* Counter deltas of the app cgroup since before (not in plain mode). */
static void delta_now(const struct na_stats *before, struct na_stats *d)
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
static void assert_fast_path(const struct na_stats *before, uint64_t bytes,
			     uint64_t min_msgs, bool may_move, const char *what)
{
	struct na_stats d;
	bool ok;

	if (plain)
		return;
	delta_now(before, &d);
	if (may_move)
		ok = d.bytes_redirected + d.bytes_passed == bytes && d.bytes_redirected &&
		     (!d.bytes_passed || d.stream_moved);
	else
		ok = d.bytes_redirected == bytes && !d.bytes_passed;
	if (!ok || d.msgs_redirected < min_msgs || d.misses != 0) {
		na_test_stats_print("counter deltas", &d);
		fail_msg("%s: %llu bytes sent after the warm-up: the fast path carried %llu "
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
}

/* All of it through the redirect. */
static void assert_all_redirected(const struct na_stats *before, uint64_t bytes,
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
static void assert_redirected_or_moved(const struct na_stats *before, uint64_t bytes,
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
static void assert_kept_blocking(const struct na_stats *before, uint64_t min_kept,
				 const char *what)
{
	struct na_stats d;

	if (plain)
		return;
	delta_now(before, &d);
	if (d.kept_blocking + d.kept_unseen < min_kept || d.bytes_redirected ||
	    d.msgs_redirected || d.sockets_joined > d.misses + d.peers_dropped) {
		na_test_stats_print("counter deltas", &d);
		fail_msg("%s: expected the blocking connection(s) kept on TCP (kept_blocking "
			 "+ kept_unseen >= %llu, nothing redirected, no join but a client "
			 "dropped again or that missed); kept_blocking %llu, kept_unseen %llu, "
			 "joined %llu, %llu bytes redirected", what,
			 (unsigned long long)min_kept,
			 (unsigned long long)d.kept_blocking,
			 (unsigned long long)d.kept_unseen,
			 (unsigned long long)d.sockets_joined,
			 (unsigned long long)d.bytes_redirected);
	}
}

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

/* One step byte between this program and a helper (a unix socketpair). */
static int step_send(int fd, char c)
{
	return write(fd, &c, 1) == 1 ? 0 : -errno;
}

/* Wait (bounded) for step byte want: -EPIPE when the other side is gone,
 * -EPROTO for another byte. */
static int step_wait(int fd, char want, int timeout_ms)
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

/* Scheduler state letter of process pid ('S' sleeping, ...), 0 if gone. */
static char proc_state(pid_t pid)
{
	char path[64], buf[512], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
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

/* Wait (bounded) until the single-threaded helper pid sleeps. No event
 * says "blocked in recv()": look every millisecond. */
static bool wait_proc_sleeps(pid_t pid, int timeout_ms)
{
	int64_t deadline = na_test_now_ms() + timeout_ms;

	while (na_test_now_ms() < deadline) {
		char st = proc_state(pid);

		if (st == 'S')
			return true;
		if (st == 0 || st == 'Z' || st == 'X')
			return false;
		usleep(1000);
	}
	return false;
}

/* n connections to lfd, each direction set up by the caller afterwards. */
static void open_conns(int lfd, const struct family *f, struct na_test_conn *c,
		       size_t n)
{
	for (size_t i = 0; i < n; i++)
		make_pair(lfd, f, &c[i].fd[0], &c[i].fd[1]);
}

/* ---- A. bulk: many sizes, many connections, both directions at once ----- */

#define BULK_CONNS 32
static const size_t bulk_sizes[] = { 1, 7, 1500, 64 * KiB, 1 * MiB, 4 * MiB };
static const size_t bulk_chunks[] = { 64 * KiB, 1500, 1 * MiB, 7 };
#define NSIZES (sizeof(bulk_sizes) / sizeof(bulk_sizes[0]))

static void test_bulk(void **state)
{
	const struct family *f = *state;
	struct na_test_conn c[BULK_CONNS];
	struct na_test_run_opts o = { .io = NA_TEST_IO_POLL, .timeout_ms = 60000 };
	struct na_stats before;
	uint64_t msgs = 0;
	int lfd, err;

	lfd = listen_on(f);
	open_conns(lfd, f, c, BULK_CONNS);
	for (size_t i = 0; i < BULK_CONNS; i++)
		for (int d = 0; d < 2; d++) {
			size_t len = bulk_sizes[(i + 3 * (size_t)d) % NSIZES];
			/* 7-byte writes only on the small streams, so that
			 * the run stays short. */
			size_t chunk = bulk_chunks[(i + (size_t)d) % 4];

			if (chunk < 1500 && len > 64 * KiB)
				chunk = 64 * KiB;
			na_test_dir_init(&c[i].dir[d], 0xb01c0000 + 2 * i + (size_t)d,
					 len, chunk, true);
			msgs += 1;
		}
	stats_now(&before);
	err = na_test_run(c, BULK_CONNS, &o);
	NA_ASSERT_DELIVERED(c, BULK_CONNS, err, f->name);
	assert_all_redirected(&before, na_test_bytes_sent(c, BULK_CONNS), msgs, f->name);
	na_test_close_conns(c, BULK_CONNS);
	close(lfd);
}

/* ---- writes right after connect(), before accept() ---------------------- */

/*
 * The client writes 3 times before the server accepts: the connection sits
 * in the accept queue, and the accepted socket has no file yet, so nothing
 * can be redirected to it. Those bytes take TCP (deferred); once the server
 * has accepted and read them with recv(), the client's later bytes take
 * the fast path (deferred_joined), and the stream stays whole and in order
 * across the switch.
 */
static void test_write_before_accept(void **state)
{
	const struct family *f = *state;
	const size_t k = family_index(f);
	struct na_test_run_opts o = { .io = NA_TEST_IO_POLL, .timeout_ms = 20000 };
	struct na_test_conn c;
	struct na_stats before, d;
	const size_t early = 3 * 1000;
	int lfd = listen_on(f), err;

	stats_now(&before);
	c.fd[0] = connect_to(lfd, f, NA_TEST_CONNECT_NONBLOCK);
	na_test_dir_init(&c.dir[0], 0xea21 + k, 512 * KiB, 16 * KiB, true);
	na_test_dir_init(&c.dir[1], 0xea22 + k, 512 * KiB, 16 * KiB, true);
	for (int i = 0; i < 3; i++)
		NA_ASSERT_OK(na_test_send_pattern(c.fd[0], c.dir[0].seed,
						  early / 3 * (size_t)i, early / 3));
	c.fd[1] = accept_on(lfd, SOCK_NONBLOCK);
	/* The server reads the request that came before accept(); then
	 * nothing of the client's is left on TCP. */
	err = na_test_recv_pattern(c.fd[1], c.dir[0].seed, 0, early);
	if (err)
		fail_msg("%s: the %zu bytes written before accept(): %s", f->name, early,
			 strerror(-err));
	NA_ASSERT_OK(na_test_wait_acked(c.fd[0], NA_TEST_TIMEOUT_MS));
	c.dir[0].sent = c.dir[0].rcvd = early;
	err = na_test_run(&c, 1, &o);
	NA_ASSERT_DELIVERED(&c, 1, err, f->name);
	if (!plain) {
		delta_now(&before, &d);
		if (d.deferred < 1 || d.deferred_joined < 1 || d.bytes_passed < early ||
		    d.bytes_redirected == 0 || d.misses || d.fallbacks) {
			na_test_stats_print("counter deltas", &d);
			fail_msg("%s: expected the bytes written before accept() on TCP "
				 "(deferred >= 1, >= %zu bytes passed) and the later ones "
				 "on the fast path (deferred_joined >= 1, bytes redirected)",
				 f->name, early);
		}
	}
	na_test_close_conns(&c, 1);
	close(lfd);
}

/*
 * A peer that is not accepted yet cannot take redirected bytes: what a
 * client writes then takes TCP, and arrives intact once the server
 * accepts, also when the client has closed meanwhile (a short-lived
 * client that sends one request and goes).
 */
static void test_peer_not_accepted(void **state)
{
	const struct family *f = *state;
	const size_t k = family_index(f);
	const uint64_t seed = 0x2acce9 + k;
	const size_t len1 = 10000, len2 = 5000;
	struct na_stats before, d;
	size_t extra = 0;
	int lfd = listen_on(f), c1, c2, s1, s2, err;

	stats_now(&before);
	c1 = connect_to(lfd, f, NA_TEST_CONNECT_NONBLOCK);
	NA_ASSERT_OK(na_test_send_pattern(c1, seed, 0, len1));
	if (!plain) {
		delta_now(&before, &d);
		if (d.deferred != 1 || d.bytes_passed != len1 || d.bytes_redirected) {
			na_test_stats_print("counter deltas", &d);
			fail_msg("%s: %zu bytes written to a peer not accepted yet: expected "
				 "them deferred to TCP", f->name, len1);
		}
	}
	/* A second client writes, shuts down and closes before accept(). */
	c2 = connect_to(lfd, f, NA_TEST_CONNECT_NONBLOCK);
	NA_ASSERT_OK(na_test_send_pattern(c2, seed + 1, 0, len2));
	assert_int_equal(shutdown(c2, SHUT_WR), 0);
	close(c2);

	s1 = accept_on(lfd, SOCK_NONBLOCK);
	s2 = accept_on(lfd, SOCK_NONBLOCK);
	err = na_test_recv_pattern(s1, seed, 0, len1);
	if (err)
		fail_msg("%s: bytes written before accept(): %s", f->name, strerror(-err));
	err = na_test_recv_pattern(s2, seed + 1, 0, len2);
	if (!err)
		err = na_test_wait_eof(s2, &extra, 5000);
	if (err || extra)
		fail_msg("%s: bytes and EOF of a client that closed before accept(): %s, "
			 "%zu extra bytes", f->name, err ? strerror(-err) : "no error", extra);
	if (!plain) {
		delta_now(&before, &d);
		if (d.deferred != 2 || d.bytes_passed != len1 + len2 || d.bytes_redirected ||
		    d.misses) {
			na_test_stats_print("counter deltas", &d);
			fail_msg("%s: expected both first sends deferred to TCP and nothing "
				 "redirected", f->name);
		}
	}
	close(c1);
	close(s1);
	close(s2);
	close(lfd);
}

/* ---- half close ---------------------------------------------------------- */

static void test_half_close(void **state)
{
	const struct family *f = *state;
	const size_t k = family_index(f);
	struct na_test_run_opts o = { .io = NA_TEST_IO_POLL, .timeout_ms = 20000 };
	struct na_test_conn c;
	struct na_stats before;
	char buf[16];
	int lfd = listen_on(f), err;

	make_pair(lfd, f, &c.fd[0], &c.fd[1]);
	stats_now(&before);

	/* Client -> server, then SHUT_WR: the server reads it all and
	 * then EOF. */
	na_test_dir_init(&c.dir[0], 0x4a1f0 + k, 200 * KiB, 0, true);
	na_test_dir_init(&c.dir[1], 0, 0, 0, false);
	err = na_test_run(&c, 1, &o);
	NA_ASSERT_DELIVERED(&c, 1, err, f->name);

	/* The other direction still works after that EOF, and ends
	 * with its own EOF at the client. */
	na_test_dir_init(&c.dir[0], 0, 0, 0, false);
	na_test_dir_init(&c.dir[1], 0x4a1f8 + k, 300 * KiB, 0, true);
	err = na_test_run(&c, 1, &o);
	NA_ASSERT_DELIVERED(&c, 1, err, f->name);

	/* EOF stays EOF. */
	na_test_set_timeouts(c.fd[1], 2000);
	assert_int_equal(read(c.fd[1], buf, sizeof(buf)), 0);
	assert_all_redirected(&before, 500 * KiB, 2, f->name);
	na_test_close_conns(&c, 1);
	close(lfd);
}

/* ---- reader styles -------------------------------------------------------- */

/*
 * nconns connections streaming both ways with reader style io. Event-driven
 * pairs (blocking false) must carry every byte on the fast path. Blocking
 * pairs (a plain blocking server and blocking clients) must behave exactly
 * like TCP and stay on it: the fast path cannot serve a blocking reader.
 */
static void run_reader_style(const struct family *f, enum na_test_io io,
			     size_t nconns, bool blocking, const char *what)
{
	struct na_test_conn c[16];
	struct na_test_run_opts o = { .io = io, .timeout_ms = 60000 };
	struct na_stats before;
	int lfd, err;

	assert_true(nconns <= 16);
	if (blocking) {
		lfd = listen_blocking(f);
		stats_now(&before);
		for (size_t i = 0; i < nconns; i++) {
			c[i].fd[0] = connect_to(lfd, f, NA_TEST_CONNECT_BLOCKING);
			c[i].fd[1] = accept_on(lfd, 0);
		}
	} else {
		lfd = listen_on(f);
		open_conns(lfd, f, c, nconns);
	}
	for (size_t i = 0; i < nconns; i++) {
		na_test_dir_init(&c[i].dir[0], 0x5eed00 + 2 * i, (i + 1) * 97 * KiB + i,
				 (i % 2) ? 1500 : 100 * KiB, true);
		na_test_dir_init(&c[i].dir[1], 0x5eed01 + 2 * i, (nconns - i) * 131 * KiB,
				 (i % 3) ? 64 * KiB : 4 * KiB, true);
	}
	if (!blocking)
		stats_now(&before);
	err = na_test_run(c, nconns, &o);
	NA_ASSERT_DELIVERED(c, nconns, err, f->name);
	if (io == NA_TEST_IO_EPOLL_ET)
		for (size_t i = 0; i < nconns; i++)
			for (int d = 0; d < 2; d++)
				if (!c[i].dir[d].rdhup)
					fail_msg("%s, %s: no EPOLLRDHUP after the peer's shutdown "
						 "(conn %zu, direction %d)", what, f->name, i, d);
	if (blocking)
		/* Each client was blocking when it connected; the accepted
		 * ends were then skipped (their peers had not joined). */
		assert_kept_blocking(&before, nconns, f->name);
	else
		assert_all_redirected(&before, na_test_bytes_sent(c, nconns), 2 * nconns,
				      f->name);
	na_test_close_conns(c, nconns);
	close(lfd);
}

/* Each socket has a blocking reader thread and a blocking writer thread, as
 * in a proxy or a full-duplex protocol, on blocking sockets from a blocking
 * server: plain TCP behaviour, and the connections stay on TCP. */
static void test_reader_blocking(void **state)
{
	run_reader_style(*state, NA_TEST_IO_BLOCKING, 8, true, "blocking reader");
}

static void test_reader_poll(void **state)
{
	run_reader_style(*state, NA_TEST_IO_POLL, 8, false, "poll reader");
}

static void test_reader_epoll_et(void **state)
{
	run_reader_style(*state, NA_TEST_IO_EPOLL_ET, 8, false,
			 "edge-triggered epoll reader");
}

/* Wait for one epoll event on ep and return its event mask (0 on timeout). */
static uint32_t epoll_once(int ep, int timeout_ms)
{
	struct epoll_event ev;
	int n = epoll_wait(ep, &ev, 1, timeout_ms);

	return n == 1 ? ev.events : 0;
}

static void test_epoll_rdhup_on_close(void **state)
{
	const struct family *f = *state;
	const size_t k = family_index(f);
	struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP | EPOLLET };
	char buf[64];
	uint32_t got;
	int lfd = listen_on(f), cfd, sfd, ep;

	make_pair(lfd, f, &cfd, &sfd);
	ep = epoll_create1(EPOLL_CLOEXEC);
	assert_true(ep >= 0);
	assert_int_equal(epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &ev), 0);

	NA_ASSERT_OK(na_test_send_pattern(cfd, 0xe9011 + k, 0, 10));
	got = epoll_once(ep, 5000);
	if (!(got & EPOLLIN))
		fail_msg("%s: no EPOLLIN for 10 queued bytes (events %#x)", f->name, got);
	assert_int_equal(recv(sfd, buf, sizeof(buf), MSG_DONTWAIT), 10);
	assert_int_equal(na_test_pattern_check(0xe9011 + k, 0, buf, 10), -1);

	close(cfd);
	got = epoll_once(ep, 5000);
	if (!(got & EPOLLRDHUP))
		fail_msg("%s: no EPOLLRDHUP after the peer closed (events %#x)",
			 f->name, got);
	assert_int_equal(recv(sfd, buf, sizeof(buf), MSG_DONTWAIT), 0);
	close(ep);
	close(sfd);
	close(lfd);
}

/* ---- MSG_PEEK, MSG_WAITALL, FIONREAD, SO_RCVLOWAT ------------------------- */

static void test_msg_peek(void **state)
{
	const struct family *f = *state;
	const size_t k = family_index(f);
	const uint64_t seed = 0x9eec00 + k;
	const size_t total = 1000 + 2000 + 3000;
	char peek1[8192], peek2[8192], data[8192];
	struct na_stats before;
	size_t got = 0;
	int lfd = listen_on(f), cfd, sfd;

	make_pair(lfd, f, &cfd, &sfd);
	stats_now(&before);
	NA_ASSERT_OK(na_test_send_pattern(cfd, seed, 0, 1000));
	NA_ASSERT_OK(na_test_send_pattern(cfd, seed, 1000, 2000));
	NA_ASSERT_OK(na_test_send_pattern(cfd, seed, 3000, 3000));

	for (int round = 0; got < total && round < 100; round++) {
		ssize_t n1, n2, n;

		NA_ASSERT_OK(na_test_wait_fd(sfd, POLLIN, 5000));
		n1 = recv(sfd, peek1, sizeof(peek1), MSG_PEEK | MSG_DONTWAIT);
		n2 = recv(sfd, peek2, sizeof(peek2), MSG_PEEK | MSG_DONTWAIT);
		if (n1 <= 0 || n2 < n1)
			fail_msg("%s: MSG_PEEK returned %zd then %zd with data queued",
				 f->name, n1, n2);
		assert_memory_equal(peek1, peek2, (size_t)n1);
		/* What was peeked is what is read next. */
		n = recv(sfd, data, (size_t)n1, MSG_DONTWAIT);
		if (n != n1)
			fail_msg("%s: peeked %zd bytes but read %zd", f->name, n1, n);
		assert_memory_equal(peek1, data, (size_t)n);
		if (na_test_pattern_check(seed, got, data, (size_t)n) >= 0)
			fail_msg("%s: wrong bytes at offset %zu", f->name, got);
		got += (size_t)n;
	}
	assert_int_equal(got, total);
	assert_all_redirected(&before, total, 3, f->name);
	close(cfd);
	close(sfd);
	close(lfd);
}

/* One blocking recv() in a thread (or, with loop, as many as it takes to
 * get len bytes), so that the test can act while it waits. */
struct reader_job {
	int fd;
	size_t len;
	int flags;
	bool loop;
	char *buf;
	ssize_t got;
	int err;
	int64_t ms;		/* how long recv() took */
	pid_t tid;
};

static void *reader_job_main(void *arg)
{
	struct reader_job *j = arg;
	int64_t t0 = na_test_now_ms();

	__atomic_store_n(&j->tid, (pid_t)syscall(SYS_gettid), __ATOMIC_SEQ_CST);
	j->got = 0;
	j->err = 0;
	do {
		ssize_t n = recv(j->fd, j->buf + j->got, j->len - (size_t)j->got, j->flags);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			j->err = errno;
			if (!j->got)
				j->got = -1;
			break;
		}
		if (n == 0)
			break;
		j->got += n;
	} while (j->loop && (size_t)j->got < j->len);
	j->ms = na_test_now_ms() - t0;
	return NULL;
}

/* State letter of a thread of this process ('S' sleeping, ...), 0 if gone. */
static char thread_state(pid_t tid)
{
	char path[64], buf[512], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", (int)tid);
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

/*
 * Wait (bounded) until the reader thread sleeps in recv(). False when it
 * has returned already or the wait timed out. There is no event for "a
 * thread is blocked", so this looks at its state every millisecond.
 */
static bool wait_thread_sleeps(struct reader_job *j, int timeout_ms)
{
	int64_t deadline = na_test_now_ms() + timeout_ms;

	while (na_test_now_ms() < deadline) {
		pid_t tid = __atomic_load_n(&j->tid, __ATOMIC_SEQ_CST);
		char st = tid ? thread_state(tid) : '?';

		if (st == 'S')
			return true;
		if (st == 0 || st == 'Z' || st == 'X')
			return false;	/* recv() returned, the thread ended */
		usleep(1000);
	}
	return false;
}

static void test_msg_waitall(void **state)
{
	const struct family *f = *state;
	const size_t k = family_index(f);
	const uint64_t seed = 0xa11a11 + k;
	const size_t piece = 48 * KiB, pieces = 4;
	struct reader_job j = { .len = piece * pieces, .flags = MSG_WAITALL };
	bool slept[4] = { false };
	struct na_stats before;
	pthread_t th;
	int lfd = listen_blocking(f), cfd, sfd, err = 0;

	/* A blocking server (its reader waits in recv(MSG_WAITALL)) and an
	 * event-driven client: the client finds a blocking listener and
	 * stays on TCP, and so does the accepted socket. */
	stats_now(&before);
	cfd = connect_to(lfd, f, NA_TEST_CONNECT_NONBLOCK);
	sfd = accept_on(lfd, 0);
	j.fd = sfd;
	j.buf = malloc(j.len);
	assert_non_null(j.buf);
	NA_ASSERT_OK(na_test_set_timeouts(sfd, 15000));
	assert_int_equal(pthread_create(&th, NULL, reader_job_main, &j), 0);

	/* One write per piece, each while the reader waits for the
	 * rest: MSG_WAITALL must gather them into one full read. */
	for (size_t i = 0; i < pieces && !err; i++) {
		slept[i] = wait_thread_sleeps(&j, 5000);
		err = na_test_send_pattern(cfd, seed, i * piece, piece);
	}
	pthread_join(th, NULL);

	if (err)
		fail_msg("%s: sending failed: %s", f->name, strerror(-err));
	if (j.got != (ssize_t)j.len)
		fail_msg("%s: recv(MSG_WAITALL, %zu) returned %zd (%s)", f->name,
			 j.len, j.got, j.err ? strerror(j.err) : "no error");
	if (na_test_pattern_check(seed, 0, j.buf, j.len) >= 0)
		fail_msg("%s: MSG_WAITALL read wrong bytes", f->name);
	assert_kept_blocking(&before, 1, f->name);
	for (size_t i = 0; i < pieces; i++)
		if (!slept[i])
			na_test_diag("%s: the reader was not seen asleep before piece %zu",
				     f->name, i);
	free(j.buf);
	close(cfd);
	close(sfd);
	close(lfd);
}

/* TCP state of fd (TCP_ESTABLISHED, TCP_FIN_WAIT2, ...), or -1. */
static int tcp_state(int fd)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);

	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0)
		return -1;
	return ti.tcpi_state;
}

/*
 * The reader rfd (blocking) waits in recv() for a 1000-byte reply of
 * stream seed while it shuts its own side down (SHUT_WR); its peer pfd
 * (any mode) waits for that EOF, lets the ACK of the FIN reach rfd, and
 * only then sends the reply. On TCP, the wake-up of that ACK does not end
 * the recv(): it returns the reply. 0, or a negative errno with what went
 * wrong in msg. Every wait bounded (the recv() by SO_RCVTIMEO, 10 s).
 * Used from helper processes too: no cmocka here.
 */
static int read_across_shutdown(int rfd, int pfd, uint64_t seed, char *msg,
				size_t msglen)
{
	char buf[1000];
	struct reader_job j = { .fd = rfd, .len = sizeof(buf), .buf = buf };
	pthread_t th;
	size_t extra;
	int64_t deadline;
	int err, st = -1;
	bool asleep;

	err = na_test_set_timeouts(rfd, 10000);
	if (err) {
		snprintf(msg, msglen, "SO_RCVTIMEO: %s", strerror(-err));
		return err;
	}
	err = pthread_create(&th, NULL, reader_job_main, &j);
	if (err) {
		snprintf(msg, msglen, "pthread_create: %s", strerror(err));
		return -err;
	}
	asleep = wait_thread_sleeps(&j, 5000);

	shutdown(rfd, SHUT_WR);
	err = na_test_wait_eof(pfd, &extra, 5000);
	/* The FIN's ACK has been processed once the reader's socket is in
	 * FIN_WAIT2: its wake-up has happened, then the reply goes. */
	deadline = na_test_now_ms() + 5000;
	while ((st = tcp_state(rfd)) != TCP_FIN_WAIT2 && na_test_now_ms() < deadline)
		usleep(1000);
	if (!err)
		err = na_test_send_pattern(pfd, seed, 0, sizeof(buf));
	pthread_join(th, NULL);

	if (!asleep || st != TCP_FIN_WAIT2)
		na_test_diag("reader asleep %d, its TCP state %d", asleep, st);
	if (err) {
		snprintf(msg, msglen, "the peer (EOF, then the reply) failed: %s",
			 strerror(-err));
		return err;
	}
	if (j.got != (ssize_t)sizeof(buf)) {
		snprintf(msg, msglen, "the blocking recv() returned %zd (%s) after %lld ms "
			 "instead of the %zu-byte reply", j.got,
			 j.err ? strerror(j.err) : "no error", (long long)j.ms, sizeof(buf));
		return -EIO;
	}
	if (na_test_pattern_check(seed, 0, buf, sizeof(buf)) >= 0) {
		snprintf(msg, msglen, "the blocking recv() returned wrong bytes");
		return -EILSEQ;
	}
	return 0;
}

/*
 * A client sends its request, shuts its side down, and blocks reading the
 * reply (what `printf ... | nc` or an HTTP/1.0 client does). The ACK of
 * its FIN wakes its socket while the read waits; the read must go on
 * waiting and return the reply. The client is a plain blocking one (a
 * blocking connect()), the server event-driven: the client stays on TCP
 * (kept_blocking), and so does the server's end, whose peer did not join.
 */
static void test_blocking_read_across_shutdown(void **state)
{
	const struct family *f = *state;
	const size_t k = family_index(f);
	struct na_stats before;
	char msg[256];
	int lfd = listen_on(f), cfd, sfd;

	stats_now(&before);
	cfd = connect_to(lfd, f, NA_TEST_CONNECT_BLOCKING);
	sfd = accept_on(lfd, SOCK_NONBLOCK);
	if (read_across_shutdown(cfd, sfd, 0xb10c5d + k, msg, sizeof(msg)))
		fail_msg("%s: %s", f->name, msg);
	assert_kept_blocking(&before, 1, f->name);
	close(cfd);
	close(sfd);
	close(lfd);
}

/*
 * Counters since before of connections to a listener whose accepted ends
 * are blocking: none of the n accepted sockets joined (kept_unseen on a
 * listener not seen reading yet, with fresh also asserted; kept_blocking
 * once one of its sockets read while blocking), at most the n clients
 * did, and nothing was redirected.
 */
static void assert_accepted_kept(const struct na_stats *before, uint64_t n, bool fresh,
				 const struct family *f, const char *what)
{
	struct na_stats d;

	if (plain)
		return;
	delta_now(before, &d);
	if (d.bytes_redirected || d.msgs_redirected || d.sockets_joined > n ||
	    d.kept_unseen + d.kept_blocking != n || (fresh && d.kept_unseen != n)) {
		na_test_stats_print("counter deltas", &d);
		fail_msg("%s, %s: expected none of the %llu blocking accepted sockets to join "
			 "(kept_unseen%s; here kept_unseen %llu, kept_blocking %llu), at most "
			 "the clients joined (%llu joined) and nothing redirected (%llu bytes)",
			 f->name, what, (unsigned long long)n,
			 fresh ? " on a fresh listener" : " or kept_blocking",
			 (unsigned long long)d.kept_unseen,
			 (unsigned long long)d.kept_blocking,
			 (unsigned long long)d.sockets_joined,
			 (unsigned long long)d.bytes_redirected);
	}
}

/*
 * A server that polls a non-blocking listener but serves each connection
 * with blocking calls (accept4 without SOCK_NONBLOCK), its clients
 * event-driven. The accepted sockets get their file, and its flags, only
 * in accept(), after the join was decided; netaccel must keep them off the
 * fast path all the same, where a blocking recv() could end with EAGAIN:
 * the first connections of a fresh listener do not join (kept_unseen), and
 * once one of its accepted sockets has read while blocking, neither do its
 * later ones (kept_blocking). Two patterns, each on its own fresh
 * listener (a test each), three rounds each; both behave exactly like TCP.
 *
 * First: the accepted socket blocks in recv() across its own
 * shutdown(SHUT_WR), one connection after another.
 */
static void test_blocking_accepted_shutdown(void **state)
{
	const struct family *f = *state;
	const size_t k = family_index(f);
	struct na_stats before;
	char msg[256], what[64];
	int lfd, cfd, sfd;

	lfd = listen_fresh(f);
	for (int round = 0; round < 3; round++) {
		snprintf(what, sizeof(what), "blocking read across shutdown, connection %d",
			 round + 1);
		stats_now(&before);
		cfd = connect_to(lfd, f, NA_TEST_CONNECT_NONBLOCK);
		sfd = accept_on(lfd, 0);
		if (read_across_shutdown(sfd, cfd, 0xacc5d0 + 4 * k + (size_t)round, msg,
					 sizeof(msg)))
			fail_msg("%s, %s: %s", f->name, what, msg);
		assert_accepted_kept(&before, 1, round == 0, f, what);
		close(cfd);
		close(sfd);
	}
	close(lfd);
}

/* Then: a reader and a writer thread on each of 4 accepted sockets, both
 * directions streaming and shut down at the end, 4 connections a round. */
static void test_blocking_accepted_threads(void **state)
{
	const struct family *f = *state;
	struct na_test_run_opts o = { .io = NA_TEST_IO_THREADS, .timeout_ms = 30000 };
	struct na_test_conn c[4];
	struct na_stats before;
	char what[64];
	int lfd, err;

	lfd = listen_fresh(f);
	for (int round = 0; round < 3; round++) {
		snprintf(what, sizeof(what), "reader and writer threads, round %d", round + 1);
		stats_now(&before);
		for (size_t i = 0; i < 4; i++) {
			c[i].fd[0] = connect_to(lfd, f, NA_TEST_CONNECT_NONBLOCK);
			c[i].fd[1] = accept_on(lfd, 0);
			na_test_dir_init(&c[i].dir[0], 0xacc700 + 64 * family_index(f) +
					 8 * (uint64_t)round + 2 * i,
					 (i + 1) * 61 * KiB + i, (i % 2) ? 1500 : 16 * KiB, true);
			na_test_dir_init(&c[i].dir[1], 0xacc701 + 64 * family_index(f) +
					 8 * (uint64_t)round + 2 * i,
					 (4 - i) * 67 * KiB, (i % 2) ? 32 * KiB : 4 * KiB, true);
		}
		err = na_test_run(c, 4, &o);
		NA_ASSERT_DELIVERED(c, 4, err, what);
		assert_accepted_kept(&before, 4, round == 0, f, what);
		na_test_close_conns(c, 4);
	}
	close(lfd);
}

static void test_fionread(void **state)
{
	const struct family *f = *state;
	const size_t k = family_index(f);
	const uint64_t seed = 0xf102ead + k;
	const size_t len = 10000;
	char buf[10000];
	struct na_stats before;
	int lfd = listen_on(f), cfd, sfd, queued = -1;

	make_pair(lfd, f, &cfd, &sfd);
	stats_now(&before);
	NA_ASSERT_OK(na_test_send_pattern(cfd, seed, 0, len));
	NA_ASSERT_OK(na_test_wait_fd(sfd, POLLIN, 5000));
	assert_int_equal(ioctl(sfd, FIONREAD, &queued), 0);
	NA_ASSERT_OK(na_test_set_timeouts(sfd, 5000));
	NA_ASSERT_OK(na_test_read_full(sfd, buf, len));
	assert_int_equal(na_test_pattern_check(seed, 0, buf, len), -1);
	if (queued <= 0 || (size_t)queued > len)
		fail_msg("%s: FIONREAD said %d while %zu readable bytes were queued",
			 f->name, queued, len);
	if ((size_t)queued != len)
		na_test_diag("%s: FIONREAD said %d with %zu bytes queued", f->name, queued,
			     len);
	assert_all_redirected(&before, len, 1, f->name);
	close(cfd);
	close(sfd);
	close(lfd);
}

/*
 * An event loop that sizes each read by FIONREAD, asked before it reads
 * (libevent does): once poll() says readable, FIONREAD counts at least one
 * byte and no more than were sent, and a recv() of that many returns them
 * all, message after message. On kernels whose FIONREAD leaves out
 * redirected bytes (6.1, 6.12 before 6.12.85) netaccel keeps such a reader
 * on TCP (the fionread protection, fionread_seen); with the fix, the
 * kernel's own answer counts (kernel-limits.txt lists where it falls
 * short).
 */
static void test_fionread_first(void **state)
{
	const struct family *f = *state;
	const uint64_t seed = 0xf10f00 + family_index(f);
	size_t sent = 0, got = 0;
	struct na_stats before, d;
	char buf[16 * 1024];
	int lfd = listen_on(f), cfd, sfd;

	stats_now(&before);
	make_cold_pair(lfd, f, &cfd, &sfd);
	for (int i = 0; i < 40; i++) {
		size_t n = 700 + (997 * (size_t)i) % 9000;

		NA_ASSERT_OK(na_test_send_pattern(cfd, seed, sent, n));
		sent += n;
		while (got < sent) {
			ssize_t r;
			int q = -1;

			NA_ASSERT_OK(na_test_wait_fd(sfd, POLLIN, 5000));
			assert_int_equal(ioctl(sfd, FIONREAD, &q), 0);
			if (q <= 0 || (size_t)q > sent - got)
				fail_msg("%s: readable, but FIONREAD said %d with %zu bytes unread "
					 "(message %d)", f->name, q, sent - got, i + 1);
			r = recv(sfd, buf, (size_t)q, 0);
			if (r != q)
				fail_msg("%s: FIONREAD said %d, then recv() returned %zd (message %d)",
					 f->name, q, r, i + 1);
			assert_int_equal(na_test_pattern_check(seed, got, buf, (size_t)r), -1);
			got += (size_t)r;
		}
	}
	delta_now(&before, &d);
	na_test_diag("%s: %llu bytes redirected, %llu by TCP, fionread_seen %llu", f->name,
		     (unsigned long long)d.bytes_redirected, (unsigned long long)d.bytes_passed,
		     (unsigned long long)d.fionread_seen);
	close(cfd);
	close(sfd);
	close(lfd);
}

/*
 * A client whose server stays on TCP (here a fresh listener's first
 * connection, kept_unseen) gets TCP's FIONREAD: its connection never takes
 * the fast path, so it must not stay in the sockhash, where kernels with
 * sk_psock.msg_tot_len answer FIONREAD from the redirect queue alone.
 */
static void test_fionread_lone_client(void **state)
{
	const struct family *f = *state;
	const uint64_t seed = 0xf10c00 + family_index(f);
	const size_t len = 3000;
	struct na_stats before, d;
	char buf[3000];
	int lfd = listen_fresh(f), cfd, sfd, q = -1;

	stats_now(&before);
	cfd = connect_to(lfd, f, NA_TEST_CONNECT_NONBLOCK);
	sfd = accept_on(lfd, SOCK_NONBLOCK);
	NA_ASSERT_OK(na_test_send_pattern(sfd, seed, 0, len));
	NA_ASSERT_OK(na_test_wait_acked(sfd, 5000));
	NA_ASSERT_OK(na_test_wait_fd(cfd, POLLIN, 5000));
	assert_int_equal(ioctl(cfd, FIONREAD, &q), 0);
	if (q != (int)len)
		fail_msg("%s: %zu bytes arrived by TCP, FIONREAD said %d", f->name, len, q);
	NA_ASSERT_OK(na_test_read_full(cfd, buf, len));
	assert_int_equal(na_test_pattern_check(seed, 0, buf, len), -1);
	delta_now(&before, &d);
	if (!plain && (d.kept_unseen != 1 || d.bytes_redirected)) {
		na_test_stats_print("counter deltas", &d);
		fail_msg("%s: expected the accepted end kept on TCP (kept_unseen 1) and "
			 "nothing redirected", f->name);
	}
	close(cfd);
	close(sfd);
	close(lfd);
}

#define LOWAT 4096

/*
 * SO_RCVLOWAT LOWAT on rfd holds as in TCP: with 1000 bytes of stream seed
 * (from offset off) sent by wfd, rfd is not readable; with 4000 more it
 * is, and the first recv() returns at least LOWAT bytes. Reads all 5000.
 */
static void lowat_holds(int wfd, int rfd, uint64_t seed, size_t off,
			const struct family *f, const char *what)
{
	char buf[8192];
	struct pollfd p;
	size_t got = 0;
	int64_t deadline;
	int r;

	NA_ASSERT_OK(na_test_send_pattern(wfd, seed, off, 1000));
	/* Below the low-water mark the socket is not readable; a
	 * bounded negative wait is the only way to see that. */
	p = (struct pollfd){ .fd = rfd, .events = POLLIN };
	r = poll(&p, 1, 300);
	if (r != 0)
		fail_msg("%s, %s: readable with 1000 bytes queued and SO_RCVLOWAT %d",
			 f->name, what, LOWAT);
	NA_ASSERT_OK(na_test_send_pattern(wfd, seed, off + 1000, 4000));
	NA_ASSERT_OK(na_test_wait_fd(rfd, POLLIN, 5000));
	r = (int)recv(rfd, buf, sizeof(buf), MSG_DONTWAIT);
	if (r < LOWAT)
		fail_msg("%s, %s: recv returned %d bytes with SO_RCVLOWAT %d and 5000 queued "
			 "(%s)", f->name, what, r, LOWAT, r < 0 ? strerror(errno) : "no error");
	got = (size_t)r;
	/* The rest is below the mark, so poll() would not report it: it
	 * is queued already, or about to be. */
	deadline = na_test_now_ms() + 5000;
	while (got < 5000 && na_test_now_ms() < deadline) {
		r = (int)recv(rfd, buf + got, 5000 - got, MSG_DONTWAIT);
		if (r > 0)
			got += (size_t)r;
		else if (r == 0 || errno != EAGAIN)
			break;
		else
			usleep(1000);
	}
	if (got != 5000)
		fail_msg("%s, %s: read %zu of 5000 bytes", f->name, what, got);
	assert_int_equal(na_test_pattern_check(seed, off, buf, got), -1);
}

static void set_lowat(int fd, int lowat)
{
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &lowat,
				    sizeof(lowat)), 0);
}

/*
 * An event-driven receiver sets SO_RCVLOWAT before any data comes: the
 * fast path ignores the mark, so nothing may be redirected to it; its
 * sender's bytes take TCP, where the mark holds.
 */
static void test_so_rcvlowat(void **state)
{
	const struct family *f = *state;
	const size_t k = family_index(f);
	const uint64_t seed = 0x10a7 + k;
	struct na_stats before, d;
	int lfd = listen_on(f), cfd, sfd;

	make_cold_pair(lfd, f, &cfd, &sfd);
	stats_now(&before);
	set_lowat(sfd, LOWAT);
	lowat_holds(cfd, sfd, seed, 0, f, "SO_RCVLOWAT before any data");
	if (!plain) {
		delta_now(&before, &d);
		if (d.bytes_redirected || d.bytes_passed != 5000 ||
		    d.peer_unfit + d.deferred < 1) {
			na_test_stats_print("counter deltas", &d);
			fail_msg("%s: bytes sent to a receiver with SO_RCVLOWAT %d: expected "
				 "all 5000 on TCP (deferred or peer_unfit)", f->name, LOWAT);
		}
	}
	close(cfd);
	close(sfd);
	close(lfd);
}

/*
 * A receiver on the fast path raises SO_RCVLOWAT: the sender's next bytes
 * take TCP (peer_unfit) and the mark holds; once the mark is back to 1 and
 * the receiver has read everything, the fast path again.
 */
static void test_so_rcvlowat_on_fast_path(void **state)
{
	const struct family *f = *state;
	const size_t k = family_index(f);
	const uint64_t seed = 0x10a8 + k;
	struct na_stats before, d;
	int lfd = listen_on(f), cfd, sfd, err;

	make_pair(lfd, f, &cfd, &sfd);
	stats_now(&before);
	NA_ASSERT_OK(na_test_send_pattern(cfd, seed, 0, 10000));
	NA_ASSERT_OK(na_test_recv_pattern(sfd, seed, 0, 10000));
	assert_all_redirected(&before, 10000, 1, f->name);

	stats_now(&before);
	set_lowat(sfd, LOWAT);
	lowat_holds(cfd, sfd, seed, 10000, f, "SO_RCVLOWAT on the fast path");
	if (!plain) {
		delta_now(&before, &d);
		if (d.peer_unfit < 1 || d.bytes_redirected || d.bytes_passed != 5000) {
			na_test_stats_print("counter deltas", &d);
			fail_msg("%s: expected the bytes sent after SO_RCVLOWAT %d on TCP "
				 "(peer_unfit >= 1, 5000 bytes passed)", f->name, LOWAT);
		}
	}

	set_lowat(sfd, 1);
	NA_ASSERT_OK(na_test_wait_acked(cfd, NA_TEST_TIMEOUT_MS));
	stats_now(&before);
	NA_ASSERT_OK(na_test_send_pattern(cfd, seed, 15000, 10000));
	err = na_test_recv_pattern(sfd, seed, 15000, 10000);
	if (err)
		fail_msg("%s: bytes after SO_RCVLOWAT went back to 1: %s", f->name,
			 strerror(-err));
	if (!plain) {
		delta_now(&before, &d);
		if (d.deferred_joined < 1 || d.bytes_redirected != 10000 || d.bytes_passed) {
			na_test_stats_print("counter deltas", &d);
			fail_msg("%s: expected the fast path again once SO_RCVLOWAT was back "
				 "to 1 (deferred_joined >= 1, 10000 bytes redirected)", f->name);
		}
	}
	close(cfd);
	close(sfd);
	close(lfd);
}

/*
 * SO_RCVLOWAT set before the connection exists (on the listener, whose
 * accepted sockets inherit it, or on the client before connect()): that
 * end does not join (kept_rcvlowat) and the mark holds.
 */
static void test_so_rcvlowat_before_connect(void **state)
{
	const struct family *f = *state;
	const size_t k = family_index(f);
	const uint64_t seed = 0x10a9 + k;
	struct sockaddr_storage ss;
	struct na_stats before, d;
	socklen_t len;
	int lfd = listen_on(f), cfd, sfd, lowat = LOWAT, soerr = 0;
	socklen_t elen = sizeof(soerr);

	/* On the listener. */
	set_lowat(lfd, LOWAT);
	stats_now(&before);
	make_cold_pair(lfd, f, &cfd, &sfd);
	lowat_holds(cfd, sfd, seed, 0, f, "SO_RCVLOWAT inherited from the listener");
	if (!plain) {
		delta_now(&before, &d);
		if (d.kept_rcvlowat < 1 || d.bytes_redirected) {
			na_test_stats_print("counter deltas", &d);
			fail_msg("%s: an accepted socket with SO_RCVLOWAT %d from its listener: "
				 "expected kept_rcvlowat >= 1 and nothing redirected", f->name,
				 LOWAT);
		}
	}
	close(cfd);
	close(sfd);
	close(lfd);

	/* On the client, before connect(). */
	lfd = listen_on(f);
	NA_ASSERT_OK(na_test_sockaddr(f->connect, (uint16_t)na_test_local_port(lfd), &ss,
				      &len));
	cfd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	assert_true(cfd >= 0);
	set_lowat(cfd, lowat);
	stats_now(&before);
	if (connect(cfd, (struct sockaddr *)&ss, len) < 0 && errno != EINPROGRESS)
		fail_msg("%s: connect: %s", f->name, strerror(errno));
	NA_ASSERT_OK(na_test_wait_fd(cfd, POLLOUT, NA_TEST_TIMEOUT_MS));
	assert_int_equal(getsockopt(cfd, SOL_SOCKET, SO_ERROR, &soerr, &elen), 0);
	assert_int_equal(soerr, 0);
	sfd = accept_on(lfd, SOCK_NONBLOCK);
	lowat_holds(sfd, cfd, seed + 1, 0, f, "SO_RCVLOWAT on the client before connect()");
	if (!plain) {
		delta_now(&before, &d);
		if (d.kept_rcvlowat < 1 || d.sockets_joined || d.bytes_redirected) {
			na_test_stats_print("counter deltas", &d);
			fail_msg("%s: a client with SO_RCVLOWAT %d: expected kept_rcvlowat >= 1 "
				 "and nothing joined or redirected", f->name, LOWAT);
		}
	}
	close(cfd);
	close(sfd);
	close(lfd);
}

/* ---- sendfile and splice into a bypassed socket --------------------------- */

static void test_sendfile(void **state)
{
	const struct family *f = *state;
	const size_t k = family_index(f);
	const uint64_t seed = 0x5e2df11e + k;
	const size_t len = 3 * MiB + 123;
	struct na_test_rx rx = { .seed = seed, .len = len, .expect_eof = true };
	struct na_stats before;
	off_t off = 0;
	int lfd = listen_on(f), cfd, sfd, mfd, err = 0;

	mfd = memfd_create("netaccel-test-sendfile", MFD_CLOEXEC);
	assert_true(mfd >= 0);
	NA_ASSERT_OK(na_test_send_pattern(mfd, seed, 0, len));

	make_pair(lfd, f, &cfd, &sfd);
	NA_ASSERT_OK(na_test_set_timeouts(cfd, NA_TEST_TIMEOUT_MS));
	stats_now(&before);
	rx.fd = sfd;
	NA_ASSERT_OK(na_test_rx_start(&rx));
	while ((size_t)off < len && !err) {
		ssize_t n = sendfile(cfd, mfd, &off, len - (size_t)off);

		/* The socket is non-blocking: wait while it is full. */
		if (n < 0 && errno == EAGAIN)
			err = na_test_wait_fd(cfd, POLLOUT, NA_TEST_TIMEOUT_MS);
		else if (n <= 0)
			err = n < 0 ? -errno : -EIO;
	}
	if (!err && shutdown(cfd, SHUT_WR) < 0)
		err = -errno;
	na_test_rx_join(&rx);

	if (err)
		fail_msg("%s: sendfile stopped at %lld of %zu bytes: %s", f->name,
			 (long long)off, len, strerror(-err));
	if (rx.err)
		fail_msg("%s: the receiver of sendfile's bytes: %s", f->name,
			 strerror(-rx.err));
	assert_redirected_or_moved(&before, len, f->name);
	close(mfd);
	close(cfd);
	close(sfd);
	close(lfd);
}

static void test_splice(void **state)
{
	const struct family *f = *state;
	const size_t k = family_index(f);
	const uint64_t seed = 0x5971ce + k;
	const size_t len = 2 * MiB + 17, step = 64 * KiB;
	struct na_test_rx rx = { .seed = seed, .len = len, .expect_eof = true };
	struct na_stats before;
	size_t sent = 0;
	char *buf = malloc(step);
	int lfd = listen_on(f), cfd, sfd, p[2], err = 0;

	assert_non_null(buf);
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	make_pair(lfd, f, &cfd, &sfd);
	NA_ASSERT_OK(na_test_set_timeouts(cfd, NA_TEST_TIMEOUT_MS));
	stats_now(&before);
	rx.fd = sfd;
	NA_ASSERT_OK(na_test_rx_start(&rx));
	/* Fill the pipe with one step of the stream (it holds 64 KiB),
	 * then splice it into the socket. */
	while (sent < len && !err) {
		size_t n = len - sent < step ? len - sent : step, moved = 0;

		na_test_pattern_fill(seed, sent, buf, n);
		err = na_test_write_full(p[1], buf, n);
		while (!err && moved < n) {
			ssize_t r = splice(p[0], NULL, cfd, NULL, n - moved, SPLICE_F_MOVE);

			if (r < 0 && errno == EAGAIN)
				err = na_test_wait_fd(cfd, POLLOUT, NA_TEST_TIMEOUT_MS);
			else if (r <= 0)
				err = r < 0 ? -errno : -EIO;
			else
				moved += (size_t)r;
		}
		sent += moved;
	}
	if (!err && shutdown(cfd, SHUT_WR) < 0)
		err = -errno;
	na_test_rx_join(&rx);

	if (err)
		fail_msg("%s: splice stopped at %zu of %zu bytes: %s", f->name, sent,
			 len, strerror(-err));
	if (rx.err)
		fail_msg("%s: the receiver of spliced bytes: %s", f->name,
			 strerror(-rx.err));
	assert_redirected_or_moved(&before, len, f->name);
	free(buf);
	close(p[0]);
	close(p[1]);
	close(cfd);
	close(sfd);
	close(lfd);
}

/* ---- closing with unread data --------------------------------------------- */

/* Non-blocking sends of stream seed until EAGAIN or max; returns bytes. */
static size_t send_until_full(int fd, uint64_t seed, size_t max)
{
	char buf[16 * KiB];
	size_t sent = 0;

	while (sent < max) {
		size_t n = max - sent < sizeof(buf) ? max - sent : sizeof(buf);
		ssize_t r;

		na_test_pattern_fill(seed, sent, buf, n);
		r = send(fd, buf, n, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (r <= 0)
			break;
		sent += (size_t)r;
	}
	return sent;
}

static void new_connection_works(const struct family *f)
{
	struct na_test_run_opts o = { .io = NA_TEST_IO_POLL, .timeout_ms = 20000 };
	struct na_test_conn c;
	struct na_stats before;
	int lfd = listen_on(f), err;

	make_pair(lfd, f, &c.fd[0], &c.fd[1]);
	na_test_dir_init(&c.dir[0], 0x2e11, 256 * KiB, 0, true);
	na_test_dir_init(&c.dir[1], 0x2e12, 256 * KiB, 0, true);
	stats_now(&before);
	err = na_test_run(&c, 1, &o);
	NA_ASSERT_DELIVERED(&c, 1, err, "a new connection after closing one with unread data");
	assert_all_redirected(&before, 512 * KiB, 2, f->name);
	na_test_close_conns(&c, 1);
	close(lfd);
}

static void test_close_with_unread_data(void **state)
{
	const struct family *f = *state;
	const size_t k = family_index(f);
	char buf[1024] = { 0 };
	size_t sent, extra;
	ssize_t w;
	int lfd = listen_on(f), cfd, sfd, r;

	/* The receiver closes with redirected bytes unread: the
	 * sender learns it (EOF or reset) and does not hang. */
	make_pair(lfd, f, &cfd, &sfd);
	sent = send_until_full(cfd, 0xc105e + k, 256 * KiB);
	assert_true(sent > 0);
	NA_ASSERT_OK(na_test_wait_fd(sfd, POLLIN, 5000));
	close(sfd);
	r = na_test_wait_eof(cfd, &extra, 5000);
	if (r != 0 && r != -ECONNRESET)
		fail_msg("%s: after the peer closed with %zu unread bytes, the sender's "
			 "read gave %s instead of EOF or a reset", f->name, sent,
			 strerror(-r));
	NA_ASSERT_OK(na_test_set_nonblock(cfd, false));
	NA_ASSERT_OK(na_test_set_timeouts(cfd, 5000));
	w = send(cfd, buf, sizeof(buf), MSG_NOSIGNAL);
	if (w < 0 && errno != EPIPE && errno != ECONNRESET)
		fail_msg("%s: writing to a peer that closed: %s", f->name,
			 strerror(errno));
	close(cfd);

	/* The sender closes right after writing: the receiver still
	 * gets every byte, then EOF. */
	make_pair(lfd, f, &cfd, &sfd);
	sent = send_until_full(cfd, 0xc105f + k, 64 * KiB);
	assert_true(sent > 0);
	close(cfd);
	NA_ASSERT_OK(na_test_set_timeouts(sfd, 5000));
	r = na_test_recv_pattern(sfd, 0xc105f + k, 0, sent);
	if (r)
		fail_msg("%s: %zu bytes written just before close(): %s", f->name, sent,
			 strerror(-r));
	r = na_test_wait_eof(sfd, &extra, 5000);
	if (r || extra)
		fail_msg("%s: no clean EOF after the sender's close (%s, %zu extra bytes)",
			 f->name, strerror(-r), extra);
	close(sfd);
	close(lfd);

	new_connection_works(f);
}

/* ---- flow control ----------------------------------------------------------- */

/* What TCP can buffer between a sender and a reader that does not read,
 * with a wide margin: twice the largest send plus receive buffer, at least
 * 64 MiB. */
static size_t flow_limit(void)
{
	unsigned long wmem[3] = { 0 }, rmem[3] = { 0 };
	size_t limit = 64 * MiB;
	FILE *f;

	f = fopen("/proc/sys/net/ipv4/tcp_wmem", "re");
	if (f) {
		if (fscanf(f, "%lu %lu %lu", &wmem[0], &wmem[1], &wmem[2]) != 3)
			wmem[2] = 0;
		fclose(f);
	}
	f = fopen("/proc/sys/net/ipv4/tcp_rmem", "re");
	if (f) {
		if (fscanf(f, "%lu %lu %lu", &rmem[0], &rmem[1], &rmem[2]) != 3)
			rmem[2] = 0;
		fclose(f);
	}
	if (2 * (wmem[2] + rmem[2]) > limit)
		limit = 2 * (wmem[2] + rmem[2]);
	return limit;
}

/*
 * A receiver that does not read holds its sender back: TCP's non-blocking
 * send() meets EAGAIN once the socket buffers are full (a few MiB here,
 * tens at most). Without that, a slow reader lets any sender pile up
 * kernel memory, and applications that pace themselves on EAGAIN/POLLOUT
 * never pause.
 */
static void test_flow_control(void **state)
{
	const struct family *f = *state;
	const size_t k = family_index(f);
	const uint64_t seed = 0xf10c + k;
	const size_t limit = flow_limit();
	struct na_stats before;
	size_t sent;
	int lfd = listen_on(f), cfd, sfd, err;

	make_pair(lfd, f, &cfd, &sfd);
	stats_now(&before);
	sent = send_until_full(cfd, seed, limit);
	NA_ASSERT_OK(na_test_set_timeouts(sfd, NA_TEST_TIMEOUT_MS));
	err = na_test_recv_pattern(sfd, seed, 0, sent);
	if (err)
		fail_msg("%s: reading back the %zu queued bytes: %s", f->name, sent,
			 strerror(-err));
	if (sent >= limit)
		fail_msg("%s: a peer that reads nothing took %zu MiB and the sender "
			 "never got EAGAIN; TCP stops it when the socket buffers are "
			 "full", f->name, sent / MiB);
	na_test_diag("%s: the sender met EAGAIN after %zu KiB", f->name, sent / 1024);
	if (!plain) {
		struct na_stats after, d;

		/* The fast path carried bytes until the backlog limit, then
		 * the connection moved to TCP, whose window stopped it. */
		stats_now(&after);
		na_test_stats_delta(&before, &after, &d);
		/* The counters count what each send offered; the last send
		 * may have been taken in part. */
		if (d.backlog_limited != 1 || !d.bytes_redirected ||
		    d.bytes_redirected + d.bytes_passed < sent ||
		    d.bytes_redirected + d.bytes_passed > sent + 64 * KiB || d.misses) {
			na_test_stats_print("counter deltas", &d);
			fail_msg("%s: expected one connection moved to TCP by its backlog "
				 "and %zu bytes in all", f->name, sent);
		}
	}
	close(cfd);
	close(sfd);
	close(lfd);
}

/* ---- floods of tiny writes, very large writes ----------------------------- */

/* Send the seeded stream from offset off to off + len. */
static void send_pattern(int fd, uint64_t seed, size_t off, size_t len)
{
	int err = na_test_send_pattern(fd, seed, off, len);

	if (err)
		fail_msg("send at offset %zu: %s", off, strerror(-err));
}

/* Wait (up to 2 s) until everything sent on fd is acknowledged. */
static void wait_acked(int fd)
{
	if (na_test_wait_acked(fd, 2000))
		fail_msg("bytes sent 2 s ago are still not acknowledged");
}

/* A reader that falls behind sends the connection to TCP; once it has read
 * everything, the connection comes back to the fast path, and the stream
 * stays whole and in order across both switches. */
static void test_backlog_and_back(void **state)
{
	const struct family *f = *state;
	const uint64_t seed = 0xbac0 + family_index(f);
	const size_t more = 4 * MiB;
	struct na_stats before, after, d;
	int lfd = listen_on(f), cfd, sfd, err;
	size_t sent;

	make_pair(lfd, f, &cfd, &sfd);
	stats_now(&before);
	sent = send_until_full(cfd, seed, flow_limit());
	NA_ASSERT_OK(na_test_set_timeouts(sfd, NA_TEST_TIMEOUT_MS));
	NA_ASSERT_OK(na_test_set_timeouts(cfd, NA_TEST_TIMEOUT_MS));
	err = na_test_recv_pattern(sfd, seed, 0, sent);
	if (err)
		fail_msg("%s: reading the first %zu bytes: %s", f->name, sent, strerror(-err));
	/* Everything read. A connection comes back once nothing of its own
	 * is left on TCP: all it sent acknowledged (SIOCOUTQ 0) and read. A
	 * sender that never pauses keeps TCP busy and stays there; one that
	 * exchanges requests and responses pauses. Two small exchanges: the
	 * first is sent under the verdict the kernel cached when the socket
	 * buffer filled, the second runs the program, which finds the way
	 * back clear. */
	for (int round = 0; round < 2; round++) {
		wait_acked(cfd);
		send_pattern(cfd, seed, sent, 16 * KiB);
		err = na_test_recv_pattern(sfd, seed, sent, 16 * KiB);
		if (err)
			fail_msg("%s: an exchange after the reader caught up: %s", f->name,
				 strerror(-err));
		sent += 16 * KiB;
	}
	wait_acked(cfd);
	send_pattern(cfd, seed, sent, more);
	err = na_test_recv_pattern(sfd, seed, sent, more);
	if (err)
		fail_msg("%s: reading the %zu bytes after the reader caught up: %s",
			 f->name, more, strerror(-err));
	if (!plain) {
		stats_now(&after);
		na_test_stats_delta(&before, &after, &d);
		if (d.backlog_limited != 1 || d.backlog_resumed != 1 || d.misses ||
		    d.fallbacks) {
			na_test_stats_print("counter deltas", &d);
			fail_msg("%s: expected one move to TCP and one back", f->name);
		}
	}
	close(cfd);
	close(sfd);
	close(lfd);
}

/* Send the seeded stream from off to off + len in writes of chunk bytes. */
static void send_in_writes(int fd, uint64_t seed, size_t off, size_t len, size_t chunk)
{
	for (size_t done = 0; done < len; done += chunk)
		send_pattern(fd, seed, off + done, len - done < chunk ? len - done : chunk);
}

/*
 * A sender that streams writes under NA_STREAM_BIG_WRITE while its reader
 * is behind moves to TCP for good, which carries such writes faster, after
 * NA_STREAM_WINDOW of them, at a send that finds the reader caught up;
 * writes of NA_STREAM_BIG_WRITE stay on the fast path. Request and
 * response never count. Every byte arrives, in order, across the move.
 */
static void stream_case(const struct family *f, size_t chunk, bool moves)
{
	const uint64_t seed = 0x57e0 + chunk + family_index(f);
	/* Every send but the first finds the reader behind. */
	const size_t first = (NA_STREAM_WINDOW + 8) * chunk;
	struct na_stats before, after, d;
	int lfd = listen_on(f), cfd, sfd, err;
	size_t off;

	make_pair(lfd, f, &cfd, &sfd);
	NA_ASSERT_OK(na_test_set_timeouts(sfd, NA_TEST_TIMEOUT_MS));
	NA_ASSERT_OK(na_test_set_timeouts(cfd, NA_TEST_TIMEOUT_MS));
	stats_now(&before);
	send_in_writes(cfd, seed, 0, first, chunk);
	err = na_test_recv_pattern(sfd, seed, 0, first);
	if (err)
		fail_msg("%s: reading the stream of %zu-byte writes: %s", f->name, chunk,
			 strerror(-err));
	/* Then exchanges: the first of them finds the reader caught up. */
	for (off = first; off < first + 4 * chunk; off += chunk) {
		send_pattern(cfd, seed, off, chunk);
		err = na_test_recv_pattern(sfd, seed, off, chunk);
		if (err)
			fail_msg("%s: an exchange after the stream: %s", f->name, strerror(-err));
	}
	if (!plain) {
		stats_now(&after);
		na_test_stats_delta(&before, &after, &d);
		if (d.stream_moved != (moves ? 1 : 0) || d.backlog_limited ||
		    d.bytes_redirected != (moves ? first : off) ||
		    d.bytes_passed != (moves ? off - first : 0)) {
			na_test_stats_print("counter deltas", &d);
			fail_msg("%s: %zu-byte writes: expected %s", f->name, chunk,
				 moves ? "the stream on the fast path, then TCP for good"
				       : "everything on the fast path");
		}
	}
	close(cfd);
	close(sfd);
	close(lfd);
}

static void test_stream_small_writes(void **state)
{
	stream_case(*state, 16 * KiB, true);
}

static void test_stream_big_writes(void **state)
{
	stream_case(*state, NA_STREAM_BIG_WRITE, false);
}

static void test_tiny_write_flood(void **state)
{
	const struct family *f = *state;
	const size_t nconns = 2, len = 100000;
	struct na_test_conn c[2];
	struct na_test_run_opts o = { .io = NA_TEST_IO_POLL, .timeout_ms = 90000 };
	struct na_stats before;
	int lfd = listen_on(f), err;

	open_conns(lfd, f, c, nconns);
	for (size_t i = 0; i < nconns; i++) {
		na_test_dir_init(&c[i].dir[0], 0x71170 + 2 * i, len, 1, true);
		na_test_dir_init(&c[i].dir[1], 0x71171 + 2 * i, len, 1, true);
	}
	stats_now(&before);
	err = na_test_run(c, nconns, &o);
	NA_ASSERT_DELIVERED(c, nconns, err, "1-byte writes");
	/* One message per write. */
	assert_all_redirected(&before, 4 * len, 4 * len, f->name);
	na_test_close_conns(c, nconns);
	close(lfd);
}

static void test_large_writes(void **state)
{
	const struct family *f = *state;
	const size_t len = 16 * MiB + 5;
	struct na_test_conn c[2];
	struct na_test_run_opts o = { .io = NA_TEST_IO_THREADS, .timeout_ms = 90000 };
	struct na_stats before;
	int lfd = listen_on(f), err;

	/* One write() call for the whole stream, client to server on one
	 * connection and server to client on the other. Each connection
	 * carries one direction only, and the reading end does not shut
	 * down, so that this test is about the size of the write; "blocking
	 * readers" and "blocking read across shutdown" cover the rest. The
	 * writing ends are blocking (so that one call takes it all), the
	 * reading ends event-driven, as the fast path requires. */
	open_conns(lfd, f, c, 2);
	NA_ASSERT_OK(na_test_set_nonblock(c[0].fd[0], false));
	NA_ASSERT_OK(na_test_set_nonblock(c[1].fd[1], false));
	na_test_dir_init(&c[0].dir[0], 0x1a26e0, len, len, true);
	na_test_dir_init(&c[0].dir[1], 0, 0, 0, false);
	na_test_dir_init(&c[1].dir[0], 0, 0, 0, false);
	na_test_dir_init(&c[1].dir[1], 0x1a26e3, len, len, true);
	stats_now(&before);
	err = na_test_run(c, 2, &o);
	NA_ASSERT_DELIVERED(c, 2, err, "16 MiB writes");
	assert_all_redirected(&before, 2 * len, 2, f->name);
	na_test_close_conns(c, 2);
	close(lfd);
}

/* ---- receivers the fast path cannot serve ---------------------------------- */

/*
 * A client process whose receiver on the fast path turns blocking. This
 * program is the server (sfd); the client end cfd lives in a forked helper
 * (turn_client), so that its blocking reads happen in another process than
 * the other tests' (what netaccel learns about a process must not leak into
 * them). Step bytes on a unix socketpair keep the two in order; the
 * counters are read here between steps, while the helper waits.
 */
#define TURN_FIRST (64 * KiB)
#define TURN_REPLY (100 * KiB)
#define TURN_UP (16 * KiB)
#define TURN_AFTER (64 * KiB)
#define TURN_ROUNDS 2

struct turn_job {
	int cfd, ctl;
	uint64_t up, down;	/* seeds: client to server, server to client */
};

static int turn_client(void *arg)
{
	const struct turn_job *j = arg;
	const size_t reply_off = 1 + TURN_FIRST;
	char *buf = malloc(TURN_REPLY);
	size_t got = 0, off;
	int64_t t0;

	HELPER_CHECK(buf, "turn_client: out of memory");
	/* Warm-up, this side's half: the first byte each way. */
	HELPER_OK(na_test_send_pattern(j->cfd, j->up, 0, 1));
	HELPER_OK(na_test_recv_pattern(j->cfd, j->down, 0, 1));
	HELPER_OK(na_test_wait_acked(j->cfd, NA_TEST_TIMEOUT_MS));
	/* 1: both directions on the fast path, this side event-driven. */
	HELPER_OK(step_wait(j->ctl, '1', 20000));
	HELPER_OK(na_test_send_pattern(j->cfd, j->up, 1, TURN_FIRST));
	HELPER_OK(na_test_recv_pattern(j->cfd, j->down, 1, TURN_FIRST));
	HELPER_OK(step_send(j->ctl, '2'));

	/* 3: turn blocking and wait in recv() for the reply. */
	HELPER_OK(step_wait(j->ctl, '3', 20000));
	HELPER_OK(na_test_set_nonblock(j->cfd, false));
	HELPER_OK(na_test_set_timeouts(j->cfd, 10000));
	HELPER_OK(step_send(j->ctl, 'b'));
	t0 = na_test_now_ms();
	while (got < TURN_REPLY) {
		ssize_t n = recv(j->cfd, buf + got, TURN_REPLY - got, 0);

		if (n < 0 && errno == EINTR)
			continue;
		HELPER_CHECK(n > 0, "a blocking recv() of the reply returned %zd (%s) after "
			     "%zu of %d bytes, %lld ms", n, n < 0 ? strerror(errno) : "EOF",
			     got, TURN_REPLY, (long long)(na_test_now_ms() - t0));
		got += (size_t)n;
	}
	HELPER_CHECK(na_test_pattern_check(j->down, reply_off, buf, TURN_REPLY) < 0,
		     "the blocking reader got wrong bytes");
	/* The other direction still takes the fast path. */
	HELPER_OK(na_test_send_pattern(j->cfd, j->up, 1 + TURN_FIRST, TURN_UP));
	HELPER_OK(step_send(j->ctl, '4'));

	/* 5: non-blocking again; every exchange after it. */
	HELPER_OK(step_wait(j->ctl, '5', 20000));
	HELPER_OK(na_test_set_nonblock(j->cfd, true));
	off = reply_off + TURN_REPLY;
	for (int round = 0; round < TURN_ROUNDS; round++) {
		HELPER_OK(step_send(j->ctl, 'n'));
		HELPER_OK(na_test_recv_pattern(j->cfd, j->down, off, TURN_AFTER));
		off += TURN_AFTER;
	}
	HELPER_OK(step_send(j->ctl, 'e'));
	free(buf);
	return 0;
}

/* The next step byte from the helper, or the test fails with its exit. */
static void turn_step(int ctl, char want, pid_t pid, const struct family *f,
		      const char *what)
{
	int err = step_wait(ctl, want, 20000), rc;

	if (!err)
		return;
	rc = na_world_wait(&world, pid, 5000);
	fail_msg("%s: the client process did not get to %s (%s; its exit code %d)",
		 f->name, what, strerror(-err), rc);
}

/*
 * A receiver on the fast path turns blocking (fcntl) and reads: its sender
 * moves to TCP (peer_unfit), the blocking recv() of a reply gets every
 * byte, and the other direction stays fast. Non-blocking again, and
 * everything read, the sender comes back to the fast path
 * (deferred_joined), every byte in order. (A blocking recv() on such a
 * socket that is woken without data can still end with EAGAIN:
 * docs/limitations.md, "What remains"; the reply here is queued by TCP,
 * which that recv() waits for correctly.)
 */
static void test_receiver_turns_blocking(void **state)
{
	const struct family *f = *state;
	const size_t k = family_index(f);
	struct turn_job j = { .up = 0xb10c00 + 2 * k, .down = 0xb10c01 + 2 * k };
	const size_t reply_off = 1 + TURN_FIRST;
	struct na_stats before, d;
	size_t off;
	bool asleep;
	int lfd = listen_on(f), cfd, sfd, ctl[2], rc;
	pid_t pid;

	make_cold_pair(lfd, f, &cfd, &sfd);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ctl), 0);
	j.cfd = cfd;
	j.ctl = ctl[1];
	pid = na_world_fork(&world, turn_client, &j);
	assert_true(pid > 0);
	close(cfd);
	close(ctl[1]);

	/* Warm-up, this side's half. */
	NA_ASSERT_OK(na_test_recv_pattern(sfd, j.up, 0, 1));
	NA_ASSERT_OK(na_test_send_pattern(sfd, j.down, 0, 1));
	NA_ASSERT_OK(na_test_wait_acked(sfd, NA_TEST_TIMEOUT_MS));

	stats_now(&before);
	NA_ASSERT_OK(step_send(ctl[0], '1'));
	NA_ASSERT_OK(na_test_recv_pattern(sfd, j.up, 1, TURN_FIRST));
	NA_ASSERT_OK(na_test_send_pattern(sfd, j.down, 1, TURN_FIRST));
	turn_step(ctl[0], '2', pid, f, "the end of the first exchange");
	assert_all_redirected(&before, 2 * TURN_FIRST, 2, f->name);

	/* The client turns blocking and waits for the reply in recv(). */
	stats_now(&before);
	NA_ASSERT_OK(step_send(ctl[0], '3'));
	turn_step(ctl[0], 'b', pid, f, "its blocking recv()");
	asleep = wait_proc_sleeps(pid, 5000);
	NA_ASSERT_OK(na_test_send_pattern(sfd, j.down, reply_off, TURN_REPLY));
	NA_ASSERT_OK(na_test_recv_pattern(sfd, j.up, 1 + TURN_FIRST, TURN_UP));
	turn_step(ctl[0], '4', pid, f, "the end of the blocking recv() of the reply");
	if (!asleep)
		na_test_diag("%s: the client was not seen asleep before the reply", f->name);
	if (!plain) {
		delta_now(&before, &d);
		if (d.peer_unfit < 1 || d.bytes_passed != TURN_REPLY ||
		    d.bytes_redirected != TURN_UP) {
			na_test_stats_print("counter deltas", &d);
			fail_msg("%s: expected the reply to a receiver turned blocking on TCP "
				 "(peer_unfit >= 1, %d bytes passed) and the other direction "
				 "still redirected (%d bytes)", f->name, TURN_REPLY, TURN_UP);
		}
	}

	/* Non-blocking again, everything read and acknowledged: the sender
	 * comes back to the fast path. */
	NA_ASSERT_OK(step_send(ctl[0], '5'));
	off = reply_off + TURN_REPLY;
	for (int round = 0; round < TURN_ROUNDS; round++) {
		turn_step(ctl[0], 'n', pid, f, "non-blocking reads");
		NA_ASSERT_OK(na_test_wait_acked(sfd, NA_TEST_TIMEOUT_MS));
		if (round == 0)
			stats_now(&before);
		NA_ASSERT_OK(na_test_send_pattern(sfd, j.down, off, TURN_AFTER));
		off += TURN_AFTER;
	}
	turn_step(ctl[0], 'e', pid, f, "its last non-blocking read");
	rc = na_world_wait(&world, pid, 10000);
	if (rc)
		fail_msg("%s: the client process ended with %d", f->name, rc);
	if (!plain) {
		delta_now(&before, &d);
		if (d.deferred_joined < 1 || d.bytes_redirected < TURN_AFTER ||
		    d.bytes_redirected + d.bytes_passed != TURN_ROUNDS * TURN_AFTER) {
			na_test_stats_print("counter deltas", &d);
			fail_msg("%s: expected a receiver non-blocking again to get its bytes "
				 "on the fast path again (deferred_joined >= 1, at least %d of "
				 "%d bytes redirected)", f->name, TURN_AFTER,
				 TURN_ROUNDS * TURN_AFTER);
		}
	}
	close(ctl[0]);
	close(sfd);
	close(lfd);
}

/*
 * Receive len bytes of stream seed that wfd sends to the non-blocking
 * socket rfd, with splice() only (socket -> pipe, then read from the
 * pipe): one poll() loop drives both ends. Returns 0 or a negative errno
 * (-ETIMEDOUT: bytes stopped coming, -EILSEQ: wrong bytes).
 */
static int splice_transfer(int wfd, int rfd, uint64_t seed, size_t len, size_t *got)
{
	const size_t step = 16 * KiB;
	int64_t deadline = na_test_now_ms() + 20000;
	char *buf = malloc(64 * KiB);
	size_t sent = 0;
	int p[2], err = 0;

	*got = 0;
	if (!buf)
		return -ENOMEM;
	if (pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0) {
		free(buf);
		return -errno;
	}
	while (*got < len && !err) {
		struct pollfd pf[2] = {
			{ .fd = sent < len ? wfd : -1, .events = POLLOUT },
			{ .fd = rfd, .events = POLLIN },
		};
		int64_t left = deadline - na_test_now_ms();
		ssize_t n;

		if (left <= 0) {
			err = -ETIMEDOUT;
			break;
		}
		if (poll(pf, 2, (int)left) < 0 && errno != EINTR) {
			err = -errno;
			break;
		}
		if (pf[0].revents) {
			size_t m = len - sent < step ? len - sent : step;

			na_test_pattern_fill(seed, sent, buf, m);
			n = send(wfd, buf, m, MSG_DONTWAIT | MSG_NOSIGNAL);
			if (n > 0)
				sent += (size_t)n;
			else if (n < 0 && errno != EAGAIN)
				err = -errno;
		}
		if (!pf[1].revents || err)
			continue;
		n = splice(rfd, NULL, p[1], NULL, 64 * KiB, SPLICE_F_NONBLOCK);
		if (n < 0) {
			if (errno != EAGAIN)
				err = -errno;
			continue;
		}
		if (n == 0) {
			err = -ENODATA;
			break;
		}
		/* The pipe holds exactly what was spliced. */
		if (read(p[0], buf, (size_t)n) != n) {
			err = -EIO;
			break;
		}
		if (na_test_pattern_check(seed, *got, buf, (size_t)n) >= 0)
			err = -EILSEQ;
		*got += (size_t)n;
	}
	close(p[0]);
	close(p[1]);
	free(buf);
	return err;
}

struct splice_job {
	int wfd, rfd;
	uint64_t seed;
	size_t len;
};

static int splice_child(void *arg)
{
	struct splice_job *j = arg;
	size_t got;
	int err = splice_transfer(j->wfd, j->rfd, j->seed, j->len, &got);

	if (err)
		na_test_diag("the splice() reader got %zu of %zu bytes: %s", got, j->len,
			     strerror(-err));
	return err ? 1 : 0;
}

/*
 * splice_transfer in a forked helper: netaccel remembers which processes
 * splice (their sockets get no redirected bytes any more), and that must
 * be the helper, not this program, whose later tests need the fast path.
 * Returns the helper's exit code (0: every byte arrived by splice, intact).
 */
static int splice_in_helper(int wfd, int rfd, uint64_t seed, size_t len)
{
	struct splice_job j = { .wfd = wfd, .rfd = rfd, .seed = seed, .len = len };
	pid_t pid = na_world_fork(&world, splice_child, &j);

	if (pid < 0)
		return pid;
	return na_world_wait(&world, pid, 30000);
}

/*
 * A reader that only ever uses splice() (socket -> pipe), as a proxy does:
 * splice() never sees bytes redirected to a socket, so none may be. The
 * first bytes take TCP (the reader was never seen reading with recv), the
 * reader is seen splicing them (splice_seen), and every later byte takes
 * TCP too.
 */
static void test_splice_reader(void **state)
{
	const struct family *f = *state;
	const size_t k = family_index(f);
	const uint64_t seed = 0x59ead + k;
	const size_t len = 1 * MiB + 3;
	struct na_stats before, d;
	int lfd = listen_on(f), cfd, sfd, rc;

	make_cold_pair(lfd, f, &cfd, &sfd);
	stats_now(&before);
	rc = splice_in_helper(cfd, sfd, seed, len);
	if (rc)
		fail_msg("%s: a splice() reader did not get its %zu bytes intact (helper: %d)",
			 f->name, len, rc);
	if (!plain) {
		delta_now(&before, &d);
		if (d.bytes_redirected || d.bytes_passed != len || d.splice_seen < 1 ||
		    d.deferred != 1) {
			na_test_stats_print("counter deltas", &d);
			fail_msg("%s: expected every byte to a splice() reader on TCP "
				 "(deferred, %zu bytes passed, none redirected) and the reader "
				 "seen splicing", f->name, len);
		}
	}
	close(cfd);
	close(sfd);
	close(lfd);
}

/*
 * A listener whose accepted socket was seen splicing: its next connections
 * will likely splice too, so their accepted sockets do not join
 * (kept_splice), and they work as TCP.
 */
static void test_listener_of_splicer(void **state)
{
	const struct family *f = *state;
	const size_t k = family_index(f);
	const uint64_t seed = 0x59eae + 4 * k;
	struct na_test_run_opts o = { .io = NA_TEST_IO_POLL, .timeout_ms = 20000 };
	struct na_test_conn c;
	struct na_stats before, d;
	int lfd = listen_on(f), cfd, sfd, err;

	make_cold_pair(lfd, f, &cfd, &sfd);
	stats_now(&before);
	err = splice_in_helper(cfd, sfd, seed, 256 * KiB);
	if (err)
		fail_msg("%s: the first connection's splice() reader did not get its bytes "
			 "intact (helper: %d)", f->name, err);
	close(cfd);
	close(sfd);
	if (!plain) {
		delta_now(&before, &d);
		if (d.splice_seen < 1) {
			na_test_stats_print("counter deltas", &d);
			fail_msg("%s: the splice() reader was not seen splicing", f->name);
		}
	}

	stats_now(&before);
	make_pair(lfd, f, &c.fd[0], &c.fd[1]);
	na_test_dir_init(&c.dir[0], seed + 1, 256 * KiB, 0, true);
	na_test_dir_init(&c.dir[1], seed + 2, 256 * KiB, 0, true);
	err = na_test_run(&c, 1, &o);
	NA_ASSERT_DELIVERED(&c, 1, err, f->name);
	if (!plain) {
		delta_now(&before, &d);
		if (d.kept_splice != 1 || d.bytes_redirected) {
			na_test_stats_print("counter deltas", &d);
			fail_msg("%s: expected the next connection of a splicing listener kept "
				 "on TCP (kept_splice 1, nothing redirected)", f->name);
		}
	}
	na_test_close_conns(&c, 1);
	close(lfd);
}

/*
 * HAProxy with splicing: a connection's first bytes are read with recv(),
 * the rest spliced (socket -> pipe). splice() never sees bytes redirected
 * to a socket, so a splicing reader may stall; it must never get bytes out
 * of order or lose any. The reader here splices while splice() gives
 * bytes, and once splice() has given nothing for RS_IDLE_MS, reads the rest
 * with recv(): what it gets in all must be the sender's stream, in order,
 * whole. In a forked helper (both ends), on a warmed-up event-driven pair.
 */
#define RS_FIRST (64 * KiB)
#define RS_CHUNK (16 * KiB)
#define RS_CHUNKS 8
#define RS_ROUNDS 3
#define RS_IDLE_MS 200
#define RS_BUF (64 * KiB)

struct rs_reader {
	int sfd, pipe[2];
	uint64_t seed;
	size_t got;		/* stream offset of the next byte expected */
	size_t sent;		/* what the sender has sent (for the report) */
	size_t by_splice, by_recv;
	bool refused;		/* splice() said EINVAL: netaccel's guard */
	char *buf;
};

/* n bytes in r->buf just read by how: check them at r->got. On a wrong
 * byte, say which stream offset they are from, if any sent so far. */
static int rs_take(struct rs_reader *r, size_t n, const char *how)
{
	ssize_t bad = na_test_pattern_check(r->seed, r->got, r->buf, n);
	size_t probe = n < 64 ? n : 64;

	if (bad < 0) {
		r->got += n;
		return 0;
	}
	for (size_t off = 0; off + probe <= r->sent; off++)
		if (na_test_pattern_check(r->seed, off, r->buf, probe) < 0) {
			na_test_diag("%s returned %zu bytes that are stream offset %zu.., "
				     "where offset %zu was due (first wrong byte at +%zd): "
				     "reordered", how, n, off, r->got, bad);
			return -EILSEQ;
		}
	na_test_diag("%s returned %zu bytes where stream offset %zu was due, wrong from "
		     "+%zd and found nowhere in the %zu bytes sent", how, n, r->got, bad,
		     r->sent);
	return -EILSEQ;
}

/* One splice() from the socket: bytes moved (checked), 0 for none now
 * (EAGAIN, or EINVAL where a kernel refuses the splice), or a negative
 * errno. */
static ssize_t rs_splice(struct rs_reader *r)
{
	ssize_t n = splice(r->sfd, NULL, r->pipe[1], NULL, RS_BUF, SPLICE_F_NONBLOCK);
	int err;

	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return 0;
		if (errno == EINVAL) {
			r->refused = true;
			return 0;
		}
		return -errno;
	}
	if (n == 0)
		return -ENODATA;
	/* The pipe holds exactly what was spliced. */
	if (read(r->pipe[0], r->buf, (size_t)n) != n)
		return -EIO;
	r->by_splice += (size_t)n;
	err = rs_take(r, (size_t)n, "splice()");
	return err ? err : n;
}

/* One non-blocking recv(): bytes (checked), 0 for none now, or -errno. */
static ssize_t rs_recv(struct rs_reader *r)
{
	size_t want = r->sent - r->got < RS_BUF ? r->sent - r->got : RS_BUF;
	ssize_t n = recv(r->sfd, r->buf, want, MSG_DONTWAIT);
	int err;

	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -errno;
	if (n == 0)
		return -ENODATA;
	r->by_recv += (size_t)n;
	err = rs_take(r, (size_t)n, "recv()");
	return err ? err : n;
}

/* What a negative result of rs_splice or rs_recv means. */
static const char *rs_strerror(ssize_t n)
{
	return n == -EILSEQ ? "bytes out of order or wrong (see above)" : strerror((int)-n);
}

struct rs_job {
	int cfd, sfd;
	uint64_t seed;
	const struct family *f;
};

static int recv_splice_child(void *arg)
{
	const struct rs_job *j = arg;
	struct rs_reader r = { .sfd = j->sfd, .seed = j->seed };
	ssize_t n;
	int64_t last;

	r.buf = malloc(RS_BUF);
	HELPER_CHECK(r.buf, "out of memory");
	HELPER_CHECK(pipe2(r.pipe, O_CLOEXEC | O_NONBLOCK) == 0, "pipe2: %s",
		     strerror(errno));

	/* The head, read with recv(). */
	HELPER_OK(na_test_send_pattern(j->cfd, j->seed, 0, RS_FIRST));
	r.sent = RS_FIRST;
	last = na_test_now_ms();
	while (r.got < r.sent) {
		n = rs_recv(&r);
		HELPER_CHECK(n >= 0, "%s: recv() of the head: %s", j->f->name,
			     rs_strerror(n));
		if (n == 0) {
			HELPER_CHECK(na_test_now_ms() - last < 5000, "%s: the head stalled at "
				     "%zu of %d bytes", j->f->name, r.got, RS_FIRST);
			na_test_wait_fd(j->sfd, POLLIN, 100);
		} else {
			last = na_test_now_ms();
		}
	}

	for (int round = 0; round < RS_ROUNDS; round++) {
		size_t round_from = r.got, spliced = r.by_splice, recvd = r.by_recv;
		int64_t idle, deadline;

		/* Chunks, each followed by splice() for as long as it gives
		 * bytes. */
		for (int i = 0; i < RS_CHUNKS; i++) {
			HELPER_OK(na_test_send_pattern(j->cfd, j->seed, r.sent, RS_CHUNK));
			r.sent += RS_CHUNK;
			usleep(20000);
			do {
				n = r.refused ? 0 : rs_splice(&r);
				HELPER_CHECK(n >= 0, "%s, round %d: splice(): %s", j->f->name,
					     round + 1, rs_strerror(n));
			} while (n > 0);
		}
		/* splice() until it has given nothing for RS_IDLE_MS. */
		idle = na_test_now_ms();
		deadline = idle + 10000;
		while (!r.refused && r.got < r.sent && na_test_now_ms() - idle < RS_IDLE_MS &&
		       na_test_now_ms() < deadline) {
			n = rs_splice(&r);
			HELPER_CHECK(n >= 0, "%s, round %d: splice(): %s", j->f->name, round + 1,
				     rs_strerror(n));
			if (n > 0)
				idle = na_test_now_ms();
			else
				usleep(5000);
		}
		/* Then recv() for the rest; it must all come. */
		last = na_test_now_ms();
		while (r.got < r.sent) {
			n = rs_recv(&r);
			HELPER_CHECK(n >= 0, "%s, round %d: recv() after splice(): %s", j->f->name,
				     round + 1, rs_strerror(n));
			if (n > 0) {
				last = na_test_now_ms();
				continue;
			}
			HELPER_CHECK(na_test_now_ms() - last < 5000,
				     "%s, round %d: bytes lost: recv() after splice() has had "
				     "nothing for 5 s at stream offset %zu of %zu sent", j->f->name,
				     round + 1, r.got, r.sent);
			na_test_wait_fd(j->sfd, POLLIN, 100);
		}
		na_test_diag("%s, round %d: %zu bytes from offset %zu: %zu by splice(), then "
			     "%zu by recv()%s", j->f->name, round + 1, r.sent - round_from,
			     round_from, r.by_splice - spliced, r.by_recv - recvd,
			     r.refused ? " (splice() refused with EINVAL)" : "");
	}
	/* Nothing more than was sent. */
	n = recv(j->sfd, r.buf, RS_BUF, MSG_DONTWAIT);
	HELPER_CHECK(n < 0 && errno == EAGAIN, "%s: recv() after the whole stream "
		     "returned %zd (%s)", j->f->name, n, n < 0 ? strerror(errno) : "bytes");
	close(r.pipe[0]);
	close(r.pipe[1]);
	free(r.buf);
	return 0;
}

static void test_recv_then_splice(void **state)
{
	const struct family *f = *state;
	struct rs_job j = { .seed = 0x4a9e0c00 + family_index(f), .f = f };
	struct na_stats before, d;
	int lfd = listen_on(f), rc;
	pid_t pid;

	make_pair(lfd, f, &j.cfd, &j.sfd);
	stats_now(&before);
	pid = na_world_fork(&world, recv_splice_child, &j);
	assert_true(pid > 0);
	rc = na_world_wait(&world, pid, 60000);
	if (!plain) {
		delta_now(&before, &d);
		na_test_stats_print("counter deltas", &d);
	}
	if (rc)
		fail_msg("%s: the recv()-then-splice() reader did not get the stream whole and "
			 "in order (helper exit %d; see the lines above)", f->name, rc);
	close(j.cfd);
	close(j.sfd);
	close(lfd);
}

/* ---- the table ------------------------------------------------------------ */

#define TF(name, fn, fam) { name, fn, test_setup, test_teardown, (void *)(fam) }
/* One test per way client and listener address each other. */
#define ALL_FAMILIES(name, fn)                                          \
	TF(name " [IPv4]", fn, &fam_v4),                                \
	TF(name " [IPv6]", fn, &fam_v6),                                \
	TF(name " [IPv6 client to ::ffff:127.0.0.1]", fn, &fam_v6_to_v4), \
	TF(name " [IPv4 client to dual-stack ::]", fn, &fam_v4_to_dual)

int main(void)
{
	const struct CMUnitTest tests[] = {
		ALL_FAMILIES("bulk: 32 connections, 1 B..4 MiB both ways at once", test_bulk),
		ALL_FAMILIES("writes right after connect(), before accept()",
			     test_write_before_accept),
		ALL_FAMILIES("a peer not accepted yet: bytes written after connect() arrive by TCP",
			     test_peer_not_accepted),
		ALL_FAMILIES("shutdown(SHUT_WR) gives EOF, the other direction keeps working",
			     test_half_close),
		ALL_FAMILIES("a blocking read waits across its own shutdown(SHUT_WR)",
			     test_blocking_read_across_shutdown),
		ALL_FAMILIES("blocking reader and writer threads on each socket",
			     test_reader_blocking),
		ALL_FAMILIES("blocking accepted sockets of a fresh non-blocking listener: a blocking read "
			     "across shutdown, 3 connections, TCP",
			     test_blocking_accepted_shutdown),
		ALL_FAMILIES("blocking accepted sockets of a fresh non-blocking listener: reader and "
			     "writer threads, 3 rounds, TCP",
			     test_blocking_accepted_threads),
		ALL_FAMILIES("non-blocking readers with poll()", test_reader_poll),
		ALL_FAMILIES("edge-triggered epoll readers, EPOLLRDHUP on shutdown",
			     test_reader_epoll_et),
		ALL_FAMILIES("EPOLLRDHUP when the peer closes", test_epoll_rdhup_on_close),
		ALL_FAMILIES("MSG_PEEK shows the bytes read next", test_msg_peek),
		ALL_FAMILIES("MSG_WAITALL gathers several writes", test_msg_waitall),
		ALL_FAMILIES("FIONREAD counts queued bytes", test_fionread),
		ALL_FAMILIES("FIONREAD asked before each read: as TCP answers it", test_fionread_first),
		ALL_FAMILIES("FIONREAD on a client whose server stays on TCP: as TCP answers it",
			     test_fionread_lone_client),
		ALL_FAMILIES("SO_RCVLOWAT holds readability until the mark", test_so_rcvlowat),
		ALL_FAMILIES("SO_RCVLOWAT raised on the fast path: TCP while it holds, then back",
			     test_so_rcvlowat_on_fast_path),
		ALL_FAMILIES("SO_RCVLOWAT set before connecting: that end stays on TCP",
			     test_so_rcvlowat_before_connect),
		ALL_FAMILIES("sendfile() into a bypassed socket", test_sendfile),
		ALL_FAMILIES("splice() from a pipe into a bypassed socket", test_splice),
		ALL_FAMILIES("close with unread data: no hang, EOF or reset, next one works",
			     test_close_with_unread_data),
		ALL_FAMILIES("flow control: a peer that does not read stops the sender",
			     test_flow_control),
		ALL_FAMILIES("a reader that falls behind: TCP until it catches up, then back, in order",
			     test_backlog_and_back),
		ALL_FAMILIES("a stream of 16 KiB writes to a reader behind: TCP for good, in order",
			     test_stream_small_writes),
		ALL_FAMILIES("a stream of 64 KiB writes to a reader behind: the fast path",
			     test_stream_big_writes),
		TF("flood of 1-byte writes [IPv4]", test_tiny_write_flood, &fam_v4),
		TF("flood of 1-byte writes [IPv6]", test_tiny_write_flood, &fam_v6),
		TF("16 MiB single writes [IPv4]", test_large_writes, &fam_v4),
		TF("16 MiB single writes [IPv6]", test_large_writes, &fam_v6),
		TF("16 MiB single writes [IPv6 client to ::ffff:127.0.0.1]",
		   test_large_writes, &fam_v6_to_v4),
		ALL_FAMILIES("a receiver turned blocking on the fast path: TCP while it is, then back",
			     test_receiver_turns_blocking),
		ALL_FAMILIES("a reader that only splices: every byte by TCP, none redirected",
			     test_splice_reader),
		ALL_FAMILIES("the next connection of a splicing listener stays on TCP",
			     test_listener_of_splicer),
		ALL_FAMILIES("recv() then splice() (HAProxy): the stream whole and in order",
			     test_recv_then_splice),
	};

	na_world_require();
	/* NETACCEL_TEST_FILTER: run only the tests whose names match (cmocka's
	 * * and ? wildcards). */
	if (getenv("NETACCEL_TEST_FILTER"))
		cmocka_set_test_filter(getenv("NETACCEL_TEST_FILTER"));
	return cmocka_run_group_tests_name("transparency", tests, group_setup,
					   group_teardown);
}
