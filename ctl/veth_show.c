// SPDX-License-Identifier: GPL-2.0-only
/* What the veth redirect shows: veth list's tables, and its part of status
 * and stats, as text or JSON. */
#include <stdio.h>

#include <json-c/json.h>

#include <netaccel/veth.h>

#include "output.h"
#include "veth.h"

static const char *const veth_counter_names[] = { NA_VETH_COUNTER_NAMES };
_Static_assert(sizeof(veth_counter_names) / sizeof(veth_counter_names[0]) == NA_VETH_NUM_COUNTERS,
	       "every veth counter needs a name");

static const struct na_col endpoint_cols[] = {
	{ "ADDRESS", 39 }, { "VETH", 15 }, { "PEER MAC", 17 }, { "BRIDGE", 15 },
	{ "MTU", 5, NA_RIGHT }, { "PACKETS", 12, NA_RIGHT }, { "BYTES", 14, NA_RIGHT },
	{ "", 0, NA_LEFT, "" },		/* "  (manual)" */
	{ NULL }
};

static const struct na_col port_cols[] = {
	{ "PORT", 15 }, { "BRIDGE", 15 }, { "HOOK", 0 }, { NULL }
};

static void endpoint_out(struct na_table *t, const struct na_veth_endpoint *e, json_object *ja)
{
	char a[INET6_ADDRSTRLEN], m[18];
	bool manual = e->ep.flags & NA_VETH_EP_MANUAL;
	json_object *j;

	na_veth_addr_str(&e->key, a, sizeof(a));
	na_veth_mac_str(e->ep.mac, m, sizeof(m));
	if (!ja) {
		na_table_cell(t, "%s", a);
		na_table_cell(t, "%s", e->veth);
		na_table_cell(t, "%s", m);
		na_table_cell(t, "%s", e->bridge);
		na_table_cell(t, "%u", e->ep.mtu);
		na_table_cell(t, "%llu", (unsigned long long)e->count.packets);
		na_table_cell(t, "%llu", (unsigned long long)e->count.bytes);
		na_table_cell(t, "%s", manual ? "  (manual)" : "");
		return;
	}
	j = json_object_new_object();
	json_object_object_add(j, "address", json_object_new_string(a));
	json_object_object_add(j, "veth", json_object_new_string(e->veth));
	json_object_object_add(j, "ifindex", json_object_new_int((int)e->ep.ifindex));
	json_object_object_add(j, "peer_mac", json_object_new_string(m));
	json_object_object_add(j, "bridge", json_object_new_string(e->bridge));
	json_object_object_add(j, "mtu", json_object_new_int((int)e->ep.mtu));
	json_object_object_add(j, "manual", json_object_new_boolean(manual));
	json_object_object_add(j, "packets", json_object_new_int64((int64_t)e->count.packets));
	json_object_object_add(j, "bytes", json_object_new_int64((int64_t)e->count.bytes));
	json_object_array_add(ja, j);
}

static void port_out(struct na_table *t, const struct na_veth_port_info *p, json_object *jp)
{
	json_object *j;

	if (!jp) {
		na_table_cell(t, "%s", p->veth);
		na_table_cell(t, "%s", p->bridge);
		na_table_cell(t, "%s", na_veth_hook_name(p->port.hook));
		return;
	}
	j = json_object_new_object();
	json_object_object_add(j, "veth", json_object_new_string(p->veth));
	json_object_object_add(j, "ifindex", json_object_new_int(p->ifindex));
	json_object_object_add(j, "bridge", json_object_new_string(p->bridge));
	json_object_object_add(j, "hook", json_object_new_string(na_veth_hook_name(p->port.hook)));
	json_object_array_add(jp, j);
}

void na_veth_show(struct na_veth_state *v, json_object *jo, bool with_ports)
{
	const struct na_veth_stats *t;
	json_object *ja = NULL, *jp = NULL;
	struct na_veth_list l;
	struct na_table tab;
	size_t i;

	na_veth_list(v, with_ports, &l);
	t = &l.total;
	if (jo) {
		ja = json_object_new_array();
		json_object_object_add(jo, "endpoints", ja);
	} else {
		na_table_start(&tab, stdout, endpoint_cols);
		na_table_header(&tab);
	}
	for (i = 0; i < l.neps; i++)
		endpoint_out(&tab, &l.eps[i], ja);
	if (with_ports) {
		if (jo) {
			jp = json_object_new_array();
			json_object_object_add(jo, "ports", jp);
		} else {
			printf("\n");
			na_table_start(&tab, stdout, port_cols);
			na_table_header(&tab);
		}
		for (i = 0; i < l.nports; i++)
			port_out(&tab, &l.ports[i], jp);
	}
	if (jo) {
		json_object_object_add(jo, "total",
				       na_json_counters(veth_counter_names, (const uint64_t *)t,
							NA_VETH_NUM_COUNTERS));
	} else {
		printf("\ntotal: %llu frames (%llu bytes) redirected, %llu passed:",
		       (unsigned long long)t->redirected, (unsigned long long)t->bytes_redirected,
		       (unsigned long long)t->passed);
		for (i = 3; i < NA_VETH_NUM_COUNTERS; i++)
			printf(" %s %llu", veth_counter_names[i],
			       (unsigned long long)((const __u64 *)t)[i]);
		printf("\n");
	}
	na_veth_list_free(&l);
}

void na_veth_status(const char *state_dir, json_object *jo)
{
	struct na_veth_state *v = NULL;
	struct na_reason why = { 0 };
	struct na_veth_summary s;
	json_object *j;

	if (na_veth_ctl_open(state_dir, 0, true, &v, &why)) {
		if (jo)
			json_object_object_add(jo, "veth", NULL);
		return;
	}
	na_veth_summarize(v, &s);
	if (jo) {
		j = json_object_new_object();
		json_object_object_add(j, "ports", json_object_new_int64((int64_t)s.ports));
		json_object_object_add(j, "tcx_ports", json_object_new_int64((int64_t)s.tcx_ports));
		json_object_object_add(j, "endpoints", json_object_new_int64((int64_t)s.endpoints));
		json_object_object_add(j, "redirected", json_object_new_int64((int64_t)s.total.redirected));
		json_object_object_add(jo, "veth", j);
	} else {
		printf("veth redirect: %zu veth%s (%zu tcx, %zu clsact), %zu endpoint%s, %llu frames redirected (netaccel-ctl veth list)\n",
		       s.ports, s.ports == 1 ? "" : "s", s.tcx_ports, s.ports - s.tcx_ports,
		       s.endpoints, s.endpoints == 1 ? "" : "s",
		       (unsigned long long)s.total.redirected);
	}
	na_veth_close(v);
}

void na_veth_stats(const char *state_dir, json_object *jo)
{
	struct na_veth_state *v = NULL;
	struct na_reason why = { 0 };
	json_object *j;

	if (na_veth_ctl_open(state_dir, 0, true, &v, &why))
		return;
	if (jo) {
		j = json_object_new_object();
		na_veth_show(v, j, false);
		json_object_object_add(jo, "veth", j);
	} else {
		printf("veth redirect\n");
		na_veth_show(v, NULL, false);
	}
	na_veth_close(v);
}
