/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Readers the fast path cannot serve because they splice() from the
 * socket, in forked helpers: a reader that only splices, the next
 * connection of its listener, and recv() then splice() (HAProxy).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "test_transparency.h"

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
void test_splice_reader(void **state)
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
	ASSERT_DELTAS(&before, d,
		      d.bytes_redirected || d.bytes_passed != len || d.splice_seen < 1 ||
		      d.deferred != 1,
		      "%s: expected every byte to a splice() reader on TCP "
		      "(deferred, %zu bytes passed, none redirected) and the reader "
		      "seen splicing", f->name, len);
	close(cfd);
	close(sfd);
	close(lfd);
}

/*
 * A listener whose accepted socket was seen splicing: its next connections
 * will likely splice too, so their accepted sockets do not join
 * (kept_splice), and they work as TCP.
 */
void test_listener_of_splicer(void **state)
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
	ASSERT_DELTAS(&before, d, d.splice_seen < 1,
		      "%s: the splice() reader was not seen splicing", f->name);

	stats_now(&before);
	make_pair(lfd, f, &c.fd[0], &c.fd[1]);
	na_test_dir_init(&c.dir[0], seed + 1, 256 * KiB, 0, true);
	na_test_dir_init(&c.dir[1], seed + 2, 256 * KiB, 0, true);
	err = na_test_run(&c, 1, &o);
	NA_ASSERT_DELIVERED(&c, 1, err, f->name);
	ASSERT_DELTAS(&before, d, d.kept_splice != 1 || d.bytes_redirected,
		      "%s: expected the next connection of a splicing listener kept "
		      "on TCP (kept_splice 1, nothing redirected)", f->name);
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

void test_recv_then_splice(void **state)
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
