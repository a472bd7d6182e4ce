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

/* A port with a listener in an enrolled cgroup, in one network namespace. */
struct na_listen_key {
	__u64 netns;		/* network namespace cookie */
	__u16 port;		/* host byte order */
	__u16 _pad[3];
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
};

enum na_sk_flags {
	NA_SKF_JOINED = 1 << 0,	/* inserted in the sockhash */
	NA_SKF_DECIDED = 1 << 1, /* its connection was considered for joining */
	NA_SKF_LISTENER = 1 << 2, /* a listener counted in na_listeners */
};

/* Per-socket state in SK_STORAGE (cloned to accepted sockets). */
struct na_sk_state {
	__u32 slot;		/* enrolled cgroup the socket was created in */
	__u32 gen;		/* that slot's generation */
	__u8 want;		/* enum na_want */
	__u8 path;		/* enum na_path */
	__u8 flags;		/* enum na_sk_flags */
	__u8 _pad[5];
	struct na_sock_key peer; /* key of the other end, set on joining */
	__u64 peer_addr;	/* its kernel address, found at the first redirect */
};

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
};

#define NA_COUNTER_NAMES                                                     \
	"sockets_tagged", "sockets_joined", "sockets_closed",               \
	"sockets_skipped", "sockets_untagged", "join_failed",               \
	"msgs_redirected", "bytes_redirected", "msgs_passed", "bytes_passed", \
	"misses", "fallbacks", "backlog_limited", "backlog_resumed"

#define NA_NUM_COUNTERS (sizeof(struct na_stats) / sizeof(__u64))

#endif /* NETACCEL_ABI_H */
