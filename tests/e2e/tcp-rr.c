// SPDX-License-Identifier: GPL-2.0-only
/*
 * na-tcp-rr: TCP round trips between two network namespaces, for the veth
 * redirect's A/B measurement (scripts/veth-ab).
 *
 *   na-tcp-rr server <addr> <port>               echo one connection
 *   na-tcp-rr client <addr> <port> <seconds> [<size>]
 *       prints "<round trips per second> <p50 us> <p99 us>"
 */
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_SAMPLES (1 << 22)

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int full(int fd, char *buf, size_t n, int wr)
{
	size_t done = 0;
	ssize_t r;

	while (done < n) {
		r = wr ? write(fd, buf + done, n - done) : read(fd, buf + done, n - done);
		if (r <= 0)
			return -1;
		done += (size_t)r;
	}
	return 0;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE }, *ai;
	int fd, c, one = 1;
	size_t size = argc > 5 ? strtoul(argv[5], NULL, 10) : 1, n = 0;
	char buf[65536];
	double *lat, end, t;

	if (argc < 4 || size == 0 || size > sizeof(buf) - 4 ||
	    getaddrinfo(argv[2], argv[3], &hints, &ai)) {
		fprintf(stderr, "usage: na-tcp-rr server|client <addr> <port> [<seconds> [<size>]]\n");
		return 2;
	}
	fd = socket(ai->ai_family, SOCK_STREAM, 0);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (!strcmp(argv[1], "server")) {
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) || listen(fd, 1))
			return perror("bind"), 1;
		printf("ready\n");
		fflush(stdout);
		c = accept(fd, NULL, NULL);
		setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		while (read(c, buf, 4) == 4) {	/* a 4-byte size, then that many */
			size_t len = ntohl(*(unsigned int *)buf);

			if (len > sizeof(buf) || full(c, buf, len, 0) || full(c, buf, len, 1))
				return 1;
		}
		return 0;
	}
	if (argc < 5 || connect(fd, ai->ai_addr, ai->ai_addrlen))
		return perror("connect"), 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	lat = malloc(MAX_SAMPLES * sizeof(*lat));
	if (!lat)
		return 1;
	memset(buf, 'r', sizeof(buf));
	end = now() + atof(argv[4]);
	while ((t = now()) < end && n < MAX_SAMPLES) {
		unsigned int be = htonl((unsigned int)size);

		/* size and payload in one write, as a request would be */
		memcpy(buf, &be, 4);
		if (full(fd, buf, 4 + size, 1) || full(fd, buf, size, 0))
			return 1;
		lat[n++] = now() - t;
	}
	qsort(lat, n, sizeof(*lat), cmp);
	printf("%.0f %.1f %.1f\n", n / atof(argv[4]), lat[n / 2] * 1e6, lat[n * 99 / 100] * 1e6);
	return 0;
}
