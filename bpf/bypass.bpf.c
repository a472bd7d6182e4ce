// SPDX-License-Identifier: GPL-2.0-only
/*
 * Local bypass: TCP connections between two sockets of this host, both
 * created in enrolled cgroups, move their bytes with sk_msg redirects from
 * one socket straight to the other's receive queue.
 *
 *  na_sock_create  tags a TCP socket created in an enrolled cgroup with the
 *                  slot of the deepest enrolled ancestor (SK_STORAGE).
 *  na_sockops      puts a tagged socket in the sockhash when its connection
 *                  is established, and counts it out when it closes.
 *  na_msg          on each send: redirect to the peer if the connection
 *                  chose the fast path, otherwise let it pass.
 *  na_setsockopt   netaccel's socket option level: an application (or the
 *  na_getsockopt   preload shim) opts a socket in or out, and asks whether
 *                  it is accelerated. Every other level passes untouched.
 */
#include <linux/bpf.h>
#include <linux/types.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "netaccel_abi.h"
#include "maps.bpf.h"

#define AF_INET 2
#define AF_INET6 10
#define SOCK_STREAM 1
#define IPPROTO_TCP 6
#define SOL_TCP 6

char LICENSE[] SEC("license") = "GPL";

/* A peer may hold at most this many redirected, unread bytes, or its
 * SO_RCVBUF if that is larger; set by the loader. */
const volatile __u32 na_backlog_min = NA_BACKLOG_MIN;

/* The kernel's page size: sockopt programs see at most this much of an
 * option value; set by the loader. */
const volatile __s32 na_page_size = 4096;

#define EINVAL 22
#define ENOPROTOOPT 92
#define EOPNOTSUPP 95
/* Minimum TCP retransmission timeout of a socket on the fast path, in
 * microseconds (see join); 0 leaves the kernel's 200 ms. */
const volatile __u32 na_rto_min_us = NA_FAST_RTO_MIN_US;

/*
 * The kernel structures read to measure a peer's backlog, reduced to the
 * fields used. preserve_access_index makes every access a CO-RE
 * relocation, fixed up at load time against the running kernel's BTF.
 */
struct tcp_sock {
	__u32 rcv_nxt;
	__u32 copied_seq;
	__u32 snd_una;
	__u32 write_seq;
} __attribute__((preserve_access_index));

struct sock {
	int sk_rcvbuf;
	void *sk_user_data;
} __attribute__((preserve_access_index));

struct sk_psock {
	__u32 msg_tot_len;
} __attribute__((preserve_access_index));

static __always_inline struct na_stats *stats_of(__u32 slot)
{
	return bpf_map_lookup_elem(&na_stats, &slot);
}

/* Per-CPU counters: plain increments are safe, a CPU only touches its own. */
#define COUNT(slot, field, n)                                                \
	do {                                                                 \
		struct na_stats *s_ = stats_of(slot);                        \
		if (s_)                                                      \
			s_->field += (n);                                    \
	} while (0)

SEC("cgroup/sock_create")
int na_sock_create(struct bpf_sock *sk)
{
	struct na_cgroup_cfg *cfg;
	struct na_sk_state *st;
	__u32 slot = NA_SLOT_GLOBAL;
	__u32 *hit;
	__u64 id;
	int lvl;

	if (sk->type != SOCK_STREAM || sk->protocol != IPPROTO_TCP)
		return 1;
	if (sk->family != AF_INET && sk->family != AF_INET6)
		return 1;

	/* Our program runs once for every enrolled ancestor: the first run
	 * tags the socket, the others find the tag and leave it. */
	if (bpf_sk_storage_get(&na_sk_state, sk, 0, 0))
		return 1;

	/* The deepest enrolled ancestor wins, so that a child enrolled in its
	 * own right is counted as itself and not as its parent. */
	for (lvl = 0; lvl < NA_MAX_CGROUP_DEPTH; lvl++) {
		id = bpf_get_current_ancestor_cgroup_id(lvl);
		if (!id)
			break;
		hit = bpf_map_lookup_elem(&na_cgslot, &id);
		if (hit)
			slot = *hit;
	}
	if (slot >= NA_MAX_CGROUPS)
		return 1;
	cfg = bpf_map_lookup_elem(&na_cgroups, &slot);
	if (!cfg || cfg->state != NA_SLOT_ACTIVE)
		return 1;

	st = bpf_sk_storage_get(&na_sk_state, sk, 0,
				BPF_SK_STORAGE_GET_F_CREATE);
	if (!st)
		return 1;
	st->slot = slot;
	st->gen = cfg->gen;
	COUNT(slot, sockets_tagged, 1);
	return 1;
}

/* IPv4-mapped IPv6 (::ffff:a.b.c.d) is stored as plain IPv4. */
static __always_inline int is_v4_mapped(const __u32 a[4])
{
	return a[0] == 0 && a[1] == 0 && a[2] == bpf_htonl(0x0000ffff);
}

/* Build both ends' keys from one sock_ops context, so that the key a socket
 * is stored under and the key its peer looks it up by come from one place.
 * local_port is in host byte order; remote_port holds the port in network
 * byte order in its upper 16 bits, which bpf_ntohl turns into host order. */
static __always_inline int make_keys(struct bpf_sock_ops *ops,
				     struct na_sock_key *own,
				     struct na_sock_key *peer)
{
	__u32 l[4], r[4];
	int i;

	__builtin_memset(own, 0, sizeof(*own));
	__builtin_memset(peer, 0, sizeof(*peer));

	if (ops->family == AF_INET) {
		own->family = AF_INET;
		own->laddr[0] = ops->local_ip4;
		own->raddr[0] = ops->remote_ip4;
	} else if (ops->family == AF_INET6) {
		l[0] = ops->local_ip6[0];
		l[1] = ops->local_ip6[1];
		l[2] = ops->local_ip6[2];
		l[3] = ops->local_ip6[3];
		r[0] = ops->remote_ip6[0];
		r[1] = ops->remote_ip6[1];
		r[2] = ops->remote_ip6[2];
		r[3] = ops->remote_ip6[3];
		if (is_v4_mapped(l) && is_v4_mapped(r)) {
			own->family = AF_INET;
			own->laddr[0] = l[3];
			own->raddr[0] = r[3];
		} else {
			own->family = AF_INET6;
			for (i = 0; i < 4; i++) {
				own->laddr[i] = l[i];
				own->raddr[i] = r[i];
			}
		}
	} else {
		return -1;
	}
	own->lport = (__u16)ops->local_port;
	own->rport = (__u16)bpf_ntohl(ops->remote_port);
	own->netns = bpf_get_netns_cookie(ops);

	peer->family = own->family;
	peer->lport = own->rport;
	peer->rport = own->lport;
	peer->netns = own->netns;
	for (i = 0; i < 4; i++) {
		peer->laddr[i] = own->raddr[i];
		peer->raddr[i] = own->laddr[i];
	}
	return 0;
}

static __always_inline int wants_fast_path(const struct na_cgroup_cfg *cfg,
					   const struct na_sk_state *st)
{
	if (st->want == NA_WANT_OFF)
		return 0;
	if (cfg->mode == NA_MODE_OPT_IN)
		return st->want == NA_WANT_ON;
	return 1;
}

/* Whether the socket may take the fast path: its enrollment is active and
 * the same one it was created under, and the cgroup's mode and the
 * application's tag want it. */
static __always_inline int eligible(const struct na_sk_state *st)
{
	__u32 slot = st->slot;
	struct na_cgroup_cfg *cfg = bpf_map_lookup_elem(&na_cgroups, &slot);

	return cfg && cfg->state == NA_SLOT_ACTIVE && cfg->gen == st->gen &&
	       wants_fast_path(cfg, st);
}

/*
 * A socket on the fast path pays for it on every send and receive (the
 * sockmap's socket operations and our sk_msg program), so only join where
 * the other end can join too. The passive end knows: the active end is
 * established first and, if it joined, recorded its address. The active
 * end joins when a listener of an enrolled cgroup has the destination
 * port in its network namespace, and the destination is on this host: a
 * loopback address, or its own address (what the kernel picks as the
 * source for a local destination).
 */
static __always_inline int peer_may_join(struct bpf_sock_ops *ops,
					 const struct na_sock_key *own,
					 const struct na_sock_key *peer)
{
	struct na_listen_key lk = { .netns = own->netns, .port = own->rport };

	if (ops->op == BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB)
		return bpf_map_lookup_elem(&na_sockaddr, peer) != 0;
	if (!bpf_map_lookup_elem(&na_listeners, &lk))
		return 0;
	if (own->family == AF_INET)
		return (bpf_ntohl(own->raddr[0]) >> 24) == 127 ||
		       own->raddr[0] == own->laddr[0];
	if (own->raddr[0] == 0 && own->raddr[1] == 0 && own->raddr[2] == 0 &&
	    own->raddr[3] == bpf_htonl(1))
		return 1;
	return own->raddr[0] == own->laddr[0] && own->raddr[1] == own->laddr[1] &&
	       own->raddr[2] == own->laddr[2] && own->raddr[3] == own->laddr[3];
}

static __always_inline void join(struct bpf_sock_ops *ops)
{
	struct na_sock_key own;
	struct tcp_sock *tp;
	__u64 addr;
	struct na_sk_state *st;
	struct bpf_sock *sk = ops->sk;
	__u32 slot;

	if (!sk)
		return;
	st = bpf_sk_storage_get(&na_sk_state, sk, 0, 0);
	if (!st) {
		COUNT(NA_SLOT_GLOBAL, sockets_untagged, 1);
		return;
	}
	/* With a child and its parent both enrolled, this runs once for
	 * each: the first run decides. (A listener never gets here, so an
	 * accepted socket's clone of its state has no flags yet.) */
	if (st->flags & NA_SKF_DECIDED)
		return;
	st->flags = NA_SKF_DECIDED;
	st->path = NA_PATH_UNDECIDED;
	slot = st->slot;
	if (!eligible(st)) {
		COUNT(slot, sockets_skipped, 1);
		return;
	}

	if (make_keys(ops, &own, &st->peer) < 0)
		return;
	if (!peer_may_join(ops, &own, &st->peer)) {
		COUNT(slot, sockets_skipped, 1);
		return;
	}
	st->peer_addr = 0;
	/* Our address goes in before we can be found in the sockhash, so a
	 * peer's first redirect finds it. */
	tp = bpf_skc_to_tcp_sock(sk);
	if (tp) {
		addr = (__u64)tp;
		if (bpf_map_update_elem(&na_sockaddr, &own, &addr, BPF_NOEXIST))
			tp = NULL;	/* not ours to remove below */
	}
	if (bpf_sock_hash_update(ops, &na_sockhash, &own, BPF_NOEXIST)) {
		if (tp)
			bpf_map_delete_elem(&na_sockaddr, &own);
		/* Map full, a ULP on the socket, or a key that is already
		 * taken: the connection stays on the normal path. */
		st->path = NA_PATH_PASS;
		COUNT(slot, join_failed, 1);
		return;
	}
	st->flags |= NA_SKF_JOINED;
	COUNT(slot, sockets_joined, 1);
	/* Both ends are on this host. When a peer's backlog sends the
	 * connection to TCP (na_msg), the peer's receive memory already
	 * holds the redirected bytes, which the kernel counts against its
	 * SO_RCVBUF: the first TCP segments are pruned and wait for a
	 * retransmission, 200 ms by default, with both ends idle. A
	 * loopback round trip takes microseconds; a few milliseconds bound
	 * that stall. */
	if (na_rto_min_us) {
		int rto = na_rto_min_us;

		bpf_setsockopt(ops, SOL_TCP, TCP_BPF_RTO_MIN, &rto, sizeof(rto));
	}
	/* Ask for state changes, to count the socket out when it closes. */
	bpf_sock_ops_cb_flags_set(ops, ops->bpf_sock_ops_cb_flags |
					       BPF_SOCK_OPS_STATE_CB_FLAG);
}

static __always_inline void leave(struct bpf_sock_ops *ops)
{
	struct na_sock_key own, peer;
	struct bpf_sock *sk = ops->sk;
	struct na_sk_state *st;

	if (!sk)
		return;
	st = bpf_sk_storage_get(&na_sk_state, sk, 0, 0);
	if (!st || !(st->flags & NA_SKF_JOINED))
		return;
	if (make_keys(ops, &own, &peer) == 0)
		bpf_map_delete_elem(&na_sockaddr, &own);
	st->flags &= ~NA_SKF_JOINED;
	COUNT(st->slot, sockets_closed, 1);
}

/*
 * Count a tagged listener in na_listeners, and ask for its state changes
 * to count it out when it stops listening. Two listeners starting or
 * stopping on one port at the same instant can lose the entry: their
 * connections then stay on TCP, which is safe.
 */
static __always_inline void listen_start(struct bpf_sock_ops *ops)
{
	struct na_listen_key lk = { .port = (__u16)ops->local_port };
	struct bpf_sock *sk = ops->sk;
	struct na_sk_state *st;
	__u32 one = 1, *n;

	if (!sk)
		return;
	st = bpf_sk_storage_get(&na_sk_state, sk, 0, 0);
	/* A listener whose sockets would not join (opt-in mode and not
	 * tagged, opted out, draining) must not draw clients onto the fast
	 * path. A tag set after listen() comes too late for it. */
	if (!st || (st->flags & NA_SKF_LISTENER) || !eligible(st))
		return;
	lk.netns = bpf_get_netns_cookie(ops);
	n = bpf_map_lookup_elem(&na_listeners, &lk);
	if (n)
		__sync_fetch_and_add(n, 1);
	else if (bpf_map_update_elem(&na_listeners, &lk, &one, BPF_NOEXIST) &&
		 (n = bpf_map_lookup_elem(&na_listeners, &lk)))
		__sync_fetch_and_add(n, 1);
	/* Accepted sockets inherit these flags; join() resets them. */
	st->flags |= NA_SKF_LISTENER;
	bpf_sock_ops_cb_flags_set(ops, ops->bpf_sock_ops_cb_flags |
					       BPF_SOCK_OPS_STATE_CB_FLAG);
}

static __always_inline void listen_stop(struct bpf_sock_ops *ops)
{
	struct na_listen_key lk = { .port = (__u16)ops->local_port };
	struct bpf_sock *sk = ops->sk;
	struct na_sk_state *st;
	__u32 *n;

	if (!sk)
		return;
	st = bpf_sk_storage_get(&na_sk_state, sk, 0, 0);
	if (!st || !(st->flags & NA_SKF_LISTENER))
		return;
	st->flags &= ~NA_SKF_LISTENER;
	lk.netns = bpf_get_netns_cookie(ops);
	n = bpf_map_lookup_elem(&na_listeners, &lk);
	if (!n)
		return;
	__sync_fetch_and_add(n, -1);
	if (*n == 0 || *n > NA_LISTEN_MAX * 64)	/* 0, or below it */
		bpf_map_delete_elem(&na_listeners, &lk);
}

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
	return 1;
}

/*
 * Redirected bytes are charged to the host's TCP memory, not to the
 * receiver's buffer, so the kernel never stops a sender whose peer does not
 * read. We do: past the limit the connection goes to TCP, whose window
 * stops the sender. That switch keeps the order, because the receiver
 * drains its redirect queue before it reads its TCP queue.
 */
/* Redirected bytes the peer has not read yet, and the most it may hold. */
static __always_inline __u32 peer_backlog(const struct na_sk_state *st,
					  __u32 *limit)
{
	struct sock *peer = (struct sock *)st->peer_addr;
	struct sk_psock *psock;
	int rcvbuf;

	/* Read without a reference (sk_msg may not hold one), with
	 * fault-safe reads: should the peer be gone and its memory reused,
	 * a wrong value only moves the connection to TCP early or keeps it
	 * there, and both keep every byte and its order. */
	*limit = na_backlog_min;
	if (!peer)
		return 0;
	rcvbuf = BPF_CORE_READ(peer, sk_rcvbuf);
	if (rcvbuf > 0 && (__u32)rcvbuf > *limit)
		*limit = rcvbuf;
	/* The kernel keeps flags in the low bits of sk_user_data (the
	 * pointer is at least 8-byte aligned). */
	psock = (struct sk_psock *)((__u64)BPF_CORE_READ(peer, sk_user_data) & ~7ULL);
	if (!psock)
		return 0;
	return BPF_CORE_READ(psock, msg_tot_len);
}

/*
 * Back from TCP to the redirect path only when no TCP byte can be behind
 * the next redirected one: every byte we wrote is acknowledged (so it sits
 * in the peer's receive queue), the peer has read them all, and its
 * redirect backlog is down to half the limit. The peer read its redirect
 * queue before those TCP bytes, so nothing older waits anywhere.
 */
static __always_inline int may_resume(struct sk_msg_md *msg,
				      const struct na_sk_state *st)
{
	struct tcp_sock *own, *peer = (struct tcp_sock *)st->peer_addr;
	__u32 limit, queued;

	own = bpf_skc_to_tcp_sock(msg->sk);
	if (!own || !peer || own->write_seq != own->snd_una)
		return 0;
	if (BPF_CORE_READ(peer, copied_seq) != BPF_CORE_READ(peer, rcv_nxt))
		return 0;
	queued = peer_backlog(st, &limit);
	return queued <= limit / 2;
}

/*
 * A connection's bytes must never arrive out of order: the peer reads its
 * redirect queue before its TCP receive queue, so after a byte went the TCP
 * way, nothing is redirected until that byte has been read (may_resume).
 * The first send decides the path, under the socket lock that
 * tcp_bpf_sendmsg holds, so two senders cannot disagree; a first send that
 * finds no peer keeps the connection on TCP for good.
 */
SEC("sk_msg")
int na_msg(struct sk_msg_md *msg)
{
	struct na_sk_state *st;
	struct bpf_sock *sk = msg->sk;
	__u32 len = msg->size;
	__u32 slot, limit;

	if (!sk)
		return SK_PASS;
	st = bpf_sk_storage_get(&na_sk_state, sk, 0, 0);
	if (!st)
		return SK_PASS;
	slot = st->slot;

	/* Redirected bytes are charged to the host's TCP memory, not to the
	 * receiver's buffer, so the kernel never stops a sender whose peer
	 * does not read. We do: past the limit the connection takes TCP,
	 * whose window stops the sender, until the peer has caught up. The
	 * switch keeps the order: the peer drains its redirect queue before
	 * it reads its TCP queue. */
	if (st->path == NA_PATH_REDIRECT && peer_backlog(st, &limit) > limit) {
		st->path = NA_PATH_THROTTLED;
		COUNT(slot, backlog_limited, 1);
	} else if (st->path == NA_PATH_THROTTLED && may_resume(msg, st)) {
		st->path = NA_PATH_REDIRECT;
		COUNT(slot, backlog_resumed, 1);
	}

	if ((st->path == NA_PATH_UNDECIDED || st->path == NA_PATH_REDIRECT) &&
	    bpf_msg_redirect_hash(msg, &na_sockhash, &st->peer,
				  BPF_F_INGRESS) == SK_PASS) {
		if (st->path == NA_PATH_UNDECIDED) {
			__u64 *addr = bpf_map_lookup_elem(&na_sockaddr, &st->peer);

			st->peer_addr = addr ? *addr : 0;
		}
		st->path = NA_PATH_REDIRECT;
		COUNT(slot, msgs_redirected, 1);
		COUNT(slot, bytes_redirected, len);
		return SK_PASS;
	}

	/* The peer is not (or no longer) on the fast path. Never return the
	 * helper's verdict here: SK_DROP would fail the write with EACCES. */
	if (st->path == NA_PATH_UNDECIDED) {
		st->path = NA_PATH_PASS;
		COUNT(slot, misses, 1);
	} else if (st->path == NA_PATH_REDIRECT) {
		/* The peer closed or was cut off; it cannot come back under
		 * this key while we live, so stop looking it up. */
		st->path = NA_PATH_PASS;
		COUNT(slot, fallbacks, 1);
	}
	COUNT(slot, msgs_passed, 1);
	COUNT(slot, bytes_passed, len);
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
	return 0;
}

/* Any other level: leave the call exactly as the application made it. A
 * value larger than a page is only partly visible to us; optlen 0 tells
 * the kernel to use the application's own buffer. */
static __always_inline int sockopt_pass(struct bpf_sockopt *ctx)
{
	if (ctx->optlen > na_page_size)
		ctx->optlen = 0;
	return 1;
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
		return 1;
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

	/* A socket created before enrollment has no state: it gets one that
	 * belongs to no slot, so it keeps the tag but never joins. */
	st = bpf_sk_storage_get(&na_sk_state, sk, 0,
				BPF_SK_STORAGE_GET_F_CREATE);
	if (!st)
		return sockopt_fail(ENOPROTOOPT);
	if (st->flags & NA_SKF_DECIDED)
		/* Its connection was established: too late to change its
		 * path. Not an error, as for other options that only apply
		 * to new connections, and the query tells the truth. */
		goto done;
	if (st->gen == 0)	/* just made here, not by na_sock_create */
		st->slot = NA_SLOT_GLOBAL;
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
	return 1;
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
		return 1;	/* the kernel's ENOPROTOOPT stands */
	if (ctx->optlen < (int)sizeof(__s32) || (void *)(val + 1) > ctx->optval_end) {
		ctx->retval = -EINVAL;
		return 1;
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
	return 1;
}
