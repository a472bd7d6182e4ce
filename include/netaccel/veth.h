/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The veth redirect (lib/veth_*.c): a TC program on the host side of each
 * container veth hands a frame for another container on the same bridge
 * straight to that container's veth. Its pins live in <state-dir>/veth/,
 * its endpoints are learned from netlink. Every function fills why (may
 * be NULL) when it fails and has something precise to say; one that
 * returns a negative errno with why empty failed on a system call whose
 * errno is all there is to tell.
 */
#ifndef NETACCEL_VETH_H
#define NETACCEL_VETH_H

#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <netaccel/reason.h>

#include "netaccel_abi.h"

/* The subdirectory of the state directory that holds the pins, and the
 * pin of the program (na_veth_ingress). */
#define NA_VETH_SUBDIR "veth"
#define NA_VETH_PROG_PIN "prog_ingress"
/* Bridges one command or one watch works on. */
#define NA_VETH_MAX_BRIDGES 16
/* Which hook a device gets: tcx where the kernel has it, else clsact
 * (NA_VETH_HOOK_AUTO), or only the one asked for (enum na_veth_hook). */
#define NA_VETH_HOOK_AUTO 0

/* An open veth state. */
struct na_veth_state;

enum {
	NA_VETH_CREATE = 1 << 0,	/* mount bpffs, make the directories,
					 * load and pin what is missing */
	NA_VETH_LOCK = 1 << 1,		/* take the state directory's lock */
};

/*
 * Open the veth state under state_dir. -ENOENT: there is none; -ENODATA:
 * an incomplete one (kind NA_WHY_STATE_INCOMPLETE); -EXDEV: it belongs to
 * another network namespace, -ENOTSUP with kind NA_WHY_OTHER_NAMESPACE: it
 * cannot be seen from this mount namespace. Opened without NA_VETH_CREATE
 * or NA_VETH_LOCK (reading), a state of another network namespace opens,
 * and names are looked up over there.
 */
int na_veth_open(struct na_veth_state **out, const char *state_dir, unsigned int flags,
		 struct na_reason *why);
void na_veth_close(struct na_veth_state *v);
/* Let others change the state again (held since NA_VETH_LOCK). */
void na_veth_unlock(struct na_veth_state *v);
/* The hook new attachments get (NA_VETH_HOOK_AUTO unless set). */
void na_veth_set_hook(struct na_veth_state *v, int hook);
/* Whether the program is still pinned (not removed by cleanup or detach
 * since the state was opened). */
bool na_veth_present(const struct na_veth_state *v);

/* Enter the network namespace name (under /run/netns) or path. */
int na_netns_enter(const char *name, struct na_reason *why);

/* What changed, for a caller that says so. Strings are valid during the
 * call only; those that do not apply are NULL. */
enum na_veth_event_kind {
	NA_VETH_EP_ADDED,
	NA_VETH_EP_CHANGED,
	NA_VETH_EP_REMOVED,		/* veth, mac and mtu not given */
	NA_VETH_PORT_ATTACHED,		/* the program was attached to veth */
	NA_VETH_PORT_STALE,		/* veth is gone, changed or lost the hook */
	NA_VETH_ADDR_CONFLICT,		/* addr is on two ports of one bridge:
					 * left to the bridge */
};
struct na_veth_event {
	enum na_veth_event_kind kind;
	const char *addr;
	const char *veth;
	const char *bridge;
	const char *mac;
	unsigned int mtu;
};
typedef void (*na_veth_event_fn)(const struct na_veth_event *ev, void *arg);
void na_veth_on_event(struct na_veth_state *v, na_veth_event_fn fn, void *arg);

/* Devices named by the user: bridges, or host-side veths. */
struct na_veth_sel {
	const char *const *bridges;
	size_t nbridges;
	char *const *ifnames;
	size_t nifnames;
};

enum {
	NA_VETH_PORTS_USABLE = 1 << 0,	/* each ifname must be able to take the redirect */
	NA_VETH_BRIDGES_USED = 1 << 1,	/* each bridge must have a port that can */
};

/*
 * Look the names of sel up in netlink, before anything is created (bad
 * input changes nothing): bridges[i] and ports[i] get the ifindexes (either
 * may be NULL when sel names none). -ENODEV: no such device; -EINVAL,
 * -EOPNOTSUPP: not something the redirect can use; -ENOENT: a bridge with
 * no port for it.
 */
int na_veth_resolve(const struct na_veth_sel *sel, unsigned int flags, int *bridges,
		    int *ports, struct na_reason *why);

struct na_veth_attached {
	size_t ports;		/* asked for */
	int attached;		/* of them, attached now (the others were) */
	int endpoints;		/* learned on them */
};

/*
 * Attach to every usable port of the bridges (ifindexes) and to the ports
 * given, and bring their endpoints to what netlink says. A port already
 * attached is kept as it is; ports whose device went away are dropped
 * first.
 */
int na_veth_attach(struct na_veth_state *v, const int *bridges, size_t nbridges, const int *ports,
		   size_t nports, struct na_veth_attached *res, struct na_reason *why);

/*
 * Add addr (bridge left 0) as an endpoint behind port, by hand: the port
 * gets attached. 1 when it was added, 0 when it was there already;
 * -EAGAIN when the port changed since na_veth_resolve. veth and bridge get
 * the names of the port and its bridge.
 */
int na_veth_add(struct na_veth_state *v, const struct na_veth_key *addr, int port,
		char veth[IF_NAMESIZE], char bridge[IF_NAMESIZE], struct na_reason *why);

/* Remove the endpoint addr on every bridge; how many were removed. */
int na_veth_del(struct na_veth_state *v, const struct na_veth_key *addr, struct na_reason *why);

/* Detach from the ports of the bridges and the veths of sel; with no port
 * left, remove the state too. How many ports were detached. */
int na_veth_detach(struct na_veth_state *v, const struct na_veth_sel *sel, struct na_reason *why);

/* One pass of the watch: under the lock, bring every port of the bridges
 * (names, looked up again) and their endpoints to what netlink says. */
int na_veth_sync(struct na_veth_state *v, const char *const *bridges, size_t nbridges,
		 struct na_reason *why);

/* Remove every port, link and pin of the veth state under state_dir, of
 * whatever network namespace, however complete; how many devices it was
 * attached to, or -ENOENT when there is no veth state. */
int na_veth_remove(const char *state_dir, struct na_reason *why);

/* What status says. */
struct na_veth_summary {
	size_t ports;
	size_t tcx_ports;
	size_t endpoints;
	struct na_veth_stats total;
};
int na_veth_summarize(struct na_veth_state *v, struct na_veth_summary *out);

/* An endpoint, a port, with the names of their devices in the network
 * namespace the state belongs to. */
struct na_veth_endpoint {
	struct na_veth_key key;
	struct na_veth_ep ep;
	struct na_veth_epstat count;
	char veth[IF_NAMESIZE];
	char bridge[IF_NAMESIZE];
};
struct na_veth_port_info {
	int ifindex;
	struct na_veth_port port;
	char veth[IF_NAMESIZE];
	char bridge[IF_NAMESIZE];
};
struct na_veth_list {
	struct na_veth_endpoint *eps;
	size_t neps;
	struct na_veth_port_info *ports;
	size_t nports;
	struct na_veth_stats total;
};
/* Endpoints with their counters, the ports (with_ports), the totals;
 * what could be read when it fails half-way. Free with na_veth_list_free. */
int na_veth_list(struct na_veth_state *v, bool with_ports, struct na_veth_list *out);
void na_veth_list_free(struct na_veth_list *l);

/* The counters summed over the CPUs, without opening the state: -ENOENT
 * when it is not loaded. */
int na_veth_read_totals(const char *state_dir, struct na_veth_stats *out);

/* An IPv4 or IPv6 address as an endpoint key (bridge left 0): -EINVAL
 * when s is neither. */
int na_veth_parse_addr(const char *s, struct na_veth_key *k);
/* Whether a container can be reached at a by unicast. */
bool na_veth_addr_usable(int family, const uint32_t *a);
const char *na_veth_addr_str(const struct na_veth_key *k, char *buf, size_t len);
/* "aa:bb:cc:dd:ee:ff"; buf of at least 18 bytes. */
const char *na_veth_mac_str(const uint8_t *mac, char *buf, size_t len);
/* "tcx", "tc" or "?". */
const char *na_veth_hook_name(uint8_t hook);

#endif /* NETACCEL_VETH_H */
