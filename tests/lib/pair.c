/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Event-driven pairs for the tests: the prime that shows netaccel a
 * listener hands out event-driven sockets (remembered per listener), the
 * pair made on it, and the warm-up that lets a pair's later bytes take the
 * fast path, every wait bounded.
 */
#include <errno.h>
#include <linux/sockios.h>
#include <poll.h>
#include <pthread.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "na_test.h"

/* ---- listeners primed (na_test_prime) ------------------------------------ */

#ifndef SO_COOKIE
#define SO_COOKIE 57
#endif

/* Socket cookies of the listeners primed: unique for the life of the
 * system, so a closed listener's fd number reused by a new one is not
 * taken for it. A ring: a test program makes a few hundred listeners. */
#define PRIMED_MAX 4096
static uint64_t primed[PRIMED_MAX];
static size_t primed_next;
static pthread_mutex_t primed_lock = PTHREAD_MUTEX_INITIALIZER;

static int sock_cookie(int fd, uint64_t *cookie)
{
	socklen_t len = sizeof(*cookie);

	if (getsockopt(fd, SOL_SOCKET, SO_COOKIE, cookie, &len) < 0)
		return -errno;
	return 0;
}

static bool primed_find(uint64_t cookie)
{
	for (size_t i = 0; i < PRIMED_MAX; i++)
		if (primed[i] == cookie)
			return true;
	return false;
}

/* Record cookie; false if it was recorded already. */
static bool primed_claim(uint64_t cookie)
{
	bool fresh;

	pthread_mutex_lock(&primed_lock);
	fresh = !primed_find(cookie);
	if (fresh)
		primed[primed_next++ % PRIMED_MAX] = cookie;
	pthread_mutex_unlock(&primed_lock);
	return fresh;
}

int na_test_pair(int lfd, const char *host, int *cfd, int *sfd)
{
	return na_test_pair_ex(lfd, host, 0, cfd, sfd);
}

int na_test_pair_ex(int lfd, const char *host, int flags, int *cfd, int *sfd)
{
	bool nb = flags & NA_TEST_PAIR_NONBLOCK;
	int port = na_test_local_port(lfd);
	int c, s, err;

	*cfd = *sfd = -1;
	if (port < 0)
		return port;
	if (nb) {
		err = na_test_prime(lfd, host);
		if (err)
			return err;
	}
	c = na_test_connect_ex(host, (uint16_t)port, NULL, 0,
			       nb ? NA_TEST_CONNECT_NONBLOCK : 0, NA_TEST_TIMEOUT_MS);
	if (c < 0)
		return c;
	s = na_test_accept4(lfd, nb ? SOCK_NONBLOCK : 0, NA_TEST_TIMEOUT_MS);
	if (s < 0) {
		close(c);
		return s;
	}
	if (flags & NA_TEST_PAIR_WARMUP) {
		err = na_test_warmup(c, s);
		if (err) {
			close(c);
			close(s);
			return err;
		}
	}
	*cfd = c;
	*sfd = s;
	return 0;
}

int na_test_wait_acked(int fd, int timeout_ms)
{
	int64_t deadline = na_test_now_ms() + timeout_ms;

	/* No event says "acknowledged": look every millisecond. */
	for (;;) {
		int outq = -1;

		if (ioctl(fd, SIOCOUTQ, &outq) < 0)
			return -errno;
		if (outq == 0)
			return 0;
		if (na_test_now_ms() >= deadline)
			return -ETIMEDOUT;
		usleep(1000);
	}
}

/* Send one byte on fd, waiting (bounded) while the socket is full. */
static int warmup_send(int fd, char c)
{
	int64_t deadline = na_test_now_ms() + NA_TEST_TIMEOUT_MS;

	for (;;) {
		ssize_t n = send(fd, &c, 1, MSG_NOSIGNAL | MSG_DONTWAIT);
		int64_t left = deadline - na_test_now_ms();
		int err;

		if (n == 1)
			return 0;
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return -errno;
		if (left <= 0)
			return -ETIMEDOUT;
		err = na_test_wait_fd(fd, POLLOUT, (int)left);
		if (err)
			return err;
	}
}

/* Receive that byte with recv() (the call matters: the fast path waits to
 * see its receiver read with the recv family). */
static int warmup_recv(int fd, char want)
{
	int64_t deadline = na_test_now_ms() + NA_TEST_TIMEOUT_MS;

	for (;;) {
		int64_t left = deadline - na_test_now_ms();
		ssize_t n;
		char c;
		int err;

		if (left <= 0)
			return -ETIMEDOUT;
		err = na_test_wait_fd(fd, POLLIN, (int)left);
		if (err)
			return err;
		n = recv(fd, &c, 1, MSG_DONTWAIT);
		if (n == 1)
			return c == want ? 0 : -EILSEQ;
		if (n == 0)
			return -ENODATA;
		if (errno != EAGAIN && errno != EINTR)
			return -errno;
	}
}

int na_test_warmup(int cfd, int sfd)
{
	int err;

	err = warmup_send(cfd, 'W');
	if (!err)
		err = warmup_recv(sfd, 'W');
	if (!err)
		err = warmup_send(sfd, 'w');
	if (!err)
		err = warmup_recv(cfd, 'w');
	if (!err)
		err = na_test_wait_acked(cfd, NA_TEST_TIMEOUT_MS);
	if (!err)
		err = na_test_wait_acked(sfd, NA_TEST_TIMEOUT_MS);
	return err;
}

int na_test_prime(int lfd, const char *host)
{
	int port = na_test_local_port(lfd), c, s = -1, err;
	uint64_t cookie;

	if (port < 0)
		return port;
	err = sock_cookie(lfd, &cookie);
	if (err)
		return err;
	if (!primed_claim(cookie))
		return 0;
	c = na_test_connect_ex(host, (uint16_t)port, NULL, 0, NA_TEST_CONNECT_NONBLOCK,
			       NA_TEST_TIMEOUT_MS);
	if (c < 0)
		return c;
	s = na_test_accept4(lfd, SOCK_NONBLOCK, NA_TEST_TIMEOUT_MS);
	if (s < 0) {
		err = s;
		goto out;
	}
	/* The byte takes TCP (the accepted end has not read yet, or did not
	 * join at all); reading it with recv() on the non-blocking accepted
	 * end is what marks the listener. */
	err = warmup_send(c, 'P');
	if (!err)
		err = warmup_recv(s, 'P');
	/* Both FINs seen: the connecting end has left the fast path (and
	 * been counted out) before this returns. */
	if (!err && shutdown(c, SHUT_WR) < 0)
		err = -errno;
	if (!err)
		err = na_test_wait_eof(s, NULL, NA_TEST_TIMEOUT_MS);
	if (!err) {
		close(s);
		s = -1;
		err = na_test_wait_eof(c, NULL, NA_TEST_TIMEOUT_MS);
	}
out:
	if (s >= 0)
		close(s);
	close(c);
	return err;
}
