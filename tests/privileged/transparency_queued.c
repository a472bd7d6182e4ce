/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Transparency of what a reader learns about queued bytes: FIONREAD, asked
 * after and before reading, and SO_RCVLOWAT, set before connecting or
 * raised on the fast path.
 */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <netaccel/state.h>

#include "test_transparency.h"

/* cfd sends len bytes of stream seed; once sfd is readable, its FIONREAD
 * answer, after which sfd reads them all, checked. */
static int fionread_of_message(int cfd, int sfd, uint64_t seed, size_t len)
{
	char buf[10000];
	int queued = -1;

	assert_true(len <= sizeof(buf));
	NA_ASSERT_OK(na_test_send_pattern(cfd, seed, 0, len));
	NA_ASSERT_OK(na_test_wait_fd(sfd, POLLIN, 5000));
	assert_int_equal(ioctl(sfd, FIONREAD, &queued), 0);
	NA_ASSERT_OK(na_test_set_timeouts(sfd, 5000));
	NA_ASSERT_OK(na_test_read_full(sfd, buf, len));
	assert_int_equal(na_test_pattern_check(seed, 0, buf, len), -1);
	return queued;
}

void test_fionread(void **state)
{
	const struct family *f = *state;
	const size_t k = family_index(f);
	const uint64_t seed = 0xf102ead + k;
	const size_t len = 10000;
	struct na_stats before;
	int lfd = listen_on(f), cfd, sfd, queued;

	make_pair(lfd, f, &cfd, &sfd);
	stats_now(&before);
	queued = fionread_of_message(cfd, sfd, seed, len);
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
void test_fionread_first(void **state)
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
 * status tells the truth about FIONREAD and bytes that took TCP: a
 * connection's first message takes TCP (its reader was not seen reading
 * yet) while the reader is in the sockhash already. Where status says
 * FIONREAD counts such bytes, it counts them here; where it says it does
 * not, FIONREAD says 0 here although poll() said readable.
 */
void test_fionread_status(void **state)
{
	static const char name[] = "FIONREAD counts bytes that took TCP";
	const struct family *f = *state;
	const uint64_t seed = 0xf10500 + family_index(f);
	const size_t len = 3000;
	struct na_feature feats[NA_MAX_FEATURES];
	size_t n = na_probe_features(feats, NA_MAX_FEATURES);
	int counts = -1, lfd = listen_on(f), cfd, sfd, q;
	struct na_stats before, d;

	for (size_t i = 0; i < n; i++)
		if (!strncmp(feats[i].name, name, sizeof(name) - 1))
			counts = feats[i].ok;
	if (counts < 0)
		fail_msg("status has no line \"%s\"", name);
	stats_now(&before);
	make_cold_pair(lfd, f, &cfd, &sfd);
	q = fionread_of_message(cfd, sfd, seed, len);
	ASSERT_DELTAS(&before, d, d.sockets_joined < 2 || d.bytes_redirected,
		      "%s: expected both ends joined and the first message on TCP", f->name);
	if (plain)	/* not enrolled: TCP's answer */
		counts = 1;
	if (counts ? q <= 0 : q != 0)
		fail_msg("%s: status says FIONREAD %s bytes that took TCP, but it said %d with "
			 "%zu of them queued", f->name, counts ? "counts" : "leaves out", q, len);
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
void test_fionread_lone_client(void **state)
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
	ASSERT_DELTAS(&before, d, d.kept_unseen != 1 || d.bytes_redirected,
		      "%s: expected the accepted end kept on TCP (kept_unseen 1) and "
		      "nothing redirected", f->name);
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
void test_so_rcvlowat(void **state)
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
	ASSERT_DELTAS(&before, d,
		      d.bytes_redirected || d.bytes_passed != 5000 ||
		      d.peer_unfit + d.deferred < 1,
		      "%s: bytes sent to a receiver with SO_RCVLOWAT %d: expected "
		      "all 5000 on TCP (deferred or peer_unfit)", f->name, LOWAT);
	close(cfd);
	close(sfd);
	close(lfd);
}

/*
 * A receiver on the fast path raises SO_RCVLOWAT: the sender's next bytes
 * take TCP (peer_unfit) and the mark holds; once the mark is back to 1 and
 * the receiver has read everything, the fast path again.
 */
void test_so_rcvlowat_on_fast_path(void **state)
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
	ASSERT_DELTAS(&before, d,
		      d.peer_unfit < 1 || d.bytes_redirected || d.bytes_passed != 5000,
		      "%s: expected the bytes sent after SO_RCVLOWAT %d on TCP "
		      "(peer_unfit >= 1, 5000 bytes passed)", f->name, LOWAT);

	set_lowat(sfd, 1);
	NA_ASSERT_OK(na_test_wait_acked(cfd, NA_TEST_TIMEOUT_MS));
	stats_now(&before);
	NA_ASSERT_OK(na_test_send_pattern(cfd, seed, 15000, 10000));
	err = na_test_recv_pattern(sfd, seed, 15000, 10000);
	if (err)
		fail_msg("%s: bytes after SO_RCVLOWAT went back to 1: %s", f->name,
			 strerror(-err));
	ASSERT_DELTAS(&before, d,
		      d.deferred_joined < 1 || d.bytes_redirected != 10000 || d.bytes_passed,
		      "%s: expected the fast path again once SO_RCVLOWAT was back "
		      "to 1 (deferred_joined >= 1, 10000 bytes redirected)", f->name);
	close(cfd);
	close(sfd);
	close(lfd);
}

/*
 * SO_RCVLOWAT set before the connection exists (on the listener, whose
 * accepted sockets inherit it, or on the client before connect()): that
 * end does not join (kept_rcvlowat) and the mark holds.
 */
void test_so_rcvlowat_before_connect(void **state)
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
	ASSERT_DELTAS(&before, d, d.kept_rcvlowat < 1 || d.bytes_redirected,
		      "%s: an accepted socket with SO_RCVLOWAT %d from its listener: "
		      "expected kept_rcvlowat >= 1 and nothing redirected", f->name,
		      LOWAT);
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
	ASSERT_DELTAS(&before, d,
		      d.kept_rcvlowat < 1 || d.sockets_joined || d.bytes_redirected,
		      "%s: a client with SO_RCVLOWAT %d: expected kept_rcvlowat >= 1 "
		      "and nothing joined or redirected", f->name, LOWAT);
	close(cfd);
	close(sfd);
	close(lfd);
}
