/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The traffic engine's threaded styles: blocking threads, and threads on
 * sockets left in their own mode (a blocking writer can face an
 * event-driven reader); and the background reader.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "na_test.h"
#include "internal.h"

/* ---- blocking: one thread per direction end ---------------------------- */

struct worker {
	pthread_t tid;
	bool started;
	struct na_test_dir *d;
	int fd;
	bool writer;
	bool nonblock;		/* fd is non-blocking: poll() on EAGAIN */
	const struct na_test_run_opts *o;
	int timeout_ms;		/* SO_RCVTIMEO / SO_SNDTIMEO of fd */
	int64_t deadline;	/* of the run */
};

/*
 * A non-blocking worker's call met EAGAIN: wait for events (in slices, so
 * that a raised stop is seen) until the run's deadline. Returns 0 to try
 * again, or -ETIMEDOUT.
 */
static int worker_wait(struct worker *w, short events)
{
	int64_t left = w->deadline - na_test_now_ms();
	struct pollfd p = { .fd = w->fd, .events = events };

	if (left <= 0)
		return -ETIMEDOUT;
	if (poll(&p, 1, left < SLICE_MS ? (int)left : SLICE_MS) < 0 && errno != EINTR)
		return -errno;
	return 0;
}

/*
 * The error of a failed blocking call started at t0. EAGAIN means its
 * timeout expired (-ETIMEDOUT) -- unless it came well before that: then a
 * blocking socket returned EAGAIN, which an application takes for an error
 * (-EAGAIN, reported as such).
 */
static int blocking_errno(int e, int64_t t0, int timeout_ms)
{
	if (e != EAGAIN && e != EWOULDBLOCK)
		return -e;
	if (na_test_now_ms() - t0 < timeout_ms - 500)
		return -EAGAIN;
	return -ETIMEDOUT;
}

/*
 * A worker's send() or recv() started at t0 failed with errno: 0 to call
 * again (interrupted, or a non-blocking fd that became ready for events),
 * else the error to record.
 */
static int worker_retry(struct worker *w, short events, int64_t t0)
{
	if (errno == EINTR)
		return 0;
	if (w->nonblock && errno == EAGAIN)
		return worker_wait(w, events);
	return blocking_errno(errno, t0, w->timeout_ms);
}

static void *writer_main(void *arg)
{
	struct worker *w = arg;
	struct na_test_dir *d = w->d;
	size_t bufsz = d->chunk < MAX_WRITE_BUF ? d->chunk : MAX_WRITE_BUF;
	char *buf = malloc(bufsz);

	if (!buf) {
		na_tl_set_err(d, -ENOMEM);
		goto out;
	}
	for (;;) {
		size_t sent, n;
		int64_t t0;
		ssize_t r;

		na_tl_maybe_freeze(d, w->o);
		if (!na_tl_dir_wants_write(d))
			break;
		sent = na_tl_load(&d->sent);
		n = na_tl_load(&d->len) - sent;
		if (n > bufsz)
			n = bufsz;
		na_test_pattern_fill(d->seed, sent, buf, n);
		t0 = na_test_now_ms();
		r = send(w->fd, buf, n, MSG_NOSIGNAL);
		if (r < 0) {
			int err = worker_retry(w, POLLOUT, t0);

			if (!err)
				continue;
			na_tl_set_err(d, err);
			break;
		}
		na_tl_store(&d->sent, sent + (size_t)r);
	}
	na_tl_do_shutdown(d, w->fd);
	free(buf);
out:
	return NULL;
}

static void *reader_main(void *arg)
{
	struct worker *w = arg;
	struct na_test_dir *d = w->d;
	char *buf = malloc(READ_BUF);

	if (!buf) {
		na_tl_set_err(d, -ENOMEM);
		goto out;
	}
	while (!na_tl_dir_finished(d)) {
		int64_t t0 = na_test_now_ms();
		ssize_t r = recv(w->fd, buf, READ_BUF, 0);

		if (r < 0) {
			int err = worker_retry(w, POLLIN | POLLRDHUP, t0);

			if (!err)
				continue;
			na_tl_set_err(d, err);
			break;
		}
		if (r == 0) {
			na_tl_dir_eof(d);
			break;
		}
		na_tl_dir_account(d, buf, (size_t)r);
	}
	free(buf);
out:
	return NULL;
}

/* BLOCKING (the fds were made blocking) and THREADS (each in its mode). */
int na_tl_run_threads(struct na_test_conn *c, size_t n,
		      const struct na_test_run_opts *o, int64_t deadline)
{
	size_t nw = 4 * n;
	struct worker *w = calloc(nw, sizeof(*w));
	int err = 0;

	if (!w)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		for (int d = 0; d < 2; d++) {
			struct worker *wr = &w[4 * i + 2 * d];
			struct worker *rd = wr + 1;
			int64_t left = deadline - na_test_now_ms();

			/* A blocked call ends at the deadline at the latest. */
			if (left < 1)
				left = 1;
			na_test_set_timeouts(c[i].fd[d], (int)left);
			*wr = (struct worker){ .d = &c[i].dir[d], .fd = c[i].fd[d],
					       .writer = true, .o = o,
					       .nonblock = na_tl_fd_nonblock(c[i].fd[d]),
					       .timeout_ms = (int)left,
					       .deadline = deadline };
			*rd = (struct worker){ .d = &c[i].dir[d], .fd = c[i].fd[1 - d],
					       .o = o,
					       .nonblock = na_tl_fd_nonblock(c[i].fd[1 - d]),
					       .timeout_ms = (int)left,
					       .deadline = deadline };
		}
	for (size_t k = 0; k < nw; k++) {
		int r = pthread_create(&w[k].tid, NULL,
				       w[k].writer ? writer_main : reader_main, &w[k]);

		if (r) {
			na_tl_set_err(w[k].d, -r);
			err = -r;
			break;
		}
		w[k].started = true;
	}
	/* Wait for every thread; past the deadline, unblock the stragglers
	 * by shutting the sockets down, then join them all. */
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += (deadline - na_test_now_ms()) / 1000 + 1;
	for (size_t k = 0; k < nw; k++) {
		if (!w[k].started)
			continue;
		if (err != -ETIMEDOUT &&
		    pthread_timedjoin_np(w[k].tid, NULL, &until) == 0) {
			w[k].started = false;
			continue;
		}
		if (err != -ETIMEDOUT) {
			err = -ETIMEDOUT;
			for (size_t i = 0; i < n; i++) {
				shutdown(c[i].fd[0], SHUT_RDWR);
				shutdown(c[i].fd[1], SHUT_RDWR);
			}
		}
		pthread_join(w[k].tid, NULL);
		w[k].started = false;
	}
	for (size_t i = 0; i < n; i++) {
		na_test_set_timeouts(c[i].fd[0], 0);
		na_test_set_timeouts(c[i].fd[1], 0);
	}
	free(w);
	return err;
}

/* ---- background reader -------------------------------------------------- */

static void *rx_main(void *arg)
{
	struct na_test_rx *rx = arg;

	rx->err = na_test_recv_pattern(rx->fd, rx->seed, 0, rx->len);
	if (!rx->err && rx->expect_eof)
		rx->err = na_test_wait_eof(rx->fd, &rx->extra, NA_TEST_TIMEOUT_MS);
	if (!rx->err && rx->extra)
		rx->err = -EILSEQ;
	return NULL;
}

int na_test_rx_start(struct na_test_rx *rx)
{
	pthread_t tid;
	int r;

	rx->err = 0;
	rx->extra = 0;
	r = na_test_set_timeouts(rx->fd, NA_TEST_TIMEOUT_MS);
	if (r)
		return r;
	r = pthread_create(&tid, NULL, rx_main, rx);
	if (r)
		return -r;
	rx->tid = (unsigned long)tid;
	return 0;
}

int na_test_rx_join(struct na_test_rx *rx)
{
	pthread_join((pthread_t)rx->tid, NULL);
	return rx->err;
}
