// SPDX-License-Identifier: GPL-2.0-only
/*
 * Local bypass: TCP connections between two sockets of this host, both
 * created in enrolled cgroups, move their bytes with sk_msg redirects from
 * one socket straight to the other's receive queue.
 *
 *  na_sock_create  counts the TCP sockets created in enrolled cgroups.
 *  na_sockops      puts a socket of an enrolled cgroup (the deepest enrolled
 *                  ancestor of the cgroup it was created in) in the sockhash
 *                  when its connection is established, with its state in
 *                  SK_STORAGE, and counts it out when it closes.
 *  na_msg          on each send: redirect to the peer if the connection
 *                  chose the fast path, otherwise let it pass.
 *  na_setsockopt   netaccel's socket option level: an application (or the
 *  na_getsockopt   preload shim) opts a socket in or out, and asks whether
 *                  it is accelerated. Every other level passes untouched.
 *  na_rxwatch      learns how each fast-path socket reads its TCP bytes:
 *                  with recv (redirected bytes reach it) or with splice
 *                  (they never would).
 *  na_fionread     on kernels whose FIONREAD does not count redirected
 *                  bytes (no sk_psock.msg_tot_len): a fast-path socket
 *                  asked FIONREAD gets no more of them (loaded only there).
 *
 * Redirected bytes go to the peer's sockmap queue, which the kernel serves
 * exactly like TCP only to an event-driven reader: a blocking recv() there
 * returns EAGAIN after a wake-up without data and ignores MSG_WAITALL,
 * poll() ignores SO_RCVLOWAT, and splice() never sees the bytes. So:
 *  - a blocking socket, or one with SO_RCVLOWAT above 1, does not join at
 *    all: in the sockhash, tcp_bpf would serve its TCP bytes too. An
 *    accepted socket has no file yet when it would join: it joins only if
 *    earlier sockets of its listener were seen reading non-blocking, none
 *    blocking or splicing;
 *  - a sender redirects only to a peer that is non-blocking, has no
 *    SO_RCVLOWAT, and has been seen reading TCP bytes with recv() and
 *    never with splice(), in a process that never spliced. Until then its
 *    bytes take TCP (deferred), and move to the fast path once the peer
 *    has read them (no reordering);
 *  - ports whose connections close after one exchange stop joining
 *    (short_lived): they would only pay for it.
 *
 * The programs are here; what they share is in bypass/: kernel.bpf.h (the
 * kernel structures read), peer.bpf.h (peers, fitness, marks, slots) and
 * join.bpf.h (sock_ops joining and leaving).
 */
#include <linux/bpf.h>
#include <linux/types.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "netaccel_abi.h"
#include "bypass_maps.bpf.h"
#include "na_addr.bpf.h"
#include "na_count.bpf.h"
#include "na_defs.bpf.h"

char LICENSE[] SEC("license") = "GPL";

/* A peer may hold at most this many redirected, unread bytes, or its
 * SO_RCVBUF if that is larger; set by the loader. */
const volatile __u32 na_backlog_min = NA_BACKLOG_MIN;

/* The kernel's page size: sockopt programs see at most this much of an
 * option value; set by the loader. */
const volatile __s32 na_page_size = 4096;

/* Minimum TCP retransmission timeout of a socket on the fast path, in
 * microseconds (see join); 0 leaves the kernel's 200 ms. */
const volatile __u32 na_rto_min_us = NA_FAST_RTO_MIN_US;

/* 1: this CPU's kernel copies to user space several times slower into a
 * buffer off a 32-byte boundary (measured by the loader): readers with
 * such buffers are marked (NA_RX_MISALIGN, see NA_STREAM_WINDOW). */
const volatile __u32 na_copy_slow = 0;

#include "bypass/kernel.bpf.h"
#include "bypass/peer.bpf.h"

/*
 * Counts the TCP sockets created in enrolled cgroups. A socket gets its
 * state (SK_STORAGE) only when it needs one: when it joins, when an
 * application tags it, when it listens and was tagged, and when it is
 * accepted from a listener that netaccel has not seen at work yet. A
 * connection per request that does not join allocates nothing.
 */
SEC("cgroup/sock_create")
int na_sock_create(struct bpf_sock *sk)
{
	__u32 slot;

	if (sk->type != SOCK_STREAM || sk->protocol != IPPROTO_TCP)
		return NA_CG_OK;
	if (sk->family != AF_INET && sk->family != AF_INET6)
		return NA_CG_OK;
	slot = current_slot();
	if (active_cfg(slot))
		COUNT(slot, sockets_tagged, 1);
	return NA_CG_OK;
}

#include "bypass/join.bpf.h"

SEC("sockops")
int na_sockops(struct bpf_sock_ops *ops)
{
	switch (ops->op) {
	case BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB:
	case BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB:
		join(ops);
		break;
	case BPF_SOCK_OPS_TCP_LISTEN_CB:
		listen_start(ops);
		break;
	case BPF_SOCK_OPS_STATE_CB:
		if (ops->args[1] != BPF_TCP_CLOSE)
			break;
		if (ops->args[0] == BPF_TCP_LISTEN)
			listen_stop(ops);
		else
			leave(ops);
		break;
	}
	return NA_CG_OK;
}

/* Whether the sending socket itself is blocking (or has SO_RCVLOWAT). */
static __always_inline int own_blocking(struct bpf_sock *sk)
{
	struct tcp_sock *tp = bpf_skc_to_tcp_sock(sk);

	return !tp || rx_unfit((__u64)tp) != NA_FIT;
}

/*
 * Back from TCP (throttled or deferred) to the redirect path only when no
 * TCP byte can be behind the next redirected one: every byte we wrote has
 * reached the peer (its rcv_nxt is our write_seq: no need to wait for the
 * ACK, which a delayed-ACK timer can hold back when the peer's own sends
 * are redirected), the peer has read them all, and its redirect backlog is
 * down to half the limit. The peer read its redirect queue before those
 * TCP bytes, so nothing older waits anywhere. Moving to TCP past the limit
 * keeps the order too, because the receiver drains its redirect queue
 * before it reads its TCP queue.
 */
static __always_inline int may_resume(struct sk_msg_md *msg, const struct na_peer_view *v)
{
	struct tcp_sock *own = bpf_skc_to_tcp_sock(msg->sk);

	return own && own->write_seq == v->rcv_nxt && v->copied_seq == v->rcv_nxt &&
	       v->backlog <= backlog_limit(v) / 2;
}

/*
 * A send of len bytes that finds the peer behind (with redirected or TCP
 * bytes unread): after NA_STREAM_WINDOW such sends of NA_STREAM_BIG_WRITE
 * or more to a reader that the kernel copies to slowly, on the fast path or
 * on TCP while in the sockhash (whose bytes tcp_bpf keeps in the same
 * pages), mark the listener of the connection's port, whose next
 * connections then stay on TCP (see NA_STREAM_WINDOW). An accepted socket
 * knows its listener; a connecting one finds the latest on its peer's
 * port.
 */
static __always_inline void slow_reader_stream(struct na_sk_state *st, int behind, __u32 len)
{
	struct na_listen_key lk = { .netns = st->peer.netns, .port = st->peer.lport };
	struct na_listen_val *lv;
	__u64 listener = st->listener;

	if (!st->peer_misaligned || !behind || len < NA_STREAM_BIG_WRITE ||
	    st->slow_sends >= NA_STREAM_WINDOW || ++st->slow_sends < NA_STREAM_WINDOW)
		return;
	if (!listener) {
		lv = bpf_map_lookup_elem(&na_listeners, &lk);
		listener = lv ? lv->sk : 0;
	}
	if (listener)
		listener_mark(listener, NA_RX_SLOWCOPY);
}

/*
 * Whether a redirecting sender should take TCP from this send on, because
 * it streams small writes (see NA_STREAM_WINDOW). Request and response
 * never count: the peer has read the request before it answers. Once
 * judged, the move waits for a send that finds the peer's redirect queue
 * empty: the kernel counts those bytes in the peer's receive memory, and
 * TCP segments that arrive while it is above SO_RCVBUF are dropped and
 * wait for a retransmission. Order holds either way: the peer reads its
 * redirect queue before its TCP queue.
 */
static __always_inline int small_stream(struct na_sk_state *st, const struct na_peer_view *v,
					__u32 len)
{
	if (st->stream_out)
		return !v->backlog;
	if (!v->backlog)
		return 0;
	st->stream_sends++;
	if (len < NA_STREAM_BIG_WRITE)
		st->stream_small++;
	if (st->stream_sends < NA_STREAM_WINDOW)
		return 0;
	st->stream_out = st->stream_small * 4 > NA_STREAM_WINDOW * 3;
	st->stream_sends = 0;
	st->stream_small = 0;
	return 0;
}

/*
 * A connection's bytes must never arrive out of order: the peer reads its
 * redirect queue before its TCP receive queue, so after a byte went the TCP
 * way, nothing is redirected until that byte has been read (may_resume).
 * The first send decides under the socket lock that tcp_bpf_sendmsg holds,
 * so two senders cannot disagree:
 *  - no peer in the sockhash: TCP for good (it cannot come later);
 *  - a peer that cannot take redirected bytes yet (not accepted, blocking,
 *    SO_RCVLOWAT): TCP until it can and has read what TCP brought
 *    (deferred), so a connection that sends one request and closes never
 *    pays for the fast path;
 *  - otherwise the redirect.
 * Only non-blocking, SO_RCVLOWAT-free sockets ever receive redirected
 * bytes, and the peer is looked at again whenever na_fitgen moves.
 */
SEC("sk_msg")
int na_msg(struct sk_msg_md *msg)
{
	struct na_sk_state *st;
	struct bpf_sock *sk = msg->sk;
	struct na_peer_view v;
	struct na_stats *s;
	__u32 len = msg->size;
	__u64 *addr;
	int why;

	if (!sk)
		return SK_PASS;
	st = bpf_sk_storage_get(&na_sk_state, sk, 0, 0);
	if (!st)
		return SK_PASS;
	s = stats_of(st->slot);
	if (!s)
		return SK_PASS;

	switch (st->path) {
	case NA_PATH_REDIRECT:
		peer_view(st->peer_addr, &v, 0);
		slow_reader_stream(st, v.backlog != 0, len);
		/* Redirected bytes are charged to the host's TCP memory, not
		 * to the receiver's buffer, so the kernel never stops a
		 * sender whose peer does not read. We do: past the limit the
		 * connection takes TCP, whose window stops the sender. */
		if (v.backlog > backlog_limit(&v)) {
			st->path = NA_PATH_THROTTLED;
			s->backlog_limited++;
			goto pass;
		}
		why = peer_check(st, &v);
		/* A peer that splices never sees what is queued for it; TCP
		 * bytes would overtake those. A stalled connection is better
		 * than a reordered one: keep the queue's order. */
		if (why == NA_PEER_SPLICES && v.backlog)
			break;
		if (why) {
			st->path = NA_PATH_DEFERRED;
			s->peer_unfit++;
			goto pass;
		}
		if (small_stream(st, &v, len)) {
			st->path = NA_PATH_PASS;
			s->stream_moved++;
			goto pass;
		}
		break;
	case NA_PATH_THROTTLED:
	case NA_PATH_DEFERRED:
		peer_view(st->peer_addr, &v, 1);
		slow_reader_stream(st, v.backlog || v.copied_seq != v.rcv_nxt, len);
		if (peer_check(st, &v) || !may_resume(msg, &v))
			goto pass;
		if (st->path == NA_PATH_THROTTLED)
			s->backlog_resumed++;
		else
			s->deferred_joined++;
		break;
	case NA_PATH_UNDECIDED:
		/* An accepted socket's first send: the first look at its
		 * own flags. */
		if (st->listener && own_blocking(sk))
			listener_mark(st->listener, NA_RX_BLOCKACC);
		addr = bpf_map_lookup_elem(&na_sockaddr, &st->peer);
		if (!addr) {
			st->path = NA_PATH_PASS;
			s->misses++;
			goto pass;
		}
		st->peer_addr = *addr;
		peer_view(st->peer_addr, &v, 0);
		if (peer_check(st, &v)) {
			st->path = NA_PATH_DEFERRED;
			s->deferred++;
			goto pass;
		}
		break;
	default:
		goto pass;
	}

	if (bpf_msg_redirect_hash(msg, &na_sockhash, &st->peer, BPF_F_INGRESS) == SK_PASS) {
		if (st->path != NA_PATH_REDIRECT)
			st->flags |= NA_SKF_FAST;
		st->path = NA_PATH_REDIRECT;
		s->msgs_redirected++;
		s->bytes_redirected += len;
		return SK_PASS;
	}
	/* The peer closed or was cut off; it cannot come back under this key
	 * while we live, so stop looking it up. Never return the helper's
	 * verdict here: SK_DROP would fail the write with EACCES. */
	st->path = NA_PATH_PASS;
	s->fallbacks++;
pass:
	s->msgs_passed++;
	s->bytes_passed += len;
	return SK_PASS;
}

/*
 * Socket options on netaccel's level. The setsockopt hook runs before the
 * kernel: for our level it records the answer in SK_STORAGE and sets optlen
 * to -1, so that the kernel (which would say ENOPROTOOPT) is skipped and the
 * call returns 0. Errors are set with bpf_set_retval, so that a malformed
 * call gets a meaningful errno instead of the EPERM of a plain rejection.
 * With enrollments nested, the next program in the chain finds optlen -1
 * and leaves the call alone.
 */
static __always_inline int sockopt_fail(int err)
{
	bpf_set_retval(-err);
	return NA_CG_REJECT;
}

/* Any other level: leave the call exactly as the application made it. A
 * value larger than a page is only partly visible to us; optlen 0 tells
 * the kernel to use the application's own buffer. */
static __always_inline int sockopt_pass(struct bpf_sockopt *ctx)
{
	if (ctx->optlen > na_page_size)
		ctx->optlen = 0;
	return NA_CG_OK;
}

static __always_inline int is_tcp(const struct bpf_sock *sk)
{
	return sk->type == SOCK_STREAM && sk->protocol == IPPROTO_TCP &&
	       (sk->family == AF_INET || sk->family == AF_INET6);
}

SEC("cgroup/setsockopt")
int na_setsockopt(struct bpf_sockopt *ctx)
{
	struct bpf_sock *sk = ctx->sk;
	struct na_sk_state *st;
	__s32 *val = ctx->optval;

	if (ctx->level != NA_SOL_NETACCEL)
		return sockopt_pass(ctx);
	if (ctx->optlen < 0)	/* a program before us handled it */
		return NA_CG_OK;
	if (ctx->optname == NA_OPT_ACCELERATED)
		return sockopt_fail(EINVAL);	/* read-only */
	if (ctx->optname != NA_OPT_TAG)
		return sockopt_fail(ENOPROTOOPT);
	if (ctx->optlen != sizeof(__s32) || (void *)(val + 1) > ctx->optval_end)
		return sockopt_fail(EINVAL);
	if (*val < -1 || *val > 1)
		return sockopt_fail(EINVAL);
	if (!sk || !is_tcp(sk))
		return sockopt_fail(EOPNOTSUPP);

	/* The tag is kept in the socket's state, made here if need be; the
	 * slot is the caller's cgroup's, for the counters. */
	st = bpf_sk_storage_get(&na_sk_state, sk, 0,
				BPF_SK_STORAGE_GET_F_CREATE);
	if (!st)
		return sockopt_fail(ENOPROTOOPT);
	if (st->flags & NA_SKF_DECIDED)
		/* Its connection was established: too late to change its
		 * path. Not an error, as for other options that only apply
		 * to new connections, and the query tells the truth. */
		goto done;
	st->slot = current_slot();
	if (*val == 1) {
		st->want = NA_WANT_ON;
		COUNT(st->slot, tags_on, 1);
	} else if (*val == 0) {
		st->want = NA_WANT_OFF;
		COUNT(st->slot, tags_off, 1);
	} else {
		st->want = NA_WANT_DEFAULT;
	}
done:
	ctx->optlen = -1;
	return NA_CG_OK;
}

/* Whether the socket's bytes go to its peer directly: it joined, has not
 * fallen back to TCP for good, and its peer joined too (before the first
 * send the path is undecided; the peer's address record says it joined). */
static __always_inline int accelerated(struct na_sk_state *st)
{
	if (!(st->flags & NA_SKF_JOINED) || st->path == NA_PATH_PASS)
		return 0;
	if (st->path != NA_PATH_UNDECIDED)
		return 1;
	return bpf_map_lookup_elem(&na_sockaddr, &st->peer) != 0;
}

SEC("cgroup/getsockopt")
int na_getsockopt(struct bpf_sockopt *ctx)
{
	struct bpf_sock *sk = ctx->sk;
	struct na_sk_state *st = 0;
	__s32 *val = ctx->optval;
	__s32 answer;

	if (ctx->level != NA_SOL_NETACCEL)
		return sockopt_pass(ctx);
	if (ctx->optname != NA_OPT_TAG && ctx->optname != NA_OPT_ACCELERATED)
		return NA_CG_OK;	/* the kernel's ENOPROTOOPT stands */
	if (ctx->optlen < (int)sizeof(__s32) || (void *)(val + 1) > ctx->optval_end) {
		ctx->retval = -EINVAL;
		return NA_CG_OK;
	}
	if (sk)
		st = bpf_sk_storage_get(&na_sk_state, sk, 0, 0);
	if (ctx->optname == NA_OPT_TAG)
		answer = !st || st->want == NA_WANT_DEFAULT ? -1 :
			 st->want == NA_WANT_ON ? 1 : 0;
	else
		answer = st ? accelerated(st) : 0;
	*val = answer;
	ctx->optlen = sizeof(__s32);
	/* Keep the two 4-byte stores apart: merged into one 8-byte store
	 * (clang does that) the verifier rejects the context access. */
	asm volatile("" ::: "memory");
	ctx->retval = 0;
	return NA_CG_OK;
}

/*
 * How a socket reads its TCP bytes. tcp_rcv_space_adjust runs when TCP
 * bytes are consumed, by tcp_recvmsg and by tcp_read_sock (splice,
 * sendfile); the system call the task is in tells which. Only sockets of
 * ours are looked at; a deferred connection's first TCP bytes are how a
 * receiver gets seen (see peer_check). An accepted socket tells about its
 * listener's next connections (see join); a fast-path socket spliced
 * marks its process (see peer_check).
 */
#ifdef NA_SYSCALL_NR
/* Whether the read the task is in (system call nr, a recv) copies to a
 * buffer off a 32-byte boundary, on a CPU that copies slowly there: the
 * buffer of read() and recvfrom(), the first one of readv() and
 * recvmsg(). A buffer that cannot be read says no. */
static __always_inline __u64 read_misaligned(struct pt_regs *regs, long nr)
{
	__u64 arg = NA_SYSCALL_ARG1(regs), buf = arg, iov = 0;

	if (!na_copy_slow)
		return 0;
	if (NA_IS_RECVMSG(nr)) {
		if (bpf_probe_read_user(&iov, sizeof(iov), (void *)(arg + NA_MSGHDR_IOV)))
			return 0;
	} else if (NA_IS_READV(nr)) {
		iov = arg;
	}
	if (iov && bpf_probe_read_user(&buf, sizeof(buf), (void *)iov))
		return 0;
	return buf & 31 ? NA_RX_MISALIGN : 0;
}
#endif

SEC("?tp_btf/tcp_rcv_space_adjust")
int BPF_PROG(na_rxwatch, struct sock *sk)
{
#ifdef NA_SYSCALL_NR
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct na_sk_state *st;
	struct pt_regs *regs;
	struct socket *so;
	struct file *f;
	__u64 flag, addr = (__u64)sk;
	int blocking;
	long nr;

	st = bpf_sk_storage_get(&na_sk_state, sk, 0, 0);
	/* A connecting socket that did not join has nothing to tell. */
	if (!st || (!(st->flags & NA_SKF_JOINED) && !st->listener))
		return NA_TRACE_DONE;
	regs = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
	if (!regs)
		return NA_TRACE_DONE;
	nr = NA_SYSCALL_NR(regs);
	if (NA_IS_RECV(nr))
		flag = NA_RX_RECV;
	else if (NA_IS_SPLICE(nr))
		flag = NA_RX_SPLICE;
	else
		return NA_TRACE_DONE;	/* io_uring and the like: not known, stays on TCP */
	so = sk->sk_socket;
	f = so ? so->file : 0;
	blocking = !f || !(f->f_flags & O_NONBLOCK) || sk->sk_rcvlowat > 1;
	/* The common case, every read of an event loop: said already. */
	if (flag == NA_RX_RECV && !blocking && (st->flags & NA_SKF_RX_SEEN))
		return NA_TRACE_DONE;

	/* What an accepted socket shows about its listener's next ones,
	 * whether it joined or not. */
	if (st->listener)
		listener_mark(st->listener, flag == NA_RX_SPLICE ? NA_RX_SPLICE :
					    blocking ? NA_RX_BLOCKACC : NA_RX_NBACC);
	if (flag == NA_RX_RECV && blocking)
		return NA_TRACE_DONE;	/* made blocking after it joined: peer_check sees it */
	if (!(st->flags & NA_SKF_JOINED)) {
		if (flag == NA_RX_RECV)
			st->flags |= NA_SKF_RX_SEEN;
		return NA_TRACE_DONE;
	}
	/* Its first read, on TCP, also tells where it reads to. */
	rx_mark(addr, flag == NA_RX_RECV ? flag | read_misaligned(regs, nr) : flag,
		(__u64)tgid << 32);
	if (flag == NA_RX_RECV)
		st->flags |= NA_SKF_RX_SEEN;
	if (flag == NA_RX_SPLICE) {
		proc_mark(tgid, NA_PROC_SPLICE);
		if (!(st->flags & NA_SKF_SPLICED)) {
			st->flags |= NA_SKF_SPLICED;
			COUNT(st->slot, splice_seen, 1);
		}
	}
#endif
	return NA_TRACE_DONE;
}

/*
 * FIONREAD (SIOCINQ) on a kernel whose answer leaves out the bytes waiting
 * in a socket's sockmap queue (before sk_psock.msg_tot_len: Linux 6.1,
 * 6.12 before 6.12.85): a program that sizes its reads by it, or takes 0
 * for "nothing came", would see less than plain TCP gives it. No sender
 * redirects to such a socket from now on, and its listener's next
 * connections stay on TCP. A connection's first bytes take TCP until its
 * reader was seen reading them with recv() (peer_check), so a program that
 * asks FIONREAD before it reads, the usual order, is seen before any byte
 * is redirected to it; one that asks only after it has read may get a
 * short answer while redirected bytes wait (docs/limitations.md). The
 * loader attaches this only on such kernels.
 */
#define NA_SIOCINQ 0x541B	/* FIONREAD */
SEC("?fentry/tcp_ioctl")
int BPF_PROG(na_fionread, struct sock *sk, int cmd)
{
	struct na_sk_state *st;
	__u64 tgid;

	if (cmd != NA_SIOCINQ)
		return NA_TRACE_DONE;
	st = bpf_sk_storage_get(&na_sk_state, sk, 0, 0);
	if (!st || (st->flags & NA_SKF_LISTENER))
		return NA_TRACE_DONE;
	if (st->listener)
		listener_mark(st->listener, NA_RX_INQ);
	if (!(st->flags & NA_SKF_JOINED) || (st->flags & NA_SKF_INQ))
		return NA_TRACE_DONE;
	st->flags |= NA_SKF_INQ;
	tgid = bpf_get_current_pid_tgid() >> 32;
	rx_mark((__u64)sk, NA_RX_INQ, tgid << 32);
	fitgen_bump();	/* senders look at na_rxstate again */
	COUNT(st->slot, fionread_seen, 1);
	return NA_TRACE_DONE;
}
