/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The traffic engine: every direction of every connection carries its own
 * seeded stream, and the reader checks each byte against the stream at the
 * offset where it arrived. Four reader styles: poll() on non-blocking
 * sockets, edge-triggered epoll (which must drain to EAGAIN and so relies
 * on every wake-up being delivered), blocking threads, and threads on
 * sockets left in their own mode (a blocking writer can face an
 * event-driven reader).
 *
 * This file holds what every style shares: each direction's bookkeeping,
 * na_test_run() that picks the style, and the report. The poll() and epoll
 * engines are in traffic_events.c, the threads in traffic_threads.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "na_test.h"
#include "internal.h"

void na_test_dir_init(struct na_test_dir *d, uint64_t seed, size_t len,
		      size_t chunk, bool shut)
{
	memset(d, 0, sizeof(*d));
	d->seed = seed;
	d->len = len;
	d->chunk = chunk ? chunk : DEFAULT_CHUNK;
	d->shut = shut;
	d->bad = -1;
}

size_t na_tl_load(const size_t *p)
{
	return __atomic_load_n(p, __ATOMIC_SEQ_CST);
}

void na_tl_store(size_t *p, size_t v)
{
	__atomic_store_n(p, v, __ATOMIC_SEQ_CST);
}

static bool stop_raised(const struct na_test_run_opts *o)
{
	return o->stop && __atomic_load_n(o->stop, __ATOMIC_SEQ_CST);
}

/* Called by the writer of d only: an unbounded stream ends where it is. */
void na_tl_maybe_freeze(struct na_test_dir *d, const struct na_test_run_opts *o)
{
	if (na_tl_load(&d->len) == NA_TEST_UNBOUNDED && stop_raised(o))
		na_tl_store(&d->len, na_tl_load(&d->sent));
}

static bool dir_failed(const struct na_test_dir *d)
{
	return d->err || d->bad >= 0;
}

/* The reader has everything it will get (or the direction failed). */
bool na_tl_dir_finished(const struct na_test_dir *d)
{
	if (dir_failed(d))
		return true;
	return na_tl_load(&d->rcvd) == na_tl_load(&d->len) && (!d->shut || d->eof);
}

bool na_tl_dir_wants_write(const struct na_test_dir *d)
{
	return !dir_failed(d) && na_tl_load(&d->sent) < na_tl_load(&d->len);
}

void na_tl_set_err(struct na_test_dir *d, int err)
{
	if (!d->err)
		d->err = err;
}

void na_tl_do_shutdown(struct na_test_dir *d, int fd)
{
	if (!d->shut || d->shut_done || dir_failed(d) ||
	    na_tl_load(&d->sent) != na_tl_load(&d->len))
		return;
	if (shutdown(fd, SHUT_WR) < 0)
		na_tl_set_err(d, -errno);
	d->shut_done = true;
}

/* Check n received bytes at the current reader offset and account them. */
void na_tl_dir_account(struct na_test_dir *d, const char *buf, size_t n)
{
	size_t rcvd = na_tl_load(&d->rcvd), len = na_tl_load(&d->len);
	size_t good = n;
	ssize_t off;

	if (len != NA_TEST_UNBOUNDED && rcvd + n > len)
		good = len - rcvd;	/* bytes nobody sent */
	off = na_test_pattern_check(d->seed, rcvd, buf, good);
	if (off >= 0)
		d->bad = (int64_t)(rcvd + (size_t)off);
	else if (good < n)
		d->bad = (int64_t)(rcvd + good);
	na_tl_store(&d->rcvd, rcvd + n);
}

void na_tl_dir_eof(struct na_test_dir *d)
{
	d->eof = true;
	if (na_tl_load(&d->rcvd) != na_tl_load(&d->len))
		na_tl_set_err(d, -ENODATA);	/* end of file before the last byte */
}

/* Directions that have not finished by the deadline. */
static void mark_timeouts(struct na_test_conn *c, size_t n)
{
	for (size_t i = 0; i < n; i++)
		for (int d = 0; d < 2; d++)
			if (!na_tl_dir_finished(&c[i].dir[d]))
				na_tl_set_err(&c[i].dir[d], -ETIMEDOUT);
}

bool na_tl_fd_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	return fl >= 0 && (fl & O_NONBLOCK);
}

int na_test_run(struct na_test_conn *conns, size_t n,
		const struct na_test_run_opts *opts)
{
	int timeout = opts->timeout_ms ? opts->timeout_ms : NA_TEST_TIMEOUT_MS;
	int64_t deadline = na_test_now_ms() + timeout;
	bool *was_nb;
	int err = 0;

	if (opts->io > NA_TEST_IO_THREADS)
		return -EINVAL;
	/* Each fd goes back to its own mode after the run. */
	was_nb = calloc(2 * n + 1, sizeof(*was_nb));
	if (!was_nb)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		for (int e = 0; e < 2; e++)
			was_nb[2 * i + e] = na_tl_fd_nonblock(conns[i].fd[e]);
	if (opts->io != NA_TEST_IO_THREADS)
		for (size_t i = 0; i < n && !err; i++)
			for (int e = 0; e < 2 && !err; e++)
				err = na_test_set_nonblock(conns[i].fd[e],
							   opts->io != NA_TEST_IO_BLOCKING);
	if (err)
		goto restore;
	switch (opts->io) {
	case NA_TEST_IO_POLL:
		err = na_tl_run_poll(conns, n, opts, deadline);
		break;
	case NA_TEST_IO_EPOLL_ET:
		err = na_tl_run_epoll_et(conns, n, opts, deadline);
		break;
	case NA_TEST_IO_BLOCKING:
	case NA_TEST_IO_THREADS:
		err = na_tl_run_threads(conns, n, opts, deadline);
		break;
	}
	if (err == -ETIMEDOUT)
		mark_timeouts(conns, n);
restore:
	for (size_t i = 0; i < n; i++)
		for (int e = 0; e < 2; e++)
			na_test_set_nonblock(conns[i].fd[e], was_nb[2 * i + e]);
	free(was_nb);
	if (err)
		return err;
	for (size_t i = 0; i < n; i++)
		for (int d = 0; d < 2; d++) {
			if (conns[i].dir[d].bad >= 0)
				return -EILSEQ;
			if (conns[i].dir[d].err)
				return conns[i].dir[d].err;
		}
	return 0;
}

size_t na_test_report(const struct na_test_conn *conns, size_t n)
{
	static const char *const name[2] = { "client->server", "server->client" };
	size_t failed = 0;

	for (size_t i = 0; i < n; i++)
		for (int d = 0; d < 2; d++) {
			const struct na_test_dir *x = &conns[i].dir[d];
			bool ok = !x->err && x->bad < 0 && x->rcvd == x->len &&
				  (!x->shut || x->eof);

			if (ok)
				continue;
			failed++;
			na_test_diag("conn %zu %s (seed %#llx): sent %zu, received %zu of %zu%s%s; "
				     "first wrong byte at %lld; error: %s",
				     i, name[d], (unsigned long long)x->seed,
				     x->sent, x->rcvd, x->len,
				     x->shut ? ", EOF " : "",
				     x->shut ? (x->eof ? "seen" : "missing") : "",
				     (long long)x->bad,
				     x->err == -EAGAIN ? "EAGAIN from a blocking socket long "
				     "before its timeout" :
				     x->err ? strerror(-x->err) : "none");
		}
	return failed;
}

size_t na_test_bytes_sent(const struct na_test_conn *conns, size_t n)
{
	size_t sum = 0;

	for (size_t i = 0; i < n; i++)
		sum += conns[i].dir[0].sent + conns[i].dir[1].sent;
	return sum;
}

void na_test_close_conns(struct na_test_conn *conns, size_t n)
{
	for (size_t i = 0; i < n; i++)
		for (int e = 0; e < 2; e++)
			if (conns[i].fd[e] >= 0) {
				close(conns[i].fd[e]);
				conns[i].fd[e] = -1;
			}
}
