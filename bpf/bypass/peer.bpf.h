/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What one socket may know of another: counters of a slot, a peer's view
 * read without a reference, whether a receiver fits redirected bytes,
 * the marks left by how sockets and processes read, and the enrolled slot
 * of a socket or of the running task.
 * Part of bypass.bpf.c (one BPF object), included once from there.
 */
#ifndef NA_BYPASS_PEER_BPF_H
#define NA_BYPASS_PEER_BPF_H

static __always_inline struct na_stats *stats_of(__u32 slot)
{
	return bpf_map_lookup_elem(&na_stats, &slot);
}

#define COUNT(slot, field, n) NA_COUNT_IN(stats_of(slot), field, n)

/* Why a socket's receive side cannot take redirected bytes; 0 if it can. */
enum na_unfit {
	NA_FIT = 0,
	NA_UNFIT_NOFILE,	/* not accepted yet: no file, so no flags to read */
	NA_UNFIT_BLOCKING,	/* its file is blocking */
	NA_UNFIT_RCVLOWAT,	/* SO_RCVLOWAT above 1 */
};

/*
 * What a sender reads of another socket, by its kernel address, without a
 * reference (sk_msg may not hold one): should the socket be gone and its
 * memory reused, a wrong value only keeps bytes on TCP, or keeps a socket
 * from joining, and both keep every byte and its order.
 */
struct na_peer_view {
	int unfit;		/* enum na_unfit */
	__u32 backlog;		/* redirected bytes it has not read, or its
				 * receive memory (see NA_PSOCK) */
	__u32 rcvbuf;
	__u32 copied_seq, rcv_nxt;
};

/* The kernel keeps flags in the low bits of sk_user_data (the pointer is at
 * least 8-byte aligned). Kernels without the sockmap FIONREAD fix have no
 * msg_tot_len; there the bound reads the receiver's sk_rmem_alloc, which
 * counts redirected bytes since they are charged to it (6.1.122, 6.12.8,
 * 6.13) as well as its unread TCP buffers. */
#define NA_PSOCK(user_data) ((__u64)(user_data) & ~7ULL)

static __always_inline int flags_unfit(int rcvlowat, __u64 file, unsigned int f_flags)
{
	if (rcvlowat > 1)
		return NA_UNFIT_RCVLOWAT;
	if (!file)
		return NA_UNFIT_NOFILE;
	return f_flags & O_NONBLOCK ? NA_FIT : NA_UNFIT_BLOCKING;
}

/* Fill v; with seqs, also the peer's TCP sequence numbers. Direct loads
 * where the kernel has bpf_rdonly_cast (6.2+: faults read as 0, a few ns
 * each), fault-safe helper reads elsewhere. */
static __always_inline void peer_view(__u64 addr, struct na_peer_view *v, int seqs)
{
	__u64 so = 0, file = 0, psock;
	unsigned int f_flags = 0;
	int rcvlowat;

	__builtin_memset(v, 0, sizeof(*v));
	if (!addr) {
		v->unfit = NA_UNFIT_NOFILE;
		return;
	}
	if (bpf_rdonly_cast) {
		struct sock *sk = bpf_rdonly_cast((void *)addr, bpf_core_type_id_kernel(struct sock));
		struct socket *sock;
		struct file *f;
		struct sk_psock *ps;
		struct tcp_sock *tp;

		rcvlowat = sk->sk_rcvlowat;
		v->rcvbuf = sk->sk_rcvbuf;
		so = (__u64)sk->sk_socket;
		psock = NA_PSOCK(sk->sk_user_data);
		if (so) {
			sock = bpf_rdonly_cast((void *)so, bpf_core_type_id_kernel(struct socket));
			file = (__u64)sock->file;
		}
		if (file) {
			f = bpf_rdonly_cast((void *)file, bpf_core_type_id_kernel(struct file));
			f_flags = f->f_flags;
		}
		if (psock && bpf_core_field_exists(struct sk_psock, msg_tot_len)) {
			ps = bpf_rdonly_cast((void *)psock, bpf_core_type_id_kernel(struct sk_psock));
			v->backlog = ps->msg_tot_len;
		} else if (psock) {
			v->backlog = sk->sk_backlog.rmem_alloc.counter;
		}
		if (seqs) {
			tp = bpf_rdonly_cast((void *)addr, bpf_core_type_id_kernel(struct tcp_sock));
			v->copied_seq = tp->copied_seq;
			v->rcv_nxt = tp->rcv_nxt;
		}
	} else {
		struct sock *sk = (struct sock *)addr;
		struct sk_psock *ps;

		rcvlowat = BPF_CORE_READ(sk, sk_rcvlowat);
		v->rcvbuf = BPF_CORE_READ(sk, sk_rcvbuf);
		so = (__u64)BPF_CORE_READ(sk, sk_socket);
		psock = NA_PSOCK(BPF_CORE_READ(sk, sk_user_data));
		if (so)
			file = (__u64)BPF_CORE_READ((struct socket *)so, file);
		if (file)
			f_flags = BPF_CORE_READ((struct file *)file, f_flags);
		ps = (struct sk_psock *)psock;
		if (psock && bpf_core_field_exists(struct sk_psock, msg_tot_len))
			v->backlog = BPF_CORE_READ(ps, msg_tot_len);
		else if (psock)
			v->backlog = BPF_CORE_READ(sk, sk_backlog.rmem_alloc.counter);
		if (seqs) {
			v->copied_seq = BPF_CORE_READ((struct tcp_sock *)addr, copied_seq);
			v->rcv_nxt = BPF_CORE_READ((struct tcp_sock *)addr, rcv_nxt);
		}
	}
	v->unfit = flags_unfit(rcvlowat, file, f_flags);
}

/* Whether sk's receive side is event-driven (see the top of this file). */
static __always_inline int rx_unfit(__u64 addr)
{
	struct na_peer_view v;

	peer_view(addr, &v, 0);
	return v.unfit;
}

/* The most redirected bytes a peer may leave unread: its SO_RCVBUF, or
 * na_backlog_min if that is larger. */
static __always_inline __u32 backlog_limit(const struct na_peer_view *v)
{
	return v->rcvbuf > na_backlog_min ? v->rcvbuf : na_backlog_min;
}

static __always_inline __u32 fitgen(void)
{
	__u32 zero = 0, *g = bpf_map_lookup_elem(&na_fitgen, &zero);

	return g ? *g : 0;
}

static __always_inline __u64 rxstate(__u64 addr)
{
	__u64 *v = bpf_map_lookup_elem(&na_rxstate, &addr);

	return v ? *v : 0;
}

/* Why a sender may not redirect to its peer now. */
enum na_peer {
	NA_PEER_OK = 0,
	NA_PEER_WAIT,		/* not yet, or not now: TCP keeps the order */
	NA_PEER_SPLICES,	/* it splices: TCP would not keep the order */
};

/*
 * Whether the peer can take redirected bytes now: it is event-driven (its
 * flags can change at any time, so they are read on every send), it has
 * been seen reading with recv() and never with splice(), and the process
 * that read it has not spliced from a fast-path socket (HAProxy reads a
 * connection's first bytes with recv(), then splices). The last two are
 * remembered until na_fitgen moves, which it does whenever a process is
 * marked.
 */
static __always_inline int peer_check(struct na_sk_state *st, const struct na_peer_view *v)
{
	__u32 g, tgid, *proc;
	__u64 rx;

	if (v->unfit)
		return NA_PEER_WAIT;
	g = fitgen();
	if ((st->flags & NA_SKF_PEER_OK) && st->fit_gen == g)
		return NA_PEER_OK;
	st->flags &= ~NA_SKF_PEER_OK;
	rx = rxstate(st->peer_addr);
	st->peer_misaligned = !!(rx & NA_RX_MISALIGN);
	tgid = rx >> 32;
	proc = bpf_map_lookup_elem(&na_procs, &tgid);
	if ((rx & NA_RX_SPLICE) || (proc && (*proc & NA_PROC_SPLICE)))
		return NA_PEER_SPLICES;
	/* Not seen reading with recv() yet, or its FIONREAD would not
	 * count redirected bytes (na_fionread). */
	if (!(rx & NA_RX_RECV) || (rx & NA_RX_INQ))
		return NA_PEER_WAIT;
	st->flags |= NA_SKF_PEER_OK;
	st->fit_gen = g;
	return NA_PEER_OK;
}

static __always_inline void fitgen_bump(void)
{
	__u32 zero = 0, *g = bpf_map_lookup_elem(&na_fitgen, &zero);

	if (g)
		__sync_fetch_and_add(g, 1);
}

static __always_inline void proc_mark(__u32 tgid, __u32 flag)
{
	__u32 *v = bpf_map_lookup_elem(&na_procs, &tgid);

	if (v && (*v & flag))
		return;
	if (v)
		*v |= flag;	/* a lost race only marks it again later */
	else
		bpf_map_update_elem(&na_procs, &tgid, &flag, BPF_ANY);
	fitgen_bump();
}

/* Add flag to addr's entry in na_rxstate; a new entry also gets hi (the
 * reading process, in the high 32 bits). */
static __always_inline void rx_mark(__u64 addr, __u64 flag, __u64 hi)
{
	__u64 *v = bpf_map_lookup_elem(&na_rxstate, &addr);

	if (v && (*v & flag))
		return;
	if (v) {
		__sync_fetch_and_or(v, flag);
	} else {
		flag |= hi;
		bpf_map_update_elem(&na_rxstate, &addr, &flag, BPF_NOEXIST);
	}
}

/*
 * Add flag to the entry of listener addr, which listen_start made and
 * listen_stop removes. Never a new entry: an accepted socket outlives its
 * listener (socat closes its listener once it has accepted, then reads),
 * and an entry made after listen_stop would outlive the listener too, at an
 * address the kernel hands to its next socket, which would inherit how the
 * old one's connections read (a listener whose connections all stay on
 * TCP, say).
 */
static __always_inline void listener_mark(__u64 addr, __u64 flag)
{
	__u64 *v = bpf_map_lookup_elem(&na_rxstate, &addr);

	if (v && !(*v & flag))
		__sync_fetch_and_or(v, flag);
}

/* The slot of the deepest enrolled ancestor of the current task's cgroup
 * (the cgroup a socket is created in), or NA_SLOT_GLOBAL. Most sockets are
 * made in the enrolled cgroup itself: one lookup finds it. */
static __always_inline __u32 current_slot(void)
{
	__u32 slot = NA_SLOT_GLOBAL, *hit;
	__u64 id = bpf_get_current_cgroup_id();
	int lvl;

	hit = bpf_map_lookup_elem(&na_cgslot, &id);
	if (hit)
		return *hit;
	for (lvl = 0; lvl < NA_MAX_CGROUP_DEPTH; lvl++) {
		id = bpf_get_current_ancestor_cgroup_id(lvl);
		if (!id)
			break;
		hit = bpf_map_lookup_elem(&na_cgslot, &id);
		if (hit)
			slot = *hit;
	}
	return slot;
}

/* The same for the cgroup a socket was created in (sk_cgrp_data), from any
 * context: its own cgroup, then its parents, the first enrolled one wins. */
static __always_inline __u32 sock_slot(struct sock *sk)
{
	struct cgroup *cg = BPF_CORE_READ(sk, sk_cgrp_data.cgroup);
	struct cgroup_subsys_state *css;
	__u32 *hit;
	__u64 id;
	int lvl;

	for (lvl = 0; lvl < NA_MAX_CGROUP_DEPTH && cg; lvl++) {
		id = BPF_CORE_READ(cg, kn, id);
		hit = bpf_map_lookup_elem(&na_cgslot, &id);
		if (hit)
			return *hit;
		css = BPF_CORE_READ(cg, self.parent);
		cg = css ? (struct cgroup *)((void *)css - bpf_core_field_offset(struct cgroup, self))
			 : 0;
	}
	return NA_SLOT_GLOBAL;
}

/* An enrolled cgroup's settings, if its enrollment is active. */
static __always_inline struct na_cgroup_cfg *active_cfg(__u32 slot)
{
	struct na_cgroup_cfg *cfg;

	if (slot >= NA_MAX_CGROUPS)
		return 0;
	cfg = bpf_map_lookup_elem(&na_cgroups, &slot);
	return cfg && cfg->state == NA_SLOT_ACTIVE ? cfg : 0;
}

#endif /* NA_BYPASS_PEER_BPF_H */
