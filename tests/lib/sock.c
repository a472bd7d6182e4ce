/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Loopback TCP sockets for the tests: addresses, listen, connect, accept
 * (blocking or event-driven), socket modes and timeouts, bounded waits for
 * events, and the loopback device. Pairs, the prime and the warm-up are
 * in pair.c, exact reads and writes in io.c.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "na_test.h"
#include "internal.h"

int64_t na_test_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void na_tl_vprint_line(const char *prefix, const char *fmt, va_list ap)
{
	char line[1024];

	vsnprintf(line, sizeof(line), fmt, ap);
	/* One write per line so that lines of threads do not interleave. */
	printf("%s%s\n", prefix, line);
	fflush(stdout);
}

void na_test_diag(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	na_tl_vprint_line("# ", fmt, ap);
	va_end(ap);
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
