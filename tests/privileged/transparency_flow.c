/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Transparency of a reader that does not keep up: closing with unread
 * data, flow control against a peer that does not read, a reader that
 * falls behind and catches up, and streams of writes to a reader behind.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "test_transparency.h"

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

void test_close_with_unread_data(void **state)
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
void test_flow_control(void **state)
{
	const struct family *f = *state;
	const size_t k = family_index(f);
	const uint64_t seed = 0xf10c + k;
	const size_t limit = flow_limit();
	struct na_stats before, d;
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
	/* The fast path carried bytes until the backlog limit, then the
	 * connection moved to TCP, whose window stopped it. The counters count
	 * what each send offered; the last send may have been taken in part. */
	ASSERT_DELTAS(&before, d,
		      d.backlog_limited != 1 || !d.bytes_redirected ||
		      d.bytes_redirected + d.bytes_passed < sent ||
		      d.bytes_redirected + d.bytes_passed > sent + 64 * KiB || d.misses,
		      "%s: expected one connection moved to TCP by its backlog "
		      "and %zu bytes in all", f->name, sent);
	close(cfd);
	close(sfd);
	close(lfd);
}

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
void test_backlog_and_back(void **state)
{
	const struct family *f = *state;
	const uint64_t seed = 0xbac0 + family_index(f);
	const size_t more = 4 * MiB;
	struct na_stats before, d;
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
	ASSERT_DELTAS(&before, d,
		      d.backlog_limited != 1 || d.backlog_resumed != 1 || d.misses ||
		      d.fallbacks,
		      "%s: expected one move to TCP and one back", f->name);
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
	struct na_stats before, d;
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
	ASSERT_DELTAS(&before, d,
		      d.stream_moved != (moves ? 1 : 0) || d.backlog_limited ||
		      d.bytes_redirected != (moves ? first : off) ||
		      d.bytes_passed != (moves ? off - first : 0),
		      "%s: %zu-byte writes: expected %s", f->name, chunk,
		      moves ? "the stream on the fast path, then TCP for good"
			    : "everything on the fast path");
	close(cfd);
	close(sfd);
	close(lfd);
}

void test_stream_small_writes(void **state)
{
	stream_case(*state, 16 * KiB, true);
}

void test_stream_big_writes(void **state)
{
	stream_case(*state, NA_STREAM_BIG_WRITE, false);
}
