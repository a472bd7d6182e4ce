/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Transparency of the ways bytes are written: sendfile() and splice() into
 * a bypassed socket, floods of 1-byte writes, and 16 MiB single writes.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

#include "test_transparency.h"

/* ---- sendfile and splice into a bypassed socket --------------------------- */

void test_sendfile(void **state)
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

void test_splice(void **state)
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

/* ---- floods of tiny writes, very large writes ----------------------------- */

void test_tiny_write_flood(void **state)
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

void test_large_writes(void **state)
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
