/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The ABI shared by netaccel's BPF programs and user space: map value and
 * key layouts, enum values, sizes. Fixed-width types and explicit padding
 * only, so that both compilers lay the structs out the same way.
 */
#ifndef NETACCEL_ABI_H
#define NETACCEL_ABI_H

#include <linux/types.h>

/* Enrolled cgroups at once; slot NA_SLOT_GLOBAL holds events that belong to
 * no enrolled cgroup (for example a socket that existed before enrollment). */
#ifndef NA_MAX_CGROUPS
#define NA_MAX_CGROUPS 64
#endif
#define NA_SLOT_GLOBAL NA_MAX_CGROUPS
#define NA_STATS_SLOTS (NA_MAX_CGROUPS + 1)

/* Accelerated sockets at once (both ends of a connection count). */
#ifndef NA_SOCKHASH_MAX
#define NA_SOCKHASH_MAX 65536
#endif

/* Ports listened on from enrolled cgroups at once (per network namespace). */
#ifndef NA_LISTEN_MAX
#define NA_LISTEN_MAX 16384
#endif

/* Redirected bytes a peer may leave unread (or its SO_RCVBUF, if larger)
 * before its connection moves to TCP, whose window stops the sender. */
#ifndef NA_BACKLOG_MIN
#define NA_BACKLOG_MIN (16u << 20)
#endif

/* Minimum TCP retransmission timeout of a fast-path socket, microseconds:
 * bounds the stall when a connection moves to TCP (bypass.bpf.c, join). */
#ifndef NA_FAST_RTO_MIN_US
#define NA_FAST_RTO_MIN_US 5000
#endif

/* Deepest cgroup nesting searched for an enrolled ancestor. */
#define NA_MAX_CGROUP_DEPTH 32

/* Length of the cgroup path kept for display, relative to the v2 root. */
#define NA_CGROUP_PATH_MAX 232

enum na_mode {
	NA_MODE_ALL = 1,	/* every TCP socket created in the cgroup */
	NA_MODE_OPT_IN = 2,	/* only sockets the application tagged */
};

enum na_slot_state {
	NA_SLOT_FREE = 0,
	NA_SLOT_ACTIVE = 1,	/* new connections join */
	NA_SLOT_DRAINING = 2,	/* unenrolled: live connections finish */
};

/* na_cgroups[slot]: one enrolled cgroup. */
struct na_cgroup_cfg {
	__u64 cgid;		/* cgroup id (inode of the cgroup directory) */
	__u32 mode;		/* enum na_mode */
	__u32 state;		/* enum na_slot_state */
	__u32 gen;		/* bumped each time the slot is given out */
	__u32 _pad;
	char path[NA_CGROUP_PATH_MAX]; /* relative to the cgroup v2 root */
};

/*
 * Identity of one end of a TCP connection, unique on the host. IPv4 and
 * IPv4-mapped IPv6 addresses are stored as AF_INET with the address in
 * addr[0], so that a v6 socket talking to a v4 one finds its peer.
 */
struct na_sock_key {
	__u32 family;		/* AF_INET or AF_INET6 */
	__u16 lport;		/* host byte order */
	__u16 rport;		/* host byte order */
	__u64 netns;		/* network namespace cookie */
	__u32 laddr[4];		/* network byte order */
	__u32 raddr[4];
};

/*
 * The socket option level and options applications use to talk to
 * netaccel; include/netaccel.h publishes the same numbers. No kernel
 * protocol uses this level, so where netaccel's programs are not attached
 * the kernel answers ENOPROTOOPT.
 */
#define NA_SOL_NETACCEL 0x6e61	/* "na" */
#define NA_OPT_TAG 1		/* int: 1 opt in, 0 opt out, -1 back to the mode */
#define NA_OPT_ACCELERATED 2	/* int, read-only: 1 when on the fast path */
/* A port with a listener in an enrolled cgroup, in one network namespace. */
struct na_listen_key {
	__u64 netns;		/* network namespace cookie */
	__u16 port;		/* host byte order */
	__u16 _pad[3];
};

/*
 * Networks of this host's network namespaces (containers, pods): a bridge
 * and the namespaces whose veth is a port of it, which reach each other
 * without address translation. User space (na_net_sync) learns them from
 * netlink; a socket's peer in another namespace is found by the address it
 * connects to, in the network its own namespace is on. Two networks may
 * use the same addresses: an address names a namespace only within its
 * network.
 */
#ifndef NA_NET_NS_MAX
#define NA_NET_NS_MAX 4096
#endif
#ifndef NA_NET_EP_MAX
#define NA_NET_EP_MAX 16384
#endif

/* A namespace's network (na_nets, by the namespace's inode number, which
 * user space sees without entering it). */
struct na_net_member {
	__u64 net;		/* network id: unique on the host, never 0 */
};

/* An address of one namespace in a network (na_endpoints -> the
 * namespace's inode number). IPv4 as in na_sock_key: addr[0], family
 * AF_INET. The programs learn each such namespace's cookie from its own
 * sockets (na_nscookie). */
struct na_endpoint_key {
	__u64 net;
	__u32 family;
	__u32 addr[4];
	__u32 _pad;
};

/* What the application asked for (setsockopt on the netaccel level). */
enum na_want {
	NA_WANT_DEFAULT = 0,	/* follow the cgroup's mode */
	NA_WANT_ON = 1,
	NA_WANT_OFF = 2,
};

/* How a connection's outgoing bytes travel; decided once per socket. */
enum na_path {
	NA_PATH_UNDECIDED = 0,
	NA_PATH_REDIRECT = 1,	/* straight to the peer's receive queue */
	NA_PATH_PASS = 2,	/* the normal TCP path, for good */
	NA_PATH_THROTTLED = 3,	/* TCP while the peer catches up, then back */
	NA_PATH_DEFERRED = 4,	/* TCP until the peer can take redirected bytes */
};

enum na_sk_flags {
	NA_SKF_JOINED = 1 << 0,	/* inserted in the sockhash */
	NA_SKF_DECIDED = 1 << 1, /* its connection was considered for joining */
	NA_SKF_LISTENER = 1 << 2, /* a listener counted in na_listeners */
	NA_SKF_SPLICED = 1 << 3, /* seen splicing, or its splice refused (counted once) */
	NA_SKF_PEER_OK = 1 << 4, /* the peer was seen reading with recv, as of fit_gen */
	NA_SKF_FAST = 1 << 5,	/* sent at least once on the fast path */
	NA_SKF_RX_SEEN = 1 << 6, /* seen reading non-blocking, and said so */
	NA_SKF_INQ = 1 << 7,	/* seen asking FIONREAD (counted once) */
};

/* na_rxstate value: how a socket reads its TCP bytes; for a listener, how
 * the sockets it accepted did. */
enum na_rx_flags {
	NA_RX_RECV = 1 << 0,	/* with read/recv/recvmsg: redirected bytes reach it */
	NA_RX_SPLICE = 1 << 1,	/* with splice/sendfile: they never would */
	NA_RX_NBACC = 1 << 2,	/* listener: an accepted socket read non-blocking */
	NA_RX_BLOCKACC = 1 << 3, /* listener: an accepted socket read or wrote blocking */
	NA_RX_INQ = 1 << 4,	/* asked FIONREAD where it misses redirected bytes;
				 * listener: an accepted socket did */
	NA_RX_LISTENER = 1 << 5, /* the entry of a listener of an enrolled cgroup */
	NA_RX_MISALIGN = 1 << 6, /* its first read went to a buffer off a 32-byte
				  * boundary, on a CPU that copies slowly there */
	NA_RX_SLOWCOPY = 1 << 7, /* listener: one of its connections streamed
				  * large writes to such a reader */
};

/* na_procs value: what a process did to a fast-path socket. */
enum na_proc_flags {
	NA_PROC_SPLICE = 1 << 0, /* spliced from one */
};

/* Per-socket state in SK_STORAGE (cloned to accepted sockets). */
struct na_sk_state {
	__u32 slot;		/* enrolled cgroup the socket was created in */
	__u32 _pad0;
	__u8 want;		/* enum na_want */
	__u8 path;		/* enum na_path */
	__u8 flags;		/* enum na_sk_flags */
	__u8 _pad;
	__u32 fit_gen;		/* na_fitgen when NA_SKF_PEER_OK was set */
	struct na_sock_key peer; /* key of the other end, set on joining */
	__u64 peer_addr;	/* its kernel address, found at the first send */
	__u64 listener;		/* a listener's own address (cloned to accepted sockets) */
	__u8 stream_sends;	/* sends of this window that found the peer behind */
	__u8 stream_small;	/* of those, writes under NA_STREAM_BIG_WRITE */
	__u8 stream_out;	/* 1: judged a stream of small writes: TCP from the
				 * next send that finds the peer caught up */
	__u8 peer_misaligned;	/* 1: the peer reads to a buffer the kernel copies
				 * to slowly (NA_RX_MISALIGN), as of fit_gen */
	__u8 slow_sends;	/* large sends to such a peer that found it behind
				 * (up to NA_STREAM_WINDOW, which marks the port) */
	__u8 _pad2[3];
};

/* A sender whose peer is still reading earlier bytes streams. A stream of
 * writes under NA_STREAM_BIG_WRITE moves faster over TCP, which appends a
 * write to the previous segment, than as one sockmap message each, which
 * the sender queues under the reader's socket lock: when more than 3 in 4
 * of NA_STREAM_WINDOW such sends are small, the connection takes TCP for
 * good (stream_moved).
 *
 * NA_STREAM_WINDOW writes of NA_STREAM_BIG_WRITE or more that find their
 * reader behind, to a reader whose buffer starts off a 32-byte boundary,
 * on a CPU whose kernel copies to such a buffer several times slower
 * (na_copy_slow), mark the port's listener (NA_RX_SLOWCOPY): a sockmap
 * message starts a large write at a page boundary, so every one of that
 * reader's copies is slow, where TCP's segments move the alignment from
 * one to the next. The connection keeps the fast path (moving it would
 * not help: a socket in the sockhash sends TCP bytes from the same pages);
 * the port's next connections stay on TCP (kept_slowcopy). */
#define NA_STREAM_WINDOW 64
#define NA_STREAM_BIG_WRITE 65536

/* na_listeners value: listeners on one (netns, port), the kernel address
 * of the latest (whose file says whether it is event-driven), and how its
 * recent connections went: a port whose connections close before their
 * second exchange (a connection per request) gains nothing from the fast
 * path and is skipped, but for one connection in NA_SHORT_SAMPLE. */
struct na_listen_val {
	__u32 count;
	__u32 ticket;		/* connections to it, while skipped */
	__u64 sk;
	__u32 closed;		/* joined connections closed in this window */
	__u32 fast;		/* of those, ones that took the fast path */
	__u32 skip;		/* 1: its connections do not join */
	__u32 _pad;
};

/* Joined connections a port is judged by; the share of a skipped port's
 * connections that still join, and how many of those judge it again
 * (1,024 connections). */
#define NA_SHORT_WINDOW 64
#define NA_SHORT_SAMPLE 64
#define NA_SHORT_REJUDGE 16

/*
 * Counters, one set per slot and CPU. Keep the order: user space prints
 * them by index with the names in na_counter_names.
 */
struct na_stats {
	__u64 sockets_tagged;	/* TCP sockets created in an enrolled cgroup */
	__u64 sockets_joined;	/* sockets put on the fast path */
	__u64 sockets_closed;	/* fast-path sockets that have closed */
	__u64 sockets_skipped;	/* established but not joined (mode, opt-out, draining, peer cannot join) */
	__u64 sockets_untagged;	/* established in an enrolled cgroup, created before enrollment */
	__u64 join_failed;	/* sockhash insert refused (map full, ULP) */
	__u64 msgs_redirected;
	__u64 bytes_redirected;
	__u64 msgs_passed;	/* sent on the normal path by a fast-path socket */
	__u64 bytes_passed;
	__u64 misses;		/* first send found no accelerated peer */
	__u64 fallbacks;	/* redirect failed on a redirecting connection */
	__u64 backlog_limited;	/* moves to TCP: the peer had too much unread */
	__u64 backlog_resumed;	/* moves back to the fast path once it caught up */
	__u64 tags_on;		/* sockets an application opted in (NETACCEL_TAG 1) */
	__u64 tags_off;		/* sockets an application opted out (NETACCEL_TAG 0) */
	__u64 kept_blocking;	/* not joined: a blocking socket, or accepted from a blocking listener */
	__u64 kept_rcvlowat;	/* not joined: SO_RCVLOWAT above 1 */
	__u64 kept_splice;	/* not joined: accepted from a listener whose sockets splice */
	__u64 splice_seen;	/* fast-path sockets seen reading with splice()/sendfile() */
	__u64 deferred;		/* first send took TCP: the peer could not take redirects yet */
	__u64 deferred_joined;	/* deferred connections that moved to the fast path */
	__u64 peer_unfit;	/* sends moved to TCP: the peer turned blocking, set SO_RCVLOWAT or spliced */
	__u64 kept_short;	/* not joined: connections to that port close before their second exchange */
	__u64 kept_unseen;	/* not joined: accepted from a listener none of whose sockets was seen reading yet */
	__u64 fionread_seen;	/* fast-path sockets asked FIONREAD, on a kernel whose FIONREAD misses redirected bytes */
	__u64 kept_fionread;	/* not joined: accepted from a listener whose sockets asked FIONREAD (such kernels) */
	__u64 peers_dropped;	/* connecting ends taken off the fast path again: this accepted end did not join */
	__u64 stream_moved;	/* senders moved to TCP for good: a stream of writes under 64 KiB */
	__u64 joined_xns;	/* of sockets_joined, those whose peer is in another network namespace */
	__u64 kept_slowcopy;	/* not joined: to a port whose large writes went to a reader the CPU copies to slowly */
};

#define NA_COUNTER_NAMES                                                     \
	"sockets_tagged", "sockets_joined", "sockets_closed",               \
	"sockets_skipped", "sockets_untagged", "join_failed",               \
	"msgs_redirected", "bytes_redirected", "msgs_passed", "bytes_passed", \
	"misses", "fallbacks", "backlog_limited", "backlog_resumed",       \
	"tags_on", "tags_off", "kept_blocking", "kept_rcvlowat",            \
	"kept_splice", "splice_seen", "deferred", "deferred_joined",        \
	"peer_unfit", "kept_short", "kept_unseen", "fionread_seen",        \
	"kept_fionread", "peers_dropped", "stream_moved", "joined_xns",     \
	"kept_slowcopy"

#define NA_NUM_COUNTERS (sizeof(struct na_stats) / sizeof(__u64))

/* ---- port remap (bpf/portmap.bpf.c, maps in portmap_maps.bpf.h) ---- */

/* Rules at once, over all cgroups, and cgroups with rules at once. */
#ifndef NA_PM_MAX_RULES
#define NA_PM_MAX_RULES 1024
#endif
#ifndef NA_PM_MAX_CGROUPS
#define NA_PM_MAX_CGROUPS 256
#endif

enum na_pm_proto {
	NA_PM_TCP = 6,		/* IPPROTO_TCP */
	NA_PM_UDP = 17,		/* IPPROTO_UDP */
};

/* A port in one cgroup's view: na_pm_rules and na_pm_bound are keyed by
 * it. IPv4 and IPv6 share the port space, as they do in the kernel. */
struct na_pm_key {
	__u64 cgid;		/* the cgroup the rule was added to */
	__u16 vport;		/* virtual port, host byte order */
	__u8 proto;		/* enum na_pm_proto */
	__u8 _pad[5];
};

enum na_pm_rule_flags {
	NA_PMF_FIXED = 1 << 0,		/* rport is fixed; else the kernel picks one */
	NA_PMF_UNPRIV = 1 << 1,		/* --allow-unprivileged */
	NA_PMF_PRIV_VPORT = 1 << 2,	/* vport needs CAP_NET_BIND_SERVICE */
};

/* na_pm_rules[key]: where a virtual port really binds. */
struct na_pm_rule {
	__u16 rport;		/* host byte order; 0 unless NA_PMF_FIXED */
	__u16 flags;		/* enum na_pm_rule_flags */
	__u32 _pad;
};

/* na_pm_bound[key]: the real port a virtual one is bound to now. */
struct na_pm_bound {
	__u16 rport;		/* host byte order */
	__u16 _pad;
	__u32 refs;		/* sockets bound to it; 0: none any more */
};

/* na_pm_real[key with the real port in vport]: back to the virtual port,
 * for the source of UDP datagrams. */
struct na_pm_real {
	__u16 vport;
	__u16 _pad[3];
};

/* na_pm_scopes[cgid]: a cgroup with the hooks attached. A socket belongs to
 * the deepest such ancestor of the cgroup it was created in. */
struct na_pm_scope {
	__u32 rules;		/* rules of this cgroup (kept by user space) */
	__u32 _pad;
	char path[NA_CGROUP_PATH_MAX]; /* relative to the cgroup v2 root */
};

enum na_pm_sk_flags {
	NA_PMS_BOUND = 1 << 0,	/* lport/lrport hold a remapped bind */
	NA_PMS_PEER = 1 << 1,	/* pport/prport hold a remapped connect */
	NA_PMS_COUNTED = 1 << 2, /* its bind is counted in na_pm_bound */
};

/* Per-socket state in SK_STORAGE, cloned to accepted sockets. */
struct na_pm_sk {
	__u64 cgid;		/* its scope (0: none) */
	__u64 owner;		/* cookie of the socket that made the bind */
	__u16 lport, lrport;	/* local virtual and real port */
	__u16 pport, prport;	/* peer virtual and real port */
	__u8 proto;
	__u8 flags;		/* enum na_pm_sk_flags */
	__u8 _pad[6];
};

/* Counters per cgroup with rules and CPU; print with NA_PM_COUNTER_NAMES. */
struct na_pm_stats {
	__u64 binds_remapped;
	__u64 binds_refused;	/* EADDRINUSE or EACCES in the cgroup's view */
	__u64 connects_remapped;
	__u64 connects_refused;	/* nothing bound to the virtual port */
	__u64 sends_remapped;	/* UDP datagrams sent to a virtual port */
	__u64 recvs_remapped;	/* UDP datagrams from a real port, shown virtual */
};

#define NA_PM_COUNTER_NAMES                                                  \
	"binds_remapped", "binds_refused", "connects_remapped",             \
	"connects_refused", "sends_remapped", "recvs_remapped"

#define NA_PM_NUM_COUNTERS (sizeof(struct na_pm_stats) / sizeof(__u64))
/* ---- veth redirect (bpf/veth.bpf.c) ---- */

/* Container addresses and host-side veths known at once. */
#ifndef NA_VETH_MAX_EPS
#define NA_VETH_MAX_EPS 16384
#endif
#ifndef NA_VETH_MAX_PORTS
#define NA_VETH_MAX_PORTS 4096
#endif

/*
 * na_veth_eps key: a container address on one bridge. The bridge is part of
 * the key, so that a lookup made for a frame that came in on one bridge
 * can only ever find an endpoint of that same bridge. IPv4 in addr[0].
 */
struct na_veth_key {
	__u32 bridge;		/* ifindex of the bridge */
	__u32 family;		/* AF_INET or AF_INET6 */
	__u32 addr[4];		/* network byte order */
};

/* na_veth_eps value: where frames to that address go. */
struct na_veth_ep {
	__u32 ifindex;		/* host-side veth; its peer gets the frame */
	__u32 mtu;		/* MTU of the peer (inside the container) */
	__u8 mac[6];		/* MAC of the peer: frames must be addressed to it */
	__u8 flags;		/* enum na_veth_ep_flags */
	__u8 _pad;
};

enum na_veth_ep_flags {
	NA_VETH_EP_MANUAL = 1 << 0,	/* added by hand (veth add), not learned */
};

/* Counters per endpoint (per CPU), by the same key. */
struct na_veth_epstat {
	__u64 packets;		/* frames redirected to this endpoint */
	__u64 bytes;
};

enum na_veth_hook {
	NA_VETH_HOOK_TCX = 1,	/* a tcx link, pinned as tcx_<ifindex> */
	NA_VETH_HOOK_TC = 2,	/* a clsact filter with our handle and priority */
};

enum na_veth_port_flags {
	NA_VETH_PORT_QDISC = 1 << 0,	/* we created the clsact qdisc */
};

/* na_veth_ports: host-side veths the program is attached to, by ifindex. */
struct na_veth_port {
	__u32 bridge;		/* ifindex of the bridge it is a port of */
	__u8 hook;		/* enum na_veth_hook */
	__u8 flags;		/* enum na_veth_port_flags */
	__u8 _pad[2];
};

/* tc handle and priority of netaccel's clsact filter (legacy hook). */
#define NA_VETH_TC_HANDLE 0x4e41	/* "NA" */
#define NA_VETH_TC_PRIO 0x4e41

/* na_veth_meta[0]: which network namespace the veth state belongs to
 * (ifindexes mean nothing in another one). */
struct na_veth_meta {
	__u64 netns_dev;
	__u64 netns_ino;
};

/* Totals over all frames seen (per CPU). Keep the order: user space prints
 * them by index with the names in NA_VETH_COUNTER_NAMES. */
struct na_veth_stats {
	__u64 redirected;	/* frames handed to the peer with redirect_peer */
	__u64 bytes_redirected;
	__u64 passed;		/* frames left on the normal path, for any reason: */
	__u64 not_ip;		/* ARP, VLAN and other ethertypes */
	__u64 not_unicast;	/* broadcast and multicast */
	__u64 no_endpoint;	/* no endpoint of this bridge has the address */
	__u64 mac_mismatch;	/* the frame is not addressed to the endpoint's MAC */
	__u64 too_big;		/* longer than the endpoint's MTU */
	__u64 same_port;	/* addressed back to the port it came from */
	__u64 unknown_port;	/* came in on a device not (any more) in na_veth_ports */
};

#define NA_VETH_COUNTER_NAMES                                                \
	"redirected", "bytes_redirected", "passed", "not_ip", "not_unicast",  \
	"no_endpoint", "mac_mismatch", "too_big", "same_port", "unknown_port"

#define NA_VETH_NUM_COUNTERS (sizeof(struct na_veth_stats) / sizeof(__u64))

/* ---- proxy splice (splice.bpf.c) ---- */

/* Sockets in na_splice_socks: two per spliced pair. */
#ifndef NA_SPLICE_MAX
#define NA_SPLICE_MAX 65536
#endif

/*
 * One direction of a spliced pair, keyed by the socket cookie of the
 * socket its bytes arrive on ("from"). The other socket ("to") is the
 * sockhash's entry under the same key. Written by user space when the
 * pair is made; the verdict program adds to fwd and passed, and sets
 * paused; user space reads them.
 */
struct na_splice_dir {
	__u64 fwd;	/* bytes handed to the other socket's send side */
	__u64 base;	/* the other socket's bytes written (acked + in its send
			 * queue) when the pair was made: fwd is what the kernel
			 * added since, so base + fwd - written is what waits
			 * in the kernel's queue for the other socket */
	__u64 passed;	/* bytes left to the process while paused */
	__u64 user;	/* bytes the process gave the other socket while
			 * paused, as of the last resume: not the kernel's */
	__u32 limit;	/* at most so many bytes wait for the other socket;
			 * past it the direction pauses (0: no limit) */
	__u32 paused;	/* 1: the process moves this direction until it asks
			 * to resume (na_splice_resume) */
};

/*
 * A paused direction's way back (na_splice_resume, by the same key): the
 * process has read every byte passed to it (passed, as it read it from
 * na_splice_dirs) and handed them to the other socket (user bytes in all).
 * The verdict resumes at the next skb if nothing was passed since;
 * otherwise the process reads that too and asks again.
 */
struct na_splice_resume {
	__u64 passed;
	__u64 user;
};

/* Totals over every pair, per CPU (na_splice_stats). */
struct na_splice_stats {
	__u64 redirected;	/* skbs handed to the other socket */
	__u64 bytes;		/* their bytes */
	__u64 paused;		/* directions paused: the other side fell behind */
	__u64 resumed;		/* paused directions the kernel took back */
	__u64 passed;		/* skbs left to the process of a paused direction */
	__u64 bytes_passed;
	__u64 empty;		/* zero-length skbs (a FIN) dropped, never redirected */
	__u64 no_pair;		/* skbs of a socket with no direction (left to the process) */
	__u64 no_peer;		/* the other socket had left the map (left to the process) */
};

#define NA_SPLICE_COUNTER_NAMES                                              \
	"redirected", "bytes", "paused", "resumed", "passed", "bytes_passed", \
	"empty", "no_pair", "no_peer"

#define NA_SPLICE_NUM_COUNTERS (sizeof(struct na_splice_stats) / sizeof(__u64))

#endif /* NETACCEL_ABI_H */
