/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * sock_ops: a connection joins the fast path when both its ends may
 * (keys, eligibility, listeners), leaves it when it closes, and listeners
 * are counted while they listen.
 * Part of bypass.bpf.c (one BPF object), included once from there.
 */
#ifndef NA_BYPASS_JOIN_BPF_H
#define NA_BYPASS_JOIN_BPF_H

/* The inode number of sk's network namespace (0: not readable). */
static __always_inline __u32 netns_inum(struct sock *sk)
{
	return BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
}

/* The namespace that own's address addr (own's remote one, or its local
 * one) belongs to in the network m; 0 when the table does not know it. */
static __always_inline __u32 endpoint_ns(const struct na_net_member *m,
					 const struct na_sock_key *own, const __u32 *addr)
{
	struct na_endpoint_key ek;
	__u32 *ns;

	__builtin_memset(&ek, 0, sizeof(ek));
	ek.net = m->net;
	ek.family = own->family;
	ek.addr[0] = addr[0];
	ek.addr[1] = addr[1];
	ek.addr[2] = addr[2];
	ek.addr[3] = addr[3];
	ns = bpf_map_lookup_elem(&na_endpoints, &ek);
	return ns ? *ns : 0;
}

/*
 * The network namespace of own's other end. A loopback address, and any
 * address of a namespace that is on no network, is its own namespace. In
 * a namespace on a network (a container's, on a bridge), an address of
 * another namespace of that network is that namespace, provided that own's
 * local address is its own namespace's in the network too (the connection
 * goes over the bridge, not some other interface). Anything else (a
 * Service VIP, a published port of the host: addresses that are
 * translated on the way) stays its own namespace, where no peer has that
 * key: such connections stay on TCP.
 */
static __always_inline __u64 peer_netns(struct sock *sk, const struct na_sock_key *own)
{
	struct na_net_member *m;
	__u32 inum, ns;
	__u64 *cookie;

	if (!sk || (own->family == AF_INET ?
			    na_v4_loopback(own->raddr[0]) :
			    na_v6_loopback(own->raddr[0], own->raddr[1], own->raddr[2], own->raddr[3])))
		return own->netns;
	inum = netns_inum(sk);
	m = bpf_map_lookup_elem(&na_nets, &inum);
	if (!m || endpoint_ns(m, own, own->laddr) != inum)
		return own->netns;
	/* Ours, for the other end's lookups (written only when it is new:
	 * every connection of the namespace comes here). */
	cookie = bpf_map_lookup_elem(&na_nscookie, &inum);
	if (!cookie || *cookie != own->netns)
		bpf_map_update_elem(&na_nscookie, &inum, &own->netns, BPF_ANY);
	ns = endpoint_ns(m, own, own->raddr);
	if (!ns || ns == inum)
		return own->netns;
	cookie = bpf_map_lookup_elem(&na_nscookie, &ns);
	return cookie ? *cookie : own->netns;
}

/* A listener in a namespace on a network makes its namespace's cookie
 * known, before any client needs it. */
static __always_inline void learn_netns(struct sock *sk, __u64 cookie)
{
	__u32 inum = netns_inum(sk);

	if (bpf_map_lookup_elem(&na_nets, &inum))
		bpf_map_update_elem(&na_nscookie, &inum, &cookie, BPF_ANY);
}

/* Build both ends' keys from one sock_ops context, so that the key a socket
 * is stored under and the key its peer looks it up by come from one place.
 * local_port is in host byte order; remote_port holds the port in network
 * byte order in its upper 16 bits, which bpf_ntohl turns into host order. */
static __always_inline int make_keys(struct bpf_sock_ops *ops, struct sock *sk,
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
		/* IPv4-mapped IPv6 is stored as plain IPv4. */
		if (na_v6_v4mapped(l[0], l[1], l[2]) && na_v6_v4mapped(r[0], r[1], r[2])) {
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
	peer->netns = peer_netns(sk, own);
	for (i = 0; i < 4; i++) {
		peer->laddr[i] = own->raddr[i];
		peer->raddr[i] = own->laddr[i];
	}
	return 0;
}

/* Whether a socket of slot, with the application's tag want (enum
 * na_want), may take the fast path: its enrollment is active and the
 * cgroup's mode and the tag want it. */
static __always_inline int eligible(__u32 slot, __u8 want)
{
	struct na_cgroup_cfg *cfg = active_cfg(slot);

	if (!cfg || want == NA_WANT_OFF)
		return 0;
	return cfg->mode == NA_MODE_OPT_IN ? want == NA_WANT_ON : 1;
}

/*
 * A socket on the fast path pays for it on every send and receive (the
 * sockmap's socket operations and our sk_msg program), so only join where
 * the other end can join too. The passive end knows: the active end is
 * established first and, if it joined, recorded its address. The active
 * end joins when a listener of an enrolled cgroup has the destination
 * port in its network namespace, and the destination is on this host: a
 * loopback address, or its own address (what the kernel picks as the
 * source for a local destination), or an address of another namespace on
 * its namespace's network (peer_netns). Whether that listener is
 * event-driven is join's question.
 */
static __always_inline int peer_may_join(struct bpf_sock_ops *ops,
					 const struct na_sock_key *own,
					 const struct na_sock_key *peer,
					 const struct na_listen_val *lv)
{
	if (ops->op == BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB)
		return bpf_map_lookup_elem(&na_sockaddr, peer) != 0;
	if (!lv)
		return 0;
	if (peer->netns != own->netns)
		return 1;
	if (own->family == AF_INET)
		return na_v4_loopback(own->raddr[0]) || own->raddr[0] == own->laddr[0];
	if (na_v6_loopback(own->raddr[0], own->raddr[1], own->raddr[2], own->raddr[3]))
		return 1;
	return own->raddr[0] == own->laddr[0] && own->raddr[1] == own->laddr[1] &&
	       own->raddr[2] == own->laddr[2] && own->raddr[3] == own->laddr[3];
}

/* The listeners of enrolled cgroups on a connecting socket's destination
 * port, in the network namespace of its other end (peer): NULL when there
 * are none. */
static __always_inline struct na_listen_val *dest_listeners(const struct na_sock_key *peer)
{
	struct na_listen_key lk = { .netns = peer->netns, .port = peer->lport };

	return bpf_map_lookup_elem(&na_listeners, &lk);
}

/* Whether the latest listener on the destination port (lv) hands out
 * sockets that were seen blocking: then its side will not join (see
 * join). The listener's own flags say nothing: PostgreSQL's postmaster
 * blocks in accept() and its backends read non-blocking. */
static __always_inline int listener_unfit(const struct na_listen_val *lv)
{
	return rxstate(lv->sk) & NA_RX_BLOCKACC ? NA_UNFIT_BLOCKING : NA_FIT;
}

/*
 * Whether connections to this port (lv) close before their second
 * exchange, so that joining would only cost: each connection's first bytes
 * take TCP anyway (deferred), and joining allocates and frees kernel state
 * and runs our programs at every state change. One connection in
 * NA_SHORT_SAMPLE joins all the same, so that a port whose traffic changes
 * is judged again (report_close).
 */
static __always_inline int short_lived(struct na_listen_val *lv)
{
	/* A plain increment: a lost one only moves which connection samples. */
	return lv->skip && lv->ticket++ % NA_SHORT_SAMPLE != 0;
}

/* An accepted socket that joined closes: tell its port whether it took the
 * fast path, and judge the port every NA_SHORT_WINDOW connections, a
 * skipped one every NA_SHORT_REJUDGE of its sampled ones. Racing updates
 * can lose a count, which only moves a judgment. */
static __always_inline void report_close(struct bpf_sock_ops *ops,
					 const struct na_sk_state *st)
{
	struct na_listen_key lk = { .port = (__u16)ops->local_port };
	struct na_listen_val *lv;
	__u32 closed, fast;

	lk.netns = bpf_get_netns_cookie(ops);
	lv = bpf_map_lookup_elem(&na_listeners, &lk);
	if (!lv)
		return;
	if (st->flags & NA_SKF_FAST)
		__sync_fetch_and_add(&lv->fast, 1);
	__sync_fetch_and_add(&lv->closed, 1);
	closed = lv->closed;
	if (closed < (lv->skip ? NA_SHORT_REJUDGE : NA_SHORT_WINDOW))
		return;
	fast = lv->fast;
	lv->skip = fast * 8 < closed;
	lv->closed = 0;
	lv->fast = 0;
}

/*
 * The accepted end of a connection whose connecting end joined does not
 * join: take the connecting end out of the sockhash again. Alone there it
 * would pay for a fast path it can never take, on every send and receive,
 * and on kernels with sk_psock.msg_tot_len its FIONREAD would count only
 * its (empty) redirect queue, never the TCP bytes it is sent. Its state
 * keeps NA_SKF_JOINED, so that it is counted out when it closes. Counted
 * on this end's cgroup (peers_dropped).
 */
static __always_inline void drop_lone_peer(struct bpf_sock_ops *ops, __u32 slot,
					   const struct na_sock_key *peer)
{
	/* A connecting end that declines has nobody to drop. */
	if (ops->op == BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB &&
	    bpf_map_delete_elem(&na_sockhash, peer) == 0)
		COUNT(slot, peers_dropped, 1);
}

/* The socket's state, made now if it has none (a tagged socket, and an
 * accepted socket of a tagged listener, has one already). */
static __always_inline struct na_sk_state *state_of(struct bpf_sock *sk, struct na_sk_state *st)
{
	if (st)
		return st;
	return bpf_sk_storage_get(&na_sk_state, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
}

/* An accepted socket that does not join keeps state while its listener's
 * sockets were not seen reading (lst, the listener's na_rxstate entry):
 * na_rxwatch learns from it how they read. */
static __always_inline void watch_unseen(struct bpf_sock *sk, struct na_sk_state *st,
					 __u32 slot, __u64 listener, __u64 lst)
{
	if (!listener || (lst & (NA_RX_NBACC | NA_RX_BLOCKACC)))
		return;
	st = state_of(sk, st);
	if (!st)
		return;
	st->flags = NA_SKF_DECIDED;
	st->slot = slot;
	st->listener = listener;
}

/*
 * A connection is established: decide whether this end joins the fast
 * path. Only an end that joins, or that has something to tell (an accepted
 * socket of a listener whose sockets were not seen reading yet), gets state
 * (SK_STORAGE); the others leave nothing behind. With a child and its
 * parent cgroup both enrolled this runs once for each; the first run of an
 * end that has state decides.
 */
static __always_inline void join(struct bpf_sock_ops *ops)
{
	int passive = ops->op == BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB;
	struct na_listen_val *lv = NULL;
	struct na_sock_key own, peer;
	struct bpf_sock *sk = ops->sk;
	struct na_sk_state *st;
	struct tcp_sock *tp;
	__u64 addr, listener = 0, lst = 0;
	__u32 slot;
	__u8 want;
	int why;

	if (!sk)
		return;
	st = bpf_sk_storage_get(&na_sk_state, sk, 0, 0);
	if (st && (st->flags & NA_SKF_DECIDED))
		return;
	/* An accepted socket inherits its listener's wish to see state
	 * changes (listen_start): only a socket that joins needs them, and
	 * each is a run of this program (a connection per request makes
	 * four). Joining asks again. */
	if (passive && (ops->bpf_sock_ops_cb_flags & BPF_SOCK_OPS_STATE_CB_FLAG))
		bpf_sock_ops_cb_flags_set(ops, ops->bpf_sock_ops_cb_flags &
					       ~BPF_SOCK_OPS_STATE_CB_FLAG);
	tp = bpf_skc_to_tcp_sock(sk);
	if (!tp)
		return;
	slot = sock_slot((struct sock *)tp);
	want = st ? st->want : NA_WANT_DEFAULT;
	if (st) {
		/* A listener's flags, cloned to an accepted socket, are not
		 * this socket's. */
		st->flags = NA_SKF_DECIDED;
		st->path = NA_PATH_UNDECIDED;
	}
	if (!eligible(slot, want)) {
		/* No active enrollment on the socket's path: its cgroup is
		 * draining. */
		if (!active_cfg(slot))
			COUNT(NA_SLOT_GLOBAL, sockets_untagged, 1);
		else
			COUNT(slot, sockets_skipped, 1);
		return;
	}
	if (make_keys(ops, (struct sock *)tp, &own, &peer) < 0)
		return;
	if (passive) {
		struct na_listen_key lk = { .netns = own.netns, .port = own.lport };

		/* The listener: a tagged one's state came with the clone,
		 * otherwise the latest on this port. */
		listener = st && st->listener ? st->listener : 0;
		if (!listener) {
			struct na_listen_val *n = bpf_map_lookup_elem(&na_listeners, &lk);

			listener = n ? n->sk : 0;
		}
		lst = rxstate(listener);
		if (!bpf_map_lookup_elem(&na_sockaddr, &peer)) {
			/* The connecting end did not join. */
			watch_unseen(sk, st, slot, listener, lst);
			COUNT(slot, sockets_skipped, 1);
			return;
		}
		/* An accepted socket gets its file, and its flags, only in
		 * accept(), after it would join. A server may poll a
		 * non-blocking listener and block on the connections, where
		 * a blocking recv() that fails with EAGAIN reads nothing and
		 * so shows nothing: join only where the listener's earlier
		 * sockets were seen reading non-blocking (na_rxwatch), and
		 * none was seen blocking (na_rxwatch, na_msg) or splicing
		 * (splice() never sees redirected bytes). A listener's first
		 * connections stay on TCP. */
		why = BPF_CORE_READ((struct sock *)tp, sk_rcvlowat) > 1 ? NA_UNFIT_RCVLOWAT : NA_FIT;
		if (!why) {
			if (lst & NA_RX_SPLICE) {
				COUNT(slot, kept_splice, 1);
				goto declined;
			}
			if (lst & NA_RX_INQ) {
				COUNT(slot, kept_fionread, 1);
				goto declined;
			}
			if (lst & NA_RX_SLOWCOPY) {
				COUNT(slot, kept_slowcopy, 1);
				goto declined;
			}
			if (lst & NA_RX_BLOCKACC) {
				why = NA_UNFIT_BLOCKING;
			} else if (!(lst & NA_RX_NBACC)) {
				COUNT(slot, kept_unseen, 1);
				watch_unseen(sk, st, slot, listener, lst);
				goto declined;
			}
		}
	} else {
		lv = dest_listeners(&peer);
		if (!peer_may_join(ops, &own, &peer, lv)) {
			COUNT(slot, sockets_skipped, 1);
			return;
		}
		/* The connecting socket has its file and its flags: it must
		 * be event-driven. Senders look at an accepted socket itself
		 * before each redirect. */
		why = rx_unfit((__u64)tp);
		if (!why && lv)
			why = listener_unfit(lv);
		if (!why && lv && (rxstate(lv->sk) & NA_RX_SLOWCOPY)) {
			COUNT(slot, kept_slowcopy, 1);
			return;
		}
	}
	if (why == NA_UNFIT_RCVLOWAT) {
		COUNT(slot, kept_rcvlowat, 1);
		goto declined;
	}
	if (why) {
		COUNT(slot, kept_blocking, 1);
		goto declined;
	}
	if (lv && short_lived(lv)) {
		COUNT(slot, kept_short, 1);
		return;
	}
	st = state_of(sk, st);
	if (!st) {
		COUNT(slot, join_failed, 1);
		goto declined;
	}
	st->flags = NA_SKF_DECIDED;
	st->path = NA_PATH_UNDECIDED;
	st->slot = slot;
	st->peer = peer;
	st->peer_addr = 0;
	st->listener = listener;
	/* Our address goes in before we can be found in the sockhash, so a
	 * peer's first send finds it. */
	addr = (__u64)tp;
	if (bpf_map_update_elem(&na_sockaddr, &own, &addr, BPF_NOEXIST))
		tp = NULL;	/* not ours to remove below */
	if (bpf_sock_hash_update(ops, &na_sockhash, &own, BPF_NOEXIST)) {
		if (tp)
			bpf_map_delete_elem(&na_sockaddr, &own);
		/* Map full, a ULP on the socket, or a key that is already
		 * taken: the connection stays on the normal path. */
		st->path = NA_PATH_PASS;
		COUNT(slot, join_failed, 1);
		goto declined;
	}
	st->flags |= NA_SKF_JOINED;
	COUNT(slot, sockets_joined, 1);
	if (peer.netns != own.netns)
		COUNT(slot, joined_xns, 1);
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
	return;
declined:
	drop_lone_peer(ops, slot, &peer);
}

static __always_inline void leave(struct bpf_sock_ops *ops)
{
	struct na_sock_key own, peer;
	__u64 addr;
	struct bpf_sock *sk = ops->sk;
	struct na_sk_state *st;

	if (!sk)
		return;
	st = bpf_sk_storage_get(&na_sk_state, sk, 0, 0);
	if (!st || !(st->flags & NA_SKF_JOINED))
		return;
	if (make_keys(ops, NULL, &own, &peer) == 0)
		bpf_map_delete_elem(&na_sockaddr, &own);
	addr = (__u64)bpf_skc_to_tcp_sock(sk);
	if (addr)
		bpf_map_delete_elem(&na_rxstate, &addr);
	if (st->listener)	/* the accepted end */
		report_close(ops, st);
	st->flags &= ~NA_SKF_JOINED;
	COUNT(st->slot, sockets_closed, 1);
}

/*
 * Count a listener of an enrolled cgroup in na_listeners, give it an entry
 * in na_rxstate (how its accepted sockets read, NA_RX_LISTENER), and ask
 * for its state changes to count it out when it stops listening. Two
 * listeners starting or stopping on one port at the same instant can lose
 * the entry: their connections then stay on TCP, which is safe.
 */
static __always_inline void listen_start(struct bpf_sock_ops *ops)
{
	struct na_listen_key lk = { .port = (__u16)ops->local_port };
	struct na_listen_val one = { .count = 1 }, *n;
	__u64 entry = NA_RX_LISTENER, addr;
	struct bpf_sock *sk = ops->sk;
	struct na_sk_state *st;
	struct tcp_sock *tp;

	if (!sk)
		return;
	tp = bpf_skc_to_tcp_sock(sk);
	if (!tp)
		return;
	st = bpf_sk_storage_get(&na_sk_state, sk, 0, 0);
	/* A listener whose sockets would not join (opt-in mode and not
	 * tagged, opted out, draining) must not draw clients onto the fast
	 * path. A tag set after listen() comes too late for it. */
	if (!eligible(sock_slot((struct sock *)tp), st ? st->want : NA_WANT_DEFAULT))
		return;
	addr = (__u64)tp;
	/* How its accepted sockets read (listener_mark), from nothing: an
	 * entry left at this address by an earlier socket says nothing of
	 * this one. Its file flags are read when connections arrive: a
	 * server often makes its listener non-blocking only after listen().
	 * A full map leaves the listener unseen: TCP. */
	if (bpf_map_update_elem(&na_rxstate, &addr, &entry, BPF_ANY))
		return;
	/* A tagged listener's state is cloned to its accepted sockets. */
	if (st) {
		st->listener = addr;
		st->flags |= NA_SKF_LISTENER;
	}
	one.sk = addr;
	lk.netns = bpf_get_netns_cookie(ops);
	learn_netns((struct sock *)tp, lk.netns);
	n = bpf_map_lookup_elem(&na_listeners, &lk);
	if (!n && bpf_map_update_elem(&na_listeners, &lk, &one, BPF_NOEXIST))
		n = bpf_map_lookup_elem(&na_listeners, &lk);	/* lost a race */
	if (n) {
		__sync_fetch_and_add(&n->count, 1);
		n->sk = addr;
	}
	/* Accepted sockets inherit these flags; join() resets them. */
	bpf_sock_ops_cb_flags_set(ops, ops->bpf_sock_ops_cb_flags |
					       BPF_SOCK_OPS_STATE_CB_FLAG);
}

static __always_inline void listen_stop(struct bpf_sock_ops *ops)
{
	struct na_listen_key lk = { .port = (__u16)ops->local_port };
	struct bpf_sock *sk = ops->sk;
	struct na_listen_val *n;
	struct tcp_sock *tp;
	__u64 addr;

	if (!sk)
		return;
	tp = bpf_skc_to_tcp_sock(sk);
	if (!tp)
		return;
	addr = (__u64)tp;
	if (!(rxstate(addr) & NA_RX_LISTENER))
		return;
	bpf_map_delete_elem(&na_rxstate, &addr);
	lk.netns = bpf_get_netns_cookie(ops);
	n = bpf_map_lookup_elem(&na_listeners, &lk);
	if (!n)
		return;
	__sync_fetch_and_add(&n->count, -1);
	/* 0, or below it; with listeners left, the one recorded may be the
	 * one closing: its (fault-safe) flags then only decide joins. */
	if (n->count == 0 || n->count > NA_LISTEN_MAX * 64)
		bpf_map_delete_elem(&na_listeners, &lk);
}

#endif /* NA_BYPASS_JOIN_BPF_H */
