/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The local bypass's enrollments (lib/bypass.c): a cgroup goes on the fast
 * path, and comes off it without losing a byte. Every function works on
 * a state opened with na_state_open and fills why when it fails.
 */
#ifndef NETACCEL_BYPASS_H
#define NETACCEL_BYPASS_H

#include <stdint.h>

#include <netaccel/state.h>

struct na_cgroup;

/* What na_bypass_enroll did. */
enum na_enroll_done {
	NA_ENROLLED,			/* a new enrollment */
	NA_ENROLL_UNCHANGED,		/* enrolled already, as asked */
	NA_ENROLL_REPAIRED,		/* enrolled already; links an interrupted
					 * run left out are attached again */
	NA_ENROLL_MODE_CHANGED,
	NA_REENROLLED,			/* it was draining */
};

/*
 * Enroll cg with mode (0: all for a new enrollment, unchanged for an
 * existing one); *done says which, *mode_now the mode in force. A new
 * enrollment that fails half-way is undone. -ENOSPC when every slot is
 * taken.
 */
int na_bypass_enroll(const struct na_state *st, const struct na_cgroup *cg, uint32_t mode,
		     enum na_enroll_done *done, uint32_t *mode_now, struct na_reason *why);

/*
 * Stop new connections of the enrolled cgroup in slot from joining, and
 * detach it once nothing is left to drain. 0 when it is detached, the
 * number of accelerated sockets still draining (they keep the fast path
 * until they close), or a negative errno.
 */
int64_t na_bypass_unenroll(const struct na_state *st, uint32_t slot, struct na_cgroup_cfg *cfg,
			   struct na_reason *why);

/* The links of a cgroup, as bits of what na_bypass_links says is pinned. */
enum {
	NA_LINK_CREATE = 1 << 0,
	NA_LINK_SOCKOPS = 1 << 1,	/* kept while a slot drains */
	NA_LINK_SETSOCKOPT = 1 << 2,
	NA_LINK_GETSOCKOPT = 1 << 3,
	NA_LINKS_ALL = (1 << 4) - 1,
};
unsigned int na_bypass_links(const struct na_state *st, uint64_t cgid);

/* Stop new connections of every enrolled cgroup from joining (cleanup). */
int na_bypass_drain_all(const struct na_state *st, struct na_reason *why);

/* The slot enrolled under the path rel (relative to the cgroup root), for
 * a cgroup that is gone; -ENOENT when none is. */
int na_bypass_find_by_path(const struct na_state *st, const char *rel,
			   struct na_cgroup_cfg *cfg);

/*
 * Finish what earlier runs left half-done: unenroll cgroups that were
 * removed, detach slots that have drained, remove links no slot holds
 * (a run killed between the two). What it did goes to the log
 * (NA_LOG_INFO).
 */
void na_bypass_reconcile(const struct na_state *st);

/*
 * Remove every pin of the bypass, links first, then programs, then maps,
 * and the state directory. st may be one that could not be opened (its
 * dir set, fds -1): a half-made or mixed state goes pin by pin. Sockets
 * still on the fast path are cut.
 */
int na_bypass_remove(const struct na_state *st, struct na_reason *why);

/* ---- across network namespaces (net.c) ---- */

/*
 * A network: a bridge of the namespace the caller is in and the network
 * namespaces (containers, pods) whose veth is a port of it. Sockets of two
 * such namespaces pair across them, by the addresses each has on the
 * bridge, when both ends' cgroups are enrolled.
 */
#define NA_NET_ADDRS 8

struct na_net_ns {
	uint32_t inum;			/* the namespace's inode number (0: not found) */
	int nsid;			/* its id in the caller's namespace */
	char name[64];			/* /run/netns name, "pid <N>", or "nsid <id>" */
	char port[16];			/* the bridge's port to it */
	int naddrs;
	struct {
		int family;
		uint32_t addr[4];	/* network byte order */
	} addr[NA_NET_ADDRS];
	char problem[96];		/* "": it pairs; else why it does not */
};

struct na_net {
	uint64_t id;			/* the caller's namespace and the bridge */
	char bridge[16];
	bool filtered;			/* netfilter may see traffic between its ports */
	bool allowed;			/* paired all the same (na_net_allow) */
	char filter_why[NA_REASON_MAX];
	struct na_net_ns *ns;
	size_t nns;
};

struct na_net_view {
	struct na_net *v;
	size_t n;
};

/* The networks as netlink says they are now (changes nothing). */
int na_net_scan(struct na_net_view *out, struct na_reason *why);
void na_net_view_free(struct na_net_view *v);

struct na_net_summary {
	int networks;		/* written: bridges whose namespaces pair */
	int namespaces;
	int endpoints;
	int filtered;		/* networks left out: a firewall sees their traffic */
};

/*
 * Scan, then write the tables the bypass pairs sockets across namespaces
 * by: the networks of the caller's namespace that are not filtered (or
 * that na_net_allow allowed) and their namespaces' addresses; what an
 * earlier sync wrote for networks that are gone goes. Tables of other
 * namespaces' bridges are left alone.
 */
int na_net_sync(const struct na_state *st, struct na_net_summary *sum, struct na_reason *why);
/* Whether the bypass's tables hold the network id (written by a sync), and
 * whether na_net_allow allowed it. */
bool na_net_written(const struct na_state *st, uint64_t id);
bool na_net_allowed(const struct na_state *st, uint64_t id);

/* Pair the namespaces of bridge (in the caller's namespace) even though a
 * firewall sees their traffic (allow true), or no more (false); the next
 * sync applies it. -ENODEV: no such bridge. */
int na_net_allow(const struct na_state *st, const char *bridge, bool allow,
		 struct na_reason *why);

#endif /* NETACCEL_BYPASS_H */
