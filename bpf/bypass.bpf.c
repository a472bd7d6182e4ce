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

/*
 * The kernel structures read to measure a peer's backlog, reduced to the
 * fields used. preserve_access_index makes every access a CO-RE
 * relocation, fixed up at load time against the running kernel's BTF.
 */
struct tcp_sock {
	__u32 rcv_nxt;
	__u32 copied_seq;
	__u32 write_seq;
} __attribute__((preserve_access_index));

struct inode {
	unsigned short i_mode;
} __attribute__((preserve_access_index));

struct file {
	struct inode *f_inode;
	unsigned int f_flags;
	void *private_data;
} __attribute__((preserve_access_index));

struct socket;

struct kernfs_node {
	__u64 id;
} __attribute__((preserve_access_index));

struct cgroup_subsys_state {
	struct cgroup_subsys_state *parent;
} __attribute__((preserve_access_index));

struct cgroup {
	struct cgroup_subsys_state self;
	struct kernfs_node *kn;
} __attribute__((preserve_access_index));

struct sock_cgroup_data {
	struct cgroup *cgroup;
} __attribute__((preserve_access_index));

struct sock {
	struct sock_cgroup_data sk_cgrp_data;
	int sk_rcvbuf;
	int sk_rcvlowat;
	void *sk_user_data;
	struct socket *sk_socket;
	struct {
		struct {
			int counter;
		} rmem_alloc;
	} sk_backlog;
} __attribute__((preserve_access_index));

struct socket {
	struct sock *sk;
	struct file *file;
} __attribute__((preserve_access_index));

struct sk_psock {
	__u32 msg_tot_len;
} __attribute__((preserve_access_index));

struct task_struct;

/* The system call a task is in, to tell a recv() from a splice(). */
#if defined(__TARGET_ARCH_x86)
struct pt_regs {
	long orig_ax;
} __attribute__((preserve_access_index));
#define NA_SYSCALL_NR(regs) ((regs)->orig_ax)
#define NA_IS_RECV(nr) ((nr) == 0 || (nr) == 19 || (nr) == 45 || (nr) == 47 || (nr) == 299)
#define NA_IS_SPLICE(nr) ((nr) == 275 || (nr) == 40)	/* splice, sendfile */
#elif defined(__TARGET_ARCH_arm64)
struct pt_regs {
	int syscallno;
} __attribute__((preserve_access_index));
#define NA_SYSCALL_NR(regs) ((regs)->syscallno)
#define NA_IS_RECV(nr) ((nr) == 63 || (nr) == 65 || (nr) == 207 || (nr) == 212 || (nr) == 243)
#define NA_IS_SPLICE(nr) ((nr) == 76 || (nr) == 71)
#endif

/* A read-only typed view of a kernel address (Linux 6.2+), for direct
 * loads; older kernels take the fault-safe reads. */
extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym __weak;

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
	peer->netns = own->netns;
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
 * source for a local destination). Whether that listener is event-driven
 * is join's question.
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
	if (own->family == AF_INET)
		return na_v4_loopback(own->raddr[0]) || own->raddr[0] == own->laddr[0];
	if (na_v6_loopback(own->raddr[0], own->raddr[1], own->raddr[2], own->raddr[3]))
		return 1;
	return own->raddr[0] == own->laddr[0] && own->raddr[1] == own->laddr[1] &&
	       own->raddr[2] == own->laddr[2] && own->raddr[3] == own->laddr[3];
}

/* The listeners of enrolled cgroups on a connecting socket's destination
 * port, in its network namespace: NULL when there are none. */
static __always_inline struct na_listen_val *dest_listeners(const struct na_sock_key *own)
{
	struct na_listen_key lk = { .netns = own->netns, .port = own->rport };

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
	if (make_keys(ops, &own, &peer) < 0)
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
			if (lst & NA_RX_BLOCKACC) {
				why = NA_UNFIT_BLOCKING;
			} else if (!(lst & NA_RX_NBACC)) {
				COUNT(slot, kept_unseen, 1);
				watch_unseen(sk, st, slot, listener, lst);
				goto declined;
			}
		}
	} else {
		lv = dest_listeners(&own);
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
	if (make_keys(ops, &own, &peer) == 0)
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
	rx_mark(addr, flag, (__u64)tgid << 32);
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
