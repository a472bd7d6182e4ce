/* SPDX-License-Identifier: (GPL-2.0-only OR MIT) */
/*
 * netaccel.h: opt sockets in to netaccel's local TCP acceleration.
 *
 * A cgroup enrolled with `netaccel-ctl enroll --mode opt-in` accelerates
 * only the TCP sockets that asked for it. Ask right after socket(), before
 * connect() or listen(): sockets accepted from a listener inherit its tag.
 *
 *     int fd = socket(AF_INET6, SOCK_STREAM, 0);
 *     if (netaccel_opt_in(fd) < 0 && errno == ENOPROTOOPT)
 *             ;  // not enrolled: the socket works as usual
 *
 * All three helpers fail with errno ENOPROTOOPT where the socket's cgroup
 * is not enrolled (or netaccel is not loaded): that is how to detect
 * netaccel. Nothing else changes in that case.
 *
 * Other errors: EINVAL for a malformed call, EOPNOTSUPP from setsockopt for
 * a socket that is not TCP over IPv4/IPv6. (A raw getsockopt on an
 * IPv4 socket of a cgroup that is not enrolled fails with EOPNOTSUPP, which
 * is what the kernel says there for an unknown level; the helpers below
 * report that as ENOPROTOOPT too.)
 */
#ifndef NETACCEL_H
#define NETACCEL_H

#include <errno.h>
#include <sys/socket.h>

/* The socket option level; no kernel protocol uses it. */
#define SOL_NETACCEL 0x6e61

/* int, read and write: NETACCEL_TAG_ON, NETACCEL_TAG_OFF or
 * NETACCEL_TAG_DEFAULT. Only takes effect before the connection is
 * established. */
#define NETACCEL_TAG 1
/* int, read-only: 1 when the connected socket's bytes go straight to its
 * peer, 0 otherwise. */
#define NETACCEL_ACCELERATED 2

#define NETACCEL_TAG_ON 1	/* accelerate, also in an opt-in cgroup */
#define NETACCEL_TAG_OFF 0	/* keep on the normal path, even in mode all */
#define NETACCEL_TAG_DEFAULT (-1) /* follow the cgroup's mode */

static inline int netaccel_set_tag(int fd, int tag)
{
	return setsockopt(fd, SOL_NETACCEL, NETACCEL_TAG, &tag, sizeof(tag));
}

/* Accelerate this socket. 0 on success, -1 with errno set. */
static inline int netaccel_opt_in(int fd)
{
	return netaccel_set_tag(fd, NETACCEL_TAG_ON);
}

/* Keep this socket on the normal TCP path. 0 on success, -1 with errno. */
static inline int netaccel_opt_out(int fd)
{
	return netaccel_set_tag(fd, NETACCEL_TAG_OFF);
}

/* 1 if the connected socket is accelerated, 0 if not, -1 with errno set
 * (ENOPROTOOPT: its cgroup is not enrolled). */
static inline int netaccel_is_accelerated(int fd)
{
	int on = 0;
	socklen_t len = sizeof(on);

	if (getsockopt(fd, SOL_NETACCEL, NETACCEL_ACCELERATED, &on, &len) < 0) {
		if (errno == EOPNOTSUPP)
			errno = ENOPROTOOPT;
		return -1;
	}
	return on != 0;
}

/* The socket's tag: NETACCEL_TAG_ON, _OFF or _DEFAULT; -1 with errno set
 * (ENOPROTOOPT: not enrolled) and *tag untouched on failure. */
static inline int netaccel_get_tag(int fd, int *tag)
{
	socklen_t len = sizeof(*tag);

	if (getsockopt(fd, SOL_NETACCEL, NETACCEL_TAG, tag, &len) < 0) {
		if (errno == EOPNOTSUPP)
			errno = ENOPROTOOPT;
		return -1;
	}
	return 0;
}

#endif /* NETACCEL_H */
