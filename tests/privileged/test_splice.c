/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Proxy splice (netaccel_splice, lib/splice.c) against the real kernel,
 * over loopback: a client connects to the test's proxy listener, the
 * proxy connects to the test's server and splices the two sockets it
 * holds; the traffic engine (tests/lib) drives client and server in a
 * thread and checks every byte of both directions, while the main thread
 * runs the pairs as a proxy would.
 *
 * The kernel path is loaded for this process alone (the state directory
 * is a scratch path under /sys/fs/bpf where nothing is pinned), so there
 * is nothing to clean up after the process ends, however it ends.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/sockios.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include <netaccel.h>
#include <netaccel/splice.h>

#include "na_test.h"

#define TEST_TIMEOUT_S 120
#define HOST "127.0.0.1"

static char state_dir[128];
static int srv_lfd = -1, prx_lfd = -1;

/* A proxied connection: conn.fd[0] the client, conn.fd[1] the server's
 * accepted socket; px[0] the proxy's accepted socket, px[1] its
 * connection to the server. */
struct proxied {
	struct na_test_conn conn;
	int px[2];
	struct netaccel_splice *sp;
	struct netaccel_splice_info info;
	bool done;
};

static int make_proxied(struct proxied *p)
{
	memset(p, 0, sizeof(*p));
	p->conn.fd[0] = na_test_connect(HOST, (uint16_t)na_test_local_port(prx_lfd), NULL, 0,
					 NA_TEST_TIMEOUT_MS);
	if (p->conn.fd[0] < 0)
		return p->conn.fd[0];
	p->px[0] = na_test_accept(prx_lfd, NA_TEST_TIMEOUT_MS);
	p->px[1] = na_test_connect(HOST, (uint16_t)na_test_local_port(srv_lfd), NULL, 0,
				   NA_TEST_TIMEOUT_MS);
	p->conn.fd[1] = na_test_accept(srv_lfd, NA_TEST_TIMEOUT_MS);
	if (p->px[0] < 0 || p->px[1] < 0 || p->conn.fd[1] < 0)
		return -EIO;
	return 0;
}

static void close_proxied(struct proxied *p)
{
	netaccel_splice_free(p->sp);
	p->sp = NULL;
	for (int i = 0; i < 2; i++) {
		if (p->px[i] >= 0)
			close(p->px[i]);
		p->px[i] = -1;
	}
	na_test_close_conns(&p->conn, 1);
}

static struct netaccel_splice *splice_path(struct proxied *p, unsigned int path, unsigned int flags)
{
	struct netaccel_splice_opts o = {
		.size = sizeof(o), .path = path, .flags = flags, .state_dir = state_dir,
	};

	return netaccel_splice(p->px[0], p->px[1], &o);
}

/* Run the pairs as a proxy does until each has ended (or the bound). */
static int run_pairs(struct proxied *p, size_t n, int timeout_ms)
{
	int ep = epoll_create1(EPOLL_CLOEXEC);
	int64_t deadline = na_test_now_ms() + timeout_ms;
	size_t left = 0;

	for (size_t i = 0; i < n; i++) {
		if (p[i].done || !p[i].sp)
			continue;
		epoll_ctl(ep, EPOLL_CTL_ADD, netaccel_splice_fd(p[i].sp),
			  &(struct epoll_event){ .events = EPOLLIN, .data.u64 = i });
		left++;
	}
	while (left && na_test_now_ms() < deadline) {
		struct epoll_event ev[64];
		int k = epoll_wait(ep, ev, 64, 100);

		for (int j = 0; j < k; j++) {
			struct proxied *q = &p[ev[j].data.u64];

			if (q->done || netaccel_splice_run(q->sp) != 1)
				continue;
			netaccel_splice_info(q->sp, &q->info);
			q->done = true;
			left--;
			epoll_ctl(ep, EPOLL_CTL_DEL, netaccel_splice_fd(q->sp), NULL);
		}
	}
	close(ep);
	return left ? -ETIMEDOUT : 0;
}

struct engine {
	pthread_t t;
	struct na_test_conn *conns;
	size_t n;
	int timeout_ms;
	int rc;
};

static void *engine_main(void *arg)
{
	struct engine *e = arg;
	struct na_test_run_opts o = { .io = NA_TEST_IO_POLL, .timeout_ms = e->timeout_ms };

	e->rc = na_test_run(e->conns, e->n, &o);
	return NULL;
}

/* Client and server traffic in a thread, the pairs here, both checked. */
static void run_both(struct proxied *p, size_t n, int timeout_ms)
{
	struct na_test_conn *conns = calloc(n, sizeof(*conns));
	struct engine e = { .conns = conns, .n = n, .timeout_ms = timeout_ms };

	assert_non_null(conns);
	for (size_t i = 0; i < n; i++)
		conns[i] = p[i].conn;
	assert_int_equal(pthread_create(&e.t, NULL, engine_main, &e), 0);
	assert_int_equal(run_pairs(p, n, timeout_ms + 5000), 0);
	pthread_join(e.t, NULL);
	if (na_test_report(conns, n))
		fail_msg("bytes lost, changed or out of order");
	assert_int_equal(e.rc, 0);
	for (size_t i = 0; i < n; i++)
		p[i].conn = conns[i];
	free(conns);
}

static const char *path_name(unsigned int path)
{
	static const char *const names[] = { "auto", "kernel", "splice", "copy" };

	return path < 4 ? names[path] : "?";
}

/* Each size both ways at once, half-closed by each writer after its last
 * byte, on the path asked for (exactly that one). */
static void integrity_on(unsigned int path)
{
	static const size_t sizes[] = { 1, 1000, 65536 + 7, 1 << 20, 8 << 20 };

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		struct proxied p;

		assert_int_equal(make_proxied(&p), 0);
		na_test_dir_init(&p.conn.dir[0], 100 + i, sizes[i], 0, true);
		na_test_dir_init(&p.conn.dir[1], 200 + i, sizes[i] / 2 + 3, 0, true);
		p.sp = splice_path(&p, path, NETACCEL_SPLICE_EXACT);
		if (!p.sp)
			fail_msg("%s path: %s (%s)", path_name(path), strerror(errno),
				 netaccel_splice_why());
		run_both(&p, 1, 30000);
		assert_int_equal(p.info.path, path);
		assert_int_equal(p.info.error, 0);
		assert_int_equal(p.info.bytes[0], sizes[i]);
		assert_int_equal(p.info.bytes[1], sizes[i] / 2 + 3);
		if (path == NETACCEL_PATH_KERNEL && !p.info.paused[0])
			assert_int_equal(p.info.kernel_bytes[0], sizes[i]);
		close_proxied(&p);
	}
}

static void t_integrity_kernel(void **state)
{
	(void)state;
	integrity_on(NETACCEL_PATH_KERNEL);
}

static void t_integrity_splice(void **state)
{
	(void)state;
	integrity_on(NETACCEL_PATH_SPLICE);
}

static void t_integrity_copy(void **state)
{
	(void)state;
	integrity_on(NETACCEL_PATH_COPY);
}

/* Request and response through a pair that is not ended yet, rounds
 * times each way, 100 B each, checked; the pair runs here meanwhile. */
struct pingpong {
	int fd[2];
	int rounds;
	int rc;
	int done;
};

static void *pingpong_main(void *arg)
{
	struct pingpong *pp = arg;

	for (int r = 0; r < pp->rounds && !pp->rc; r++) {
		for (int s = 0; s < 2 && !pp->rc; s++) {
			pp->rc = na_test_send_pattern(pp->fd[s], 70 + s, r * 100u, 100);
			if (!pp->rc)
				pp->rc = na_test_recv_pattern(pp->fd[!s], 70 + s, r * 100u, 100);
		}
	}
	__atomic_store_n(&pp->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static void pingpong(struct proxied *p, int rounds)
{
	struct pingpong pp = { .fd = { p->conn.fd[0], p->conn.fd[1] }, .rounds = rounds };
	pthread_t t;

	for (int i = 0; i < 2; i++)
		na_test_set_timeouts(p->conn.fd[i], NA_TEST_TIMEOUT_MS);
	assert_int_equal(pthread_create(&t, NULL, pingpong_main, &pp), 0);
	while (!__atomic_load_n(&pp.done, __ATOMIC_ACQUIRE)) {
		if (poll(&(struct pollfd){ .fd = netaccel_splice_fd(p->sp), .events = POLLIN }, 1,
			 10) > 0)
			netaccel_splice_run(p->sp);
	}
	pthread_join(t, NULL);
	assert_int_equal(pp.rc, 0);
	netaccel_splice_info(p->sp, &p->info);
}

/* Taken automatically, a pair starts on the copy loop and says why;
 * request and response traffic moves it to the kernel path, which then
 * carries bulk both ways intact. A pair that carries bulk takes splice(2)
 * and stays there. */
static void t_auto_moves_to_kernel(void **state)
{
	struct proxied p;

	(void)state;
	assert_int_equal(make_proxied(&p), 0);
	p.sp = splice_path(&p, NETACCEL_PATH_AUTO, 0);
	assert_non_null(p.sp);
	netaccel_splice_info(p.sp, &p.info);
	assert_int_equal(p.info.path, NETACCEL_PATH_COPY);
	assert_non_null(strstr(p.info.why, "request and response"));
	pingpong(&p, 10);
	assert_int_equal(p.info.path, NETACCEL_PATH_KERNEL);
	assert_string_equal(p.info.why, "");
	assert_int_equal(p.info.bytes[0], 1000);
	assert_int_equal(p.info.bytes[1], 1000);
	assert_true(p.info.kernel_bytes[0] > 0 && p.info.kernel_bytes[0] < 1000);
	na_test_dir_init(&p.conn.dir[0], 1, (1 << 20) + 3, 0, true);
	na_test_dir_init(&p.conn.dir[1], 2, 300000, 0, true);
	run_both(&p, 1, 20000);
	assert_int_equal(p.info.path, NETACCEL_PATH_KERNEL);
	assert_int_equal(p.info.error, 0);
	assert_int_equal(p.info.bytes[0], 1000 + (1 << 20) + 3);
	assert_int_equal(p.info.bytes[1], 1000 + 300000);
	assert_true(p.info.kernel_bytes[0] > (1 << 19));
	close_proxied(&p);

	assert_int_equal(make_proxied(&p), 0);
	p.sp = splice_path(&p, NETACCEL_PATH_AUTO, 0);
	assert_non_null(p.sp);
	na_test_dir_init(&p.conn.dir[0], 3, 8 << 20, 0, true);
	na_test_dir_init(&p.conn.dir[1], 4, 1000, 0, true);
	run_both(&p, 1, 20000);
	assert_int_equal(p.info.path, NETACCEL_PATH_SPLICE);
	assert_int_equal(p.info.error, 0);
	assert_int_equal(p.info.bytes[0], 8 << 20);
	assert_int_equal(p.info.kernel_bytes[0], 0);
	close_proxied(&p);
}

/* Wait until fd has at least n bytes to read. */
static void wait_inq(int fd, int n)
{
	int64_t end = na_test_now_ms() + NA_TEST_TIMEOUT_MS;
	int inq = 0;

	while (na_test_now_ms() < end && !ioctl(fd, SIOCINQ, &inq) && inq < n)
		usleep(1000);
	assert_true(inq >= n);
}

/* Bytes that reached the proxy before the splice call, both ways, and a
 * FIN that did too: they leave first, in order, and the FIN after them. */
static void before_on(unsigned int path, bool fin)
{
	struct proxied p;

	assert_int_equal(make_proxied(&p), 0);
	assert_int_equal(na_test_send_pattern(p.conn.fd[0], 7, 0, 40000), 0);
	assert_int_equal(na_test_send_pattern(p.conn.fd[1], 8, 0, 20000), 0);
	if (fin)
		shutdown(p.conn.fd[0], SHUT_WR);
	wait_inq(p.px[0], 40000);
	wait_inq(p.px[1], 20000);
	/* The engine sends the rest of each stream after what was sent. */
	na_test_dir_init(&p.conn.dir[0], 7, 40000, 0, true);
	p.conn.dir[0].sent = 40000;
	p.conn.dir[0].shut_done = fin;
	na_test_dir_init(&p.conn.dir[1], 8, 20000 + 500000, 0, true);
	p.conn.dir[1].sent = 20000;
	/* A socket whose peer's FIN has arrived cannot join the kernel's
	 * map: the automatic choice takes splice(2) then. */
	p.sp = splice_path(&p, path, fin ? 0 : NETACCEL_SPLICE_EXACT);
	if (!p.sp)
		fail_msg("%s", netaccel_splice_why());
	if (fin && path == NETACCEL_PATH_KERNEL) {
		netaccel_splice_info(p.sp, &p.info);
		assert_int_equal(p.info.path, NETACCEL_PATH_SPLICE);
		assert_non_null(strstr(p.info.why, "closed"));
	}
	if (!fin) {
		/* more after the call, then the FIN */
		p.conn.dir[0].len = 40000 + 250000;
	}
	run_both(&p, 1, 20000);
	assert_int_equal(p.info.error, 0);
	close_proxied(&p);
}

static void t_before_kernel(void **state)
{
	(void)state;
	before_on(NETACCEL_PATH_KERNEL, false);
	before_on(NETACCEL_PATH_KERNEL, true);
}

static void t_before_user(void **state)
{
	(void)state;
	before_on(NETACCEL_PATH_SPLICE, false);
	before_on(NETACCEL_PATH_COPY, true);
}

/* One side sends a little and closes its sending half, the other goes
 * on sending 4 MiB and closes later: each direction ends on its own, and
 * the early EOF arrives while the other direction still runs. */
static void t_half_close(void **state)
{
	(void)state;
	for (unsigned int path = NETACCEL_PATH_KERNEL; path <= NETACCEL_PATH_COPY; path++) {
		for (int first = 0; first < 2; first++) {
			struct proxied p;

			assert_int_equal(make_proxied(&p), 0);
			na_test_dir_init(&p.conn.dir[first], 3, 1000, 0, true);
			na_test_dir_init(&p.conn.dir[!first], 4, 4 << 20, 0, true);
			p.sp = splice_path(&p, path, NETACCEL_SPLICE_EXACT);
			assert_non_null(p.sp);
			run_both(&p, 1, 20000);
			assert_int_equal(p.info.error, 0);
			assert_int_equal(p.info.bytes[first], 1000);
			assert_int_equal(p.info.bytes[!first], 4 << 20);
			close_proxied(&p);
		}
	}
}

/* A reset from either side ends the pair with ECONNRESET, and the other
 * side gets a reset too once the proxy closes. */
static void t_reset(void **state)
{
	(void)state;
	for (unsigned int path = NETACCEL_PATH_KERNEL; path <= NETACCEL_PATH_COPY; path++) {
		for (int side = 0; side < 2; side++) {
			struct linger lg = { 1, 0 };
			struct proxied p;
			char buf[16];
			ssize_t n;

			assert_int_equal(make_proxied(&p), 0);
			p.sp = splice_path(&p, path, NETACCEL_SPLICE_EXACT);
			assert_non_null(p.sp);
			setsockopt(p.conn.fd[side], SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
			close(p.conn.fd[side]);
			p.conn.fd[side] = -1;
			assert_int_equal(run_pairs(&p, 1, 10000), 0);
			assert_int_equal(p.info.error, ECONNRESET);
			netaccel_splice_free(p.sp);
			p.sp = NULL;
			close(p.px[0]);
			close(p.px[1]);
			p.px[0] = p.px[1] = -1;
			na_test_set_timeouts(p.conn.fd[!side], 5000);
			n = recv(p.conn.fd[!side], buf, sizeof(buf), 0);
			assert_int_equal(n, -1);
			assert_int_equal(errno, ECONNRESET);
			close_proxied(&p);
		}
	}
}

/* The client writes stream seed while the server reads nothing and the
 * pair runs, until no write has gone in for idle_ms: what it wrote. */
static size_t fill_unread(struct proxied *p, uint64_t seed, int idle_ms)
{
	int64_t idle_since = na_test_now_ms();
	char *buf = malloc(65536);
	size_t sent = 0;

	assert_non_null(buf);
	na_test_set_nonblock(p->conn.fd[0], true);
	while (na_test_now_ms() - idle_since < idle_ms) {
		ssize_t n;

		na_test_pattern_fill(seed, sent, buf, 65536);
		n = send(p->conn.fd[0], buf, 65536, MSG_DONTWAIT);
		if (n > 0) {
			sent += (size_t)n;
			idle_since = na_test_now_ms();
		}
		if (poll(&(struct pollfd){ .fd = netaccel_splice_fd(p->sp), .events = POLLIN }, 1,
			 n > 0 ? 0 : 10) > 0)
			netaccel_splice_run(p->sp);
		assert_true(sent < (256u << 20));
	}
	free(buf);
	return sent;
}

/* A server that does not read: the client can write only a bounded
 * amount, which then arrives whole once the server reads. */
static void t_slow_reader(void **state)
{
	for (unsigned int path = NETACCEL_PATH_KERNEL; path <= NETACCEL_PATH_COPY; path++) {
		struct proxied p;
		size_t sent;

		(void)state;
		assert_int_equal(make_proxied(&p), 0);
		p.sp = splice_path(&p, path, NETACCEL_SPLICE_EXACT);
		assert_non_null(p.sp);
		sent = fill_unread(&p, 11, 1000);
		print_message("# %s path: %zu bytes accepted while the server read nothing\n",
			      path_name(path), sent);
		/* Bounded: the buffers of four sockets and the kernel's queue,
		 * far from what an unbounded queue would take in a second. */
		assert_true(sent < (64u << 20));
		netaccel_splice_info(p.sp, &p.info);
		if (path == NETACCEL_PATH_KERNEL)
			assert_true(p.info.paused[0] >= 1);
		na_test_dir_init(&p.conn.dir[0], 11, sent + 300000, 0, true);
		p.conn.dir[0].sent = sent;
		na_test_dir_init(&p.conn.dir[1], 12, 1000, 0, true);
		run_both(&p, 1, 30000);
		assert_int_equal(p.info.error, 0);
		assert_int_equal(p.info.bytes[0], sent + 300000);
		close_proxied(&p);
	}
}

/* A pair taken automatically whose receiver fell behind (bulk) marks its
 * route: the route's next pair stays off the kernel path (copy loop,
 * splice(2) for bulk) and says why; a pair on another route may still
 * move to the kernel's. Its own backend listener, so that no other
 * test's route is marked. */
static void t_auto_learns_bulk(void **state)
{
	int saved = srv_lfd, bulk_lfd = na_test_listen(HOST, 0, 0);
	struct netaccel_splice_opts o = { .size = sizeof(o), .state_dir = state_dir };
	struct proxied p, q;
	size_t sent;

	(void)state;
	assert_true(bulk_lfd >= 0);
	srv_lfd = bulk_lfd;
	assert_int_equal(make_proxied(&p), 0);
	p.sp = splice_path(&p, NETACCEL_PATH_AUTO, 0);
	assert_non_null(p.sp);
	pingpong(&p, 10);
	assert_int_equal(p.info.path, NETACCEL_PATH_KERNEL);
	/* the server reads nothing until the direction paused */
	sent = fill_unread(&p, 61, 500);
	na_test_dir_init(&p.conn.dir[0], 61, sent, 0, true);
	p.conn.dir[0].sent = sent;
	na_test_dir_init(&p.conn.dir[1], 62, 100, 0, true);
	run_both(&p, 1, 30000);
	assert_true(p.info.paused[0] >= 1);
	close_proxied(&p);

	assert_int_equal(make_proxied(&p), 0);
	p.sp = splice_path(&p, NETACCEL_PATH_AUTO, 0);
	assert_non_null(p.sp);
	netaccel_splice_info(p.sp, &p.info);
	assert_int_equal(p.info.path, NETACCEL_PATH_COPY);
	assert_non_null(strstr(p.info.why, "bulk"));
	/* request and response no longer move it to the kernel; bulk
	 * still takes splice(2) */
	pingpong(&p, 10);
	assert_int_equal(p.info.path, NETACCEL_PATH_COPY);
	na_test_dir_init(&p.conn.dir[0], 63, 1 << 20, 0, true);
	na_test_dir_init(&p.conn.dir[1], 64, 1000, 0, true);
	run_both(&p, 1, 20000);
	assert_int_equal(p.info.path, NETACCEL_PATH_SPLICE);
	assert_int_equal(p.info.kernel_bytes[0], 0);
	close_proxied(&p);
	/* the route's memory hides no lasting answer: a socket on the
	 * kernel path, spliced again on this route, is EBUSY */
	assert_int_equal(make_proxied(&p), 0);
	assert_int_equal(make_proxied(&q), 0);
	p.sp = splice_path(&p, NETACCEL_PATH_KERNEL, NETACCEL_SPLICE_EXACT);
	assert_non_null(p.sp);
	assert_null(netaccel_splice(p.px[0], q.px[1], &o));
	assert_int_equal(errno, EBUSY);
	close_proxied(&q);
	close_proxied(&p);

	/* another route is not marked (a new one: an earlier test's bulk
	 * may have marked the usual one) */
	close(bulk_lfd);
	srv_lfd = bulk_lfd = na_test_listen(HOST, 0, 0);
	assert_true(bulk_lfd >= 0);
	assert_int_equal(make_proxied(&p), 0);
	p.sp = splice_path(&p, NETACCEL_PATH_AUTO, 0);
	assert_non_null(p.sp);
	netaccel_splice_info(p.sp, &p.info);
	assert_int_equal(p.info.path, NETACCEL_PATH_COPY);
	assert_non_null(strstr(p.info.why, "request and response"));
	na_test_dir_init(&p.conn.dir[0], 65, 1000, 0, true);
	na_test_dir_init(&p.conn.dir[1], 66, 1000, 0, true);
	run_both(&p, 1, 20000);
	close_proxied(&p);
	srv_lfd = saved;
	close(bulk_lfd);
}

/* A writer in bursts and a reader that keeps falling behind: the
 * direction pauses in a burst and resumes between bursts, over and over,
 * and every byte arrives in order. */
struct bursty {
	int fd;
	size_t len;
	int err;
	size_t got;
	size_t written;			/* the writer's, read by the reader */
	bool done;
	struct bursty *writer;		/* the reader's */
	int to_fd;			/* the reader's: the proxy's socket to it */
};

static size_t buf_size(int fd, int opt)
{
	int v = 0;
	socklen_t l = sizeof(v);

	return getsockopt(fd, SOL_SOCKET, opt, &v, &l) ? 0 : (size_t)v;
}

/*
 * Waits until the writer is so far ahead of what r got (or has ended, or
 * stopped between bursts) that more than the 1 MiB bound waits in the
 * kernel's queue: beyond the reader's receive buffer and the proxy
 * socket's send buffer, which grows as TCP tunes it. Bytes ahead, not
 * time, so that it holds at any speed of the machine.
 */
static void fall_behind(struct bursty *r)
{
	size_t behind = (3u << 19) + buf_size(r->fd, SO_RCVBUF) + buf_size(r->to_fd, SO_SNDBUF);
	size_t last = 0;
	int64_t since = na_test_now_ms();

	for (;;) {
		size_t w = __atomic_load_n(&r->writer->written, __ATOMIC_ACQUIRE);

		if (w >= r->got + behind || __atomic_load_n(&r->writer->done, __ATOMIC_ACQUIRE))
			return;
		/* the writer's pause between bursts is when the proxy
		 * catches up: not spent waiting here */
		if (w != last) {
			last = w;
			since = na_test_now_ms();
		} else if (na_test_now_ms() - since > 20) {
			return;
		}
		usleep(1000);
	}
}

static void *bursty_writer(void *arg)
{
	struct bursty *b = arg;
	char *buf = malloc(65536);
	size_t off = 0;

	na_test_set_nonblock(b->fd, false);
	while (buf && off < b->len) {
		size_t n = b->len - off < 65536 ? b->len - off : 65536;

		na_test_pattern_fill(71, off, buf, n);
		if (na_test_write_full(b->fd, buf, n) < 0) {
			b->err = -EIO;
			break;
		}
		off += n;
		__atomic_store_n(&b->written, off, __ATOMIC_RELEASE);
		/* bursts, so that the proxy catches up in between */
		if (off % (4u << 20) == 0)
			usleep(100000);
	}
	__atomic_store_n(&b->done, true, __ATOMIC_RELEASE);
	shutdown(b->fd, SHUT_WR);
	free(buf);
	return NULL;
}

static void *bursty_reader(void *arg)
{
	struct bursty *b = arg;
	char *buf = malloc(262144);
	int rounds = 0;

	na_test_set_nonblock(b->fd, false);
	na_test_set_timeouts(b->fd, 20000);
	while (buf) {
		ssize_t n = recv(b->fd, buf, 262144, 0);

		if (n <= 0) {
			if (n < 0)
				b->err = -errno;
			break;
		}
		if (na_test_pattern_check(71, b->got, buf, (size_t)n) >= 0) {
			b->err = -EILSEQ;
			break;
		}
		b->got += (size_t)n;
		/* now and then long enough to fall over 1 MiB behind */
		if (++rounds % 16 == 0)
			fall_behind(b);
	}
	free(buf);
	return NULL;
}

static void t_pause_resume(void **state)
{
	struct bursty w = { .len = 96u << 20 }, r = { .writer = &w };
	int rcvbuf = 128 << 10;
	pthread_t tw, tr;
	struct proxied p;

	(void)state;
	assert_int_equal(make_proxied(&p), 0);
	p.sp = splice_path(&p, NETACCEL_PATH_KERNEL, NETACCEL_SPLICE_EXACT);
	assert_non_null(p.sp);
	w.fd = p.conn.fd[0];
	r.fd = p.conn.fd[1];
	r.to_fd = p.px[1];
	shutdown(p.conn.fd[1], SHUT_WR);	/* nothing the other way */
	/* a small window, so that falling behind fills the kernel's queue
	 * rather than the reader's buffer */
	assert_int_equal(setsockopt(r.fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf)), 0);
	assert_int_equal(pthread_create(&tw, NULL, bursty_writer, &w), 0);
	assert_int_equal(pthread_create(&tr, NULL, bursty_reader, &r), 0);
	assert_int_equal(run_pairs(&p, 1, 90000), 0);
	pthread_join(tw, NULL);
	pthread_join(tr, NULL);
	print_message("# %d pauses, %llu of %zu bytes by the kernel\n", p.info.paused[0],
		      p.info.kernel_bytes[0], w.len);
	assert_int_equal(w.err, 0);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.got, w.len);
	assert_int_equal(p.info.error, 0);
	assert_true(p.info.paused[0] >= 2);
	close_proxied(&p);
}

/* Many pairs at once, each with its own streams. */
static void t_many_pairs(void **state)
{
	enum { N = 1000 };
	struct proxied *p = calloc(N, sizeof(*p));
	size_t kernel = 0;

	(void)state;
	assert_non_null(p);
	for (size_t i = 0; i < N; i++) {
		assert_int_equal(make_proxied(&p[i]), 0);
		na_test_dir_init(&p[i].conn.dir[0], 1000 + i, 1000 + i * 37, 0, true);
		na_test_dir_init(&p[i].conn.dir[1], 5000 + i, 20000 - i * 7, 0, true);
		p[i].sp = splice_path(&p[i], NETACCEL_PATH_KERNEL, NETACCEL_SPLICE_EXACT);
		assert_non_null(p[i].sp);
	}
	run_both(p, N, 60000);
	for (size_t i = 0; i < N; i++) {
		assert_int_equal(p[i].info.error, 0);
		kernel += p[i].info.path == NETACCEL_PATH_KERNEL;
		close_proxied(&p[i]);
	}
	assert_int_equal(kernel, N);
	free(p);
}

/* Not TCP: the kernel path says so, and the automatic choice splices. */
static void t_fallback_unix(void **state)
{
	struct netaccel_splice_opts o = { .size = sizeof(o), .state_dir = state_dir };
	struct netaccel_splice_info info;
	struct netaccel_splice *sp;
	int c[2], s[2];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, c), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, s), 0);
	o.flags = NETACCEL_SPLICE_EXACT;
	o.path = NETACCEL_PATH_KERNEL;
	assert_null(netaccel_splice(c[1], s[0], &o));
	assert_int_equal(errno, EOPNOTSUPP);
	assert_non_null(strstr(netaccel_splice_why(), "TCP"));
	o.flags = 0;
	sp = netaccel_splice(c[1], s[0], &o);
	assert_non_null(sp);
	netaccel_splice_info(sp, &info);
	assert_int_equal(info.path, NETACCEL_PATH_SPLICE);
	assert_non_null(strstr(info.why, "TCP"));
	{
		struct proxied p = { .conn = { .fd = { c[0], s[1] } }, .px = { c[1], s[0] }, .sp = sp };

		na_test_dir_init(&p.conn.dir[0], 21, 300000, 0, true);
		na_test_dir_init(&p.conn.dir[1], 22, 200000, 0, true);
		run_both(&p, 1, 10000);
		assert_int_equal(p.info.bytes[0], 300000);
		close_proxied(&p);
	}
}

/* A socket with the kTLS upper-layer protocol stays off the kernel path. */
static void t_fallback_tls(void **state)
{
	struct proxied p;

	(void)state;
	assert_int_equal(make_proxied(&p), 0);
	if (setsockopt(p.px[0], IPPROTO_TCP, TCP_ULP, "tls", sizeof("tls")) < 0) {
		/* The module may not be loaded yet; a kernel built without
		 * CONFIG_TLS has no ULP to test with at all. */
		int rc = system("modprobe tls >/dev/null 2>&1");

		if (setsockopt(p.px[0], IPPROTO_TCP, TCP_ULP, "tls", sizeof("tls")) < 0) {
			int e = errno;

			assert_int_equal(e, ENOENT);
			assert_int_not_equal(rc, 0);
			print_message("# this kernel has no tls ULP (CONFIG_TLS): only the "
				      "Debian kernels under qemu test this\n");
			close_proxied(&p);
			return;
		}
	}
	na_test_dir_init(&p.conn.dir[0], 31, 100000, 0, true);
	na_test_dir_init(&p.conn.dir[1], 32, 100000, 0, true);
	p.sp = splice_path(&p, NETACCEL_PATH_AUTO, 0);
	assert_non_null(p.sp);
	run_both(&p, 1, 10000);
	assert_int_not_equal(p.info.path, NETACCEL_PATH_KERNEL);
	assert_non_null(strstr(p.info.why, "tls"));
	close_proxied(&p);
}

/* A process without privilege, with nothing set up for it: splice(2),
 * and it says why. (A child, so that it loads nothing of the parent's.) */
static void t_fallback_unprivileged(void **state)
{
	struct proxied p;
	pid_t pid;
	int st;

	(void)state;
	assert_int_equal(make_proxied(&p), 0);
	pid = fork();
	if (pid == 0) {
		struct netaccel_splice_opts o = { .size = sizeof(o) };
		struct netaccel_splice_info info;
		char dir[160];
		struct netaccel_splice *sp;

		snprintf(dir, sizeof(dir), "%s-unpriv", state_dir);
		o.state_dir = dir;
		if (setgroups(0, NULL) < 0 || setresgid(65534, 65534, 65534) < 0 ||
		    setresuid(65534, 65534, 65534) < 0)
			_exit(2);
		sp = netaccel_splice(p.px[0], p.px[1], &o);
		if (!sp)
			_exit(3);
		netaccel_splice_info(sp, &info);
		if (info.path != NETACCEL_PATH_COPY || !strstr(info.why, "privilege")) {
			fprintf(stderr, "# path %u why %s\n", info.path, info.why);
			_exit(4);
		}
		na_test_dir_init(&p.conn.dir[0], 41, 200000, 0, true);
		na_test_dir_init(&p.conn.dir[1], 42, 100000, 0, true);
		p.sp = sp;
		run_both(&p, 1, 10000);
		/* bulk: splice(2) took it over from the copy loop */
		_exit(p.info.error || p.info.bytes[0] != 200000 ? 5 :
		      p.info.path != NETACCEL_PATH_SPLICE ? 6 : 0);
	}
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	close_proxied(&p);
}

/*
 * A process that forks while a pair is on the kernel path, its watch
 * thread running: each child can splice at once (the watch's lock is
 * never left taken in it), and a child's own kernel-path pair pauses and
 * resumes, every byte arriving (the child watches its pairs too).
 */
#define FORKS 400

static void t_fork(void **state)
{
	struct proxied p;
	pid_t pid;

	(void)state;
	assert_int_equal(make_proxied(&p), 0);
	p.sp = splice_path(&p, NETACCEL_PATH_KERNEL, NETACCEL_SPLICE_EXACT);
	assert_non_null(p.sp);
	for (int i = 0; i < FORKS; i++) {
		pid = fork();
		if (pid == 0) {
			struct netaccel_splice_opts o = { .size = sizeof(o),
							  .state_dir = state_dir };

			/* taken already, so refused; but it must answer */
			_exit(!netaccel_splice(p.px[0], p.px[1], &o) && errno == EBUSY ? 0 : 1);
		}
		assert_true(pid > 0);
		assert_int_equal(na_test_reap_bounded(pid, 5000), 0);
	}
	pid = fork();
	if (pid == 0) {
		struct proxied q;
		size_t sent;

		if (make_proxied(&q) < 0)
			_exit(2);
		q.sp = splice_path(&q, NETACCEL_PATH_KERNEL, NETACCEL_SPLICE_EXACT);
		if (!q.sp)
			_exit(3);
		sent = fill_unread(&q, 91, 500);
		netaccel_splice_info(q.sp, &q.info);
		if (!q.info.paused[0])
			_exit(4);
		na_test_dir_init(&q.conn.dir[0], 91, sent + 300000, 0, true);
		q.conn.dir[0].sent = sent;
		na_test_dir_init(&q.conn.dir[1], 92, 1000, 0, true);
		run_both(&q, 1, 20000);
		_exit(q.info.error || q.info.bytes[0] != sent + 300000 ? 5 : 0);
	}
	assert_true(pid > 0);
	assert_int_equal(na_test_reap_bounded(pid, 60000), 0);
	na_test_dir_init(&p.conn.dir[0], 93, 100000, 0, true);
	na_test_dir_init(&p.conn.dir[1], 94, 100000, 0, true);
	run_both(&p, 1, 10000);
	assert_int_equal(p.info.error, 0);
	close_proxied(&p);
}

/*
 * What an administrator sets up (netaccel-ctl splice enable --group), a
 * process of that group without any privilege uses: the kernel path,
 * with every byte. The bpffs directories above the state are made
 * searchable for it; their modes are put back afterwards.
 */
static char shared_dir[160];
static mode_t bpffs_mode[4];
static char bpffs_dirs[4][160];
static int nbpffs;

static void remember_modes(const char *dir)
{
	char p[160];

	snprintf(p, sizeof(p), "%s", dir);
	nbpffs = 0;
	for (char *slash; nbpffs < 4 && (slash = strrchr(p, '/')) && slash != p;) {
		struct stat sb;

		*slash = 0;
		if (stat(p, &sb))
			break;
		snprintf(bpffs_dirs[nbpffs], sizeof(bpffs_dirs[0]), "%s", p);
		bpffs_mode[nbpffs++] = sb.st_mode & 07777;
	}
}

static void restore_modes(void)
{
	for (int i = 0; i < nbpffs; i++)
		chmod(bpffs_dirs[i], bpffs_mode[i]);
	nbpffs = 0;
}

static void remove_shared(void)
{
	if (!shared_dir[0])
		return;
	na_splice_disable(shared_dir, NULL);
	rmdir(shared_dir);
	restore_modes();
	shared_dir[0] = 0;
}

/* Enables a pinned splice in shared_dir (state_dir and suffix) for group,
 * remembering the modes of the bpffs directories above it. */
static void shared_enable(const char *suffix, gid_t group)
{
	struct na_reason why = { 0 };

	snprintf(shared_dir, sizeof(shared_dir), "%s-%s", state_dir, suffix);
	remember_modes(shared_dir);
	if (na_splice_enable(shared_dir, group, NULL, 0, &why))
		fail_msg("splice enable: %s", why.msg);
}

static void t_unprivileged_kernel(void **state)
{
	struct na_reason why = { 0 };
	struct na_splice_summary sum;
	struct proxied p;
	pid_t pid;
	int st;

	(void)state;
	shared_enable("shared", 65534);
	assert_int_equal(make_proxied(&p), 0);
	pid = fork();
	if (pid == 0) {
		struct netaccel_splice_opts o = { .size = sizeof(o), .state_dir = shared_dir };
		struct netaccel_splice *sp;

		if (setgroups(0, NULL) < 0 || setresgid(65534, 65534, 65534) < 0 ||
		    setresuid(65534, 65534, 65534) < 0)
			_exit(2);
		o.path = NETACCEL_PATH_KERNEL;
		o.flags = NETACCEL_SPLICE_EXACT;
		sp = netaccel_splice(p.px[0], p.px[1], &o);
		if (!sp) {
			fprintf(stderr, "# as nobody: %s\n", netaccel_splice_why());
			_exit(3);
		}
		na_test_dir_init(&p.conn.dir[0], 51, 3 << 20, 0, true);
		na_test_dir_init(&p.conn.dir[1], 52, 1 << 20, 0, true);
		p.sp = sp;
		run_both(&p, 1, 20000);
		_exit(p.info.error || p.info.bytes[0] != 3u << 20 || !p.info.kernel_bytes[1] ? 5 : 0);
	}
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_int_equal(na_splice_summary(shared_dir, &sum, &why), 0);
	assert_true(sum.enabled);
	assert_int_equal(sum.group, 65534);
	assert_true(sum.stats.bytes > 0);
	remove_shared();
	close_proxied(&p);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

/*
 * A kernel splice whose map of directions is full (filled here; in life
 * by the pairs of proxies killed while their pairs were live) refuses the
 * kernel path and says so; the pair then runs on splice(2), every byte.
 */
static void t_kernel_full(void **state)
{
	struct bpf_map_info info = { 0 };
	__u32 len = sizeof(info);
	struct netaccel_splice_opts o = { .size = sizeof(o), .path = NETACCEL_PATH_KERNEL };
	struct proxied p;
	char path[256];
	uint64_t n;
	void *val;
	int fd;

	(void)state;
	shared_enable("full", 0);
	snprintf(path, sizeof(path), "%s/splice/na_splice_dirs", shared_dir);
	fd = bpf_obj_get(path);
	assert_true(fd >= 0);
	assert_int_equal(bpf_obj_get_info_by_fd(fd, &info, &len), 0);
	val = calloc(1, info.value_size);
	assert_non_null(val);
	/* keys far above any socket cookie this boot hands out */
	for (n = 0; n < info.max_entries; n++) {
		uint64_t key = (1ULL << 62) + n;

		if (bpf_map_update_elem(fd, &key, val, BPF_NOEXIST))
			break;
	}
	free(val);
	close(fd);
	assert_int_equal(n, info.max_entries);

	assert_int_equal(make_proxied(&p), 0);
	o.state_dir = shared_dir;
	o.flags = NETACCEL_SPLICE_EXACT;
	assert_null(netaccel_splice(p.px[0], p.px[1], &o));
	assert_int_equal(errno, E2BIG);
	assert_non_null(strstr(netaccel_splice_why(), "splice is full"));
	o.flags = 0;
	p.sp = netaccel_splice(p.px[0], p.px[1], &o);
	assert_non_null(p.sp);
	netaccel_splice_info(p.sp, &p.info);
	assert_int_equal(p.info.path, NETACCEL_PATH_SPLICE);
	assert_non_null(strstr(p.info.why, "splice is full"));
	na_test_dir_init(&p.conn.dir[0], 111, 1 << 20, 0, true);
	na_test_dir_init(&p.conn.dir[1], 112, 1000, 0, true);
	run_both(&p, 1, 20000);
	assert_int_equal(p.info.error, 0);
	close_proxied(&p);
	remove_shared();
}

/* A proxy that started before the administrator enabled the splice takes
 * it up for its later pairs (the library looks again after a second). */
static void t_unprivileged_takes_up_enable(void **state)
{
	struct na_reason why = { 0 };
	struct proxied p[2];
	int go[2], ready[2], st;
	pid_t pid;
	char c;

	(void)state;
	snprintf(shared_dir, sizeof(shared_dir), "%s-later", state_dir);
	remember_modes(shared_dir);
	assert_int_equal(make_proxied(&p[0]), 0);
	assert_int_equal(make_proxied(&p[1]), 0);
	assert_int_equal(pipe(go), 0);
	assert_int_equal(pipe(ready), 0);
	pid = fork();
	if (pid == 0) {
		struct netaccel_splice_opts o = {
			.size = sizeof(o), .path = NETACCEL_PATH_KERNEL, .state_dir = shared_dir,
		};
		struct netaccel_splice_info info;
		int rc = 0;

		if (setgroups(0, NULL) < 0 || setresgid(65534, 65534, 65534) < 0 ||
		    setresuid(65534, 65534, 65534) < 0)
			_exit(2);
		for (int i = 0; i < 2; i++) {
			if (i) {
				/* told that it is enabled now; then past the retry */
				if (write(ready[1], "r", 1) != 1 || read(go[0], &c, 1) != 1)
					_exit(3);
				usleep(1200 * 1000);
			}
			p[i].sp = netaccel_splice(p[i].px[0], p[i].px[1], &o);
			if (!p[i].sp)
				_exit(4);
			netaccel_splice_info(p[i].sp, &info);
			if (info.path != (i ? NETACCEL_PATH_KERNEL : NETACCEL_PATH_SPLICE)) {
				fprintf(stderr, "# pair %d: path %u (%s)\n", i, info.path, info.why);
				rc = 5;
			}
			na_test_dir_init(&p[i].conn.dir[0], 81 + i, 300000, 0, true);
			na_test_dir_init(&p[i].conn.dir[1], 91 + i, 200000, 0, true);
			run_both(&p[i], 1, 20000);
			if (p[i].info.error || p[i].info.bytes[0] != 300000)
				rc = 6;
		}
		_exit(rc);
	}
	assert_true(pid > 0);
	assert_int_equal(read(ready[0], &c, 1), 1);
	if (na_splice_enable(shared_dir, 65534, NULL, 0, &why))
		fail_msg("splice enable: %s", why.msg);
	assert_int_equal(write(go[1], "g", 1), 1);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	remove_shared();
	for (int i = 0; i < 2; i++)
		close_proxied(&p[i]);
	for (int i = 0; i < 2; i++) {
		close(go[i]);
		close(ready[i]);
	}
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

/* Nonsense: an error, and nothing spliced. */
static void t_bad_arguments(void **state)
{
	struct netaccel_splice_opts o = { .size = sizeof(o), .state_dir = state_dir };
	struct proxied p, q;
	int u[2];

	(void)state;
	assert_int_equal(make_proxied(&p), 0);
	assert_null(netaccel_splice(p.px[0], p.px[0], &o));
	assert_int_equal(errno, EINVAL);
	o.path = 7;
	assert_null(netaccel_splice(p.px[0], p.px[1], &o));
	assert_int_equal(errno, EINVAL);
	o.path = 0;
	o.flags = 0x80;
	assert_null(netaccel_splice(p.px[0], p.px[1], &o));
	assert_int_equal(errno, EINVAL);
	o.flags = 0;
	o.size = 4;
	assert_null(netaccel_splice(p.px[0], p.px[1], &o));
	assert_int_equal(errno, EINVAL);
	o.size = sizeof(o);
	assert_null(netaccel_splice(p.px[0], 12345, &o));
	assert_int_equal(errno, EINVAL);
	assert_int_equal(pipe(u), 0);
	assert_null(netaccel_splice(p.px[0], u[0], &o));
	assert_int_equal(errno, EINVAL);
	close(u[0]);
	close(u[1]);
	/* the sockets work as before, and can be spliced now; one of them
	 * spliced again, with another socket, is refused */
	p.sp = splice_path(&p, NETACCEL_PATH_KERNEL, NETACCEL_SPLICE_EXACT);
	assert_non_null(p.sp);
	assert_int_equal(make_proxied(&q), 0);
	assert_null(netaccel_splice(p.px[0], q.px[1], &o));
	assert_int_equal(errno, EBUSY);
	close_proxied(&q);
	na_test_dir_init(&p.conn.dir[0], 101, 1000, 0, true);
	na_test_dir_init(&p.conn.dir[1], 102, 1000, 0, true);
	run_both(&p, 1, 10000);
	assert_int_equal(p.info.error, 0);
	close_proxied(&p);
}

static void on_alarm(int sig)
{
	(void)sig;
	static const char msg[] = "not ok - watchdog: a test hung\n";

	(void)!write(1, msg, sizeof(msg) - 1);
	remove_shared();
	_exit(1);
}

static int main_srv_lfd = -1;

static int setup(void **state)
{
	(void)state;
	/* a test that failed midway may have left its own listener here */
	srv_lfd = main_srv_lfd;
	remove_shared();	/* and the pinned splice one may have left */
	alarm(TEST_TIMEOUT_S);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(t_integrity_kernel, setup),
		cmocka_unit_test_setup(t_integrity_splice, setup),
		cmocka_unit_test_setup(t_integrity_copy, setup),
		cmocka_unit_test_setup(t_auto_moves_to_kernel, setup),
		cmocka_unit_test_setup(t_before_kernel, setup),
		cmocka_unit_test_setup(t_before_user, setup),
		cmocka_unit_test_setup(t_half_close, setup),
		cmocka_unit_test_setup(t_reset, setup),
		cmocka_unit_test_setup(t_slow_reader, setup),
		cmocka_unit_test_setup(t_pause_resume, setup),
		cmocka_unit_test_setup(t_many_pairs, setup),
		cmocka_unit_test_setup(t_auto_learns_bulk, setup),
		cmocka_unit_test_setup(t_fallback_unix, setup),
		cmocka_unit_test_setup(t_fallback_tls, setup),
		cmocka_unit_test_setup(t_fallback_unprivileged, setup),
		cmocka_unit_test_setup(t_fork, setup),
		cmocka_unit_test_setup(t_unprivileged_kernel, setup),
		cmocka_unit_test_setup(t_unprivileged_takes_up_enable, setup),
		cmocka_unit_test_setup(t_kernel_full, setup),
		cmocka_unit_test_setup(t_bad_arguments, setup),
	};
	struct rlimit rl = { 16384, 16384 };

	if (geteuid() != 0) {
		printf("1..0 # SKIP needs root\n");
		return 77;
	}
	signal(SIGPIPE, SIG_IGN);
	signal(SIGALRM, on_alarm);
	setrlimit(RLIMIT_NOFILE, &rl);
	snprintf(state_dir, sizeof(state_dir), "/sys/fs/bpf/netaccel-test-splice-%d", getpid());
	srv_lfd = na_test_listen(HOST, 0, 0);
	prx_lfd = na_test_listen(HOST, 0, 0);
	if (srv_lfd < 0 || prx_lfd < 0) {
		printf("Bail out! cannot listen on loopback\n");
		return 1;
	}
	listen(srv_lfd, 4096);
	listen(prx_lfd, 4096);
	main_srv_lfd = srv_lfd;
	atexit(remove_shared);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
