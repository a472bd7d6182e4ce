// SPDX-License-Identifier: GPL-2.0-only
/*
 * libnetaccel-preload.so: tags an unmodified program's TCP sockets for
 * netaccel's opt-in acceleration.
 *
 * It interposes socket() alone. Accepted sockets need nothing: the kernel
 * copies the listener's tag to them. After a successful AF_INET/AF_INET6
 * stream socket() it sets NETACCEL_TAG on netaccel's option level. Where
 * the cgroup is not enrolled the kernel answers ENOPROTOOPT and nothing
 * happens. The program sees the same return value and the same errno as
 * without the shim.
 *
 * Constraints, because socket() can be called from anywhere:
 *  - before our constructor ran (another library's constructor): the real
 *    socket() is then reached with the raw system call;
 *  - from many threads at once, and in a child after fork(): no locks, only
 *    atomic loads and stores of values every thread computes alike;
 *  - from a signal handler: only async-signal-safe calls (syscall, write,
 *    open, close); getenv only reads the environment.
 *
 * Environment:
 *   NETACCEL_DISABLE=1      do nothing
 *   NETACCEL_DEBUG=1        one line per TCP socket, to stderr or to
 *   NETACCEL_LOG_FILE=path  this file (appended)
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "netaccel.h"

#define EXPORT __attribute__((visibility("default")))

typedef int (*socket_fn)(int, int, int);

enum {
	CFG_UNREAD = 0,
	CFG_READ = 1 << 0,
	CFG_DISABLED = 1 << 1,
	CFG_DEBUG = 1 << 2,
};

static socket_fn real_socket;	/* atomic; NULL until the constructor ran */
static int config;		/* atomic; CFG_* */
static const char *log_file;	/* atomic; set before CFG_READ is */

static int env_on(const char *name)
{
	const char *v = getenv(name);

	return v && *v && strcmp(v, "0") != 0;
}

static int read_config(void)
{
	int c = __atomic_load_n(&config, __ATOMIC_ACQUIRE);
	const char *f;

	if (c != CFG_UNREAD)
		return c;
	c = CFG_READ;
	if (env_on("NETACCEL_DISABLE"))
		c |= CFG_DISABLED;
	if (env_on("NETACCEL_DEBUG"))
		c |= CFG_DEBUG;
	f = getenv("NETACCEL_LOG_FILE");
	__atomic_store_n(&log_file, f && *f ? f : NULL, __ATOMIC_RELAXED);
	/* Every thread computes the same value: racing stores agree. */
	__atomic_store_n(&config, c, __ATOMIC_RELEASE);
	return c;
}

__attribute__((constructor)) static void preload_init(void)
{
	socket_fn fn = (socket_fn)dlsym(RTLD_NEXT, "socket");

	read_config();
	if (fn)
		__atomic_store_n(&real_socket, fn, __ATOMIC_RELEASE);
}

/* Decimal digits of v at the end of buf; returns where they start. */
static char *fmt_uint(char *end, unsigned long v)
{
	do {
		*--end = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	return end;
}

static size_t append(char *buf, size_t len, size_t cap, const char *s)
{
	while (*s && len < cap)
		buf[len++] = *s++;
	return len;
}

/* "netaccel: pid P: socket F (AF_INET6) tagged" or "... not tagged: why",
 * in one write() so that lines of many processes do not interleave. */
static void log_socket(int fd, int domain, int err)
{
	char line[160], num[24];
	const char *path = __atomic_load_n(&log_file, __ATOMIC_RELAXED);
	size_t n = 0;
	int out = STDERR_FILENO;

	n = append(line, n, sizeof(line), "netaccel: pid ");
	num[sizeof(num) - 1] = 0;
	n = append(line, n, sizeof(line), fmt_uint(num + sizeof(num) - 1, (unsigned long)getpid()));
	n = append(line, n, sizeof(line), ": socket ");
	n = append(line, n, sizeof(line), fmt_uint(num + sizeof(num) - 1, (unsigned long)fd));
	n = append(line, n, sizeof(line), domain == AF_INET ? " (AF_INET) " : " (AF_INET6) ");
	if (!err)
		n = append(line, n, sizeof(line), "tagged for acceleration\n");
	else if (err == ENOPROTOOPT)
		n = append(line, n, sizeof(line), "not tagged: its cgroup is not enrolled in netaccel\n");
	else {
		n = append(line, n, sizeof(line), "not tagged: error ");
		n = append(line, n, sizeof(line), fmt_uint(num + sizeof(num) - 1, (unsigned long)err));
		n = append(line, n, sizeof(line), "\n");
	}
	if (path) {
		out = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
		if (out < 0)
			return;
	}
	/* A failed write has nowhere to be reported. */
	n = (size_t)write(out, line, n);
	if (path)
		close(out);
}

static int is_tcp(int domain, int type, int protocol)
{
	if (domain != AF_INET && domain != AF_INET6)
		return 0;
	if ((type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC)) != SOCK_STREAM)
		return 0;
	return protocol == 0 || protocol == IPPROTO_TCP;
}

EXPORT int socket(int domain, int type, int protocol)
{
	socket_fn fn = __atomic_load_n(&real_socket, __ATOMIC_ACQUIRE);
	int fd, cfg, saved, tag = NETACCEL_TAG_ON, err = 0;

	fd = fn ? fn(domain, type, protocol) :
		  (int)syscall(SYS_socket, domain, type, protocol);
	if (fd < 0 || !is_tcp(domain, type, protocol))
		return fd;
	cfg = read_config();
	if (cfg & CFG_DISABLED)
		return fd;

	saved = errno;
	if (setsockopt(fd, SOL_NETACCEL, NETACCEL_TAG, &tag, sizeof(tag)) < 0)
		err = errno;
	if (cfg & CFG_DEBUG)
		log_socket(fd, domain, err);
	errno = saved;
	return fd;
}
