// SPDX-License-Identifier: GPL-2.0-only
/*
 * What the veth redirect did: its totals, each endpoint's frames and
 * bytes, and the ports, with the names of their devices in the network
 * namespace the state belongs to.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include <netaccel/state.h>

#include "internal.h"
#include "veth_internal.h"

_Static_assert(sizeof(struct na_veth_stats) == NA_VETH_NUM_COUNTERS * sizeof(uint64_t),
	       "struct na_veth_stats is its counters");
_Static_assert(sizeof(struct na_veth_epstat) == 2 * sizeof(uint64_t), "an endpoint's counters");

static int read_totals(int fd, struct na_veth_stats *out)
{
	uint32_t key = 0;

	return na_percpu_sum(fd, &key, (uint64_t *)out, NA_VETH_NUM_COUNTERS);
}

int na_veth_read_totals(const char *state_dir, struct na_veth_stats *out)
{
	char path[PATH_MAX + 32];
	int fd, err;

	snprintf(path, sizeof(path), "%s/" NA_VETH_SUBDIR "/na_veth_stats", state_dir);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return -errno;
	err = read_totals(fd, out);
	close(fd);
	return err;
}

static size_t count_ports(const struct na_veth_state *v, size_t *tcx)
{
	__u32 k, next, *prev = NULL;
	struct na_veth_port p;
	size_t n = 0;

	*tcx = 0;
	while (bpf_map_get_next_key(v->ports, prev, &next) == 0 && n < NA_VETH_MAX_PORTS) {
		k = next;
		prev = &k;
		n++;
		if (!bpf_map_lookup_elem(v->ports, &k, &p) && p.hook == NA_VETH_HOOK_TCX)
			(*tcx)++;
	}
	return n;
}

int na_veth_summarize(struct na_veth_state *v, struct na_veth_summary *out)
{
	struct na_veth_entry *eps = NULL;
	int err;

	memset(out, 0, sizeof(*out));
	err = na_veth_list_eps(v, &eps, &out->endpoints);
	free(eps);
	out->ports = count_ports(v, &out->tcx_ports);
	read_totals(v->stats, &out->total);
	return err;
}

static int list_endpoints(const struct na_veth_state *v, struct na_veth_list *out)
{
	struct na_veth_entry *eps = NULL;
	size_t i, n = 0;
	int err;

	err = na_veth_list_eps(v, &eps, &n);
	if (err)
		return err;
	out->eps = n ? calloc(n, sizeof(*out->eps)) : NULL;
	if (n && !out->eps) {
		free(eps);
		return -ENOMEM;
	}
	for (i = 0; i < n; i++) {
		struct na_veth_endpoint *e = &out->eps[i];

		e->key = eps[i].key;
		e->ep = eps[i].ep;
		na_percpu_sum(v->epstats, &e->key, (uint64_t *)&e->count, 2);
		na_veth_ifname(NULL, (int)e->ep.ifindex, e->veth);
		na_veth_ifname(NULL, (int)e->key.bridge, e->bridge);
	}
	out->neps = n;
	free(eps);
	return 0;
}

static int list_ports(const struct na_veth_state *v, struct na_veth_list *out)
{
	struct na_veth_port_info *p;
	__u32 k, next, *prev = NULL;
	size_t cap = 0;

	while (bpf_map_get_next_key(v->ports, prev, &next) == 0) {
		k = next;
		prev = &k;
		if (out->nports == cap) {
			cap = cap ? cap * 2 : 64;
			p = realloc(out->ports, cap * sizeof(*p));
			if (!p)
				return -ENOMEM;
			out->ports = p;
		}
		p = &out->ports[out->nports];
		if (bpf_map_lookup_elem(v->ports, &k, &p->port))
			continue;
		p->ifindex = (int)k;
		na_veth_ifname(NULL, (int)k, p->veth);
		na_veth_ifname(NULL, (int)p->port.bridge, p->bridge);
		out->nports++;
	}
	return 0;
}

int na_veth_list(struct na_veth_state *v, bool with_ports, struct na_veth_list *out)
{
	/* Device names are those of the namespace the state belongs to. */
	int back = v->foreign ? na_veth_enter_netns(v) : -1;
	int err;

	memset(out, 0, sizeof(*out));
	err = list_endpoints(v, out);
	read_totals(v->stats, &out->total);
	if (!err && with_ports)
		err = list_ports(v, out);
	na_veth_leave_netns(back);
	return err;
}

void na_veth_list_free(struct na_veth_list *l)
{
	free(l->eps);
	free(l->ports);
	memset(l, 0, sizeof(*l));
}
