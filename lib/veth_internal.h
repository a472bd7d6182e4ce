/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What the veth redirect's files share (veth_state.c: the state;
 * veth_hook.c: hooks on a device; veth_snap.c: the netlink snapshot and
 * what it allows; veth_sync.c: ports and endpoints; veth_remove.c:
 * removal; veth_counters.c: counters and listings).
 */
#ifndef NA_LIB_VETH_INTERNAL_H
#define NA_LIB_VETH_INTERNAL_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include <netaccel/veth.h>

#include "netlink.h"

#define NA_VETH_PROG_NAME "na_veth_ingress"

struct na_veth_state {
	char top[PATH_MAX];	/* the state directory */
	char dir[PATH_MAX];	/* <top>/veth */
	int top_fd;		/* locked while changing things */
	int prog, eps, epstats, ports, stats, meta;
	uint32_t prog_id;
	struct mnl_socket *nl;
	int hook;		/* NA_VETH_HOOK_AUTO, _TCX or _TC */
	bool foreign;		/* made in another network namespace (reading) */
	na_veth_event_fn on_event;
	void *event_arg;
};

/* A peer network namespace, as seen through its netns id. */
struct na_veth_peer_ns {
	int nsid;
	int err;
	struct na_nl_links links;
	struct na_nl_addrs addrs;
};

/* What netlink says now: our devices and the peers' namespaces. */
struct na_veth_snap {
	struct na_nl_links links;
	struct na_veth_peer_ns *ns;
	size_t nns;
};

/* An endpoint as it is in the map, or as it should be (dup: two ports
 * claim the address, leave it alone). */
struct na_veth_entry {
	struct na_veth_key key;
	struct na_veth_ep ep;
	bool dup;
};

/* veth_state.c */
void na_veth_init(struct na_veth_state *v);
/* Open the pins of dir that are there into v (the others stay -1):
 * -ENOENT when one is missing. */
int na_veth_open_pins(struct na_veth_state *v);
void na_veth_close_fds(struct na_veth_state *v);
/* Enter the network namespace the state was made in, so that its devices
 * can be named and their filters removed: the fd of ours to come back to
 * with na_veth_leave_netns, or -1 when no switch was made. */
int na_veth_enter_netns(const struct na_veth_state *v);
void na_veth_leave_netns(int back);

/* veth_snap.c: the snapshot, and decisions made from it alone */
int na_veth_snap_take(struct mnl_socket *nl, struct na_veth_snap *s, struct na_reason *why);
void na_veth_snap_free(struct na_veth_snap *s);
const struct na_veth_peer_ns *na_veth_snap_ns(const struct na_veth_snap *s, int nsid);
/* Why l cannot be a redirect port (NULL when it can); its bridge and peer. */
const char *na_veth_port_problem(const struct na_veth_snap *s, const struct na_nl_link *l,
				 const struct na_nl_link **br, const struct na_nl_link **peer);
/* The veth ports of a bridge that can take the redirect. */
size_t na_veth_bridge_ports(const struct na_veth_snap *s, int bridge, int *out, size_t max);
/* Bridges by name, each one a bridge the redirect can follow. */
int na_veth_find_bridges(const struct na_veth_snap *s, const char *const *names, size_t n,
			 int *out, struct na_reason *why);
/* The name of ifindex: in s, else in our namespace, else "#<ifindex>". */
const char *na_veth_ifname(const struct na_veth_snap *s, int ifindex, char *buf);
/*
 * The endpoints the ports (ifindexes, usable ones only) should have, sorted
 * by key; an address on two ports of one bridge is marked dup on both.
 * *out is malloc'd (NULL when there is none).
 */
int na_veth_wanted(const struct na_veth_snap *s, const int *ports, size_t nports,
		   struct na_veth_entry **out, size_t *n);
int na_veth_entry_cmp(const void *a, const void *b);

/* What sync does with an endpoint in the map. */
enum na_veth_ep_action {
	NA_VETH_EP_LEAVE,	/* not on a port being synced */
	NA_VETH_EP_KEEP,	/* as it should be (set_ep finds whether it changed) */
	NA_VETH_EP_REFRESH,	/* added by hand: keep, with the peer's MAC and MTU of now */
	NA_VETH_EP_DELETE,
};
/* cur is in the map; port_recorded: its port is in na_veth_ports;
 * managed: its port is one being synced; want: what netlink says. */
enum na_veth_ep_action na_veth_ep_decide(const struct na_veth_entry *cur, bool port_recorded,
					 bool managed, const struct na_veth_entry *want,
					 size_t nwant);

/* veth_hook.c */
/* Our tcx link on ifindex: 1 live, 0 none; fix swaps an older program's
 * link to ours and removes the pin of a link that lost its device. */
int na_veth_tcx_state(const struct na_veth_state *v, int ifindex, bool fix);
void na_veth_tcx_detach(const struct na_veth_state *v, int ifindex);
void na_veth_tc_detach(const struct na_veth_state *v, int ifindex, bool made_qdisc);
/* Whether the hook a port entry records is still in place on its device. */
bool na_veth_hook_present(const struct na_veth_state *v, int ifindex, const struct na_veth_port *p);
/* Attach to ifindex (a port of bridge) unless attached already and record
 * the port: 1 when it attached now, 0 when it was in place. */
int na_veth_attach_port(struct na_veth_state *v, int ifindex, int bridge, const char *name,
			struct na_reason *why);

/* veth_sync.c */
/* Every endpoint in the map; *n of them, in a malloc'd array. */
int na_veth_list_eps(const struct na_veth_state *v, struct na_veth_entry **out, size_t *n);
void na_veth_del_ep(const struct na_veth_state *v, const struct na_veth_snap *s,
		    const struct na_veth_key *k, bool log);
/* Take a port out: no redirect to it from now on, then its endpoints,
 * then its hook. */
void na_veth_remove_port(const struct na_veth_state *v, const struct na_veth_snap *s, int ifindex,
			 bool log);

/* veth_remove.c */
/* Every port, link and pin; the directory last: how many ports. */
int na_veth_remove_all(struct na_veth_state *v);

#endif /* NA_LIB_VETH_INTERNAL_H */
