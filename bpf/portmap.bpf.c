// SPDX-License-Identifier: GPL-2.0-only
/*
 * Port remap: each cgroup with rules gets its own view of port numbers on
 * the host network. A socket belongs to the deepest cgroup with the hooks
 * attached (its scope) among the ancestors of the cgroup it was created in;
 * rules are looked up by (scope, virtual port, protocol).
 *
 *  na_pm_create   records a new socket's scope (SK_STORAGE, cloned to
 *                 accepted sockets)
 *  na_pm_bind4/6  bind(P): binds the rule's real port, or the one already
 *                 bound for P in the scope, or lets the kernel pick one
 *  na_pm_post4/6  learns the real port and records it for P; a second
 *                 socket that raced to another real port gets EADDRINUSE
 *  na_pm_release  the last socket bound to P lets it go
 *  na_pm_conn4/6  connect(P) to a local address: the real port
 *  na_pm_send4/6  the same for UDP sendto
 *  na_pm_name4/6, na_pm_peer4/6, na_pm_recv4/6: real ports back to P
 *
 * The hooks of every ancestor with rules run for a socket too (children's
 * first), so each hook must leave what an earlier run rewrote alone.
 */
#include <linux/bpf.h>
#include <linux/types.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "netaccel_abi.h"
#include "na_addr.bpf.h"
#include "na_count.bpf.h"
#include "na_defs.bpf.h"
#include "portmap_maps.bpf.h"

char LICENSE[] SEC("license") = "GPL";

/* Reduced kernel structures, relocated against the running kernel's BTF. */
struct na_kcap {
	__u64 val;	/* before 6.3 two u32 words: the same bits here */
};

struct cred {
	struct na_kcap cap_effective;
} __attribute__((preserve_access_index));

struct task_struct {
	const struct cred *cred;
} __attribute__((preserve_access_index));

static __always_inline struct na_pm_stats *stats_of(__u64 cgid)
{
	return bpf_map_lookup_elem(&na_pm_stats, &cgid);
}

#define COUNT(cgid, field) NA_COUNT_IN(stats_of(cgid), field, 1)

/* The deepest ancestor of the current task's cgroup with the hooks. */
static __always_inline __u64 current_scope(void)
{
	__u64 id, scope = 0;
	int lvl;

	for (lvl = 0; lvl < NA_MAX_CGROUP_DEPTH; lvl++) {
		id = bpf_get_current_ancestor_cgroup_id(lvl);
		if (!id)
			break;
		if (bpf_map_lookup_elem(&na_pm_scopes, &id))
			scope = id;
	}
	return scope;
}

static __always_inline int remappable(__u32 family, __u32 protocol)
{
	return (family == AF_INET || family == AF_INET6) &&
	       (protocol == IPPROTO_TCP || protocol == IPPROTO_UDP);
}

SEC("cgroup/sock_create")
int na_pm_create(struct bpf_sock *sk)
{
	struct na_pm_sk *s;
	__u64 scope;

	if (!remappable(sk->family, sk->protocol))
		return NA_CG_OK;
	/* Run once per ancestor with hooks: the first run decides. */
	if (bpf_sk_storage_get(&na_pm_sk, sk, 0, 0))
		return NA_CG_OK;
	scope = current_scope();
	if (!scope)
		return NA_CG_OK;
	s = bpf_sk_storage_get(&na_pm_sk, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (s) {
		s->cgid = scope;
		s->proto = sk->protocol;
	}
	return NA_CG_OK;
}

/* The view of a socket in a sock_addr hook. A socket made before the
 * hooks were attached gets its scope from the task using it. */
static __always_inline struct na_pm_sk *view_of(struct bpf_sock_addr *ctx)
{
	struct bpf_sock *sk = ctx->sk;
	struct na_pm_sk *s;
	__u64 scope;

	if (!sk || !remappable(ctx->family, ctx->protocol))
		return NULL;
	s = bpf_sk_storage_get(&na_pm_sk, sk, 0, 0);
	if (s)
		return s->cgid ? s : NULL;
	scope = current_scope();
	if (!scope)
		return NULL;
	s = bpf_sk_storage_get(&na_pm_sk, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (!s)
		return NULL;
	s->cgid = scope;
	s->proto = ctx->protocol;
	return s;
}

static __always_inline __u16 user_port(const struct bpf_sock_addr *ctx)
{
	return bpf_ntohs((__u16)ctx->user_port);
}

static __always_inline void set_user_port(struct bpf_sock_addr *ctx, __u16 port)
{
	ctx->user_port = bpf_htons(port);
}

/* Whether the current task may bind privileged ports (effective
 * CAP_NET_BIND_SERVICE; its user namespace is not looked at). */
static __always_inline int may_bind_service(void)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	const struct cred *cred = BPF_CORE_READ(task, cred);
	struct na_kcap caps = {};

	if (!cred || bpf_core_read(&caps, sizeof(caps), &cred->cap_effective))
		return 0;
	return !!(caps.val & (1ULL << CAP_NET_BIND_SERVICE));
}

/* The real port a live binding of key holds, or 0. */
static __always_inline __u16 bound_port(const struct na_pm_key *key)
{
	struct na_pm_bound *b = bpf_map_lookup_elem(&na_pm_bound, key);

	return b && b->refs ? b->rport : 0;
}

static __always_inline int refuse(int err)
{
	bpf_set_retval(-err);
	return NA_CG_REJECT;
}

static __always_inline int do_bind(struct bpf_sock_addr *ctx)
{
	struct na_pm_key key = {};
	struct na_pm_rule *rule;
	struct na_pm_sk *s;
	__u16 port = user_port(ctx), real;

	if (!port)
		return NA_CG_OK;
	s = view_of(ctx);
	if (!s)
		return NA_CG_OK;
	/* Bound already: the kernel refuses a second bind (EINVAL), and the
	 * binding must stay counted until the socket is released. */
	if (s->flags & NA_PMS_COUNTED)
		return NA_CG_OK;
	/* An ancestor's run after ours sees the port we wrote. */
	if ((s->flags & NA_PMS_BOUND) && s->lrport == port)
		return NA_CG_OK;
	s->flags &= ~NA_PMS_BOUND;
	key.cgid = s->cgid;
	key.vport = port;
	key.proto = ctx->protocol;
	rule = bpf_map_lookup_elem(&na_pm_rules, &key);
	if (!rule)
		return NA_CG_OK;

	/* Privilege follows the virtual port: the kernel checks the real
	 * one, after us, which we tell it to skip. */
	if ((rule->flags & NA_PMF_PRIV_VPORT) && !(rule->flags & NA_PMF_UNPRIV) &&
	    !may_bind_service()) {
		COUNT(key.cgid, binds_refused);
		return refuse(EACCES);
	}
	/* A virtual port bound already in this view shares its real port,
	 * so the kernel answers EADDRINUSE or, with SO_REUSEPORT on both,
	 * lets them share it, as it would for the virtual port. */
	real = (rule->flags & NA_PMF_FIXED) ? rule->rport : bound_port(&key);
	s->lport = port;
	s->lrport = real;
	s->flags |= NA_PMS_BOUND;
	set_user_port(ctx, real);
	return NA_CG_BIND_NO_CAP_CHECK;
}

SEC("cgroup/bind4")
int na_pm_bind4(struct bpf_sock_addr *ctx)
{
	return do_bind(ctx);
}

SEC("cgroup/bind6")
int na_pm_bind6(struct bpf_sock_addr *ctx)
{
	return do_bind(ctx);
}

static __always_inline int do_post_bind(struct bpf_sock *sk)
{
	struct na_pm_key key = {};
	struct na_pm_bound *b, nb = {};
	struct na_pm_real rv = {};
	struct na_pm_sk *s;
	__u16 real = sk->src_port;

	s = bpf_sk_storage_get(&na_pm_sk, sk, 0, 0);
	if (!s || !(s->flags & NA_PMS_BOUND) || (s->flags & NA_PMS_COUNTED) || !real)
		return NA_CG_OK;
	key.cgid = s->cgid;
	key.vport = s->lport;
	key.proto = s->proto;
	b = bpf_map_lookup_elem(&na_pm_bound, &key);
	if (!b || !b->refs) {
		nb.rport = real;
		nb.refs = 1;
		if (bpf_map_update_elem(&na_pm_bound, &key, &nb, BPF_ANY))
			return NA_CG_OK;
	} else if (b->rport == real) {
		__sync_fetch_and_add(&b->refs, 1);
	} else {
		/* Two sockets raced to bind the virtual port and the kernel
		 * gave them different real ports: the later one loses, as it
		 * would have on the virtual port. */
		s->flags &= ~NA_PMS_BOUND;
		COUNT(key.cgid, binds_refused);
		return refuse(EADDRINUSE);
	}
	s->lrport = real;
	s->owner = bpf_get_socket_cookie(sk);
	s->flags |= NA_PMS_COUNTED;
	if (s->proto == IPPROTO_UDP) {
		rv.vport = key.vport;
		key.vport = real;
		bpf_map_update_elem(&na_pm_real, &key, &rv, BPF_ANY);
	}
	COUNT(s->cgid, binds_remapped);
	return NA_CG_OK;
}

SEC("cgroup/post_bind4")
int na_pm_post4(struct bpf_sock *sk)
{
	return do_post_bind(sk);
}

SEC("cgroup/post_bind6")
int na_pm_post6(struct bpf_sock *sk)
{
	return do_post_bind(sk);
}

SEC("cgroup/sock_release")
int na_pm_release(struct bpf_sock *sk)
{
	struct na_pm_key key = {};
	struct na_pm_bound *b;
	struct na_pm_sk *s;

	s = bpf_sk_storage_get(&na_pm_sk, sk, 0, 0);
	if (!s || !(s->flags & NA_PMS_COUNTED))
		return NA_CG_OK;
	s->flags &= ~NA_PMS_COUNTED;
	/* Accepted sockets carry a copy of the listener's view. */
	if (s->owner != bpf_get_socket_cookie(sk))
		return NA_CG_OK;
	key.cgid = s->cgid;
	key.vport = s->lport;
	key.proto = s->proto;
	b = bpf_map_lookup_elem(&na_pm_bound, &key);
	if (!b || b->rport != s->lrport || !b->refs)
		return NA_CG_OK;
	/* The entry stays (at most one per rule) with no references; a
	 * reference taken between these two lines only keeps a stale
	 * reverse entry for UDP, which a later bind overwrites. */
	__sync_fetch_and_add(&b->refs, (__u32)-1);
	if (!b->refs && s->proto == IPPROTO_UDP) {
		key.vport = s->lrport;
		bpf_map_delete_elem(&na_pm_real, &key);
	}
	return NA_CG_OK;
}

/* Loopback and the unspecified address, which Linux connects to locally
 * (IPv4-mapped forms included). Other addresses of this host are not
 * known here; see docs/limitations.md. */
static __always_inline int v4_local(__u32 addr_be)
{
	return na_v4_loopback(addr_be) || addr_be == 0;
}

/* v6 is a constant: a program may only read the address fields of its
 * own family, so the other branch must vanish at compile time. */
static __always_inline int addr_local(const struct bpf_sock_addr *ctx, int v6)
{
	__u32 a0, a1, a2, a3;

	if (!v6)
		return v4_local(ctx->user_ip4);
	a0 = ctx->user_ip6[0];
	a1 = ctx->user_ip6[1];
	a2 = ctx->user_ip6[2];
	a3 = ctx->user_ip6[3];
	if (na_v6_v4mapped(a0, a1, a2))
		return v4_local(a3);
	return na_v6_loopback(a0, a1, a2, a3) || (!a0 && !a1 && !a2 && !a3);
}

/* Where a connect or send to a local virtual port goes: 1 with *real
 * set, 0 to leave it alone, -1 when nothing is bound there in the view. */
static __always_inline int peer_real_port(const struct na_pm_sk *s, __u16 port,
					  __u8 proto, __u16 *real)
{
	struct na_pm_key key = {};
	struct na_pm_rule *rule;

	key.cgid = s->cgid;
	key.vport = port;
	key.proto = proto;
	/* A live binding is reached even after its rule was deleted. */
	*real = bound_port(&key);
	if (*real)
		return 1;
	rule = bpf_map_lookup_elem(&na_pm_rules, &key);
	if (!rule)
		return 0;
	if (rule->flags & NA_PMF_FIXED) {
		*real = rule->rport;
		return 1;
	}
	return -1;
}

static __always_inline int do_connect(struct bpf_sock_addr *ctx, int v6, int send)
{
	__u16 port = user_port(ctx), real = 0;
	struct na_pm_sk *s;
	int r;

	if (!port || !addr_local(ctx, v6))
		return NA_CG_OK;
	s = view_of(ctx);
	if (!s)
		return NA_CG_OK;
	if (!send && (s->flags & NA_PMS_PEER) && s->prport == port)
		return NA_CG_OK;	/* an ancestor's run after ours */
	r = peer_real_port(s, port, ctx->protocol, &real);
	if (r == 0)
		return NA_CG_OK;
	if (r < 0) {
		/* As on the virtual port: nobody listens there. */
		COUNT(s->cgid, connects_refused);
		return refuse(ECONNREFUSED);
	}
	set_user_port(ctx, real);
	if (send) {
		COUNT(s->cgid, sends_remapped);
		return NA_CG_OK;
	}
	s->pport = port;
	s->prport = real;
	s->flags |= NA_PMS_PEER;
	COUNT(s->cgid, connects_remapped);
	return NA_CG_OK;
}

SEC("cgroup/connect4")
int na_pm_conn4(struct bpf_sock_addr *ctx)
{
	return do_connect(ctx, 0, 0);
}

SEC("cgroup/connect6")
int na_pm_conn6(struct bpf_sock_addr *ctx)
{
	return do_connect(ctx, 1, 0);
}

SEC("cgroup/sendmsg4")
int na_pm_send4(struct bpf_sock_addr *ctx)
{
	return do_connect(ctx, 0, 1);
}

SEC("cgroup/sendmsg6")
int na_pm_send6(struct bpf_sock_addr *ctx)
{
	return do_connect(ctx, 1, 1);
}

/* getsockname: the real port of a remapped bind reads as the virtual. */
static __always_inline int do_sockname(struct bpf_sock_addr *ctx)
{
	struct na_pm_sk *s;
	__u16 port = user_port(ctx);

	if (!ctx->sk)
		return NA_CG_OK;
	s = bpf_sk_storage_get(&na_pm_sk, ctx->sk, 0, 0);
	if (s && (s->flags & NA_PMS_BOUND) && s->lrport && s->lrport == port)
		set_user_port(ctx, s->lport);
	return NA_CG_OK;
}

SEC("cgroup/getsockname4")
int na_pm_name4(struct bpf_sock_addr *ctx)
{
	return do_sockname(ctx);
}

SEC("cgroup/getsockname6")
int na_pm_name6(struct bpf_sock_addr *ctx)
{
	return do_sockname(ctx);
}

static __always_inline int do_peername(struct bpf_sock_addr *ctx)
{
	struct na_pm_sk *s;
	__u16 port = user_port(ctx);

	if (!ctx->sk)
		return NA_CG_OK;
	s = bpf_sk_storage_get(&na_pm_sk, ctx->sk, 0, 0);
	if (s && (s->flags & NA_PMS_PEER) && s->prport == port)
		set_user_port(ctx, s->pport);
	return NA_CG_OK;
}

SEC("cgroup/getpeername4")
int na_pm_peer4(struct bpf_sock_addr *ctx)
{
	return do_peername(ctx);
}

SEC("cgroup/getpeername6")
int na_pm_peer6(struct bpf_sock_addr *ctx)
{
	return do_peername(ctx);
}

/* recvfrom: a datagram from a local real port bound in the same view
 * shows the virtual port as its source. */
static __always_inline int do_recv(struct bpf_sock_addr *ctx, int v6)
{
	struct na_pm_key key = {};
	struct na_pm_real *rv;
	struct na_pm_sk *s;
	__u16 port = user_port(ctx);

	if (!ctx->sk || !port || !addr_local(ctx, v6))
		return NA_CG_OK;
	s = bpf_sk_storage_get(&na_pm_sk, ctx->sk, 0, 0);
	if (!s || !s->cgid)
		return NA_CG_OK;
	key.cgid = s->cgid;
	key.vport = port;
	key.proto = IPPROTO_UDP;
	rv = bpf_map_lookup_elem(&na_pm_real, &key);
	if (!rv)
		return NA_CG_OK;
	key.vport = rv->vport;
	if (bound_port(&key) != port)
		return NA_CG_OK;
	set_user_port(ctx, rv->vport);
	COUNT(s->cgid, recvs_remapped);
	return NA_CG_OK;
}

SEC("cgroup/recvmsg4")
int na_pm_recv4(struct bpf_sock_addr *ctx)
{
	return do_recv(ctx, 0);
}

SEC("cgroup/recvmsg6")
int na_pm_recv6(struct bpf_sock_addr *ctx)
{
	return do_recv(ctx, 1);
}
