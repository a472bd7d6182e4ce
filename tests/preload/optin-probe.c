// SPDX-License-Identifier: GPL-2.0-only
/*
 * optin-probe: what a program sees of netaccel's opt-in tagging, for the
 * end-to-end tests (tests/e2e/opt-in.sh). It is an ordinary program: it
 * does not link the shim; the tests run it with and without LD_PRELOAD, in
 * enrolled cgroups and outside them. Each subcommand checks what it can by
 * itself and exits 1 with a line on stderr when a check fails.
 *
 *   tag                 tag of a new TCP socket: 1, 0, -1 or an errno name
 *   table on|off        socket() over families/types/protocols/flags: only
 *                       TCP is tagged (on) or nothing is (off); results,
 *                       SO_PROTOCOL and errno as with the raw system call
 *   pair [opts]         a connection to itself, 200 KB each way checked;
 *                       prints "client=A accepted=B" (1, 0 or errno name)
 *       --listener-tag N / --client-tag N   set a tag first (-1, 0, 1)
 *   fork                the tag of a socket made in a forked child
 *   threads N           N threads make their first sockets at once, and
 *                       fork while others are in socket(); all tagged
 *   signal              socket() from a signal handler is tagged
 *   sockopts            ordinary socket options; prints every result, to
 *                       be compared with and without netaccel
 *   malformed           malformed calls on netaccel's level fail with the
 *                       right errno and change nothing
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "netaccel.h"

static int failures;

#define FAIL(...)                                                         \
	do {                                                              \
		fprintf(stderr, "optin-probe: " __VA_ARGS__);             \
		fputc('\n', stderr);                                      \
		failures++;                                               \
	} while (0)

static const char *errname(int e)
{
	switch (e) {
	case ENOPROTOOPT: return "ENOPROTOOPT";
	case EOPNOTSUPP: return "EOPNOTSUPP";
	case EINVAL: return "EINVAL";
	case EPERM: return "EPERM";
	case EFAULT: return "EFAULT";
	default: return strerror(e);
	}
}

/* The tag as text: "1", "0", "-1", or the errno's name. */
static const char *tag_of(int fd, char *buf, size_t len)
{
	int tag;

	if (netaccel_get_tag(fd, &tag))
		return errname(errno);
	snprintf(buf, len, "%d", tag);
	return buf;
}

static const char *accel_of(int fd, char *buf, size_t len)
{
	int r = netaccel_is_accelerated(fd);

	if (r < 0)
		return errname(errno);
	snprintf(buf, len, "%d", r);
	return buf;
}

/* Prints the tag of a new TCP socket; with quiet, exits 0 only if it is 1. */
static int new_socket_tag(int quiet)
{
	char b[16];
	const char *t;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0)
		return 1;
	t = tag_of(fd, b, sizeof(b));
	close(fd);
	if (quiet)
		return strcmp(t, "1") != 0;
	printf("%s\n", t);
	return 0;
}

static int cmd_tag(void)
{
	return new_socket_tag(0);
}

static int cmd_table(int want_on)
{
	static const struct { int v; const char *n; } fams[] = {
		{ AF_INET, "AF_INET" }, { AF_INET6, "AF_INET6" }, { AF_UNIX, "AF_UNIX" } };
	static const struct { int v; const char *n; } types[] = {
		{ SOCK_STREAM, "STREAM" }, { SOCK_DGRAM, "DGRAM" } };
	static const int protos[] = { 0, IPPROTO_TCP };
	static const int flags[] = { 0, SOCK_NONBLOCK, SOCK_CLOEXEC, SOCK_NONBLOCK | SOCK_CLOEXEC };
	size_t f, t, p, g;
	char b[16];

	for (f = 0; f < 3; f++)
		for (t = 0; t < 2; t++)
			for (p = 0; p < 2; p++)
				for (g = 0; g < 4; g++) {
					int type = types[t].v | flags[g], proto = protos[p];
					int fd, rfd, e, re, pa = -1, pb = -1, tcp;
					socklen_t l = sizeof(int);
					const char *tag;
					char what[96];

					snprintf(what, sizeof(what), "socket(%s, %s|%#x, %d)", fams[f].n,
						 types[t].n, flags[g], proto);
					errno = 4242;
					fd = socket(fams[f].v, type, proto);
					e = errno;
					rfd = (int)syscall(SYS_socket, fams[f].v, type, proto);
					re = errno;
					if ((fd < 0) != (rfd < 0))
						FAIL("%s: returned %d, the system call %d", what, fd, rfd);
					if (fd < 0) {
						if (e != re)
							FAIL("%s: errno %d, the system call's %d", what, e, re);
						if (rfd >= 0)
							close(rfd);
						continue;
					}
					if (e != 4242)
						FAIL("%s: errno changed to %d on success", what, e);
					getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &pa, &l);
					l = sizeof(int);
					getsockopt(rfd, SOL_SOCKET, SO_PROTOCOL, &pb, &l);
					if (pa != pb)
						FAIL("%s: SO_PROTOCOL %d, the system call's %d", what, pa, pb);
					tcp = fams[f].v != AF_UNIX && types[t].v == SOCK_STREAM;
					tag = tag_of(fd, b, sizeof(b));
					if (want_on && tcp && strcmp(tag, "1"))
						FAIL("%s: not tagged (tag %s)", what, tag);
					if ((!want_on || !tcp) && !strcmp(tag, "1"))
						FAIL("%s: tagged, and should not be", what);
					close(fd);
					close(rfd);
				}
	return failures ? 1 : 0;
}

static int parse_tag(const char *s)
{
	if (!strcmp(s, "1") || !strcmp(s, "0") || !strcmp(s, "-1"))
		return atoi(s);
	fprintf(stderr, "optin-probe: a tag is -1, 0 or 1, not %s\n", s);
	exit(2);
}

/* Wait until fd is ready for ev (bounded: 10 s). */
static int ready(int fd, short ev)
{
	struct pollfd p = { .fd = fd, .events = ev };

	return poll(&p, 1, 10000) == 1 ? 0 : -1;
}

/* Move n bytes from a to b and check them; both are non-blocking, as in
 * an event-driven program (only those take the fast path). */
static int shuttle(int a, int b, size_t n, unsigned char seed)
{
	unsigned char out[4096], in[4096];
	size_t done = 0, got = 0, i, k;
	ssize_t r;

	while (done < n) {
		k = n - done < sizeof(out) ? n - done : sizeof(out);
		for (i = 0; i < k; i++)
			out[i] = (unsigned char)(seed + done + i);
		if (ready(a, POLLOUT) || write(a, out, k) != (ssize_t)k)
			return -1;
		done += k;
		while (got < done) {
			if (ready(b, POLLIN))
				return -1;
			r = read(b, in, sizeof(in) < done - got ? sizeof(in) : done - got);
			if (r < 0 && errno == EAGAIN)
				continue;
			if (r <= 0)
				return -1;
			for (i = 0; i < (size_t)r; i++)
				if (in[i] != (unsigned char)(seed + got + i))
					return -1;
			got += r;
		}
	}
	return 0;
}

/*
 * A listener's accepted sockets join only once one of them was seen reading
 * non-blocking: one connection that exchanges a byte each way first, tagged
 * like the client (ctag 9: not set).
 */
static int prime(int l, const struct sockaddr_in *sa, int ctag)
{
	int c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), s = -1, err = -1;
	char b = 'p';

	if (c < 0 || (ctag != 9 && netaccel_set_tag(c, ctag)))
		goto out;
	if ((connect(c, (const struct sockaddr *)sa, sizeof(*sa)) && errno != EINPROGRESS) ||
	    ready(c, POLLOUT) || ready(l, POLLIN) ||
	    (s = accept4(l, NULL, NULL, SOCK_NONBLOCK)) < 0)
		goto out;
	if (write(c, &b, 1) != 1 || ready(s, POLLIN) || read(s, &b, 1) != 1 ||
	    write(s, &b, 1) != 1 || ready(c, POLLIN) || read(c, &b, 1) != 1)
		goto out;
	err = 0;
out:
	if (c >= 0)
		close(c);
	if (s >= 0)
		close(s);
	return err;
}

static int cmd_pair(int argc, char **argv)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sa);
	int ltag = 9, ctag = 9, l, c, s, i;
	char b1[16], b2[16];

	for (i = 0; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--listener-tag"))
			ltag = parse_tag(argv[i + 1]);
		else if (!strcmp(argv[i], "--client-tag"))
			ctag = parse_tag(argv[i + 1]);
	}
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	l = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (ltag != 9 && netaccel_set_tag(l, ltag))
		FAIL("setting the listener's tag: %s", errname(errno));
	if (ctag != 9 && netaccel_set_tag(c, ctag))
		FAIL("setting the client's tag: %s", errname(errno));
	if (bind(l, (struct sockaddr *)&sa, sizeof(sa)) || listen(l, 1) ||
	    getsockname(l, (struct sockaddr *)&sa, &sl) || prime(l, &sa, ctag) ||
	    (connect(c, (struct sockaddr *)&sa, sizeof(sa)) && errno != EINPROGRESS) ||
	    ready(c, POLLOUT) || ready(l, POLLIN) ||
	    (s = accept4(l, NULL, NULL, SOCK_NONBLOCK)) < 0) {
		perror("optin-probe: pair");
		return 1;
	}
	if (shuttle(c, s, 200000, 1) || shuttle(s, c, 200000, 7))
		FAIL("bytes arrived wrong or not at all");
	printf("client=%s accepted=%s\n", accel_of(c, b1, sizeof(b1)), accel_of(s, b2, sizeof(b2)));
	close(c);
	close(s);
	close(l);
	return failures ? 1 : 0;
}

static int cmd_fork(void)
{
	int st;
	pid_t pid = fork();

	if (pid == 0)
		_exit(cmd_tag());
	waitpid(pid, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}

static pthread_barrier_t barrier;
static volatile int stop;

static void *first_socket(void *arg)
{
	int fd, tag = -5;

	pthread_barrier_wait(&barrier);
	fd = socket(AF_INET6, SOCK_STREAM, 0);
	if (fd < 0 || netaccel_get_tag(fd, &tag) || tag != 1)
		__atomic_add_fetch((int *)arg, 1, __ATOMIC_RELAXED);
	close(fd);
	return NULL;
}

static void *socket_loop(void *arg)
{
	while (!stop) {
		int fd = socket(AF_INET, SOCK_STREAM, 0);

		if (fd < 0)
			__atomic_add_fetch((int *)arg, 1, __ATOMIC_RELAXED);
		close(fd);
	}
	return NULL;
}

static int cmd_threads(int n)
{
	pthread_t th[64];
	int bad = 0, i, st;

	if (n < 1 || n > 64)
		n = 16;
	pthread_barrier_init(&barrier, NULL, (unsigned)n);
	for (i = 0; i < n; i++)
		pthread_create(&th[i], NULL, first_socket, &bad);
	for (i = 0; i < n; i++)
		pthread_join(th[i], NULL);
	if (bad)
		FAIL("%d of %d threads' first sockets were not tagged", bad, n);

	/* Fork while other threads are inside socket(): the child must be
	 * able to make and tag sockets (no lock held across fork). */
	bad = 0;
	for (i = 0; i < 4; i++)
		pthread_create(&th[i], NULL, socket_loop, &bad);
	for (i = 0; i < 50; i++) {
		pid_t pid = fork();

		if (pid == 0) {
			alarm(10);
			_exit(new_socket_tag(1));
		}
		if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st))
			bad++;
	}
	stop = 1;
	for (i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	if (bad)
		FAIL("%d forks while threads were in socket() went wrong", bad);
	return failures ? 1 : 0;
}

static volatile sig_atomic_t handler_tag = -9;

static void on_signal(int sig)
{
	int saved = errno, fd = socket(AF_INET, SOCK_STREAM, 0), tag = -8;

	(void)sig;
	if (fd >= 0 && !netaccel_get_tag(fd, &tag))
		handler_tag = tag;
	close(fd);
	errno = saved;
}

static int cmd_signal(void)
{
	signal(SIGUSR1, on_signal);
	raise(SIGUSR1);
	if (handler_tag != 1)
		FAIL("a socket made in a signal handler has tag %d", (int)handler_tag);
	return failures ? 1 : 0;
}

/* One result line: return value and errno, and what came back. */
static void report(const char *what, int r, const void *val, socklen_t len)
{
	const unsigned char *p = val;
	socklen_t i;

	printf("%s: %s", what, r < 0 ? errname(errno) : "ok");
	if (r >= 0 && val) {
		printf(" len=%u", len);
		for (i = 0; i < len && i < 16; i++)
			printf(" %02x", p[i]);
	}
	putchar('\n');
}

static int cmd_sockopts(void)
{
	static char big[3 * 4096 + 100];
	struct tcp_info ti;
	int fd = socket(AF_INET, SOCK_STREAM, 0), v, r;
	socklen_t l;
	char cc[16];

	v = 65536;
	report("set SO_SNDBUF", setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, sizeof(v)), NULL, 0);
	l = sizeof(v);
	r = getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, &l);
	report("get SO_SNDBUF", r, &v, l);
	v = 1;
	report("set TCP_NODELAY", setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &v, sizeof(v)), NULL, 0);
	l = sizeof(v);
	r = getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &v, &l);
	report("get TCP_NODELAY", r, &v, l);
	report("set TCP_CONGESTION reno", setsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, "reno", 4), NULL, 0);
	report("set TCP_CONGESTION bogus", setsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, "bogus", 5), NULL, 0);
	l = sizeof(cc);
	memset(cc, 0, sizeof(cc));
	r = getsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, cc, &l);
	report("get TCP_CONGESTION", r, cc, l);
	v = IPTOS_LOWDELAY;
	report("set IP_TOS", setsockopt(fd, IPPROTO_IP, IP_TOS, &v, sizeof(v)), NULL, 0);
	l = sizeof(v);
	r = getsockopt(fd, IPPROTO_IP, IP_TOS, &v, &l);
	report("get IP_TOS", r, &v, l);
	l = sizeof(ti);
	r = getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &l);
	report("get TCP_INFO state", r, &ti.tcpi_state, 1);
	printf("get TCP_INFO len=%u\n", l);
	/* Values larger than a page: the kernel must see all of them. */
	memset(big, 0, sizeof(big));
	memcpy(big, "cubic", 5);
	report("set TCP_CONGESTION with a 12 KiB buffer",
	       setsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, big, sizeof(big)), NULL, 0);
	l = sizeof(cc);
	memset(cc, 0, sizeof(cc));
	r = getsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, cc, &l);
	report("get TCP_CONGESTION after", r, cc, l);
	report("set IP_OPTIONS with a 12 KiB buffer",
	       setsockopt(fd, IPPROTO_IP, IP_OPTIONS, big, sizeof(big)), NULL, 0);
	l = sizeof(big);
	r = getsockopt(fd, IPPROTO_IP, IP_OPTIONS, big, &l);
	report("get IP_OPTIONS into a 12 KiB buffer", r, big, l);
	l = sizeof(big);
	r = getsockopt(fd, IPPROTO_TCP, TCP_INFO, big, &l);
	printf("get TCP_INFO into a 12 KiB buffer: %s len=%u\n", r < 0 ? errname(errno) : "ok", l);
	close(fd);
	return 0;
}

static void expect_set(int fd, const char *what, int opt, const void *val, socklen_t len, int err)
{
	int r = setsockopt(fd, SOL_NETACCEL, opt, val, len);

	if (r == 0 && err)
		FAIL("%s: succeeded, expected %s", what, errname(err));
	else if (r < 0 && errno != err)
		FAIL("%s: %s, expected %s", what, errname(errno), err ? errname(err) : "success");
}

static int cmd_malformed(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0), udp = socket(AF_INET, SOCK_DGRAM, 0);
	int one = 1, five = 5, tag = 7, r;
	long long wide = 1;
	char two[2] = { 1, 0 };
	socklen_t l;

	if (netaccel_opt_in(fd)) {
		FAIL("opting in: %s", errname(errno));
		return 1;
	}
	expect_set(fd, "optlen 0", NETACCEL_TAG, &one, 0, EINVAL);
	expect_set(fd, "optlen 2", NETACCEL_TAG, two, 2, EINVAL);
	expect_set(fd, "optlen 8", NETACCEL_TAG, &wide, sizeof(wide), EINVAL);
	expect_set(fd, "value 5", NETACCEL_TAG, &five, sizeof(five), EINVAL);
	expect_set(fd, "unknown option 99", 99, &one, sizeof(one), ENOPROTOOPT);
	expect_set(fd, "setting the read-only NETACCEL_ACCELERATED", NETACCEL_ACCELERATED, &one,
		   sizeof(one), EINVAL);
	expect_set(udp, "tagging a UDP socket", NETACCEL_TAG, &one, sizeof(one), EOPNOTSUPP);
	l = 2;
	r = getsockopt(fd, SOL_NETACCEL, NETACCEL_TAG, two, &l);
	if (r == 0 || errno != EINVAL)
		FAIL("getsockopt with optlen 2: %s, expected EINVAL", r ? errname(errno) : "success");
	l = sizeof(tag);
	r = getsockopt(fd, SOL_NETACCEL, 99, &tag, &l);
	if (r == 0 || (errno != ENOPROTOOPT && errno != EOPNOTSUPP))
		FAIL("getsockopt of unknown option 99: %s, expected ENOPROTOOPT", r ? errname(errno) : "success");
	if (netaccel_get_tag(fd, &tag) || tag != 1)
		FAIL("the tag changed after malformed calls: %d", tag);
	if (netaccel_get_tag(udp, &tag) || tag != -1)
		FAIL("the UDP socket got a tag: %d", tag);
	return failures ? 1 : 0;
}

int main(int argc, char **argv)
{
	const char *c = argc > 1 ? argv[1] : "";

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!strcmp(c, "tag"))
		return cmd_tag();
	if (!strcmp(c, "table") && argc > 2)
		return cmd_table(!strcmp(argv[2], "on"));
	if (!strcmp(c, "pair"))
		return cmd_pair(argc - 2, argv + 2);
	if (!strcmp(c, "fork"))
		return cmd_fork();
	if (!strcmp(c, "threads"))
		return cmd_threads(argc > 2 ? atoi(argv[2]) : 16);
	if (!strcmp(c, "signal"))
		return cmd_signal();
	if (!strcmp(c, "sockopts"))
		return cmd_sockopts();
	if (!strcmp(c, "malformed"))
		return cmd_malformed();
	fprintf(stderr, "usage: optin-probe tag|table on|off|pair|fork|threads N|signal|sockopts|malformed\n");
	return 2;
}
