/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Loopback TCP sockets for the tests: listen, connect, accept (blocking or
 * event-driven), the prime that shows netaccel a listener hands out
 * event-driven sockets, the warm-up that lets a pair's later bytes take the
 * fast path, and exact reads and writes on blocking and non-blocking
 * sockets, every wait bounded.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "na_test.h"

int64_t na_test_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void na_test_diag(const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	/* One write per line so that lines of threads do not interleave. */
	printf("# %s\n", line);
	fflush(stdout);
}

int na_test_sockaddr(const char *host, uint16_t port,
		     struct sockaddr_storage *ss, socklen_t *len)
{
	memset(ss, 0, sizeof(*ss));
	struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

	if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons(port);
		*len = sizeof(*in4);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		*len = sizeof(*in6);
		return 0;
	}
	return -EINVAL;
}

int na_test_set_nonblock(int fd, bool on)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0)
		return -errno;
	fl = on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK;
	if (fcntl(fd, F_SETFL, fl) < 0)
		return -errno;
	return 0;
}

int na_test_set_timeouts(int fd, int ms)
{
	struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };

	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0)
		return -errno;
	return 0;
}

int na_test_wait_fd(int fd, short events, int timeout_ms)
{
	struct pollfd pfd = { .fd = fd, .events = events };
	int64_t deadline = na_test_now_ms() + timeout_ms;

	for (;;) {
		int64_t left = deadline - na_test_now_ms();
		int r;

		if (left < 0)
			left = 0;
		r = poll(&pfd, 1, (int)left);
		if (r > 0)
			return 0;
		if (r == 0)
			return -ETIMEDOUT;
		if (errno != EINTR)
			return -errno;
	}
}

int na_test_listen(const char *host, uint16_t port, int flags)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, one = 1, err;

	err = na_test_sockaddr(host, port, &ss, &len);
	if (err)
		return err;
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC |
		    (flags & NA_TEST_NONBLOCK ? SOCK_NONBLOCK : 0), 0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
		goto fail;
	if (ss.ss_family == AF_INET6 && (flags & (NA_TEST_DUALSTACK | NA_TEST_V6ONLY))) {
		int v6only = !!(flags & NA_TEST_V6ONLY);

		if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only,
			       sizeof(v6only)) < 0)
			goto fail;
	}
	if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, 1024) < 0)
		goto fail;
	return fd;
fail:
	err = -errno;
	close(fd);
	return err;
}

int na_test_local_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return -errno;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}

int na_test_connect(const char *host, uint16_t port, const char *bind_host,
		    uint16_t bind_port, int timeout_ms)
{
	return na_test_connect_ex(host, port, bind_host, bind_port, 0, timeout_ms);
}

/* A blocking connect() bounded by SO_SNDTIMEO (which the kernel applies to
 * connect: EINPROGRESS when it expires); the timeout is reset afterwards. */
static int connect_blocking(int fd, const struct sockaddr *sa, socklen_t len,
			    int timeout_ms)
{
	struct timeval tv = { .tv_sec = timeout_ms / 1000,
			      .tv_usec = (timeout_ms % 1000) * 1000 };
	struct timeval none = { 0 };
	int err = 0;

	if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0)
		return -errno;
	while (connect(fd, sa, len) < 0) {
		if (errno == EINTR)
			continue;	/* the connection goes on: ask again */
		if (errno == EISCONN)
			break;
		err = errno == EINPROGRESS || errno == EALREADY ? -ETIMEDOUT : -errno;
		break;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &none, sizeof(none)) < 0 && !err)
		err = -errno;
	return err;
}

int na_test_connect_ex(const char *host, uint16_t port, const char *bind_host,
		       uint16_t bind_port, int flags, int timeout_ms)
{
	struct sockaddr_storage ss;
	socklen_t len, elen = sizeof(int);
	bool blocking = flags & NA_TEST_CONNECT_BLOCKING;
	int fd, err, soerr = 0;

	if ((flags & NA_TEST_CONNECT_BLOCKING) && (flags & NA_TEST_CONNECT_NONBLOCK))
		return -EINVAL;
	err = na_test_sockaddr(host, port, &ss, &len);
	if (err)
		return err;
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC |
		    (blocking ? 0 : SOCK_NONBLOCK), 0);
	if (fd < 0)
		return -errno;
	if (bind_host) {
		struct sockaddr_storage bs;
		socklen_t blen;
		int one = 1;

		err = na_test_sockaddr(bind_host, bind_port, &bs, &blen);
		if (err)
			goto out;
		if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
		    bind(fd, (struct sockaddr *)&bs, blen) < 0) {
			err = -errno;
			goto out;
		}
	}
	if (blocking) {
		err = connect_blocking(fd, (struct sockaddr *)&ss, len, timeout_ms);
		if (err)
			goto out;
		return fd;
	}
	if (connect(fd, (struct sockaddr *)&ss, len) < 0) {
		if (errno != EINPROGRESS) {
			err = -errno;
			goto out;
		}
		err = na_test_wait_fd(fd, POLLOUT, timeout_ms);
		if (err)
			goto out;
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &elen) < 0) {
			err = -errno;
			goto out;
		}
		if (soerr) {
			err = -soerr;
			goto out;
		}
	}
	if (!(flags & NA_TEST_CONNECT_NONBLOCK)) {
		err = na_test_set_nonblock(fd, false);
		if (err)
			goto out;
	}
	return fd;
out:
	close(fd);
	return err;
}

int na_test_accept(int lfd, int timeout_ms)
{
	return na_test_accept4(lfd, 0, timeout_ms);
}

int na_test_accept4(int lfd, int flags, int timeout_ms)
{
	int64_t deadline = na_test_now_ms() + timeout_ms;

	for (;;) {
		int64_t left = deadline - na_test_now_ms();
		int err, fd;

		if (left < 0)
			left = 0;
		err = na_test_wait_fd(lfd, POLLIN, (int)left);
		if (err)
			return err;
		fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | flags);
		if (fd >= 0)
			return fd;
		/* A non-blocking listener can lose a readiness it reported
		 * (the connection was reset meanwhile): wait again. */
		if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
			return -errno;
		if (na_test_now_ms() >= deadline)
			return -ETIMEDOUT;
	}
}

int na_test_pair(int lfd, const char *host, int *cfd, int *sfd)
{
	return na_test_pair_ex(lfd, host, 0, cfd, sfd);
}

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

int na_test_write_full(int fd, const void *buf, size_t len)
{
	int64_t deadline = na_test_now_ms() + NA_TEST_TIMEOUT_MS;
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);
		int err;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				return -errno;
			err = wait_again(fd, POLLOUT, deadline);
			if (err)
				return err;
			continue;
		}
		p += n;
		len -= (size_t)n;
		deadline = na_test_now_ms() + NA_TEST_TIMEOUT_MS;
	}
	return 0;
}

int na_test_read_full(int fd, void *buf, size_t len)
{
	int64_t deadline = na_test_now_ms() + NA_TEST_TIMEOUT_MS;
	char *p = buf;

	while (len > 0) {
		ssize_t n = read(fd, p, len);
		int err;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				return -errno;
			err = wait_again(fd, POLLIN, deadline);
			if (err)
				return err;
			continue;
		}
		if (n == 0)
			return -ENODATA;
		p += n;
		len -= (size_t)n;
		deadline = na_test_now_ms() + NA_TEST_TIMEOUT_MS;
	}
	return 0;
}

#define PATTERN_BUF (256 * 1024)

int na_test_send_pattern(int fd, uint64_t seed, uint64_t off, size_t len)
{
	char *buf = malloc(PATTERN_BUF);
	int err = 0;

	if (!buf)
		return -ENOMEM;
	while (len > 0 && !err) {
		size_t n = len < PATTERN_BUF ? len : PATTERN_BUF;

		na_test_pattern_fill(seed, off, buf, n);
		err = na_test_write_full(fd, buf, n);
		off += n;
		len -= n;
	}
	free(buf);
	return err;
}

int na_test_recv_pattern(int fd, uint64_t seed, uint64_t off, size_t len)
{
	char *buf = malloc(PATTERN_BUF);
	int err = 0;

	if (!buf)
		return -ENOMEM;
	while (len > 0 && !err) {
		size_t n = len < PATTERN_BUF ? len : PATTERN_BUF;

		err = na_test_read_full(fd, buf, n);
		if (!err && na_test_pattern_check(seed, off, buf, n) >= 0)
			err = -EILSEQ;
		off += n;
		len -= n;
	}
	free(buf);
	return err;
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

int na_test_lo_up(void)
{
	struct ifreq ifr = { 0 };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int err = 0;

	if (fd < 0)
		return -errno;
	strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0) {
		err = -errno;
		goto out;
	}
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
		err = -errno;
out:
	close(fd);
	return err;
}
