/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The traffic engine: every direction of every connection carries its own
 * seeded stream, and the reader checks each byte against the stream at the
 * offset where it arrived. Four reader styles: poll() on non-blocking
 * sockets, edge-triggered epoll (which must drain to EAGAIN and so relies
 * on every wake-up being delivered), blocking threads, and threads on
 * sockets left in their own mode (a blocking writer can face an
 * event-driven reader).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "na_test.h"

#define DEFAULT_CHUNK (64 * 1024)
#define READ_BUF (256 * 1024)
#define MAX_WRITE_BUF (64 * 1024 * 1024)
#define SLICE_MS 50		/* how often a waiting loop looks at stop */
/* Bytes one direction may write before the engine turns to the others: a
 * sender that never meets EAGAIN must not starve the readers. */
#define WRITE_BUDGET (4 * 1024 * 1024)

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

static size_t load(const size_t *p)
{
	return __atomic_load_n(p, __ATOMIC_SEQ_CST);
}

static void store(size_t *p, size_t v)
{
	__atomic_store_n(p, v, __ATOMIC_SEQ_CST);
}

static bool stop_raised(const struct na_test_run_opts *o)
{
	return o->stop && __atomic_load_n(o->stop, __ATOMIC_SEQ_CST);
}

/* Called by the writer of d only: an unbounded stream ends where it is. */
static void maybe_freeze(struct na_test_dir *d, const struct na_test_run_opts *o)
{
	if (load(&d->len) == NA_TEST_UNBOUNDED && stop_raised(o))
		store(&d->len, load(&d->sent));
}

static bool dir_failed(const struct na_test_dir *d)
{
	return d->err || d->bad >= 0;
}

/* The reader has everything it will get (or the direction failed). */
static bool dir_finished(const struct na_test_dir *d)
{
	if (dir_failed(d))
		return true;
	return load(&d->rcvd) == load(&d->len) && (!d->shut || d->eof);
}

static bool dir_wants_write(const struct na_test_dir *d)
{
	return !dir_failed(d) && load(&d->sent) < load(&d->len);
}

static void set_err(struct na_test_dir *d, int err)
{
	if (!d->err)
		d->err = err;
}

static void do_shutdown(struct na_test_dir *d, int fd)
{
	if (!d->shut || d->shut_done || dir_failed(d) ||
	    load(&d->sent) != load(&d->len))
		return;
	if (shutdown(fd, SHUT_WR) < 0)
		set_err(d, -errno);
	d->shut_done = true;
}

/* Check n received bytes at the current reader offset and account them. */
static void dir_account(struct na_test_dir *d, const char *buf, size_t n)
{
	size_t rcvd = load(&d->rcvd), len = load(&d->len);
	size_t good = n;
	ssize_t off;

	if (len != NA_TEST_UNBOUNDED && rcvd + n > len)
		good = len - rcvd;	/* bytes nobody sent */
	off = na_test_pattern_check(d->seed, rcvd, buf, good);
	if (off >= 0)
		d->bad = (int64_t)(rcvd + (size_t)off);
	else if (good < n)
		d->bad = (int64_t)(rcvd + good);
	store(&d->rcvd, rcvd + n);
}

static void dir_eof(struct na_test_dir *d)
{
	d->eof = true;
	if (load(&d->rcvd) != load(&d->len))
		set_err(d, -ENODATA);	/* end of file before the last byte */
}

/* Non-blocking writes until EAGAIN, the end of the stream, or the write
 * budget (then d->more is set: the socket may still be writable). */
static void dir_write_nb(struct na_test_dir *d, int fd, char *buf, size_t bufsz,
			 const struct na_test_run_opts *o)
{
	size_t budget = WRITE_BUDGET;

	d->more = false;
	for (;;) {
		size_t sent, n;
		ssize_t r;

		maybe_freeze(d, o);
		if (!dir_wants_write(d))
			break;
		if (budget == 0) {
			d->more = true;
			return;
		}
		sent = load(&d->sent);
		n = load(&d->len) - sent;
		if (n > d->chunk)
			n = d->chunk;
		if (n > bufsz)
			n = bufsz;
		na_test_pattern_fill(d->seed, sent, buf, n);
		r = send(fd, buf, n, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				set_err(d, -errno);
			return;
		}
		store(&d->sent, sent + (size_t)r);
		budget = (size_t)r < budget ? budget - (size_t)r : 0;
	}
	do_shutdown(d, fd);
}

/* Non-blocking reads until EAGAIN, end of file, or the end of the stream. */
static void dir_read_nb(struct na_test_dir *d, int fd, char *buf, size_t bufsz)
{
	while (!dir_finished(d)) {
		ssize_t r = recv(fd, buf, bufsz, MSG_DONTWAIT);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				set_err(d, -errno);
			return;
		}
		if (r == 0) {
			dir_eof(d);
			return;
		}
		dir_account(d, buf, (size_t)r);
	}
}

struct bufs {
	char *w, *r;
	size_t wsz;
};

static int bufs_alloc(struct bufs *b, struct na_test_conn *c, size_t n)
{
	b->wsz = DEFAULT_CHUNK;
	for (size_t i = 0; i < n; i++)
		for (int d = 0; d < 2; d++)
			if (c[i].dir[d].chunk > b->wsz)
				b->wsz = c[i].dir[d].chunk;
	if (b->wsz > MAX_WRITE_BUF)
		b->wsz = MAX_WRITE_BUF;
	b->w = malloc(b->wsz);
	b->r = malloc(READ_BUF);
	if (!b->w || !b->r) {
		free(b->w);
		free(b->r);
		return -ENOMEM;
	}
	return 0;
}

static void bufs_free(struct bufs *b)
{
	free(b->w);
	free(b->r);
}

static bool all_finished(struct na_test_conn *c, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!dir_finished(&c[i].dir[0]) || !dir_finished(&c[i].dir[1]))
			return false;
	return true;
}

/* Directions that have not finished by the deadline. */
static void mark_timeouts(struct na_test_conn *c, size_t n)
{
	for (size_t i = 0; i < n; i++)
		for (int d = 0; d < 2; d++)
			if (!dir_finished(&c[i].dir[d]))
				set_err(&c[i].dir[d], -ETIMEDOUT);
}

/* Shut-downs that are due without a poll event (a stream that ended). */
static void pending_work(struct na_test_conn *c, size_t n,
			 const struct na_test_run_opts *o)
{
	for (size_t i = 0; i < n; i++)
		for (int e = 0; e < 2; e++) {
			maybe_freeze(&c[i].dir[e], o);
			do_shutdown(&c[i].dir[e], c[i].fd[e]);
		}
}

static int run_poll(struct na_test_conn *c, size_t n,
		    const struct na_test_run_opts *o, int64_t deadline)
{
	struct pollfd *pfd = calloc(2 * n, sizeof(*pfd));
	struct bufs b;
	int err = 0;

	if (!pfd || bufs_alloc(&b, c, n)) {
		free(pfd);
		return -ENOMEM;
	}
	for (;;) {
		int64_t left;

		pending_work(c, n, o);
		if (all_finished(c, n))
			break;
		left = deadline - na_test_now_ms();
		if (left <= 0) {
			err = -ETIMEDOUT;
			break;
		}
		for (size_t i = 0; i < n; i++)
			for (int e = 0; e < 2; e++) {
				struct pollfd *p = &pfd[2 * i + e];
				struct na_test_dir *tx = &c[i].dir[e];
				struct na_test_dir *rx = &c[i].dir[1 - e];

				p->fd = c[i].fd[e];
				p->events = 0;
				p->revents = 0;
				if (dir_wants_write(tx))
					p->events |= POLLOUT;
				if (!dir_finished(rx))
					p->events |= POLLIN | POLLRDHUP;
				if (!p->events)
					p->fd = -1;
			}
		if (poll(pfd, 2 * n, left < SLICE_MS ? (int)left : SLICE_MS) < 0 &&
		    errno != EINTR) {
			err = -errno;
			break;
		}
		for (size_t i = 0; i < n; i++)
			for (int e = 0; e < 2; e++) {
				short re = pfd[2 * i + e].revents;

				if (pfd[2 * i + e].fd < 0 || !re)
					continue;
				if (re & (POLLOUT | POLLERR | POLLHUP))
					dir_write_nb(&c[i].dir[e], c[i].fd[e],
						     b.w, b.wsz, o);
				if (re & (POLLIN | POLLRDHUP | POLLERR | POLLHUP))
					dir_read_nb(&c[i].dir[1 - e], c[i].fd[e],
						    b.r, READ_BUF);
			}
	}
	bufs_free(&b);
	free(pfd);
	return err;
}

static int run_epoll_et(struct na_test_conn *c, size_t n,
			const struct na_test_run_opts *o, int64_t deadline)
{
	struct epoll_event evs[64];
	struct bufs b;
	int ep, err = 0;

	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0)
		return -errno;
	if (bufs_alloc(&b, c, n)) {
		close(ep);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++)
		for (int e = 0; e < 2; e++) {
			struct epoll_event ev = {
				.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
				.data.u64 = 2 * i + (size_t)e,
			};

			if (epoll_ctl(ep, EPOLL_CTL_ADD, c[i].fd[e], &ev) < 0) {
				err = -errno;
				goto out;
			}
		}
	for (;;) {
		int64_t left;
		bool more;
		int nev;

		pending_work(c, n, o);
		if (all_finished(c, n))
			break;
		left = deadline - na_test_now_ms();
		if (left <= 0) {
			err = -ETIMEDOUT;
			break;
		}
		/* Writers stopped by their budget get no new edge: go on
		 * with them, and only peek at events meanwhile. */
		more = false;
		for (size_t i = 0; i < n; i++)
			for (int e = 0; e < 2; e++)
				if (c[i].dir[e].more) {
					dir_write_nb(&c[i].dir[e], c[i].fd[e], b.w, b.wsz, o);
					more = true;
				}
		nev = epoll_wait(ep, evs, 64,
				 more ? 0 : left < SLICE_MS ? (int)left : SLICE_MS);
		if (nev < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			break;
		}
		for (int k = 0; k < nev; k++) {
			size_t i = evs[k].data.u64 / 2;
			int e = (int)(evs[k].data.u64 % 2);
			uint32_t re = evs[k].events;
			struct na_test_dir *rx = &c[i].dir[1 - e];

			if (re & EPOLLRDHUP)
				rx->rdhup = true;
			/* Edge-triggered: each side must run to EAGAIN, or no
			 * further event comes for it. */
			if (re & (EPOLLOUT | EPOLLERR | EPOLLHUP))
				dir_write_nb(&c[i].dir[e], c[i].fd[e], b.w, b.wsz, o);
			if (re & (EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP))
				dir_read_nb(rx, c[i].fd[e], b.r, READ_BUF);
		}
	}
	/* A peer's FIN may have come after the last event taken: its wake-up
	 * has queued an event already, so collect what is pending. */
	for (int round = 0; !err && round < 16; round++) {
		int nev = epoll_wait(ep, evs, 64, 0);

		if (nev <= 0)
			break;
		for (int k = 0; k < nev; k++)
			if (evs[k].events & EPOLLRDHUP)
				c[evs[k].data.u64 / 2].dir[1 - evs[k].data.u64 % 2].rdhup = true;
	}
out:
	bufs_free(&b);
	close(ep);
	return err;
}

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

static void *writer_main(void *arg)
{
	struct worker *w = arg;
	struct na_test_dir *d = w->d;
	size_t bufsz = d->chunk < MAX_WRITE_BUF ? d->chunk : MAX_WRITE_BUF;
	char *buf = malloc(bufsz);

	if (!buf) {
		set_err(d, -ENOMEM);
		goto out;
	}
	for (;;) {
		size_t sent, n;
		int64_t t0;
		ssize_t r;

		maybe_freeze(d, w->o);
		if (!dir_wants_write(d))
			break;
		sent = load(&d->sent);
		n = load(&d->len) - sent;
		if (n > bufsz)
			n = bufsz;
		na_test_pattern_fill(d->seed, sent, buf, n);
		t0 = na_test_now_ms();
		r = send(w->fd, buf, n, MSG_NOSIGNAL);
		if (r < 0) {
			int err;

			if (errno == EINTR)
				continue;
			if (w->nonblock && errno == EAGAIN) {
				err = worker_wait(w, POLLOUT);
				if (!err)
					continue;
			} else {
				err = blocking_errno(errno, t0, w->timeout_ms);
			}
			set_err(d, err);
			break;
		}
		store(&d->sent, sent + (size_t)r);
	}
	do_shutdown(d, w->fd);
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
		set_err(d, -ENOMEM);
		goto out;
	}
	while (!dir_finished(d)) {
		int64_t t0 = na_test_now_ms();
		ssize_t r = recv(w->fd, buf, READ_BUF, 0);

		if (r < 0) {
			int err;

			if (errno == EINTR)
				continue;
			if (w->nonblock && errno == EAGAIN) {
				err = worker_wait(w, POLLIN | POLLRDHUP);
				if (!err)
					continue;
			} else {
				err = blocking_errno(errno, t0, w->timeout_ms);
			}
			set_err(d, err);
			break;
		}
		if (r == 0) {
			dir_eof(d);
			break;
		}
		dir_account(d, buf, (size_t)r);
	}
	free(buf);
out:
	return NULL;
}

static bool fd_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	return fl >= 0 && (fl & O_NONBLOCK);
}

/* BLOCKING (the fds were made blocking) and THREADS (each in its mode). */
static int run_threads(struct na_test_conn *c, size_t n,
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
					       .nonblock = fd_nonblock(c[i].fd[d]),
					       .timeout_ms = (int)left,
					       .deadline = deadline };
			*rd = (struct worker){ .d = &c[i].dir[d], .fd = c[i].fd[1 - d],
					       .o = o,
					       .nonblock = fd_nonblock(c[i].fd[1 - d]),
					       .timeout_ms = (int)left,
					       .deadline = deadline };
		}
	for (size_t k = 0; k < nw; k++) {
		int r = pthread_create(&w[k].tid, NULL,
				       w[k].writer ? writer_main : reader_main, &w[k]);

		if (r) {
			set_err(w[k].d, -r);
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
			was_nb[2 * i + e] = fd_nonblock(conns[i].fd[e]);
	if (opts->io != NA_TEST_IO_THREADS)
		for (size_t i = 0; i < n && !err; i++)
			for (int e = 0; e < 2 && !err; e++)
				err = na_test_set_nonblock(conns[i].fd[e],
							   opts->io != NA_TEST_IO_BLOCKING);
	if (err)
		goto restore;
	switch (opts->io) {
	case NA_TEST_IO_POLL:
		err = run_poll(conns, n, opts, deadline);
		break;
	case NA_TEST_IO_EPOLL_ET:
		err = run_epoll_et(conns, n, opts, deadline);
		break;
	case NA_TEST_IO_BLOCKING:
	case NA_TEST_IO_THREADS:
		err = run_threads(conns, n, opts, deadline);
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
