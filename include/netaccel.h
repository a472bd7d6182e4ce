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

/* ---- proxy splice (libnetaccel: link with it to use these) ----
 *
 * A proxy hands a pair of connected stream sockets over: from then on the
 * bytes arriving on one leave on the other, in order, including those
 * that had arrived and were not read yet. EOF on one side becomes
 * shutdown(SHUT_WR) on the other once every byte before it has left; a
 * reset or an error on either side ends the pair. The sockets are set to
 * O_NONBLOCK and must not be read or written by the caller until the pair
 * has ended; the caller still owns them and closes them after
 * netaccel_splice_free().
 *
 * The pair runs on the first path that works, from the one asked for:
 *   NETACCEL_PATH_KERNEL  the kernel forwards the bytes (sockmap; needs the
 *                         privilege to load netaccel's splice program, or
 *                         the one an administrator set up with
 *                         `netaccel-ctl splice enable`)
 *   NETACCEL_PATH_SPLICE  splice(2) through a pipe, in this process
 *   NETACCEL_PATH_COPY    read/write through a buffer, in this process
 * NETACCEL_PATH_AUTO starts on the copy loop (small messages move sooner
 * there), takes splice(2) for a direction that reads bulk, and hands the
 * pair to the kernel once its traffic has turned round a few times in
 * small messages (the kernel forwards those sooner still).
 * netaccel_splice_info() says which one and why not an earlier one.
 *
 *     struct netaccel_splice *sp = netaccel_splice(client, backend, NULL);
 *     // add netaccel_splice_fd(sp) to your epoll for EPOLLIN; on an event:
 *     if (netaccel_splice_run(sp) == 1) {
 *             netaccel_splice_info(sp, &info);   // bytes, path, error
 *             netaccel_splice_free(sp);
 *             close(client), close(backend);
 *     }
 */
enum netaccel_path {
	NETACCEL_PATH_AUTO = 0,		/* by the traffic: see above */
	NETACCEL_PATH_KERNEL,
	NETACCEL_PATH_SPLICE,
	NETACCEL_PATH_COPY,
};

#define NETACCEL_SPLICE_EXACT 1u	/* fail rather than take a later path */

struct netaccel_splice_opts {
	unsigned int size;		/* sizeof(struct netaccel_splice_opts) */
	unsigned int path;		/* enum netaccel_path: the first to try */
	unsigned int flags;		/* NETACCEL_SPLICE_EXACT */
	unsigned int max_queued;	/* bytes that may wait per direction, in
					 * the kernel or this process (0: 1 MiB) */
	const char *state_dir;		/* NULL: $NETACCEL_STATE_DIR, else the
					 * default (/sys/fs/bpf/netaccel) */
};

struct netaccel_splice_info {
	unsigned int path;		/* enum netaccel_path taken */
	int ended;			/* 1: both directions closed, or an error */
	int error;			/* 0, or the errno that ended the pair */
	unsigned long long bytes[2];	/* moved a to b, b to a */
	unsigned long long kernel_bytes[2]; /* of those, moved by the kernel */
	int paused[2];			/* times the kernel handed a direction to
					 * this process (its receiver fell behind)
					 * until it caught up */
	char why[256];			/* why not the path asked for ("": it) */
};

struct netaccel_splice;

/* Splice a and b. NULL with errno set: EINVAL (not a connected stream
 * socket, a == b), EBUSY (already spliced), ENOMEM, or with
 * NETACCEL_SPLICE_EXACT the reason the path cannot be used (EPERM,
 * EOPNOTSUPP, ...; netaccel_splice_why() says it in words). */
struct netaccel_splice *netaccel_splice(int a, int b, const struct netaccel_splice_opts *opts);
/* Why the last netaccel_splice() of this thread failed or fell back. */
const char *netaccel_splice_why(void);
/* An fd to poll for readability: then call netaccel_splice_run(). */
int netaccel_splice_fd(const struct netaccel_splice *sp);
/* Do what is due, without blocking: 1 when the pair has ended, 0 when it
 * goes on, -1 with errno on a failure of the library itself. */
int netaccel_splice_run(struct netaccel_splice *sp);
int netaccel_splice_info(const struct netaccel_splice *sp, struct netaccel_splice_info *info);
/* Take the pair out of the kernel and free it; a and b stay open. */
void netaccel_splice_free(struct netaccel_splice *sp);

#endif /* NETACCEL_H */
