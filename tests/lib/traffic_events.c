/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The traffic engine's event-driven styles: poll() on non-blocking
 * sockets, and edge-triggered epoll, which must drain to EAGAIN and so
 * relies on every wake-up being delivered.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "na_test.h"
#include "internal.h"

/* Bytes one direction may write before the engine turns to the others: a
 * sender that never meets EAGAIN must not starve the readers. */
#define WRITE_BUDGET (4 * 1024 * 1024)

/*
 * A non-blocking call on d's socket failed: true to call again (it was
 * interrupted); else false, with d's error recorded unless it was EAGAIN.
 */
static bool nb_again(struct na_test_dir *d)
{
	if (errno == EINTR)
		return true;
	if (errno != EAGAIN)
		na_tl_set_err(d, -errno);
	return false;
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

		na_tl_maybe_freeze(d, o);
		if (!na_tl_dir_wants_write(d))
			break;
		if (budget == 0) {
			d->more = true;
			return;
		}
		sent = na_tl_load(&d->sent);
		n = na_tl_load(&d->len) - sent;
		if (n > d->chunk)
			n = d->chunk;
		if (n > bufsz)
			n = bufsz;
		na_test_pattern_fill(d->seed, sent, buf, n);
		r = send(fd, buf, n, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (r < 0) {
			if (nb_again(d))
				continue;
			return;
		}
		na_tl_store(&d->sent, sent + (size_t)r);
		budget = (size_t)r < budget ? budget - (size_t)r : 0;
	}
	na_tl_do_shutdown(d, fd);
}

/* Non-blocking reads until EAGAIN, end of file, or the end of the stream. */
static void dir_read_nb(struct na_test_dir *d, int fd, char *buf, size_t bufsz)
{
	while (!na_tl_dir_finished(d)) {
		ssize_t r = recv(fd, buf, bufsz, MSG_DONTWAIT);

		if (r < 0) {
			if (nb_again(d))
				continue;
			return;
		}
		if (r == 0) {
			na_tl_dir_eof(d);
			return;
		}
		na_tl_dir_account(d, buf, (size_t)r);
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
		if (!na_tl_dir_finished(&c[i].dir[0]) || !na_tl_dir_finished(&c[i].dir[1]))
			return false;
	return true;
}

/* Shut-downs that are due without a poll event (a stream that ended). */
static void pending_work(struct na_test_conn *c, size_t n,
			 const struct na_test_run_opts *o)
{
	for (size_t i = 0; i < n; i++)
		for (int e = 0; e < 2; e++) {
			na_tl_maybe_freeze(&c[i].dir[e], o);
			na_tl_do_shutdown(&c[i].dir[e], c[i].fd[e]);
		}
}

/*
 * The start of each turn of an event loop: do the shut-downs that are due,
 * then 1 when every direction is finished, -ETIMEDOUT past deadline, or 0
 * with *wait_ms set to how long this turn may wait for events.
 */
static int turn_begin(struct na_test_conn *c, size_t n,
		      const struct na_test_run_opts *o, int64_t deadline,
		      int *wait_ms)
{
	int64_t left;

	pending_work(c, n, o);
	if (all_finished(c, n))
		return 1;
	left = deadline - na_test_now_ms();
	if (left <= 0)
		return -ETIMEDOUT;
	*wait_ms = left < SLICE_MS ? (int)left : SLICE_MS;
	return 0;
}

int na_tl_run_poll(struct na_test_conn *c, size_t n,
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
		int wait_ms, turn = turn_begin(c, n, o, deadline, &wait_ms);

		if (turn) {
			err = turn < 0 ? turn : 0;
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
				if (na_tl_dir_wants_write(tx))
					p->events |= POLLOUT;
				if (!na_tl_dir_finished(rx))
					p->events |= POLLIN | POLLRDHUP;
				if (!p->events)
					p->fd = -1;
			}
		if (poll(pfd, 2 * n, wait_ms) < 0 &&
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

int na_tl_run_epoll_et(struct na_test_conn *c, size_t n,
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
		int wait_ms, nev, turn = turn_begin(c, n, o, deadline, &wait_ms);
		bool more;

		if (turn) {
			err = turn < 0 ? turn : 0;
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
		nev = epoll_wait(ep, evs, 64, more ? 0 : wait_ms);
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
