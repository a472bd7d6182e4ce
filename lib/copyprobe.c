// SPDX-License-Identifier: GPL-2.0-only
/*
 * Whether this CPU's kernel copy to user space is several times slower
 * into a buffer off the source's 32-byte alignment. On CPUs whose kernel
 * copies with a fast `rep movsb` (seen on AMD EPYC) it is: a reader of a
 * large fast-path write, whose bytes the sockmap message keeps at the start
 * of a page, then copies at a quarter of its speed on every read
 * (docs/performance.md). Where the answer is yes, the bypass marks readers
 * with such buffers, and keeps the next connections of a port whose large
 * writes went to one on TCP (NA_RX_SLOWCOPY).
 *
 * Measured through a pipe, whose pages also start at a page boundary: the
 * same kernel copy as a socket's read. The best of a few interleaved
 * rounds into a page-aligned buffer and into one 16 bytes further on,
 * 5 MiB in all, a few milliseconds.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

#define PROBE_CHUNK 65536
#define PROBE_ROUNDS 5
#define PROBE_REPS 8
#define PROBE_PAGE 4096

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Write the chunk into the pipe and read it back to dst, PROBE_REPS times:
 * how long it took, or a negative number. */
static double probe_round(const int p[2], const char *src, char *dst)
{
	double t0 = now_s();

	for (int i = 0; i < PROBE_REPS; i++) {
		size_t got = 0;

		if (write(p[1], src, PROBE_CHUNK) != PROBE_CHUNK)
			return -1;
		while (got < PROBE_CHUNK) {
			ssize_t n = read(p[0], dst + got, PROBE_CHUNK - got);

			if (n <= 0)
				return -1;
			got += (size_t)n;
		}
	}
	return now_s() - t0;
}

int na_copy_misaligned_slow(void)
{
	const char *force = getenv(NA_COPY_SLOW_ENV);
	double best[2] = { 1e30, 1e30 }, t;
	char *src = NULL, *dst = NULL;
	int p[2] = { -1, -1 }, slow = -1;

	if (force && (!strcmp(force, "0") || !strcmp(force, "1")))
		return force[0] == '1';
	if (force && *force)
		na_lib_log(NA_LOG_INFO, "%s=%s is neither 0 nor 1: measuring instead",
			   NA_COPY_SLOW_ENV, force);
	/* The pipe holds the whole chunk, so the write never waits. */
	if (pipe2(p, O_CLOEXEC) || fcntl(p[1], F_SETPIPE_SZ, PROBE_CHUNK) < PROBE_CHUNK)
		goto out;
	src = aligned_alloc(PROBE_PAGE, PROBE_CHUNK);
	dst = aligned_alloc(PROBE_PAGE, PROBE_CHUNK + PROBE_PAGE);
	if (!src || !dst)
		goto out;
	memset(src, 'x', PROBE_CHUNK);
	memset(dst, 0, PROBE_CHUNK + PROBE_PAGE);
	for (int r = 0; r < PROBE_ROUNDS; r++) {
		for (int k = 0; k < 2; k++) {
			t = probe_round(p, src, dst + 16 * k);
			if (t < 0)
				goto out;
			if (t < best[k])
				best[k] = t;
		}
	}
	/* The write half is the same in both: a read that takes over twice
	 * as long makes the whole half as long again. */
	slow = best[1] > best[0] * 1.5;
out:
	free(src);
	free(dst);
	if (p[0] >= 0)
		close(p[0]);
	if (p[1] >= 0)
		close(p[1]);
	return slow;
}
