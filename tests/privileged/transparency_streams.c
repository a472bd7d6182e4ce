/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Transparency of the bytes and the wake-ups: many connections of many
 * sizes at once, writes before accept(), half close, and each reader style
 * (blocking threads, poll(), edge-triggered epoll, EPOLLRDHUP).
 */
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "test_transparency.h"

/* ---- A. bulk: many sizes, many connections, both directions at once ----- */

#define BULK_CONNS 32
static const size_t bulk_sizes[] = { 1, 7, 1500, 64 * KiB, 1 * MiB, 4 * MiB };
static const size_t bulk_chunks[] = { 64 * KiB, 1500, 1 * MiB, 7 };
#define NSIZES (sizeof(bulk_sizes) / sizeof(bulk_sizes[0]))

void test_bulk(void **state)
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
void test_write_before_accept(void **state)
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
	ASSERT_DELTAS(&before, d,
		      d.deferred < 1 || d.deferred_joined < 1 || d.bytes_passed < early ||
		      d.bytes_redirected == 0 || d.misses || d.fallbacks,
		      "%s: expected the bytes written before accept() on TCP "
		      "(deferred >= 1, >= %zu bytes passed) and the later ones "
		      "on the fast path (deferred_joined >= 1, bytes redirected)",
		      f->name, early);
	na_test_close_conns(&c, 1);
	close(lfd);
}

/*
 * A peer that is not accepted yet cannot take redirected bytes: what a
 * client writes then takes TCP, and arrives intact once the server
 * accepts, also when the client has closed meanwhile (a short-lived
 * client that sends one request and goes).
 */
void test_peer_not_accepted(void **state)
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
	ASSERT_DELTAS(&before, d,
		      d.deferred != 1 || d.bytes_passed != len1 || d.bytes_redirected,
		      "%s: %zu bytes written to a peer not accepted yet: expected "
		      "them deferred to TCP", f->name, len1);
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
	ASSERT_DELTAS(&before, d,
		      d.deferred != 2 || d.bytes_passed != len1 + len2 || d.bytes_redirected ||
		      d.misses,
		      "%s: expected both first sends deferred to TCP and nothing "
		      "redirected", f->name);
	close(c1);
	close(s1);
	close(s2);
	close(lfd);
}

/* ---- half close ---------------------------------------------------------- */

void test_half_close(void **state)
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
void test_reader_blocking(void **state)
{
	run_reader_style(*state, NA_TEST_IO_BLOCKING, 8, true, "blocking reader");
}

void test_reader_poll(void **state)
{
	run_reader_style(*state, NA_TEST_IO_POLL, 8, false, "poll reader");
}

void test_reader_epoll_et(void **state)
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

void test_epoll_rdhup_on_close(void **state)
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
