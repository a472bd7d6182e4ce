// SPDX-License-Identifier: GPL-2.0-only
/*
 * The two ends of a measurement, each its own process (the driver
 * re-executes itself with --worker, so that a worker can start in any
 * cgroup or network namespace, or under `netaccel-ctl run`).
 *
 *   server: listens, prints "listen <port>", serves one job, prints
 *           "cpu <us>" (its CPU time over the timed part).
 *   client: connects, times every operation, prints one "result" line.
 *
 * Operations: rr sends size bytes and reads them back; stream writes
 * size-byte chunks for some seconds (the server acknowledges EOF with one
 * byte, so the client's clock covers delivery); crr connects, sends one
 * size-byte request, reads the reply and the server's close; conns keeps
 * many connections open, each in its own ping-pong of size-byte messages,
 * all at once (an epoll loop at each end).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

#define IO_TIMEOUT_MS 20000
#define READ_CHUNK (256 * 1024)
#define PAGE_BYTES 4096

static const char *const kinds[] = { "rr", "stream", "crr", "conns" };

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static double cpu_us(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 +
	       ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
}

/* Wait for fd to become ready; -ETIMEDOUT after IO_TIMEOUT_MS. */
static int wait_ready(int fd, short ev)
{
	struct pollfd p = { .fd = fd, .events = ev };
	int r;

	do {
		r = poll(&p, 1, IO_TIMEOUT_MS);
	} while (r < 0 && errno == EINTR);
	return r > 0 ? 0 : r == 0 ? -ETIMEDOUT : -errno;
}

/*
 * Every socket is non-blocking and waits in poll(), as event-driven servers
 * do: netaccel accelerates only sockets whose reads cannot tell the fast
 * path from TCP (docs/limitations.md), and the same code runs every
 * variant, so plain TCP and AF_UNIX pay the same poll() calls.
 */
static ssize_t read_some(int fd, void *buf, size_t n)
{
	for (;;) {
		ssize_t r = read(fd, buf, n);
		int err;

		if (r >= 0)
			return r;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			return -errno;
		err = wait_ready(fd, POLLIN);
		if (err)
			return err;
	}
}

/* A reply is not there yet right after the request: wait, then read. */
static int read_full(int fd, void *buf, size_t n)
{
	char *p = buf;

	while (n) {
		int err = wait_ready(fd, POLLIN);
		ssize_t r;

		if (err)
			return err;
		r = read_some(fd, p, n);
		if (r < 0)
			return (int)r;
		if (r == 0)
			return -ENODATA;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

static int write_full(int fd, const void *buf, size_t n)
{
	const char *p = buf;

	while (n) {
		ssize_t r = write(fd, p, n);
		int err;

		if (r > 0) {
			p += r;
			n -= (size_t)r;
			continue;
		}
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && errno != EAGAIN)
			return -errno;
		err = wait_ready(fd, POLLOUT);
		if (err)
			return err;
	}
	return 0;
}

static int make_addr(const struct na_bench_job *j, unsigned port,
		     struct sockaddr_storage *ss, socklen_t *len)
{
	memset(ss, 0, sizeof(*ss));
	if (!strcmp(j->family, "unix")) {
		struct sockaddr_un *un = (struct sockaddr_un *)ss;
		size_t n = strlen(j->addr);

		/* Abstract name: nothing to remove afterwards. */
		if (n + 1 > sizeof(un->sun_path))
			return -ENAMETOOLONG;
		un->sun_family = AF_UNIX;
		memcpy(un->sun_path + 1, j->addr, n);
		*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n);
		return 0;
	}
	if (!strcmp(j->family, "inet")) {
		struct sockaddr_in *in = (struct sockaddr_in *)ss;

		in->sin_family = AF_INET;
		in->sin_port = htons(port);
		*len = sizeof(*in);
		return inet_pton(AF_INET, j->addr, &in->sin_addr) == 1 ? 0 : -EINVAL;
	}
	if (!strcmp(j->family, "inet6")) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		*len = sizeof(*in6);
		return inet_pton(AF_INET6, j->addr, &in6->sin6_addr) == 1 ? 0 : -EINVAL;
	}
	return -EAFNOSUPPORT;
}

static void nodelay(int fd, const struct na_bench_job *j)
{
	int one = 1;

	if (strcmp(j->family, "unix"))
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static int do_connect(const struct na_bench_job *j)
{
	struct sockaddr_storage ss;
	socklen_t len, elen = sizeof(int);
	int fd, err, soerr = 0;

	err = make_addr(j, j->port, &ss, &len);
	if (err)
		return err;
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&ss, len) < 0) {
		err = errno == EINPROGRESS ? wait_ready(fd, POLLOUT) : -errno;
		if (!err && getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &elen) < 0)
			err = -errno;
		if (!err)
			err = -soerr;
		if (err) {
			close(fd);
			return err;
		}
	}
	nodelay(fd, j);
	return fd;
}

static int do_accept(int lfd, const struct na_bench_job *j)
{
	int fd, err = wait_ready(lfd, POLLIN);

	if (err)
		return err;
	fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0)
		return -errno;
	nodelay(fd, j);
	return fd;
}

/* crr: the reply can be larger than the request (an HTTP response). */
static size_t reply_size(const struct na_bench_job *j)
{
	return j->reply ? j->reply : j->size;
}

static size_t buf_size(const struct na_bench_job *j)
{
	size_t n = j->size > reply_size(j) ? j->size : reply_size(j);

	return n > READ_CHUNK ? n : READ_CHUNK;
}

/* ---- server ------------------------------------------------------------- */

/*
 * A server that has served a connection before: the client's first,
 * untimed connection exchanges a byte each way. (netaccel joins a
 * listener's accepted sockets once one of them was seen reading
 * non-blocking; every variant does the same.)
 */
static int serve_prime(int lfd, const struct na_bench_job *j)
{
	int fd = do_accept(lfd, j), err;
	char b;

	if (fd < 0)
		return fd;
	err = read_full(fd, &b, 1);
	if (!err)
		err = write_full(fd, &b, 1);
	if (!err && read_some(fd, &b, 1) != 0)
		err = -EPROTO;	/* the client closes */
	close(fd);
	return err;
}

static int client_prime(const struct na_bench_job *j)
{
	int fd = do_connect(j), err;
	char b = 'p';

	if (fd < 0)
		return fd;
	err = write_full(fd, &b, 1);
	if (!err)
		err = read_full(fd, &b, 1);
	close(fd);
	return err;
}

static int serve_rr(int lfd, const struct na_bench_job *j, char *buf, double *c0)
{
	int err = serve_prime(lfd, j), fd;

	if (err)
		return err;
	fd = do_accept(lfd, j);
	if (fd < 0)
		return fd;
	for (long i = 0; i < j->warmup + j->count && !err; i++) {
		if (i == j->warmup)
			*c0 = cpu_us();
		err = read_full(fd, buf, j->size);
		if (!err)
			err = write_full(fd, buf, j->size);
	}
	close(fd);
	return err;
}

/* Bytes of the untimed stream a server serves first (job.served). */
#define SERVED_WRITES (8 * NA_BENCH_STREAM_WARMUP)

/* Untimed: read n of the job's writes on fd into buf, READ_CHUNK at a
 * time, then acknowledge them with one byte. */
static int read_then_ack(int fd, const struct na_bench_job *j, char *buf, int n)
{
	size_t want = (size_t)n * j->size, got = 0;
	ssize_t r;

	while (got < want && (r = read_some(fd, buf, want - got < READ_CHUNK ? want - got : READ_CHUNK)) > 0)
		got += (size_t)r;
	return got < want ? -ENODATA : write_full(fd, "a", 1);
}

/* An untimed stream of the job's writes on a connection of its own, read
 * into the same buffer, acknowledged with one byte. */
static int serve_served(int lfd, const struct na_bench_job *j, char *buf)
{
	int fd = do_accept(lfd, j), err;

	if (fd < 0)
		return fd;
	err = read_then_ack(fd, j, buf, SERVED_WRITES);
	if (!err && read_some(fd, buf, 1) != 0)
		err = -EPROTO;	/* the client closes */
	close(fd);
	return err;
}

static int serve_stream(int lfd, const struct na_bench_job *j, char *buf, double *c0)
{
	int err = serve_prime(lfd, j), fd;
	ssize_t r;

	if (!err && j->served)
		err = serve_served(lfd, j, buf);
	if (err)
		return err;
	fd = do_accept(lfd, j);
	if (fd < 0)
		return fd;
	err = read_then_ack(fd, j, buf, NA_BENCH_STREAM_WARMUP);
	*c0 = cpu_us();
	while (!err && (r = read_some(fd, buf, READ_CHUNK)) != 0)
		if (r < 0)
			err = (int)r;
	if (!err)
		err = write_full(fd, "d", 1);
	close(fd);
	return err;
}

static int serve_crr(int lfd, const struct na_bench_job *j, char *buf, double *c0)
{
	int err = 0;

	for (long i = 0; i < j->warmup + j->count && !err; i++) {
		int fd;

		if (i == j->warmup)
			*c0 = cpu_us();
		fd = do_accept(lfd, j);
		if (fd < 0)
			return fd;
		/* The server closes first: its side keeps TIME_WAIT, so the
		 * client's ports are free again at once. */
		err = read_full(fd, buf, j->size);
		if (!err)
			err = write_full(fd, buf, reply_size(j));
		close(fd);
	}
	return err;
}

/* conns: echo whatever each of the job's connections sends, until every
 * one has closed. */
static int serve_conns(int lfd, const struct na_bench_job *j, char *buf, double *c0)
{
	int ep = epoll_create1(EPOLL_CLOEXEC), open_conns = 0, accepted = 0, err = 0;

	if (ep < 0)
		return -errno;
	while (accepted < j->conns && !err) {
		int fd = do_accept(lfd, j);

		if (fd < 0) {
			err = fd;
			break;
		}
		accepted++;
		open_conns++;
		epoll_ctl(ep, EPOLL_CTL_ADD, fd, &(struct epoll_event){ .events = EPOLLIN, .data.fd = fd });
	}
	*c0 = cpu_us();
	while (!err && open_conns) {
		struct epoll_event ev[64];
		int n = epoll_wait(ep, ev, 64, IO_TIMEOUT_MS);

		if (n <= 0) {
			err = n ? -errno : -ETIMEDOUT;
			break;
		}
		for (int i = 0; i < n && !err; i++) {
			int fd = ev[i].data.fd;
			ssize_t r = read(fd, buf, j->size);

			if (r > 0) {
				err = write_full(fd, buf, (size_t)r);
			} else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
				close(fd);
				open_conns--;
			}
		}
	}
	close(ep);
	return err;
}

/* The server's buffer: from calloc(), as most programs get theirs, or
 * rdoff bytes past a page boundary. Where a reader's buffer starts against
 * where the kernel's copy of the data does changes how fast the kernel
 * copies on some CPUs (docs/performance.md). Freed with free(*base). */
static char *server_buf(const struct na_bench_job *j, void **base)
{
	if (j->rdoff < 0) {
		*base = calloc(1, buf_size(j));
		return *base;
	}
	*base = aligned_alloc(PAGE_BYTES, buf_size(j) + PAGE_BYTES);
	if (!*base)
		return NULL;
	memset(*base, 0, buf_size(j) + PAGE_BYTES);
	return (char *)*base + j->rdoff;
}

static int run_server(const struct na_bench_job *j)
{
	struct sockaddr_storage ss;
	socklen_t len;
	double c0 = 0;
	void *base;
	char *buf = server_buf(j, &base);
	int lfd = -1, one = 1, err;

	err = buf ? make_addr(j, 0, &ss, &len) : -ENOMEM;
	if (err)
		goto out;
	lfd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (lfd < 0) {
		err = -errno;
		goto out;
	}
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&ss, len) < 0 || listen(lfd, 4096) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&ss, &len) < 0) {
		err = -errno;
		goto out;
	}
	printf("listen %u\n", ss.ss_family == AF_UNIX ? 0 :
	       ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
					      : ((struct sockaddr_in6 *)&ss)->sin6_port));
	fflush(stdout);
	if (j->kind == NA_BENCH_RR)
		err = serve_rr(lfd, j, buf, &c0);
	else if (j->kind == NA_BENCH_STREAM)
		err = serve_stream(lfd, j, buf, &c0);
	else if (j->kind == NA_BENCH_CONNS)
		err = serve_conns(lfd, j, buf, &c0);
	else
		err = serve_crr(lfd, j, buf, &c0);
	if (!err)
		printf("cpu %.1f\n", cpu_us() - c0);
out:
	if (lfd >= 0)
		close(lfd);
	free(base);
	if (err)
		fprintf(stderr, "netaccel-bench: server: %s\n", strerror(-err));
	return err ? 1 : 0;
}

/* ---- client ------------------------------------------------------------- */

struct lat {
	double *v;
	long n, cap;
};

static int lat_add(struct lat *l, double us)
{
	if (l->n == l->cap) {
		long cap = l->cap ? l->cap * 2 : 4096;
		double *v = realloc(l->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = us;
	return 0;
}

static int client_rr(const struct na_bench_job *j, char *buf, struct lat *l,
		     double *t0, double *c0)
{
	int err = client_prime(j), fd;

	if (err)
		return err;
	fd = do_connect(j);
	if (fd < 0)
		return fd;
	for (long i = 0; i < j->warmup + j->count && !err; i++) {
		double s;

		if (i == j->warmup) {
			*c0 = cpu_us();
			*t0 = now_us();
		}
		s = now_us();
		err = write_full(fd, buf, j->size);
		if (!err)
			err = read_full(fd, buf, j->size);
		if (!err && i >= j->warmup)
			err = lat_add(l, now_us() - s);
	}
	close(fd);
	return err;
}

/* Untimed: n of the job's writes on fd, then the server's one-byte
 * acknowledgement. */
static int write_then_ack(int fd, const struct na_bench_job *j, const char *buf, int n)
{
	int err = 0;
	char ack;

	for (int i = 0; i < n && !err; i++)
		err = write_full(fd, buf, j->size);
	return err ? err : read_full(fd, &ack, 1);
}

/* The client of serve_served. */
static int client_served(const struct na_bench_job *j, const char *buf)
{
	int fd = do_connect(j), err;

	if (fd < 0)
		return fd;
	err = write_then_ack(fd, j, buf, SERVED_WRITES);
	close(fd);
	return err;
}

static int client_stream(const struct na_bench_job *j, char *buf, struct lat *l,
			 double *t0, double *c0)
{
	int err = client_prime(j), fd;
	double end;
	char ack;

	if (!err && j->served)
		err = client_served(j, buf);
	if (err)
		return err;
	fd = do_connect(j);
	if (fd < 0)
		return fd;
	err = write_then_ack(fd, j, buf, NA_BENCH_STREAM_WARMUP);
	*c0 = cpu_us();
	*t0 = now_us();
	end = *t0 + j->seconds * 1e6;
	while (!err) {
		double s = now_us();

		if (s >= end)
			break;
		err = write_full(fd, buf, j->size);
		if (!err)
			err = lat_add(l, now_us() - s);
	}
	if (!err && shutdown(fd, SHUT_WR) < 0)
		err = -errno;
	if (!err)
		err = read_full(fd, &ack, 1);
	close(fd);
	return err;
}

static int client_crr(const struct na_bench_job *j, char *buf, struct lat *l,
		      double *t0, double *c0)
{
	int err = 0;

	for (long i = 0; i < j->warmup + j->count && !err; i++) {
		double s;
		int fd;

		if (i == j->warmup) {
			*c0 = cpu_us();
			*t0 = now_us();
		}
		s = now_us();
		fd = do_connect(j);
		if (fd < 0)
			return fd;
		err = write_full(fd, buf, j->size);
		if (!err)
			err = read_full(fd, buf, reply_size(j));
		if (!err && read_some(fd, buf, 1) != 0)
			err = -EPROTO;	/* the server must close after replying */
		close(fd);
		if (!err && i >= j->warmup)
			err = lat_add(l, now_us() - s);
	}
	return err;
}

/* conns: j->conns connections, each sending size bytes and waiting for
 * them back, over and over, until warmup + count messages were answered;
 * the latency of each timed one is kept. */
struct cconn {
	int fd;
	size_t got;
	double sent;
};

static int client_conns(const struct na_bench_job *j, char *buf, struct lat *l,
			double *t0, double *c0)
{
	struct cconn *c = calloc((size_t)j->conns, sizeof(*c));
	long done = 0, total = j->warmup + j->count, started = 0;
	int ep = epoll_create1(EPOLL_CLOEXEC), err = 0, k;

	if (!c || ep < 0) {
		free(c);
		return -ENOMEM;
	}
	for (k = 0; k < j->conns; k++) {
		c[k].fd = do_connect(j);
		if (c[k].fd < 0) {
			err = c[k].fd;
			break;
		}
		epoll_ctl(ep, EPOLL_CTL_ADD, c[k].fd,
			  &(struct epoll_event){ .events = EPOLLIN, .data.u32 = (uint32_t)k });
	}
	for (int i = 0; i < k && !err && started < total; i++, started++) {
		c[i].sent = now_us();
		err = write_full(c[i].fd, buf, j->size);
	}
	while (!err && done < total) {
		struct epoll_event ev[64];
		int n = epoll_wait(ep, ev, 64, IO_TIMEOUT_MS);

		if (n <= 0) {
			err = n ? -errno : -ETIMEDOUT;
			break;
		}
		for (int i = 0; i < n && !err; i++) {
			struct cconn *x = &c[ev[i].data.u32];
			ssize_t r = read(x->fd, buf, j->size - x->got);

			if (r <= 0) {
				if (r == 0)
					err = -ENODATA;
				else if (errno != EAGAIN && errno != EINTR)
					err = -errno;
				continue;
			}
			if ((x->got += (size_t)r) < j->size)
				continue;
			x->got = 0;
			if (done == j->warmup) {
				*c0 = cpu_us();
				*t0 = now_us();
			}
			if (done++ >= j->warmup)
				err = lat_add(l, now_us() - x->sent);
			if (!err && started < total) {
				started++;
				x->sent = now_us();
				err = write_full(x->fd, buf, j->size);
			}
		}
	}
	for (int i = 0; i < k; i++)
		close(c[i].fd);
	close(ep);
	free(c);
	return err;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static int run_client(const struct na_bench_job *j)
{
	char *buf = calloc(1, buf_size(j));
	struct lat l = { 0 };
	double t0 = 0, c0 = 0, t1, c1, sum = 0;
	int err;

	if (!buf)
		return 1;
	memset(buf, 'x', buf_size(j));
	if (j->kind == NA_BENCH_RR)
		err = client_rr(j, buf, &l, &t0, &c0);
	else if (j->kind == NA_BENCH_STREAM)
		err = client_stream(j, buf, &l, &t0, &c0);
	else if (j->kind == NA_BENCH_CONNS)
		err = client_conns(j, buf, &l, &t0, &c0);
	else
		err = client_crr(j, buf, &l, &t0, &c0);
	t1 = now_us();
	c1 = cpu_us();
	if (!err && !l.n)
		err = -ENODATA;
	if (!err) {
		for (long i = 0; i < l.n; i++)
			sum += l.v[i];
		qsort(l.v, l.n, sizeof(*l.v), cmp_double);
		printf("result ops=%ld p50=%.3f p99=%.3f mean=%.3f elapsed=%.1f cpu=%.1f\n",
		       l.n, l.v[l.n / 2], l.v[(long)(l.n * 0.99)], sum / l.n,
		       t1 - t0, c1 - c0);
	} else {
		fprintf(stderr, "netaccel-bench: client: %s\n", strerror(-err));
	}
	free(l.v);
	free(buf);
	return err ? 1 : 0;
}

/* ---- command line ------------------------------------------------------- */

int na_bench_job_argv(const struct na_bench_job *j, const char *role,
		      char **argv, size_t max, char *buf, size_t buflen)
{
	int n = snprintf(buf, buflen, "%s%c%s%c%s%c%s%c%u%c%zu%c%zu%c%ld%c%d%c%ld%c%ld%c%g%c%d",
			 role, 0, kinds[j->kind], 0, j->family, 0, j->addr, 0,
			 j->port, 0, j->size, 0, j->reply, 0, j->rdoff, 0, j->served, 0,
			 j->count, 0, j->warmup, 0, j->seconds, 0, j->conns);
	size_t k = 0;

	if (n < 0 || (size_t)n >= buflen || max < 15)
		return -E2BIG;
	argv[k++] = (char *)"--worker";
	for (char *p = buf; p <= buf + n && k < 14; p += strlen(p) + 1)
		argv[k++] = p;
	argv[k] = NULL;
	return (int)k;
}

int na_bench_worker(int argc, char **argv)
{
	struct na_bench_job j = { 0 };
	char *end;

	if (argc != 13)
		goto bad;
	for (j.kind = 0; j.kind < 4 && strcmp(argv[1], kinds[j.kind]); j.kind++)
		;
	if (j.kind == 4)
		goto bad;
	snprintf(j.family, sizeof(j.family), "%s", argv[2]);
	snprintf(j.addr, sizeof(j.addr), "%s", argv[3]);
	j.port = (unsigned)strtoul(argv[4], &end, 10);
	j.size = strtoul(argv[5], &end, 10);
	j.reply = strtoul(argv[6], &end, 10);
	j.rdoff = strtol(argv[7], &end, 10);
	j.served = (int)strtol(argv[8], &end, 10);
	j.count = strtol(argv[9], &end, 10);
	j.warmup = strtol(argv[10], &end, 10);
	j.seconds = strtod(argv[11], &end);
	j.conns = (int)strtol(argv[12], &end, 10);
	if ((j.kind == NA_BENCH_CONNS && (j.conns < 1 || j.conns > 20000)) || !j.size || j.count < 0 || j.warmup < 0 || j.rdoff < -1 || j.rdoff >= PAGE_BYTES ||
	    (j.served != 0 && j.served != 1))
		goto bad;
	if (!strcmp(argv[0], "server"))
		return run_server(&j);
	if (!strcmp(argv[0], "client"))
		return run_client(&j);
bad:
	fprintf(stderr, "netaccel-bench: bad worker arguments (internal use)\n");
	return 2;
}
