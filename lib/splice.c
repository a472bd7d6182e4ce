// SPDX-License-Identifier: GPL-2.0-only
/*
 * Proxy splice (<netaccel.h>): a pair of connected stream sockets whose
 * bytes go from one to the other without the caller, on the first path
 * that works:
 *
 *  kernel  na_splice_verdict (bpf/splice.bpf.c) forwards each skb to the
 *          other socket's send side. The process only watches: for a FIN,
 *          which it passes on as shutdown(SHUT_WR) once every byte before
 *          it has left, for a reset, and for a direction the kernel
 *          paused because its receiver fell behind, which it then moves
 *          itself (copy), after the kernel's queue to that receiver.
 *  splice  splice(2) through a pipe per direction.
 *  copy    recv/send through a buffer per direction.
 *
 * Asked for no path in particular, a pair starts on the copy loop, which
 * moves small messages sooner than splice(2); a direction that reads a
 * bulk's worth at once takes splice(2), which moves bulk faster than
 * either of the others (the kernel path's queue to a slow receiver has to
 * be paused and moved by the process). A pair the kernel path could take
 * moves to it once its traffic has turned round a few times in small
 * messages (request and response, which the kernel path forwards sooner).
 *
 * Whether every byte a socket received went through the verdict is
 * counted, not assumed: TCP_INFO's bytes_received against what the
 * process read before the pair was made plus what the verdict forwarded
 * or passed. A FIN is seen (EPOLLRDHUP) before the verdict has read the
 * bytes that came just before it, and an skb the verdict passed may still
 * wait in the kernel's work queue when recv() says EOF.
 *
 * The kernel's maps are either the ones `netaccel-ctl splice enable`
 * pinned under <state-dir>/splice (usable by whoever may open them), or,
 * where none are pinned, loaded for this process alone when it may.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <linux/sockios.h>
#include <linux/tcp.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <netaccel.h>
#include <netaccel/splice.h>
#include <netaccel/state.h>

#include "internal.h"
#include "splice.skel.h"

#ifndef SO_COOKIE
#define SO_COOKIE 57
#endif
#ifndef TCP_ULP
#define TCP_ULP 31
#endif

#define COPY_BUF (64 * 1024)
#define DEFAULT_MAX_QUEUED (1024 * 1024)
#define WATCH_NS (10 * 1000 * 1000)	/* how often paused directions are looked for */
#define RECHECK_NS (1000 * 1000)	/* how soon a wait for the kernel is looked at again */
#define RETRY_MS 1000			/* a kernel path that failed is tried again after */
#define PROMOTE_TURNS 4			/* turns of request and response before the kernel */
#define TURN_BYTES (8 * 1024)		/* at most this much one way between two turns */
#define BULK_READ (16 * 1024)		/* a read this large: splice(2) from then on */

/* ---- the kernel's side, shared by the pairs of a process ---- */

struct kctx {
	struct kctx *next;
	char dir[PATH_MAX];
	int err;			/* 0: usable; else why says why not */
	char why[256];
	bool pinned;
	struct na_splice_maps m;
	struct na_splice *skel;		/* loaded for this process */
	uint64_t seen;			/* pauses and resumes the watch saw */
	int64_t retry_ms;		/* err: when to try again */
};

static pthread_mutex_t klock = PTHREAD_MUTEX_INITIALIZER;
static struct kctx *kctxs;
static struct netaccel_splice *kpairs;	/* kernel-path pairs, for the watch */
static bool watching;

static __thread char last_why[256];

/*
 * Routes that carried bulk lately. The kernel path forwards request and
 * response traffic faster than a process does, but bulk transfers slower
 * than splice(2) (docs/performance.md): a pair taken automatically whose
 * direction the kernel paused (a receiver behind a fast sender: bulk)
 * marks its route, and the route's next pairs take splice(2) for
 * BULK_MEMORY_MS. A route is the first socket's local address and the
 * second one's remote address: for a proxy, its listener and the backend.
 */
#define ROUTES 128
#define BULK_MEMORY_MS 60000

struct route {
	struct sockaddr_storage local, remote;
	int64_t until_ms;
};

static struct route routes[ROUTES];
static unsigned int next_route;

const char *netaccel_splice_why(void)
{
	return last_why;
}

__attribute__((format(printf, 2, 3)))
static void say(char *out, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(out, 256, fmt, ap);
	va_end(ap);
}

static int kctx_load(struct kctx *k)
{
	int err;

	k->skel = na_splice__open_and_load();
	if (!k->skel)
		return -errno;
	k->m.socks = bpf_map__fd(k->skel->maps.na_splice_socks);
	k->m.dirs = bpf_map__fd(k->skel->maps.na_splice_dirs);
	k->m.stats = bpf_map__fd(k->skel->maps.na_splice_stats);
	k->m.resume = bpf_map__fd(k->skel->maps.na_splice_resume);
	err = bpf_prog_attach(bpf_program__fd(k->skel->progs.na_splice_verdict), k->m.socks,
			      BPF_SK_SKB_STREAM_VERDICT, 0);
	return err < 0 ? -errno : 0;
}

static int64_t now_ms(void);

/* Open what an administrator pinned in k->dir, or else load a copy for
 * this process; k->err and k->why say why neither. */
static void kctx_try(struct kctx *k)
{
	int err = na_splice_open_maps(k->dir, &k->m), open_err = err;

	k->err = 0;
	k->pinned = !err;
	/* Without the privilege, not even an attempt (libbpf would tell
	 * stderr about it). */
	if (err)
		err = na_caps_check(true, NULL);
	if (open_err && !err)
		err = kctx_load(k);
	if (err < 0) {
		k->err = err;
		k->retry_ms = now_ms() + RETRY_MS;
		if (err == -EPERM || err == -EACCES)
			say(k->why, "no privilege to load the splice program (needs CAP_BPF, "
				    "CAP_NET_ADMIN and CAP_PERFMON), and none set up at %s to use (%s)",
			    k->dir, strerror(-open_err));
		else
			say(k->why, "cannot load the splice program: %s", strerror(-err));
		na_splice__destroy(k->skel);
		k->skel = NULL;
	}
	na_lib_log(NA_LOG_DEBUG, "splice: %s %s", k->dir,
		   k->err ? k->why : k->pinned ? "pinned" : "loaded for this process");
}

/*
 * The kernel path of state directory dir, opened once per process. One
 * that could not be opened is tried again after RETRY_MS, so that a
 * proxy started before `netaccel-ctl splice enable` takes it up.
 */
static struct kctx *kctx_get(const char *state_dir)
{
	char dir[PATH_MAX];
	struct kctx *k;

	snprintf(dir, sizeof(dir), "%s/" NA_SPLICE_SUBDIR, na_state_dir(state_dir));
	pthread_mutex_lock(&klock);
	for (k = kctxs; k && strcmp(k->dir, dir); k = k->next)
		;
	if (k) {
		if (k->err && now_ms() >= k->retry_ms)
			kctx_try(k);
	} else if ((k = calloc(1, sizeof(*k)))) {
		snprintf(k->dir, sizeof(k->dir), "%s", dir);
		kctx_try(k);
		k->next = kctxs;
		kctxs = k;
	}
	pthread_mutex_unlock(&klock);
	return k;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool route_of(int a, int b, struct route *r)
{
	socklen_t l1 = sizeof(r->local), l2 = sizeof(r->remote);

	memset(r, 0, sizeof(*r));
	return !getsockname(a, (struct sockaddr *)&r->local, &l1) &&
	       !getpeername(b, (struct sockaddr *)&r->remote, &l2);
}

static struct route *route_find(const struct route *r)
{
	for (int i = 0; i < ROUTES; i++)
		if (!memcmp(&routes[i].local, &r->local, sizeof(r->local)) &&
		    !memcmp(&routes[i].remote, &r->remote, sizeof(r->remote)))
			return &routes[i];
	return NULL;
}

static bool route_bulk(const struct route *r)
{
	struct route *x;
	bool bulk;

	pthread_mutex_lock(&klock);
	x = route_find(r);
	bulk = x && x->until_ms > now_ms();
	pthread_mutex_unlock(&klock);
	return bulk;
}

static void route_mark(const struct route *r)
{
	struct route *x;

	pthread_mutex_lock(&klock);
	x = route_find(r);
	if (!x)
		x = &routes[next_route++ % ROUTES];
	*x = *r;
	x->until_ms = now_ms() + BULK_MEMORY_MS;
	pthread_mutex_unlock(&klock);
}

/* ---- a pair ---- */

enum { MODE_KERNEL = 1, MODE_SPLICE, MODE_COPY };

struct dir {
	int from, to;
	int mode;
	bool eof;		/* every byte before the FIN has been moved or handed on */
	bool shut;		/* shutdown(to, SHUT_WR) done */
	bool want_in, want_out;
	bool waiting;		/* for the kernel: the timer looks again */
	bool again;		/* its round was cut short: run again soon */
	uint64_t user;		/* bytes this process moved (since the kernel took over) */
	uint64_t user_before;	/* bytes this process moved before the kernel took over */
	char *buf;		/* copy */
	size_t head, tail;
	int pipe[2];		/* splice */
	size_t inpipe;
	/* kernel */
	uint64_t cookie;	/* of from */
	struct na_splice_dir kd;
	uint64_t consumed0;	/* data bytes of from read before the pair was made */
	bool paused;		/* seen paused: this direction is the process's */
	bool kernel_drained;	/* the kernel's queue to `to` was empty once paused */
	bool resume_asked;	/* for the passed bytes up to asked_passed */
	uint64_t fwd_seen;	/* kd.fwd when last seen paused */
	uint64_t asked_passed;
	int pauses;
	bool go_splice;		/* copy: take splice(2) once the buffer is out */
};

struct netaccel_splice {
	struct netaccel_splice *knext;
	int fd[2];
	int ep, timer;
	unsigned int path;
	unsigned int max_queued;
	char why[256];
	struct kctx *k;
	bool in_kernel;		/* entries in the maps to take out */
	struct dir d[2];
	uint32_t reg[2];	/* events registered per socket; UINT32_MAX: not registered */
	bool ended;
	int error;
	bool learn;		/* taken automatically: a pause marks the route */
	struct route route;
	/* Taken automatically, the kernel path possible: moved to it
	 * after PROMOTE_TURNS turns. */
	bool promote;
	int turns;		/* of the traffic, each with at most TURN_BYTES */
	int last_in;		/* direction that read last, or -1 */
	uint64_t burst;		/* bytes read that way since it turned */
	bool to_splice;		/* copy, taken automatically: bulk takes splice(2) */
};

static int set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || (!(fl & O_NONBLOCK) && fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0))
		return -errno;
	return 0;
}

static int tcp_info(int fd, struct tcp_info *ti)
{
	socklen_t len = sizeof(*ti);

	memset(ti, 0, sizeof(*ti));
	return getsockopt(fd, IPPROTO_TCP, TCP_INFO, ti, &len) < 0 ? -errno : 0;
}

/* Bytes given to fd's send side so far: acknowledged plus queued. */
static int written(int fd, uint64_t *out)
{
	struct tcp_info ti;
	int outq = 0;

	if (tcp_info(fd, &ti) < 0 || ioctl(fd, SIOCOUTQ, &outq) < 0)
		return -errno;
	*out = ti.tcpi_bytes_acked + (uint64_t)outq;
	return 0;
}

static bool rdhup(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLRDHUP };

	return poll(&p, 1, 0) == 1 && (p.revents & POLLRDHUP);
}

/* Data bytes fd has received (TCP_INFO counts a FIN as one). The FIN is
 * looked for first: one that comes in between makes the count too high,
 * which only means looking again later. */
static int data_received(int fd, uint64_t *out)
{
	bool fin = rdhup(fd);
	struct tcp_info ti;

	if (tcp_info(fd, &ti) < 0)
		return -errno;
	*out = ti.tcpi_bytes_received - (fin && ti.tcpi_bytes_received ? 1 : 0);
	return 0;
}

/* Data bytes of fd that the process has read (fd not in the map yet). */
static int consumed(int fd, uint64_t *out)
{
	for (int i = 0; i < 100; i++) {
		uint64_t r1, r2;
		int inq = 0;

		if (data_received(fd, &r1) < 0 || ioctl(fd, SIOCINQ, &inq) < 0 ||
		    data_received(fd, &r2) < 0)
			return -errno;
		if (r1 == r2) {
			*out = r1 - (uint64_t)inq;
			return 0;
		}
	}
	return -EAGAIN;
}

static bool is_tcp(int fd)
{
	int proto = 0;
	socklen_t len = sizeof(proto);

	return !getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &proto, &len) && proto == IPPROTO_TCP;
}

static int check_stream(int fd)
{
	int type = 0;
	socklen_t len = sizeof(type);
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);

	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0)
		return errno == ENOTSOCK ? -EINVAL : -errno;
	if (type != SOCK_STREAM)
		return -EINVAL;
	if (getpeername(fd, (struct sockaddr *)&ss, &sl) < 0)
		return -EINVAL;
	return 0;
}

/* Why the kernel path cannot take fd ("" and 0: it can). */
static int kernel_unfit(int fd, char *why)
{
	char ulp[16] = "";
	socklen_t len = sizeof(ulp);
	struct tcp_info ti;

	if (!is_tcp(fd)) {
		say(why, "the kernel path takes TCP sockets only");
		return -EOPNOTSUPP;
	}
	if (!getsockopt(fd, IPPROTO_TCP, TCP_ULP, ulp, &len) && ulp[0]) {
		say(why, "a socket has the upper-layer protocol %.15s", ulp);
		return -EOPNOTSUPP;
	}
	if (netaccel_is_accelerated(fd) == 1) {
		say(why, "a socket is on netaccel's local bypass");
		return -EOPNOTSUPP;
	}
	if (tcp_info(fd, &ti) < 0 || ti.tcpi_state != BPF_TCP_ESTABLISHED) {
		say(why, "a socket's peer has closed its side already (the kernel path takes "
			 "established connections only)");
		return -EOPNOTSUPP;
	}
	return 0;
}

/* Whether fd is in a pair the kernel runs. */
static bool spliced_already(const struct kctx *k, int fd)
{
	struct na_splice_dir kd;
	uint64_t cookie;
	socklen_t len = sizeof(cookie);

	return !getsockopt(fd, SOL_SOCKET, SO_COOKIE, &cookie, &len) &&
	       !bpf_map_lookup_elem(k->m.dirs, &cookie, &kd);
}

static void take_out(struct netaccel_splice *sp)
{
	if (!sp->in_kernel)
		return;
	/* The sockets first: a direction without its socket entry is
	 * never looked up again. */
	for (int i = 0; i < 2; i++)
		bpf_map_delete_elem(sp->k->m.socks, &sp->d[i].cookie);
	for (int i = 0; i < 2; i++) {
		bpf_map_delete_elem(sp->k->m.dirs, &sp->d[i].cookie);
		bpf_map_delete_elem(sp->k->m.resume, &sp->d[i].cookie);
	}
	sp->in_kernel = false;
}

static void *watch(void *arg);

/*
 * fork(2) copies klock as it is: taken by the watch thread (every
 * WATCH_NS) or by another thread of the caller, it would stay taken for
 * good in the child, whose first netaccel_splice() would then hang. The
 * lock is held across fork, and the child, which has no watch thread,
 * starts its own with its first kernel-path pair.
 */
static void fork_prepare(void)
{
	pthread_mutex_lock(&klock);
}

static void fork_parent(void)
{
	pthread_mutex_unlock(&klock);
}

static void fork_child(void)
{
	pthread_mutex_init(&klock, NULL);
	watching = false;
}

__attribute__((constructor)) static void fork_handlers(void)
{
	pthread_atfork(fork_prepare, fork_parent, fork_child);
}

static void watch_add(struct netaccel_splice *sp)
{
	pthread_t t;

	pthread_mutex_lock(&klock);
	sp->knext = kpairs;
	kpairs = sp;
	if (!watching) {
		pthread_attr_t at;

		pthread_attr_init(&at);
		pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
		watching = !pthread_create(&t, &at, watch, NULL);
		pthread_attr_destroy(&at);
	}
	pthread_mutex_unlock(&klock);
}

static void watch_del(struct netaccel_splice *sp)
{
	pthread_mutex_lock(&klock);
	for (struct netaccel_splice **p = &kpairs; *p; p = &(*p)->knext) {
		if (*p == sp) {
			*p = sp->knext;
			break;
		}
	}
	pthread_mutex_unlock(&klock);
}

static void arm(int timer, long ns)
{
	struct itimerspec it = { .it_value = { .tv_sec = ns / 1000000000L,
					       .tv_nsec = ns % 1000000000L } };

	timerfd_settime(timer, 0, &it, NULL);
}

static uint64_t paused_total(const struct kctx *k)
{
	struct na_splice_stats sum;
	uint32_t zero = 0;

	if (na_percpu_sum(k->m.stats, &zero, (uint64_t *)&sum, NA_SPLICE_NUM_COUNTERS))
		return 0;
	return sum.paused + sum.resumed + sum.no_peer;
}

/* The kernel tells no process that it paused a direction (a wake-up per
 * skb would cost what the kernel path saves): a thread looks at the
 * counter of pauses every WATCH_NS and, when it moved, wakes the pairs
 * whose direction it paused. */
static void *watch(void *arg)
{
	(void)arg;
	for (;;) {
		struct timespec ts = { 0, WATCH_NS };

		nanosleep(&ts, NULL);
		pthread_mutex_lock(&klock);
		for (struct kctx *k = kctxs; k; k = k->next) {
			uint64_t n;

			if (k->err)
				continue;
			n = paused_total(k);
			if (n == k->seen)
				continue;
			k->seen = n;
			for (struct netaccel_splice *sp = kpairs; sp; sp = sp->knext) {
				for (int i = 0; i < 2; i++) {
					struct na_splice_dir kd;

					if (sp->k == k &&
					    !bpf_map_lookup_elem(k->m.dirs, &sp->d[i].cookie, &kd) &&
					    !kd.paused != !sp->d[i].paused)
						arm(sp->timer, 1);
				}
			}
		}
		pthread_mutex_unlock(&klock);
	}
	return NULL;
}

static int start_kernel(struct netaccel_splice *sp, struct kctx *k, char *why)
{
	int err;

	if (!k)
		return -ENOMEM;
	if (k->err) {
		memcpy(why, k->why, sizeof(k->why));
		return k->err;
	}
	sp->k = k;
	for (int i = 0; i < 2; i++) {
		struct dir *d = &sp->d[i];
		socklen_t len = sizeof(d->cookie);

		if (getsockopt(d->from, SOL_SOCKET, SO_COOKIE, &d->cookie, &len) < 0)
			return -errno;
		uint64_t base = 0;

		err = consumed(d->from, &d->consumed0);
		if (!err)
			err = written(d->to, &base);
		if (err)
			return err;
		d->kd.base = base;
		d->kd.limit = sp->max_queued;
	}
	/* Directions first, then sockets: a socket's verdict finds its
	 * direction from the moment it is in the map (its bytes would
	 * otherwise be left to the process, ahead of later redirected ones).
	 * Its other socket may still be missing: the verdict then pauses the
	 * direction, which is slower but keeps every byte in order. */
	for (int i = 0; i < 2; i++) {
		if (bpf_map_update_elem(k->m.dirs, &sp->d[i].cookie, &sp->d[i].kd, BPF_NOEXIST) < 0) {
			err = errno == EEXIST ? -EBUSY : -errno;
			if (i)
				bpf_map_delete_elem(k->m.dirs, &sp->d[0].cookie);
			if (err == -E2BIG)
				say(why, "the kernel's splice is full (%d directions; those of a "
					 "proxy killed with live pairs stay until netaccel-ctl splice "
					 "disable)", NA_SPLICE_MAX);
			else
				say(why, "cannot add the pair to the kernel's splice: %s",
				    strerror(-err));
			return err;
		}
	}
	sp->in_kernel = true;
	for (int i = 0; i < 2; i++) {
		uint64_t fd = (uint64_t)sp->d[i].to;	/* the map's value is 64 bits */

		if (bpf_map_update_elem(k->m.socks, &sp->d[i].cookie, &fd, BPF_NOEXIST) < 0) {
			err = errno == EEXIST ? -EBUSY : -errno;
			if (!i) {
				say(why, "cannot add a socket to the kernel's splice: %s",
				    strerror(-err));
				take_out(sp);
				return err;
			}
			/* The first socket is in, and the verdict may have
			 * handed bytes to it that taking it out would drop.
			 * The kernel keeps it; this process moves both
			 * directions (the first pauses by itself). */
			sp->d[0].kd.paused = 1;
			bpf_map_update_elem(k->m.dirs, &sp->d[0].cookie, &sp->d[0].kd, BPF_EXIST);
			break;
		}
	}
	/* Bytes that arrived before: setting SO_RCVLOWAT makes TCP look
	 * at its receive queue again, which runs the verdict on them. */
	for (int i = 0; i < 2; i++) {
		int one = 1;

		setsockopt(sp->fd[i], SOL_SOCKET, SO_RCVLOWAT, &one, sizeof(one));
		sp->d[i].mode = MODE_KERNEL;
	}
	watch_add(sp);
	return 0;
}

static int pump_alloc(struct dir *d)
{
	if (!d->buf && !(d->buf = malloc(COPY_BUF)))
		return -ENOMEM;
	return 0;
}

static int start_user(struct netaccel_splice *sp, int mode, char *why)
{
	for (int i = 0; i < 2; i++) {
		struct dir *d = &sp->d[i];

		d->mode = mode;
		if (mode == MODE_COPY && pump_alloc(d) < 0)
			return -ENOMEM;
		if (mode == MODE_SPLICE && pipe2(d->pipe, O_NONBLOCK | O_CLOEXEC) < 0) {
			int err = errno;

			say(why, "cannot make a pipe: %s", strerror(err));
			return -err;
		}
	}
	return 0;
}


struct netaccel_splice *netaccel_splice(int a, int b, const struct netaccel_splice_opts *opts)
{
	struct netaccel_splice_opts o = { .size = sizeof(o) };
	struct netaccel_splice *sp;
	char why[256] = "";
	bool bulk_route = false;
	unsigned int path;
	int err;

	last_why[0] = 0;
	if (opts) {
		if (opts->size < offsetof(struct netaccel_splice_opts, state_dir) + sizeof(char *)) {
			errno = EINVAL;
			return NULL;
		}
		memcpy(&o, opts, sizeof(o));
	}
	if (a == b || o.path > NETACCEL_PATH_COPY || (o.flags & ~NETACCEL_SPLICE_EXACT) ||
	    check_stream(a) < 0 || check_stream(b) < 0) {
		say(last_why, "not two different connected stream sockets");
		errno = EINVAL;
		return NULL;
	}
	sp = calloc(1, sizeof(*sp));
	if (!sp) {
		errno = ENOMEM;
		return NULL;
	}
	sp->fd[0] = a;
	sp->fd[1] = b;
	sp->ep = sp->timer = -1;
	sp->max_queued = o.max_queued ? o.max_queued : DEFAULT_MAX_QUEUED;
	sp->reg[0] = sp->reg[1] = UINT32_MAX;
	for (int i = 0; i < 2; i++) {
		sp->d[i].from = sp->fd[i];
		sp->d[i].to = sp->fd[!i];
		sp->d[i].pipe[0] = sp->d[i].pipe[1] = -1;
	}
	err = set_nonblock(a);
	if (!err)
		err = set_nonblock(b);
	sp->ep = epoll_create1(EPOLL_CLOEXEC);
	sp->timer = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (err || sp->ep < 0 || sp->timer < 0) {
		err = err ? err : -errno;
		goto fail;
	}
	if (epoll_ctl(sp->ep, EPOLL_CTL_ADD, sp->timer,
		      &(struct epoll_event){ .events = EPOLLIN, .data.u32 = 2 }) < 0) {
		err = -errno;
		goto fail;
	}

	path = o.path ? o.path : NETACCEL_PATH_KERNEL;
	sp->last_in = -1;
	if (!o.path && route_of(a, b, &sp->route)) {
		sp->learn = true;
		bulk_route = route_bulk(&sp->route);
	}
	err = -EINVAL;
	for (; path <= NETACCEL_PATH_COPY; path++) {
		/* The first reason is the one to tell; later ones go to
		 * scratch. */
		char scratch[sizeof(why)] = "", *w = why[0] ? scratch : why;

		if (path == NETACCEL_PATH_KERNEL) {
			struct kctx *k = kctx_get(o.state_dir);

			err = kernel_unfit(a, w);
			if (!err)
				err = kernel_unfit(b, w);
			if (!err && !o.path && k && !k->err) {
				/* The kernel path once the traffic shows that
				 * it pays; the copy loop (splice(2) for bulk)
				 * until then. */
				if (spliced_already(k, a) || spliced_already(k, b)) {
					say(w, "a socket is spliced already");
					err = -EBUSY;
					break;
				}
				/* Told only where the kernel path could take
				 * the pair: a reason that lasts (privilege, a
				 * ULP) says more than one that passes. */
				if (bulk_route) {
					say(w, "its route carried bulk transfers lately, which the "
					       "kernel path moves slower than splice(2): the copy "
					       "loop, and splice(2) for bulk");
					continue;
				}
				sp->k = k;
				sp->promote = true;
				say(w, "the kernel path takes the pair once its traffic is request "
				       "and response; until then the copy loop, and splice(2) for bulk");
				continue;
			}
			if (!err)
				err = start_kernel(sp, k, w);
			if (err && !w[0])
				say(w, "the kernel path failed: %s", strerror(-err));
		} else if (path == NETACCEL_PATH_SPLICE) {
			/* splice(2) never sees what the bypass redirected */
			if (netaccel_is_accelerated(a) == 1 || netaccel_is_accelerated(b) == 1) {
				say(w, "a socket is on netaccel's local bypass, which splice(2) "
				       "does not see");
				err = -EOPNOTSUPP;
			} else if (!o.path) {
				/* Taken automatically: small messages copy,
				 * bulk splices (pump). */
				err = start_user(sp, MODE_COPY, w);
				sp->to_splice = !err;
				if (!err) {
					path = NETACCEL_PATH_COPY;
					break;
				}
			} else {
				err = start_user(sp, MODE_SPLICE, w);
			}
		} else {
			err = start_user(sp, MODE_COPY, w);
		}
		if (!err)
			break;
		if ((o.flags & NETACCEL_SPLICE_EXACT) || err == -EBUSY || err == -ENOMEM)
			break;
	}
	if (err)
		goto fail;
	sp->path = path;
	memcpy(sp->why, why, sizeof(sp->why));
	memcpy(last_why, why, sizeof(last_why));
	netaccel_splice_run(sp);
	return sp;
fail:
	memcpy(last_why, why, sizeof(last_why));
	netaccel_splice_free(sp);
	errno = -err;
	return NULL;
}

int netaccel_splice_fd(const struct netaccel_splice *sp)
{
	return sp->ep;
}

/* A direction of the kernel path: whether every byte that from received
 * went through the verdict, and whether none waits in the kernel for to.
 * Both are needed before to's send side may be shut, and the second
 * before the process writes to it. */
static bool through_verdict(struct dir *d)
{
	uint64_t got;

	return !data_received(d->from, &got) && got <= d->consumed0 + d->kd.fwd + d->kd.passed;
}

static bool kernel_queue_empty(struct dir *d)
{
	uint64_t w;

	return !written(d->to, &w) && w - d->kd.base - d->user >= d->kd.fwd;
}

static int end(struct netaccel_splice *sp, int error)
{
	if (!sp->ended) {
		sp->ended = true;
		sp->error = error;
		/* Readable from now on, so that a caller that waits for the
		 * fd learns of the end even when it came before it looked. */
		arm(sp->timer, 1);
		if (error) {
			/* The other side learns of it by a reset too when the
			 * caller closes. */
			struct linger lg = { 1, 0 };

			for (int i = 0; i < 2; i++)
				setsockopt(sp->fd[i], SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		}
	}
	return 1;
}

static int sock_error(int fd)
{
	int e = 0;
	socklen_t len = sizeof(e);

	getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len);
	return e;
}

static bool io_error(int e)
{
	return e != EAGAIN && e != EWOULDBLOCK && e != EINTR;
}

/*
 * A paused direction that this process has caught up on: every byte
 * `from` received went to the kernel's queue or through here, and `to`
 * has room again. Ask the verdict to take it back (it does so only if no
 * skb was passed since the count read here).
 */
static void ask_resume(struct netaccel_splice *sp, struct dir *d)
{
	struct pollfd pf = { .fd = d->to, .events = POLLOUT };
	struct na_splice_resume r;
	struct na_splice_dir kd;
	uint64_t got;

	if (bpf_map_lookup_elem(sp->k->m.dirs, &d->cookie, &kd) || !kd.paused)
		return;
	d->kd = kd;
	if (d->resume_asked && d->asked_passed == kd.passed)
		return;
	if (data_received(d->from, &got) < 0 || got != d->consumed0 + kd.fwd + d->user)
		return;
	if (poll(&pf, 1, 0) != 1 || !(pf.revents & POLLOUT))
		return;
	r.passed = kd.passed;
	r.user = d->user;
	if (!bpf_map_update_elem(sp->k->m.resume, &d->cookie, &r, BPF_ANY)) {
		d->resume_asked = true;
		d->asked_passed = kd.passed;
	}
}

/* n bytes read for direction d of a pair that may move to the kernel:
 * count the turns of request and response traffic. */
static void turn(struct netaccel_splice *sp, struct dir *d, size_t n)
{
	int i = d == &sp->d[1];

	if (i != sp->last_in) {
		if (sp->last_in >= 0)
			sp->turns = sp->burst <= TURN_BYTES ? sp->turns + 1 : 0;
		sp->last_in = i;
		sp->burst = 0;
	}
	sp->burst += n;
	if (sp->burst > TURN_BYTES)
		sp->turns = 0;
}

/* Move what can move in a direction that this process runs. 0, or a
 * positive errno that ends the pair. */
static int pump(struct netaccel_splice *sp, struct dir *d)
{
	d->want_in = d->want_out = d->again = false;
	if (d->mode == MODE_KERNEL && !d->kernel_drained) {
		if (!kernel_queue_empty(d)) {
			d->waiting = true;
			return 0;
		}
		d->kernel_drained = true;
	}
	for (int rounds = 0; rounds < 64; rounds++) {
		ssize_t n;

		if (d->go_splice && d->tail == d->head) {
			/* Bulk, and nothing in hand: splice(2) from now on. */
			d->go_splice = false;
			if (!pipe2(d->pipe, O_NONBLOCK | O_CLOEXEC)) {
				d->mode = MODE_SPLICE;
				sp->path = NETACCEL_PATH_SPLICE;
			} else {
				sp->to_splice = false;
			}
		}
		if (d->mode == MODE_SPLICE ? d->inpipe : d->tail > d->head) {
			if (d->mode == MODE_SPLICE)
				n = splice(d->pipe[0], NULL, d->to, NULL, d->inpipe,
					   SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
			else
				n = send(d->to, d->buf + d->head, d->tail - d->head,
					 MSG_NOSIGNAL | MSG_DONTWAIT);
			if (n < 0) {
				if (io_error(errno))
					return errno;
				d->want_out = true;
				/* a receiver behind: bulk */
				sp->turns = 0;
				return 0;
			}
			d->user += (uint64_t)n;
			if (d->mode == MODE_SPLICE)
				d->inpipe -= (size_t)n;
			else if ((d->head += (size_t)n) == d->tail)
				d->head = d->tail = 0;
			continue;
		}
		if (d->eof) {
			if (!d->shut && shutdown(d->to, SHUT_WR) < 0 && errno != ENOTCONN)
				return errno;
			d->shut = true;
			return 0;
		}
		if (d->mode == MODE_SPLICE)
			n = splice(d->from, NULL, d->pipe[1], NULL, COPY_BUF,
				   SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
		else
			n = recv(d->from, d->buf, COPY_BUF, MSG_DONTWAIT);
		if (n < 0) {
			if (io_error(errno))
				return errno;
			d->want_in = true;
			if (d->mode == MODE_KERNEL)
				ask_resume(sp, d);
			return 0;
		}
		if (n == 0) {
			/* A direction the kernel paused: EOF only once every
			 * byte went through the verdict and was read here (a
			 * passed skb can wait in the kernel's work queue). */
			if (d->mode == MODE_KERNEL) {
				struct na_splice_dir kd;
				uint64_t got;

				if (!bpf_map_lookup_elem(sp->k->m.dirs, &d->cookie, &kd))
					d->kd = kd;
				if (data_received(d->from, &got) < 0 ||
				    got > d->consumed0 + d->kd.fwd + d->user) {
					d->waiting = true;
					return 0;
				}
			}
			d->eof = true;
			continue;
		}
		if (d->mode == MODE_SPLICE) {
			d->inpipe += (size_t)n;
		} else {
			d->tail = (size_t)n;
			d->head = 0;
			if (d->mode == MODE_COPY && sp->to_splice && n >= BULK_READ)
				d->go_splice = true;
		}
		if (sp->promote)
			turn(sp, d, (size_t)n);
	}
	/* More to do, and perhaps nothing that epoll would report (the
	 * bytes are in hand already): come back at once. */
	d->again = true;
	return 0;
}

/* A direction the kernel runs: look for a FIN and a pause. */
static int watch_kernel(struct netaccel_splice *sp, struct dir *d)
{
	struct na_splice_dir kd;

	if (!bpf_map_lookup_elem(sp->k->m.dirs, &d->cookie, &kd))
		d->kd = kd;
	if (d->kd.paused) {
		if (!d->paused) {
			d->paused = true;
			d->pauses++;
			if (sp->learn)
				route_mark(&sp->route);
			if (pump_alloc(d) < 0)
				return ENOMEM;
		} else if (d->kd.fwd != d->fwd_seen) {
			/* The kernel took it back and paused it again since
			 * the last look: what it forwarded in between may still
			 * wait in its queue, ahead of what comes here next. */
			d->kernel_drained = d->resume_asked = false;
			d->pauses++;
		}
		d->fwd_seen = d->kd.fwd;
		return pump(sp, d);
	}
	if (d->paused) {
		/* The kernel took it back: every byte moved here was in
		 * `to` before it did. */
		d->paused = d->kernel_drained = d->resume_asked = false;
		d->want_in = d->want_out = false;
	}
	if (!rdhup(d->from))
		return 0;
	if (!through_verdict(d) || !kernel_queue_empty(d)) {
		d->waiting = true;
		return 0;
	}
	d->eof = d->shut = true;
	if (shutdown(d->to, SHUT_WR) < 0 && errno != ENOTCONN)
		return errno;
	return 0;
}

/*
 * A pair taken automatically whose traffic turned out request and
 * response: hand it to the kernel, as if it were spliced now. Only with
 * nothing in hand either way (every byte read has been written), so that
 * the kernel's bytes cannot overtake the process's; the bytes that wait
 * unread are the kernel's, as bytes before a netaccel_splice() call are.
 */
static void promote(struct netaccel_splice *sp)
{
	char why[256] = "";
	int err;

	for (int i = 0; i < 2; i++) {
		struct dir *d = &sp->d[i];

		if (d->eof || d->shut || d->inpipe || d->tail > d->head)
			return;
	}
	sp->promote = false;
	for (int i = 0; i < 2; i++) {
		sp->d[i].user_before = sp->d[i].user;
		sp->d[i].user = 0;
	}
	err = start_kernel(sp, sp->k, why);
	if (err) {
		/* It stays where it is. */
		for (int i = 0; i < 2; i++) {
			sp->d[i].user = sp->d[i].user_before;
			sp->d[i].user_before = 0;
		}
		na_lib_log(NA_LOG_DEBUG, "splice: a pair stays off the kernel path: %s",
			   why[0] ? why : strerror(-err));
		return;
	}
	for (int i = 0; i < 2; i++) {
		struct dir *d = &sp->d[i];

		for (int j = 0; j < 2; j++) {
			if (d->pipe[j] >= 0)
				close(d->pipe[j]);
			d->pipe[j] = -1;
		}
		d->head = d->tail = 0;
		d->want_in = d->want_out = d->again = d->go_splice = false;
	}
	sp->to_splice = false;
	sp->path = NETACCEL_PATH_KERNEL;
	sp->why[0] = 0;
	/* Look at the kernel's directions at once, as netaccel_splice()
	 * does after start_kernel(): one may have paused before the watch
	 * thread knew the pair (the first socket's verdict runs before the
	 * second socket is in the map, and its bytes then go to the
	 * process), and the watch only wakes pairs for later pauses. */
	arm(sp->timer, 1);
}

static void set_interest(struct netaccel_splice *sp)
{
	for (int s = 0; s < 2; s++) {
		struct dir *rd = &sp->d[s], *wd = &sp->d[!s];	/* s reads for rd, writes for wd */
		uint32_t ev = 0;
		bool idle;

		if (rd->mode == MODE_KERNEL && !rd->paused && !rd->eof && !rd->waiting)
			ev |= EPOLLRDHUP;
		if (rd->want_in && !rd->waiting)
			ev |= EPOLLIN;
		if (wd->want_out)
			ev |= EPOLLOUT;
		/* A socket both of whose directions are done reports
		 * EPOLLHUP for good: stop listening to it. */
		idle = rd->eof && wd->shut;
		if (idle && sp->reg[s] != UINT32_MAX) {
			epoll_ctl(sp->ep, EPOLL_CTL_DEL, sp->fd[s], NULL);
			sp->reg[s] = UINT32_MAX;
		} else if (!idle && sp->reg[s] != ev) {
			struct epoll_event e = { .events = ev, .data.u32 = (uint32_t)s };

			epoll_ctl(sp->ep, sp->reg[s] == UINT32_MAX ? EPOLL_CTL_ADD : EPOLL_CTL_MOD,
				  sp->fd[s], &e);
			sp->reg[s] = ev;
		}
	}
}

int netaccel_splice_run(struct netaccel_splice *sp)
{
	struct epoll_event ev[3];
	bool wait = false, again = false;
	int n;

	if (sp->ended)
		return 1;
	/* What epoll has says where to look; the state itself is read anew
	 * (level-triggered: nothing is lost by not acting on an event). */
	n = epoll_wait(sp->ep, ev, 3, 0);
	for (int i = 0; i < n; i++) {
		uint32_t s = ev[i].data.u32;

		if (s == 2) {
			uint64_t ticks;

			(void)!read(sp->timer, &ticks, sizeof(ticks));
		} else if (ev[i].events & (EPOLLERR | EPOLLHUP)) {
			int e = sock_error(sp->fd[s]);

			if (e)
				return end(sp, e);
		}
	}
	for (int i = 0; i < 2; i++) {
		struct dir *d = &sp->d[i];
		int e;

		d->waiting = false;
		if (d->shut)
			continue;
		if (d->mode == MODE_KERNEL)
			e = watch_kernel(sp, d);
		else
			e = pump(sp, d);
		if (e)
			return end(sp, e);
		wait |= d->waiting;
		again |= d->again;
	}
	if (sp->d[0].shut && sp->d[1].shut)
		return end(sp, 0);
	if (sp->promote && sp->turns >= PROMOTE_TURNS && !again && !wait)
		promote(sp);
	set_interest(sp);
	if (again)
		arm(sp->timer, 1);
	else if (wait)
		arm(sp->timer, RECHECK_NS);
	return 0;
}

int netaccel_splice_info(const struct netaccel_splice *sp, struct netaccel_splice_info *info)
{
	memset(info, 0, sizeof(*info));
	info->path = sp->path;
	info->ended = sp->ended;
	info->error = sp->error;
	memcpy(info->why, sp->why, sizeof(info->why));
	for (int i = 0; i < 2; i++) {
		const struct dir *d = &sp->d[i];
		struct na_splice_dir kd = d->kd;

		if (d->mode == MODE_KERNEL && sp->in_kernel)
			bpf_map_lookup_elem(sp->k->m.dirs, &d->cookie, &kd);
		info->kernel_bytes[i] = d->mode == MODE_KERNEL ? kd.fwd : 0;
		info->bytes[i] = info->kernel_bytes[i] + d->user + d->user_before;
		info->paused[i] = d->pauses;
	}
	return 0;
}

void netaccel_splice_free(struct netaccel_splice *sp)
{
	if (!sp)
		return;
	if (sp->k && sp->d[0].mode == MODE_KERNEL) {
		watch_del(sp);
		/* Keep the last counts for netaccel_splice_info. */
		for (int i = 0; i < 2 && sp->in_kernel; i++)
			bpf_map_lookup_elem(sp->k->m.dirs, &sp->d[i].cookie, &sp->d[i].kd);
	}
	take_out(sp);
	for (int i = 0; i < 2; i++) {
		free(sp->d[i].buf);
		for (int j = 0; j < 2; j++)
			if (sp->d[i].pipe[j] >= 0)
				close(sp->d[i].pipe[j]);
	}
	if (sp->ep >= 0)
		close(sp->ep);
	if (sp->timer >= 0)
		close(sp->timer);
	free(sp);
}
