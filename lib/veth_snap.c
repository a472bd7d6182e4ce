// SPDX-License-Identifier: GPL-2.0-only
/*
 * What netlink says, and what the veth redirect makes of it. Endpoints are
 * learned from netlink only: the veth ports of a bridge (IFLA_MASTER),
 * their peers (IFLA_LINK in IFLA_LINK_NETNSID) and the peers' addresses
 * (RTM_GETADDR with IFA_TARGET_NETNSID). Everything here but taking the
 * snapshot works on the snapshot alone.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/if_bridge.h>

#include "veth_internal.h"

int na_veth_parse_addr(const char *s, struct na_veth_key *k)
{
	memset(k, 0, sizeof(*k));
	if (inet_pton(AF_INET, s, k->addr) == 1)
		k->family = AF_INET;
	else if (inet_pton(AF_INET6, s, k->addr) == 1)
		k->family = AF_INET6;
	else
		return -EINVAL;
	return 0;
}

bool na_veth_addr_usable(int family, const uint32_t *a)
{
	const uint8_t *b = (const uint8_t *)a;

	if (family == AF_INET)
		return a[0] != 0 && b[0] < 224;
	if (b[0] == 0xff)
		return false;
	return a[0] || a[1] || a[2] || a[3];
}

const char *na_veth_addr_str(const struct na_veth_key *k, char *buf, size_t len)
{
	if (!inet_ntop((int)k->family, k->addr, buf, len))
		snprintf(buf, len, "?");
	return buf;
}

const char *na_veth_mac_str(const uint8_t *m, char *buf, size_t len)
{
	snprintf(buf, len, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
	return buf;
}

const char *na_veth_hook_name(uint8_t hook)
{
	return hook == NA_VETH_HOOK_TCX ? "tcx" : hook == NA_VETH_HOOK_TC ? "tc" : "?";
}

const char *na_veth_ifname(const struct na_veth_snap *s, int ifindex, char *buf)
{
	const struct na_nl_link *l = s ? na_nl_find(&s->links, ifindex) : NULL;

	if (l)
		return l->name;
	if (if_indextoname((unsigned int)ifindex, buf))
		return buf;
	snprintf(buf, IF_NAMESIZE, "#%d", ifindex);
	return buf;
}

void na_veth_snap_free(struct na_veth_snap *s)
{
	size_t i;

	free(s->links.v);
	for (i = 0; i < s->nns; i++) {
		free(s->ns[i].links.v);
		free(s->ns[i].addrs.v);
	}
	free(s->ns);
	memset(s, 0, sizeof(*s));
}

const struct na_veth_peer_ns *na_veth_snap_ns(const struct na_veth_snap *s, int nsid)
{
	size_t i;

	for (i = 0; i < s->nns; i++)
		if (s->ns[i].nsid == nsid)
			return &s->ns[i];
	return NULL;
}

int na_veth_snap_take(struct mnl_socket *nl, struct na_veth_snap *s, struct na_reason *why)
{
	struct na_veth_peer_ns *p;
	size_t i;
	int err;

	memset(s, 0, sizeof(*s));
	err = na_nl_links(nl, -1, &s->links);
	if (err)
		return na_reason_set(why, err, "cannot list network devices: %s", strerror(-err));
	for (i = 0; i < s->links.n; i++) {
		const struct na_nl_link *l = &s->links.v[i];

		if (strcmp(l->kind, "veth") || l->link_nsid < 0 || na_veth_snap_ns(s, l->link_nsid))
			continue;
		p = realloc(s->ns, (s->nns + 1) * sizeof(*s->ns));
		if (!p) {
			na_veth_snap_free(s);
			return -ENOMEM;
		}
		s->ns = p;
		p = &s->ns[s->nns++];
		memset(p, 0, sizeof(*p));
		p->nsid = l->link_nsid;
		/* A namespace that vanished under us is just one without
		 * devices; its veths are about to go too. */
		p->err = na_nl_links(nl, p->nsid, &p->links);
		if (!p->err)
			p->err = na_nl_addrs(nl, p->nsid, &p->addrs);
		if (p->err == -EPERM || p->err == -EACCES) {
			na_reason_set(why, -EPERM,
				      "cannot read the devices of network namespace id %d: %s (needs CAP_NET_ADMIN there)",
				      p->nsid, strerror(-p->err));
			na_veth_snap_free(s);
			return -EPERM;
		}
	}
	return 0;
}

const char *na_veth_port_problem(const struct na_veth_snap *s, const struct na_nl_link *l,
				 const struct na_nl_link **br, const struct na_nl_link **peer)
{
	const struct na_veth_peer_ns *p;

	*br = *peer = NULL;
	if (strcmp(l->kind, "veth"))
		return "not a veth";
	if (!l->master)
		return "not a port of a bridge";
	*br = na_nl_find(&s->links, l->master);
	if (!*br || strcmp((*br)->kind, "bridge"))
		return "its master is not a bridge";
	if ((*br)->vlan_filtering)
		return "its bridge filters VLANs, which the redirect does not follow";
	if (l->link_nsid < 0)
		return "its peer is in this network namespace (the redirect hands frames to a peer in another one)";
	p = na_veth_snap_ns(s, l->link_nsid);
	*peer = p && !p->err ? na_nl_find(&p->links, l->link) : NULL;
	if (!*peer)
		return "its peer cannot be found";
	if (l->isolated)
		return "it is an isolated bridge port";
	if (l->port_state >= 0 && l->port_state != BR_STATE_FORWARDING)
		return "the bridge does not forward on it (down or blocked)";
	return NULL;
}

size_t na_veth_bridge_ports(const struct na_veth_snap *s, int bridge, int *out, size_t max)
{
	const struct na_nl_link *br, *peer;
	size_t i, n = 0;

	for (i = 0; i < s->links.n && n < max; i++)
		if (s->links.v[i].master == bridge &&
		    !na_veth_port_problem(s, &s->links.v[i], &br, &peer))
			out[n++] = s->links.v[i].ifindex;
	return n;
}

int na_veth_find_bridges(const struct na_veth_snap *s, const char *const *names, size_t n,
			 int *out, struct na_reason *why)
{
	const struct na_nl_link *br;
	size_t i;

	for (i = 0; i < n; i++) {
		br = na_nl_find_name(&s->links, names[i]);
		if (!br)
			return na_reason_set(why, -ENODEV, "no such device: %s", names[i]);
		if (strcmp(br->kind, "bridge"))
			return na_reason_set(why, -EINVAL, "%s is not a bridge", names[i]);
		if (br->vlan_filtering)
			return na_reason_set(why, -EOPNOTSUPP,
					     "%s filters VLANs, which the veth redirect does not follow",
					     names[i]);
		out[i] = br->ifindex;
	}
	return 0;
}

/* The devices named, each one a redirect port when usable. */
static int find_ports(const struct na_veth_snap *s, char *const *names, size_t n, bool usable,
		      int *out, struct na_reason *why)
{
	const struct na_nl_link *l, *br, *peer;
	const char *problem;
	size_t i;

	for (i = 0; i < n; i++) {
		l = na_nl_find_name(&s->links, names[i]);
		if (!l)
			return na_reason_set(why, -ENODEV, "no such device: %s", names[i]);
		problem = usable ? na_veth_port_problem(s, l, &br, &peer) : NULL;
		if (problem)
			return na_reason_set(why, -EINVAL, "cannot use %s: %s", names[i], problem);
		if (out)
			out[i] = l->ifindex;
	}
	return 0;
}

static int check_sel(const struct na_veth_snap *s, const struct na_veth_sel *sel,
		     unsigned int flags, int *bridges, int *ports, struct na_reason *why)
{
	int own[NA_VETH_MAX_BRIDGES], buf[NA_VETH_MAX_PORTS];
	size_t b;
	int err;

	if (sel->nbridges > NA_VETH_MAX_BRIDGES)
		return -E2BIG;
	if (!bridges)
		bridges = own;
	err = na_veth_find_bridges(s, sel->bridges, sel->nbridges, bridges, why);
	if (!err)
		err = find_ports(s, sel->ifnames, sel->nifnames, flags & NA_VETH_PORTS_USABLE, ports,
				 why);
	for (b = 0; !err && (flags & NA_VETH_BRIDGES_USED) && b < sel->nbridges; b++)
		if (!na_veth_bridge_ports(s, bridges[b], buf, NA_VETH_MAX_PORTS))
			err = na_reason_set(why, -ENOENT,
					    "bridge %s has no container veth ports to attach to",
					    sel->bridges[b]);
	return err;
}

int na_veth_resolve(const struct na_veth_sel *sel, unsigned int flags, int *bridges,
		    int *ports, struct na_reason *why)
{
	struct mnl_socket *nl = NULL;
	struct na_veth_snap s;
	int err;

	err = na_nl_open(&nl);
	if (err)
		return na_reason_set(why, err, "cannot open a netlink socket: %s", strerror(-err));
	err = na_veth_snap_take(nl, &s, why);
	if (!err) {
		err = check_sel(&s, sel, flags, bridges, ports, why);
		na_veth_snap_free(&s);
	}
	na_nl_close(nl);
	return err;
}

int na_veth_entry_cmp(const void *a, const void *b)
{
	return memcmp(&((const struct na_veth_entry *)a)->key,
		      &((const struct na_veth_entry *)b)->key, sizeof(struct na_veth_key));
}

static int want_add(struct na_veth_entry **v, size_t *n, size_t *cap, const struct na_nl_link *l,
		    const struct na_nl_link *peer, const struct na_nl_addr *a)
{
	struct na_veth_entry *w;

	if (*n == *cap) {
		void *p = realloc(*v, (*cap = *cap ? *cap * 2 : 64) * sizeof(**v));

		if (!p)
			return -ENOMEM;
		*v = p;
	}
	w = &(*v)[(*n)++];
	memset(w, 0, sizeof(*w));
	w->key.bridge = (__u32)l->master;
	w->key.family = (__u32)a->family;
	memcpy(w->key.addr, a->addr, sizeof(a->addr));
	w->ep.ifindex = (__u32)l->ifindex;
	w->ep.mtu = peer->mtu;
	memcpy(w->ep.mac, peer->mac, 6);
	return 0;
}

int na_veth_wanted(const struct na_veth_snap *s, const int *ports, size_t nports,
		   struct na_veth_entry **out, size_t *n)
{
	const struct na_nl_link *l, *br, *peer;
	const struct na_veth_peer_ns *pns;
	struct na_veth_entry *w = NULL;
	size_t nw = 0, cap = 0, i, j;

	for (i = 0; i < nports; i++) {
		l = na_nl_find(&s->links, ports[i]);
		if (!l || na_veth_port_problem(s, l, &br, &peer))
			continue;
		pns = na_veth_snap_ns(s, l->link_nsid);
		for (j = 0; j < pns->addrs.n; j++) {
			const struct na_nl_addr *a = &pns->addrs.v[j];

			if (a->ifindex != peer->ifindex || !na_veth_addr_usable(a->family, a->addr))
				continue;
			if (want_add(&w, &nw, &cap, l, peer, a)) {
				free(w);
				return -ENOMEM;
			}
		}
	}
	/* An address claimed by two ports of one bridge is a conflict the
	 * bridge resolves by MAC; we stay out of it. */
	if (nw)
		qsort(w, nw, sizeof(*w), na_veth_entry_cmp);
	for (i = 1; i < nw; i++)
		if (!na_veth_entry_cmp(&w[i - 1], &w[i]) && w[i - 1].ep.ifindex != w[i].ep.ifindex)
			w[i - 1].dup = w[i].dup = true;
	*out = w;
	*n = nw;
	return 0;
}

enum na_veth_ep_action na_veth_ep_decide(const struct na_veth_entry *cur, bool port_recorded,
					 bool managed, const struct na_veth_entry *want,
					 size_t nwant)
{
	const struct na_veth_entry *hit;

	if (!port_recorded)
		return NA_VETH_EP_DELETE;	/* its port is gone */
	if (!managed)
		return NA_VETH_EP_LEAVE;
	if (cur->ep.flags & NA_VETH_EP_MANUAL)
		return NA_VETH_EP_REFRESH;
	hit = nwant ? bsearch(cur, want, nwant, sizeof(*want), na_veth_entry_cmp) : NULL;
	return !hit || hit->dup ? NA_VETH_EP_DELETE : NA_VETH_EP_KEEP;
}
