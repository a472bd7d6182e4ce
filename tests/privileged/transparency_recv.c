/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Transparency of recv() flags and blocking reads: MSG_PEEK, MSG_WAITALL,
 * a blocking read across its own shutdown(SHUT_WR), and the blocking
 * accepted sockets of a non-blocking listener.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "test_transparency.h"

/* ---- MSG_PEEK, MSG_WAITALL, FIONREAD, SO_RCVLOWAT ------------------------- */

void test_msg_peek(void **state)
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

/*
 * Wait (bounded) until the reader thread sleeps in recv(). False when it
 * has returned already or the wait timed out.
 */
static bool wait_thread_sleeps(struct reader_job *j, int timeout_ms)
{
	return wait_task_sleeps("/proc/self/task", &j->tid, timeout_ms);
}

void test_msg_waitall(void **state)
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
void test_blocking_read_across_shutdown(void **state)
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

	ASSERT_DELTAS(before, d,
		      d.bytes_redirected || d.msgs_redirected || d.sockets_joined > n ||
		      d.kept_unseen + d.kept_blocking != n || (fresh && d.kept_unseen != n),
		      "%s, %s: expected none of the %llu blocking accepted sockets to join "
		      "(kept_unseen%s; here kept_unseen %llu, kept_blocking %llu), at most "
		      "the clients joined (%llu joined) and nothing redirected (%llu bytes)",
		      f->name, what, (unsigned long long)n,
		      fresh ? " on a fresh listener" : " or kept_blocking",
		      (unsigned long long)d.kept_unseen,
		      (unsigned long long)d.kept_blocking,
		      (unsigned long long)d.sockets_joined,
		      (unsigned long long)d.bytes_redirected);
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
void test_blocking_accepted_shutdown(void **state)
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
void test_blocking_accepted_threads(void **state)
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
