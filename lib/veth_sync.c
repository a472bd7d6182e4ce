// SPDX-License-Identifier: GPL-2.0-only
/*
 * Ports and endpoints brought to what netlink says. Every operation that
 * changes something first drops ports whose device is gone or no longer
 * the one we attached to, since a new device can get the ifindex of a
 * deleted one. Endpoints of ports not being synced are left alone, and so
 * are manual ones as long as their port stays.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>

#include <bpf/bpf.h>

#include <netaccel/state.h>

#include "internal.h"
#include "veth_internal.h"

int na_veth_list_eps(const struct na_veth_state *v, struct na_veth_entry **out, size_t *n)
{
	struct na_veth_key k, next;
	struct na_veth_entry *e = NULL, *p;
	size_t cap = 0;
	void *prev = NULL;

	*n = 0;
	while (bpf_map_get_next_key(v->eps, prev, &next) == 0) {
		k = next;
		prev = &k;
		if (*n == cap) {
			cap = cap ? cap * 2 : 64;
			p = realloc(e, cap * sizeof(*e));
			if (!p) {
				free(e);
				return -ENOMEM;
			}
			e = p;
		}
		if (bpf_map_lookup_elem(v->eps, &k, &e[*n].ep))
			continue;
		e[*n].key = k;
		e[*n].dup = false;
		if (++*n > NA_VETH_MAX_EPS)	/* the map changed under us */
			break;
	}
	*out = e;
	return 0;
}

static void say(const struct na_veth_state *v, struct na_veth_event *ev)
{
	if (v->on_event)
		v->on_event(ev, v->event_arg);
}

static void say_ep(const struct na_veth_state *v, const struct na_veth_snap *s,
		   enum na_veth_event_kind kind, const struct na_veth_key *k,
		   const struct na_veth_ep *ep)
{
	char a[INET6_ADDRSTRLEN], m[18], b1[IF_NAMESIZE], b2[IF_NAMESIZE];
	struct na_veth_event ev = { .kind = kind };

	if (!v->on_event)
		return;
	ev.addr = na_veth_addr_str(k, a, sizeof(a));
	ev.bridge = na_veth_ifname(s, (int)k->bridge, b1);
	if (ep) {
		ev.veth = na_veth_ifname(s, (int)ep->ifindex, b2);
		ev.mac = na_veth_mac_str(ep->mac, m, sizeof(m));
		ev.mtu = ep->mtu;
	}
	say(v, &ev);
}

/* Put an endpoint in place; its counters start at zero when it is new or
 * moved to another device. Returns 1 when something changed. */
static int set_ep(const struct na_veth_state *v, const struct na_veth_snap *s,
		  const struct na_veth_key *k, const struct na_veth_ep *ep)
{
	struct na_veth_ep old;
	bool had = !bpf_map_lookup_elem(v->eps, k, &old);
	int err;

	if (had && !memcmp(&old, ep, sizeof(old)))
		return 0;
	if (!had || old.ifindex != ep->ifindex) {
		err = na_percpu_zero(v->epstats, k, sizeof(struct na_veth_epstat), BPF_ANY);
		if (err)
			return err;
	}
	if (bpf_map_update_elem(v->eps, k, ep, BPF_ANY))
		return -errno;
	say_ep(v, s, had ? NA_VETH_EP_CHANGED : NA_VETH_EP_ADDED, k, ep);
	return 1;
}

void na_veth_del_ep(const struct na_veth_state *v, const struct na_veth_snap *s,
		    const struct na_veth_key *k, bool log)
{
	bpf_map_delete_elem(v->eps, k);
	bpf_map_delete_elem(v->epstats, k);
	if (log)
		say_ep(v, s, NA_VETH_EP_REMOVED, k, NULL);
}

void na_veth_remove_port(const struct na_veth_state *v, const struct na_veth_snap *s,
			 int ifindex, bool log)
{
	struct na_veth_port p = {};
	struct na_veth_entry *eps = NULL;
	bool had = !bpf_map_lookup_elem(v->ports, &ifindex, &p);
	size_t i, n = 0;

	bpf_map_delete_elem(v->ports, &ifindex);
	if (!na_veth_list_eps(v, &eps, &n))
		for (i = 0; i < n; i++)
			if (eps[i].ep.ifindex == (__u32)ifindex)
				na_veth_del_ep(v, s, &eps[i].key, log);
	free(eps);
	na_veth_tcx_detach(v, ifindex);
	if (!had || p.hook == NA_VETH_HOOK_TC)
		na_veth_tc_detach(v, ifindex, p.flags & NA_VETH_PORT_QDISC);
}

/* Ports whose device is gone, changed, or lost our hook (a deleted device
 * takes its links and filters with it; its ifindex may be reused). */
static void drop_stale_ports(const struct na_veth_state *v, const struct na_veth_snap *s)
{
	const struct na_nl_link *l, *br, *peer;
	struct na_veth_port p;
	__u32 k, next, *prev = NULL;
	int stale[NA_VETH_MAX_PORTS];
	char b[IF_NAMESIZE];
	size_t i, n = 0;

	while (bpf_map_get_next_key(v->ports, prev, &next) == 0 && n < NA_VETH_MAX_PORTS) {
		k = next;
		prev = &k;
		if (bpf_map_lookup_elem(v->ports, &k, &p))
			continue;
		l = na_nl_find(&s->links, (int)k);
		if (!l || l->master != (int)p.bridge || na_veth_port_problem(s, l, &br, &peer) ||
		    !na_veth_hook_present(v, (int)k, &p))
			stale[n++] = (int)k;
	}
	for (i = 0; i < n; i++) {
		struct na_veth_event ev = { .kind = NA_VETH_PORT_STALE };

		l = na_nl_find(&s->links, stale[i]);
		ev.veth = l ? l->name : na_veth_ifname(NULL, stale[i], b);
		say(v, &ev);
		na_veth_remove_port(v, s, stale[i], true);
	}
}

/* Attach to the usable ports of the list; how many were attached now. */
static int attach_ports(struct na_veth_state *v, const struct na_veth_snap *s, const int *ports,
			size_t nports, struct na_reason *why)
{
	const struct na_nl_link *l, *br, *peer;
	int attached = 0, r;
	size_t i;

	for (i = 0; i < nports; i++) {
		struct na_veth_event ev = { .kind = NA_VETH_PORT_ATTACHED };

		l = na_nl_find(&s->links, ports[i]);
		if (!l || na_veth_port_problem(s, l, &br, &peer))
			continue;
		r = na_veth_attach_port(v, l->ifindex, l->master, l->name, why);
		if (r < 0)
			return r;
		if (r > 0) {
			attached++;
			ev.veth = l->name;
			ev.bridge = br->name;
			say(v, &ev);
		}
	}
	return attached;
}

/* A manual endpoint keeps its address, with its peer's MAC and MTU of now. */
static void refresh_manual(const struct na_veth_state *v, const struct na_veth_snap *s,
			   const struct na_veth_entry *cur)
{
	const struct na_nl_link *l, *br, *peer;
	struct na_veth_ep ep = cur->ep;

	l = na_nl_find(&s->links, (int)cur->ep.ifindex);
	if (!l || na_veth_port_problem(s, l, &br, &peer))
		return;
	ep.mtu = peer->mtu;
	memcpy(ep.mac, peer->mac, 6);
	set_ep(v, s, &cur->key, &ep);
}

/* The endpoints in the map, each kept, refreshed or deleted. */
static int prune_eps(const struct na_veth_state *v, const struct na_veth_snap *s,
		     const int *ports, size_t nports, const struct na_veth_entry *w, size_t nw)
{
	struct na_veth_entry *cur = NULL;
	struct na_veth_port pv;
	size_t ncur = 0, i, j;
	bool managed;
	int err;

	err = na_veth_list_eps(v, &cur, &ncur);
	if (err)
		return err;
	for (i = 0; i < ncur; i++) {
		for (j = 0, managed = false; j < nports && !managed; j++)
			managed = ports[j] == (int)cur[i].ep.ifindex;
		switch (na_veth_ep_decide(&cur[i], !bpf_map_lookup_elem(v->ports, &cur[i].ep.ifindex, &pv),
					  managed, w, nw)) {
		case NA_VETH_EP_DELETE:
			na_veth_del_ep(v, s, &cur[i].key, true);
			break;
		case NA_VETH_EP_REFRESH:
			refresh_manual(v, s, &cur[i]);
			break;
		default:
			break;
		}
	}
	free(cur);
	return 0;
}

/* Bring the ports in the list (ifindexes) and their endpoints to what
 * netlink says; *neps (may be NULL) gets how many endpoints they have. */
static int sync_ports(struct na_veth_state *v, const struct na_veth_snap *s, const int *ports,
		      size_t nports, int *attached, int *neps, struct na_reason *why)
{
	struct na_veth_entry *w = NULL;
	char a[INET6_ADDRSTRLEN];
	size_t nw = 0, i;
	int err, r;

	*attached = attach_ports(v, s, ports, nports, why);
	if (*attached < 0)
		return *attached;
	err = na_veth_wanted(s, ports, nports, &w, &nw);
	if (!err)
		err = prune_eps(v, s, ports, nports, w, nw);
	for (i = 0; !err && i < nw; i++) {
		if (w[i].dup) {
			struct na_veth_event ev = { .kind = NA_VETH_ADDR_CONFLICT };

			if (i > 0 && !na_veth_entry_cmp(&w[i - 1], &w[i]))
				continue;	/* said once per address */
			ev.addr = na_veth_addr_str(&w[i].key, a, sizeof(a));
			say(v, &ev);
			continue;
		}
		r = set_ep(v, s, &w[i].key, &w[i].ep);
		if (r < 0) {
			err = r;
			if (r == -E2BIG || r == -ENOSPC)
				na_reason_set(why, err, "cannot add endpoint: the endpoint map is full (%d)",
					      NA_VETH_MAX_EPS);
		}
	}
	if (!err && neps)
		for (i = 0, *neps = 0; i < nw; i++)
			*neps += !w[i].dup;
	free(w);
	return err;
}

/* The ports of the bridges, in a malloc'd array. */
static int ports_of(const struct na_veth_snap *s, const int *bridges, size_t nbridges,
		    int **out, size_t *n)
{
	size_t b;

	*n = 0;
	*out = calloc(NA_VETH_MAX_PORTS, sizeof(**out));
	if (!*out)
		return -ENOMEM;
	for (b = 0; b < nbridges; b++)
		*n += na_veth_bridge_ports(s, bridges[b], *out + *n, NA_VETH_MAX_PORTS - *n);
	return 0;
}

int na_veth_attach(struct na_veth_state *v, const int *bridges, size_t nbridges,
		   const int *ports, size_t nports, struct na_veth_attached *res,
		   struct na_reason *why)
{
	struct na_veth_snap s;
	int *list = NULL, err;
	size_t n = nports;

	memset(res, 0, sizeof(*res));
	err = na_veth_snap_take(v->nl, &s, why);
	if (err)
		return err;
	drop_stale_ports(v, &s);
	if (nbridges) {
		err = ports_of(&s, bridges, nbridges, &list, &n);
		ports = list;
	}
	if (!err)
		err = sync_ports(v, &s, ports, n, &res->attached, &res->endpoints, why);
	res->ports = n;
	free(list);
	na_veth_snap_free(&s);
	return err;
}

int na_veth_add(struct na_veth_state *v, const struct na_veth_key *addr, int port,
		char veth[IF_NAMESIZE], char bridge[IF_NAMESIZE], struct na_reason *why)
{
	const struct na_nl_link *l, *br, *peer;
	struct na_veth_key key = *addr;
	struct na_veth_ep ep = {};
	struct na_veth_snap s;
	int r;

	r = na_veth_snap_take(v->nl, &s, why);
	if (r)
		return r;
	drop_stale_ports(v, &s);
	l = na_nl_find(&s.links, port);
	if (!l || na_veth_port_problem(&s, l, &br, &peer)) {
		r = -EAGAIN;	/* changed since it was looked up */
		goto out;
	}
	r = na_veth_attach_port(v, port, l->master, l->name, why);
	if (r < 0)
		goto out;
	key.bridge = (__u32)l->master;
	ep.ifindex = (__u32)port;
	ep.mtu = peer->mtu;
	ep.flags = NA_VETH_EP_MANUAL;
	memcpy(ep.mac, peer->mac, 6);
	r = set_ep(v, &s, &key, &ep);
	snprintf(veth, IF_NAMESIZE, "%s", l->name);
	snprintf(bridge, IF_NAMESIZE, "%s", br->name);
out:
	na_veth_snap_free(&s);
	return r;
}

int na_veth_del(struct na_veth_state *v, const struct na_veth_key *addr, struct na_reason *why)
{
	struct na_veth_entry *eps = NULL;
	size_t i, n = 0;
	int err, removed = 0;

	err = na_veth_list_eps(v, &eps, &n);
	if (err)
		return na_reason_set(why, err, "cannot read the endpoints: %s", strerror(-err));
	for (i = 0; i < n; i++) {
		if (eps[i].key.family != addr->family ||
		    memcmp(eps[i].key.addr, addr->addr, sizeof(addr->addr)))
			continue;
		na_veth_del_ep(v, NULL, &eps[i].key, false);
		removed++;
	}
	free(eps);
	return removed;
}

/* The ports in the map on one of the bridges or among the devices. */
static size_t ports_to_detach(const struct na_veth_state *v, const int *bridges, size_t nb,
			      const int *devs, size_t nd, int *out)
{
	struct na_veth_port p;
	__u32 k, next, *prev = NULL;
	size_t n = 0, i;

	while (bpf_map_get_next_key(v->ports, prev, &next) == 0 && n < NA_VETH_MAX_PORTS) {
		k = next;
		prev = &k;
		if (bpf_map_lookup_elem(v->ports, &k, &p))
			continue;
		for (i = 0; i < nb && n < NA_VETH_MAX_PORTS; i++)
			if (p.bridge == (__u32)bridges[i])
				out[n++] = (int)k;
		for (i = 0; i < nd && n < NA_VETH_MAX_PORTS; i++)
			if (devs[i] == (int)k)
				out[n++] = (int)k;
	}
	return n;
}

static int detach(struct na_veth_state *v, const struct na_veth_snap *s,
		  const struct na_veth_sel *sel, int *list, struct na_reason *why)
{
	int bridges[NA_VETH_MAX_BRIDGES], devs[NA_VETH_MAX_PORTS], err;
	const struct na_nl_link *l;
	size_t i, n;
	__u32 next;

	if (sel->nbridges > NA_VETH_MAX_BRIDGES || sel->nifnames > NA_VETH_MAX_PORTS)
		return -E2BIG;
	err = na_veth_find_bridges(s, sel->bridges, sel->nbridges, bridges, why);
	if (err)
		return err;
	for (i = 0; i < sel->nifnames; i++) {
		l = na_nl_find_name(&s->links, sel->ifnames[i]);
		if (!l)
			return na_reason_set(why, -ENODEV, "no such device: %s", sel->ifnames[i]);
		devs[i] = l->ifindex;
	}
	drop_stale_ports(v, s);
	n = ports_to_detach(v, bridges, sel->nbridges, devs, sel->nifnames, list);
	for (i = 0; i < n; i++)
		na_veth_remove_port(v, s, list[i], true);
	/* Nothing attached any more: nothing loaded either. */
	if (bpf_map_get_next_key(v->ports, NULL, &next)) {
		err = na_veth_remove_all(v);
		if (err < 0)
			return err;
	}
	return (int)n;
}

int na_veth_detach(struct na_veth_state *v, const struct na_veth_sel *sel, struct na_reason *why)
{
	struct na_veth_snap s;
	int *list, err;

	list = calloc(NA_VETH_MAX_PORTS, sizeof(*list));
	if (!list)
		return -ENOMEM;
	err = na_veth_snap_take(v->nl, &s, why);
	if (!err) {
		err = detach(v, &s, sel, list, why);
		na_veth_snap_free(&s);
	}
	free(list);
	return err;
}

int na_veth_sync(struct na_veth_state *v, const char *const *names, size_t nbridges,
		 struct na_reason *why)
{
	int bridges[NA_VETH_MAX_BRIDGES], *ports = NULL, attached, err;
	struct na_veth_snap s;
	size_t n = 0;

	if (!na_veth_present(v))
		return -ENOENT;		/* removed by cleanup or detach */
	if (nbridges > NA_VETH_MAX_BRIDGES)
		return -E2BIG;
	if (flock(v->top_fd, LOCK_EX))
		return -errno;
	err = na_veth_snap_take(v->nl, &s, why);
	if (err)
		goto out;
	err = na_veth_find_bridges(&s, names, nbridges, bridges, why);
	if (!err) {
		drop_stale_ports(v, &s);
		err = ports_of(&s, bridges, nbridges, &ports, &n);
	}
	if (!err)
		err = sync_ports(v, &s, ports, n, &attached, NULL, why);
	free(ports);
	na_veth_snap_free(&s);
out:
	flock(v->top_fd, LOCK_UN);
	return err;
}
