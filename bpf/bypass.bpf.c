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
 */
#include <linux/bpf.h>
#include <linux/types.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "netaccel_abi.h"
#include "maps.bpf.h"

#define AF_INET 2
#define AF_INET6 10
#define SOCK_STREAM 1
#define IPPROTO_TCP 6

char LICENSE[] SEC("license") = "GPL";

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

static __always_inline void join(struct bpf_sock_ops *ops)
{
	struct na_sock_key own;
	struct na_cgroup_cfg *cfg;
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
	slot = st->slot;
	cfg = bpf_map_lookup_elem(&na_cgroups, &slot);
	if (!cfg || cfg->state != NA_SLOT_ACTIVE || cfg->gen != st->gen ||
	    !wants_fast_path(cfg, st)) {
		COUNT(slot, sockets_skipped, 1);
		return;
	}

	/* An accepted socket carries a clone of its listener's state: start
	 * its own connection afresh. */
	st->path = NA_PATH_UNDECIDED;
	st->flags = 0;
	if (make_keys(ops, &own, &st->peer) < 0)
		return;
	if (bpf_sock_hash_update(ops, &na_sockhash, &own, BPF_NOEXIST)) {
		/* Map full, a ULP on the socket, or a key that is already
		 * taken: the connection stays on the normal path. */
		st->path = NA_PATH_PASS;
		COUNT(slot, join_failed, 1);
		return;
	}
	st->flags = NA_SKF_JOINED;
	COUNT(slot, sockets_joined, 1);
	/* Ask for state changes, to count the socket out when it closes. */
	bpf_sock_ops_cb_flags_set(ops, ops->bpf_sock_ops_cb_flags |
					       BPF_SOCK_OPS_STATE_CB_FLAG);
}

static __always_inline void leave(struct bpf_sock_ops *ops)
{
	struct bpf_sock *sk = ops->sk;
	struct na_sk_state *st;

	if (!sk)
		return;
	st = bpf_sk_storage_get(&na_sk_state, sk, 0, 0);
	if (!st || !(st->flags & NA_SKF_JOINED))
		return;
	st->flags &= ~NA_SKF_JOINED;
	COUNT(st->slot, sockets_closed, 1);
}

SEC("sockops")
int na_sockops(struct bpf_sock_ops *ops)
{
	switch (ops->op) {
	case BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB:
	case BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB:
		join(ops);
		break;
	case BPF_SOCK_OPS_STATE_CB:
		if (ops->args[1] == BPF_TCP_CLOSE)
			leave(ops);
		break;
	}
	return 1;
}

/*
 * A connection's bytes must never arrive out of order: the peer reads its
 * redirect queue before its TCP receive queue, so once a byte went the TCP
 * way, the connection stays there. The first send decides, under the
 * socket lock that tcp_bpf_sendmsg holds, so two senders cannot disagree.
 */
SEC("sk_msg")
int na_msg(struct sk_msg_md *msg)
{
	struct na_sk_state *st;
	struct bpf_sock *sk = msg->sk;
	__u32 len = msg->size;
	__u32 slot;

	if (!sk)
		return SK_PASS;
	st = bpf_sk_storage_get(&na_sk_state, sk, 0, 0);
	if (!st)
		return SK_PASS;
	slot = st->slot;

	if (st->path != NA_PATH_PASS &&
	    bpf_msg_redirect_hash(msg, &na_sockhash, &st->peer,
				  BPF_F_INGRESS) == SK_PASS) {
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
