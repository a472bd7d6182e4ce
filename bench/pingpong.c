// SPDX-License-Identifier: GPL-2.0-only
/*
 * netaccel-pingpong: TCP round trips between two threads of one process on
 * loopback, optionally from inside a cgroup, timed one by one.
 *
 *   netaccel-pingpong [--cgroup DIR] [--size BYTES] [--count N] [--warmup N]
 *                     [--ipv6] [--json]
 *
 * Prints p50, p99 and mean round-trip time, round trips per second and CPU
 * time per round trip (both threads, user + system).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "na_cgroup.h"

struct opts {
	const char *cgroup;
	size_t size;
	long count;
	long warmup;
	int ipv6;
	int json;
};

struct server {
	int lfd;
	size_t size;
	long rounds;
	int err;
};

static int die(const char *what)
{
	fprintf(stderr, "netaccel-pingpong: %s: %s\n", what, strerror(errno));
	exit(1);
}

static int read_full(int fd, char *buf, size_t n)
{
	size_t got = 0;
	ssize_t r;

	while (got < n) {
		r = read(fd, buf + got, n - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		got += (size_t)r;
	}
	return 0;
}

static int write_full(int fd, const char *buf, size_t n)
{
	size_t done = 0;
	ssize_t r;

	while (done < n) {
		r = write(fd, buf + done, n - done);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		done += (size_t)r;
	}
	return 0;
}

static void *serve(void *arg)
{
	struct server *s = arg;
	char *buf = malloc(s->size);
	int fd, one = 1;
	long i;

	fd = accept(s->lfd, NULL, NULL);
	if (fd < 0 || !buf) {
		s->err = errno ? errno : ENOMEM;
		free(buf);
		return NULL;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	for (i = 0; i < s->rounds; i++) {
		if (read_full(fd, buf, s->size) || write_full(fd, buf, s->size)) {
			s->err = errno ? errno : EPIPE;
			break;
		}
	}
	close(fd);
	free(buf);
	return NULL;
}

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

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void usage(FILE *f)
{
	fprintf(f, "Usage: netaccel-pingpong [--cgroup DIR] [--size BYTES] [--count N] [--warmup N] [--ipv6] [--json]\n");
}

static void parse(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{ "cgroup", required_argument, NULL, 'c' },
		{ "size", required_argument, NULL, 's' },
		{ "count", required_argument, NULL, 'n' },
		{ "warmup", required_argument, NULL, 'w' },
		{ "ipv6", no_argument, NULL, '6' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	char *end;
	int c;

	while ((c = getopt_long(argc, argv, "c:s:n:w:6jh", lo, NULL)) != -1) {
		errno = 0;
		switch (c) {
		case 'c':
			o->cgroup = optarg;
			break;
		case 's':
			o->size = strtoul(optarg, &end, 10);
			if (*end || !o->size || o->size > (64u << 20))
				goto bad;
			break;
		case 'n':
		case 'w':
			*(c == 'n' ? &o->count : &o->warmup) = strtol(optarg, &end, 10);
			if (*end || errno || (c == 'n' ? o->count <= 0 : o->warmup < 0))
				goto bad;
			break;
		case '6':
			o->ipv6 = 1;
			break;
		case 'j':
			o->json = 1;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			exit(2);
		}
	}
	if (optind == argc)
		return;
bad:
	fprintf(stderr, "netaccel-pingpong: invalid argument '%s'\n",
		optind < argc ? argv[optind] : optarg);
	exit(2);
}

int main(int argc, char **argv)
{
	struct opts o = { .size = 1024, .count = 20000, .warmup = 1000 };
	struct sockaddr_storage ss = { 0 };
	socklen_t sl = sizeof(ss);
	struct server srv = { 0 };
	double *lat, t0, t1, c0, c1, sum = 0;
	int fd, one = 1, fam;
	pthread_t th;
	char *buf;
	long i;

	parse(argc, argv, &o);
	if (o.cgroup) {
		int err = na_cgroup_enter(o.cgroup, 0);

		if (err) {
			errno = -err;
			die(o.cgroup);
		}
	}
	fam = o.ipv6 ? AF_INET6 : AF_INET;
	if (o.ipv6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

		a->sin6_family = AF_INET6;
		a->sin6_addr = in6addr_loopback;
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;

		a->sin_family = AF_INET;
		a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	}
	srv.lfd = socket(fam, SOCK_STREAM, 0);
	if (srv.lfd < 0 || bind(srv.lfd, (struct sockaddr *)&ss, sizeof(ss)) ||
	    listen(srv.lfd, 1) || getsockname(srv.lfd, (struct sockaddr *)&ss, &sl))
		die("listen");
	srv.size = o.size;
	srv.rounds = o.warmup + o.count;
	if (pthread_create(&th, NULL, serve, &srv))
		die("thread");

	fd = socket(fam, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&ss, sl))
		die("connect");
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	buf = calloc(1, o.size);
	lat = calloc(o.count, sizeof(*lat));
	if (!buf || !lat)
		die("memory");

	for (i = 0; i < o.warmup; i++)
		if (write_full(fd, buf, o.size) || read_full(fd, buf, o.size))
			die("round trip");
	c0 = cpu_us();
	t0 = now_us();
	for (i = 0; i < o.count; i++) {
		double s = now_us();

		if (write_full(fd, buf, o.size) || read_full(fd, buf, o.size))
			die("round trip");
		lat[i] = now_us() - s;
	}
	t1 = now_us();
	c1 = cpu_us();
	close(fd);
	pthread_join(th, NULL);
	close(srv.lfd);
	if (srv.err) {
		errno = srv.err;
		die("server");
	}

	for (i = 0; i < o.count; i++)
		sum += lat[i];
	qsort(lat, o.count, sizeof(*lat), cmp_double);
	printf(o.json ? "{\"size\": %zu, \"count\": %ld, \"p50_us\": %.2f, \"p99_us\": %.2f, "
			"\"mean_us\": %.2f, \"rtt_per_s\": %.0f, \"cpu_us_per_rtt\": %.2f}\n"
		      : "size=%zu count=%ld p50_us=%.2f p99_us=%.2f mean_us=%.2f rtt_per_s=%.0f cpu_us_per_rtt=%.2f\n",
	       o.size, o.count, lat[o.count / 2], lat[(long)(o.count * 0.99)], sum / o.count,
	       o.count / ((t1 - t0) / 1e6), (c1 - c0) / o.count);
	free(lat);
	free(buf);
	return 0;
}
