/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Readers the kernel copies to slowly: on a CPU whose copy to user space
 * is several times slower into a buffer off a 32-byte boundary, a stream
 * of large writes to a reader whose first read went to such a buffer
 * keeps the fast path, and the next connections to its port stay on TCP
 * (kept_slowcopy). This program enrolls with NETACCEL_COPY_SLOW=1, so the
 * bypass acts as it does on such a CPU, whatever this one is.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <poll.h>
#include <sys/socket.h>

#include "test_transparency.h"

#define WRITE_SIZE (64 * KiB)	/* NA_STREAM_BIG_WRITE */
#define PAGE 4096

/* Read one byte on fd into buf, the pair's first read on that end. */
static void first_read(int fd, char *buf, const char *what)
{
	ssize_t n;
	int err;

	for (;;) {
		err = na_test_wait_fd(fd, POLLIN, NA_TEST_TIMEOUT_MS);
		if (err)
			fail_msg("%s: waiting for the first byte: %s", what, strerror(-err));
		n = recv(fd, buf, 1, MSG_DONTWAIT);
		if (n == 1)
			return;
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		fail_msg("%s: reading the first byte: %s", what, n ? strerror(errno) : "EOF");
	}
}

/*
 * A pair on lfd whose server end reads its first byte into buf + off (the
 * buffer the kernel's copies are judged by), then sends one back.
 */
static void pair_reading_at(int lfd, const struct family *f, size_t off, int *cfd, int *sfd)
{
	char *buf = aligned_alloc(PAGE, 2 * PAGE);
	int err;

	assert_non_null(buf);
	make_cold_pair(lfd, f, cfd, sfd);
	NA_ASSERT_OK(na_test_set_timeouts(*sfd, NA_TEST_TIMEOUT_MS));
	NA_ASSERT_OK(na_test_set_timeouts(*cfd, NA_TEST_TIMEOUT_MS));
	err = na_test_write_full(*cfd, "c", 1);
	if (err)
		fail_msg("%s: the client's first byte: %s", f->name, strerror(-err));
	first_read(*sfd, buf + off, f->name);
	err = na_test_write_full(*sfd, "s", 1);
	if (err)
		fail_msg("%s: the server's first byte: %s", f->name, strerror(-err));
	first_read(*cfd, buf, f->name);
	free(buf);
}

/*
 * The client sends len bytes to the server in writes of WRITE_SIZE: as a
 * stream (everything written before the server reads, so every send but
 * the first finds it behind), or as exchanges (the server reads each
 * write and answers a byte before the next).
 */
static void client_sends(int cfd, int sfd, const struct family *f, uint64_t seed,
			 size_t len, bool stream)
{
	char ack;
	int err;

	for (size_t off = 0; off < len; off += WRITE_SIZE) {
		err = na_test_send_pattern(cfd, seed, off, WRITE_SIZE);
		if (!err && !stream) {
			err = na_test_recv_pattern(sfd, seed, off, WRITE_SIZE);
			if (!err)
				err = na_test_write_full(sfd, "a", 1);
			if (!err)
				err = na_test_read_full(cfd, &ack, 1);
		}
		if (err)
			fail_msg("%s: at offset %zu: %s", f->name, off, strerror(-err));
	}
	if (stream) {
		err = na_test_recv_pattern(sfd, seed, 0, len);
		if (err)
			fail_msg("%s: reading the stream: %s", f->name, strerror(-err));
	}
}

/*
 * A first connection whose server reads from off past a page carries a
 * stream or exchanges of large writes; then the listener's next connection
 * (exchanges: on TCP a stream would wait for the reader) stays on TCP when
 * kept, else it joins. Every byte arrives in order either way.
 */
static void slowcopy_case(const struct family *f, size_t off, bool stream, bool kept)
{
	const uint64_t seed = 0x5c0 + off * 7 + (stream ? 3 : 0) + family_index(f);
	const size_t len = (NA_STREAM_WINDOW + 8) * WRITE_SIZE;
	struct na_stats before, d;
	int lfd = listen_on(f), cfd, sfd, cfd2, sfd2;

	stats_now(&before);
	pair_reading_at(lfd, f, off, &cfd, &sfd);
	client_sends(cfd, sfd, f, seed, len, stream);
	ASSERT_DELTAS(&before, d,
		      d.sockets_joined != 2 || d.kept_slowcopy || d.bytes_redirected < len / 2,
		      "%s: the first connection: expected both ends on the fast path", f->name);

	stats_now(&before);
	pair_reading_at(lfd, f, off, &cfd2, &sfd2);
	client_sends(cfd2, sfd2, f, seed + 1, 8 * WRITE_SIZE, false);
	ASSERT_DELTAS(&before, d,
		      kept ? d.kept_slowcopy != 1 || d.sockets_joined || d.bytes_redirected
			   : d.kept_slowcopy || d.sockets_joined != 2 || !d.bytes_redirected,
		      "%s: the next connection: expected %s", f->name,
		      kept ? "TCP (kept_slowcopy)" : "the fast path");
	close(cfd2);
	close(sfd2);
	close(cfd);
	close(sfd);
	close(lfd);
}

void test_slowcopy_stream_misaligned(void **state)
{
	slowcopy_case(*state, 16, true, true);
}

void test_slowcopy_stream_aligned(void **state)
{
	slowcopy_case(*state, 0, true, false);
}

void test_slowcopy_exchanges_misaligned(void **state)
{
	slowcopy_case(*state, 16, false, false);
}
