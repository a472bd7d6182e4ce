/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Exact reads and writes for the tests, on blocking and non-blocking
 * sockets: whole buffers, windows of a seeded stream, and the wait for
 * end of file, every wait bounded.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <unistd.h>

#include "na_test.h"

/*
 * After EAGAIN at deadline: on a blocking fd the socket's own timeout
 * expired (-ETIMEDOUT); on a non-blocking one wait for events until the
 * deadline and return 0 to try again.
 */
static int wait_again(int fd, short events, int64_t deadline)
{
	int64_t left = deadline - na_test_now_ms();
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0)
		return -errno;
	if (!(fl & O_NONBLOCK) || left <= 0)
		return -ETIMEDOUT;
	return na_test_wait_fd(fd, events, (int)left);
}

/*
 * read() (events POLLIN) or write() (POLLOUT) exactly len bytes at p, each
 * wait bounded by NA_TEST_TIMEOUT_MS without progress.
 */
static int xfer_full(int fd, char *p, size_t len, short events)
{
	int64_t deadline = na_test_now_ms() + NA_TEST_TIMEOUT_MS;

	while (len > 0) {
		ssize_t n = events == POLLIN ? read(fd, p, len) : write(fd, p, len);
		int err;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				return -errno;
			err = wait_again(fd, events, deadline);
			if (err)
				return err;
			continue;
		}
		if (n == 0 && events == POLLIN)
			return -ENODATA;
		p += n;
		len -= (size_t)n;
		deadline = na_test_now_ms() + NA_TEST_TIMEOUT_MS;
	}
	return 0;
}

int na_test_write_full(int fd, const void *buf, size_t len)
{
	/* Only read from: write() takes the bytes. */
	return xfer_full(fd, (char *)buf, len, POLLOUT);
}

int na_test_read_full(int fd, void *buf, size_t len)
{
	return xfer_full(fd, buf, len, POLLIN);
}

#define PATTERN_BUF (256 * 1024)

/* Send (tx) or receive and check len bytes of stream seed from off, a
 * buffer at a time. */
static int pattern_xfer(int fd, uint64_t seed, uint64_t off, size_t len, bool tx)
{
	char *buf = malloc(PATTERN_BUF);
	int err = 0;

	if (!buf)
		return -ENOMEM;
	while (len > 0 && !err) {
		size_t n = len < PATTERN_BUF ? len : PATTERN_BUF;

		if (tx) {
			na_test_pattern_fill(seed, off, buf, n);
			err = na_test_write_full(fd, buf, n);
		} else {
			err = na_test_read_full(fd, buf, n);
			if (!err && na_test_pattern_check(seed, off, buf, n) >= 0)
				err = -EILSEQ;
		}
		off += n;
		len -= n;
	}
	free(buf);
	return err;
}

int na_test_send_pattern(int fd, uint64_t seed, uint64_t off, size_t len)
{
	return pattern_xfer(fd, seed, off, len, true);
}

int na_test_recv_pattern(int fd, uint64_t seed, uint64_t off, size_t len)
{
	return pattern_xfer(fd, seed, off, len, false);
}

int na_test_wait_eof(int fd, size_t *extra, int timeout_ms)
{
	int64_t deadline = na_test_now_ms() + timeout_ms;
	char buf[16384];

	if (extra)
		*extra = 0;
	for (;;) {
		int64_t left = deadline - na_test_now_ms();
		ssize_t n;
		int err;

		if (left <= 0)
			return -ETIMEDOUT;
		err = na_test_wait_fd(fd, POLLIN | POLLRDHUP, (int)left);
		if (err)
			return err;
		n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n == 0)
			return 0;
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			return -errno;
		}
		if (extra)
			*extra += (size_t)n;
	}
}
