// SPDX-License-Identifier: GPL-2.0-only
/*
 * The veth redirect's decisions without the kernel: addresses a user
 * types, which devices can take the redirect, which endpoints a sync
 * wants from a netlink snapshot (an address on two ports is left alone)
 * and what it does with those in the map. Snapshots are built by hand;
 * nothing here calls BPF or netlink.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <linux/if_bridge.h>

#include "objset.h"
#include "veth_internal.h"

/* A host: bridge br0 (2) with veths a (3), b (4) whose peers (10, 11) are
 * in the namespace with id 1; br1 (5) filters VLANs; lo (1); a veth c (6)
 * on no bridge. */
static struct na_nl_link host[] = {
	{ .ifindex = 1, .name = "lo", .link_nsid = -1, .port_state = -1 },
	{ .ifindex = 2, .name = "br0", .kind = "bridge", .link_nsid = -1, .port_state = -1 },
	{ .ifindex = 3, .name = "a", .kind = "veth", .master = 2, .link = 10, .link_nsid = 1,
	  .port_state = BR_STATE_FORWARDING },
	{ .ifindex = 4, .name = "b", .kind = "veth", .master = 2, .link = 11, .link_nsid = 1,
	  .port_state = BR_STATE_FORWARDING },
	{ .ifindex = 5, .name = "br1", .kind = "bridge", .link_nsid = -1, .port_state = -1,
	  .vlan_filtering = 1 },
	{ .ifindex = 6, .name = "c", .kind = "veth", .link = 12, .link_nsid = 1, .port_state = -1 },
};
static struct na_nl_link peers[] = {
	{ .ifindex = 10, .name = "eth0", .kind = "veth", .mtu = 1500,
	  .mac = { 2, 0, 0, 0, 0, 0xa }, .link_nsid = -1 },
	{ .ifindex = 11, .name = "eth0", .kind = "veth", .mtu = 9000,
	  .mac = { 2, 0, 0, 0, 0, 0xb }, .link_nsid = -1 },
};
static struct na_nl_addr addrs[8];
static struct na_veth_peer_ns ns;
static struct na_veth_snap snap;

static void add_addr(size_t *n, int ifindex, int family, const char *s)
{
	addrs[*n].ifindex = ifindex;
	addrs[*n].family = family;
	assert_int_equal(inet_pton(family, s, addrs[*n].addr), 1);
	(*n)++;
}

static int setup(void **state)
{
	size_t n = 0;

	(void)state;
	add_addr(&n, 10, AF_INET, "10.0.0.10");
	add_addr(&n, 10, AF_INET6, "fd00::10");
	add_addr(&n, 10, AF_INET, "224.0.0.1");		/* not unicast: skipped */
	add_addr(&n, 11, AF_INET, "10.0.0.11");
	add_addr(&n, 11, AF_INET, "10.0.0.99");		/* on both peers */
	add_addr(&n, 10, AF_INET, "10.0.0.99");
	ns = (struct na_veth_peer_ns){ .nsid = 1, .links = { peers, 2 }, .addrs = { addrs, n } };
	snap = (struct na_veth_snap){ .links = { host, sizeof(host) / sizeof(host[0]) }, .ns = &ns,
				      .nns = 1 };
	return 0;
}

static const struct na_nl_link *dev(const char *name)
{
	const struct na_nl_link *l = na_nl_find_name(&snap.links, name);

	assert_non_null(l);
	return l;
}

static void addresses_parse(void **state)
{
	struct na_veth_key k;
	char buf[INET6_ADDRSTRLEN];

	(void)state;
	assert_int_equal(na_veth_parse_addr("10.1.2.3", &k), 0);
	assert_int_equal(k.family, AF_INET);
	assert_int_equal(k.bridge, 0);
	assert_string_equal(na_veth_addr_str(&k, buf, sizeof(buf)), "10.1.2.3");
	assert_int_equal(na_veth_parse_addr("fd00::0001", &k), 0);
	assert_int_equal(k.family, AF_INET6);
	assert_string_equal(na_veth_addr_str(&k, buf, sizeof(buf)), "fd00::1");
	assert_int_equal(na_veth_parse_addr("10.1.2", &k), -EINVAL);
	assert_int_equal(na_veth_parse_addr("", &k), -EINVAL);
	assert_int_equal(na_veth_parse_addr("eth0", &k), -EINVAL);
}

static void only_unicast_is_usable(void **state)
{
	static const struct {
		const char *addr;
		bool usable;
	} cases[] = {
		{ "10.0.0.1", true }, { "0.0.0.0", false }, { "224.0.0.1", false },
		{ "255.255.255.255", false }, { "223.255.255.254", true },
		{ "fd00::1", true }, { "::", false }, { "ff02::1", false }, { "fe80::1", true },
	};
	struct na_veth_key k;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(na_veth_parse_addr(cases[i].addr, &k), 0);
		assert_int_equal(na_veth_addr_usable((int)k.family, k.addr), cases[i].usable);
	}
}

static void names_of_things(void **state)
{
	static const uint8_t mac[6] = { 0x02, 0xab, 0, 0x10, 0xff, 1 };
	char buf[64];

	(void)state;
	assert_string_equal(na_veth_mac_str(mac, buf, sizeof(buf)), "02:ab:00:10:ff:01");
	assert_string_equal(na_veth_hook_name(NA_VETH_HOOK_TCX), "tcx");
	assert_string_equal(na_veth_hook_name(NA_VETH_HOOK_TC), "tc");
	assert_string_equal(na_veth_hook_name(0), "?");
	/* The pin layout users and older versions rely on. */
	assert_int_equal(na_prog_pin_name(NA_VETH_PROG_NAME, buf, sizeof(buf)), 0);
	assert_string_equal(buf, NA_VETH_PROG_PIN);
	assert_string_equal(na_veth_ifname(&snap, 3, buf), "a");
}

static void which_devices_are_ports(void **state)
{
	const struct na_nl_link *br, *peer;
	struct na_nl_link l;

	(void)state;
	assert_null(na_veth_port_problem(&snap, dev("a"), &br, &peer));
	assert_int_equal(br->ifindex, 2);
	assert_int_equal(peer->ifindex, 10);
	assert_string_equal(na_veth_port_problem(&snap, dev("br0"), &br, &peer), "not a veth");
	assert_string_equal(na_veth_port_problem(&snap, dev("c"), &br, &peer),
			    "not a port of a bridge");

	l = *dev("a");
	l.master = 1;
	assert_string_equal(na_veth_port_problem(&snap, &l, &br, &peer),
			    "its master is not a bridge");
	l.master = 5;
	assert_string_equal(na_veth_port_problem(&snap, &l, &br, &peer),
			    "its bridge filters VLANs, which the redirect does not follow");
	l = *dev("a");
	l.link_nsid = -1;
	assert_non_null(strstr(na_veth_port_problem(&snap, &l, &br, &peer),
			       "its peer is in this network namespace"));
	l = *dev("a");
	l.link = 99;
	assert_string_equal(na_veth_port_problem(&snap, &l, &br, &peer), "its peer cannot be found");
	l.link_nsid = 7;
	assert_string_equal(na_veth_port_problem(&snap, &l, &br, &peer), "its peer cannot be found");
	l = *dev("a");
	l.isolated = 1;
	assert_string_equal(na_veth_port_problem(&snap, &l, &br, &peer),
			    "it is an isolated bridge port");
	l.isolated = 0;
	l.port_state = BR_STATE_BLOCKING;
	assert_string_equal(na_veth_port_problem(&snap, &l, &br, &peer),
			    "the bridge does not forward on it (down or blocked)");
}

static void bridges_by_name(void **state)
{
	const char *ok[] = { "br0" }, *missing[] = { "br0", "nope" }, *notbr[] = { "a" },
		   *vlan[] = { "br1" };
	struct na_reason why = { 0 };
	int out[2], ports[4];

	(void)state;
	assert_int_equal(na_veth_find_bridges(&snap, ok, 1, out, &why), 0);
	assert_int_equal(out[0], 2);
	assert_int_equal(na_veth_bridge_ports(&snap, 2, ports, 4), 2);
	assert_int_equal(ports[0], 3);
	assert_int_equal(ports[1], 4);
	assert_int_equal(na_veth_bridge_ports(&snap, 2, ports, 1), 1);
	assert_int_equal(na_veth_bridge_ports(&snap, 5, ports, 4), 0);

	assert_int_equal(na_veth_find_bridges(&snap, missing, 2, out, &why), -ENODEV);
	assert_string_equal(why.msg, "no such device: nope");
	na_reason_clear(&why);
	assert_int_equal(na_veth_find_bridges(&snap, notbr, 1, out, &why), -EINVAL);
	assert_string_equal(why.msg, "a is not a bridge");
	na_reason_clear(&why);
	assert_int_equal(na_veth_find_bridges(&snap, vlan, 1, out, &why), -EOPNOTSUPP);
	assert_string_equal(why.msg, "br1 filters VLANs, which the veth redirect does not follow");
}

static const struct na_veth_entry *wanted_addr(const struct na_veth_entry *w, size_t n,
					       int family, const char *s)
{
	struct na_veth_key k;
	size_t i;

	assert_int_equal(inet_pton(family, s, k.addr), 1);
	for (i = 0; i < n; i++)
		if ((int)w[i].key.family == family &&
		    !memcmp(w[i].key.addr, k.addr, family == AF_INET ? 4 : 16))
			return &w[i];
	return NULL;
}

static void endpoints_from_snapshot(void **state)
{
	const int both[] = { 3, 4, 6, 42 }, only_a[] = { 3 };
	const struct na_veth_entry *e;
	struct na_veth_entry *w;
	size_t n, i;

	(void)state;
	assert_int_equal(na_veth_wanted(&snap, both, 4, &w, &n), 0);
	/* 10.0.0.10, fd00::10, 10.0.0.11, and 10.0.0.99 on both; no
	 * multicast, nothing from c (no bridge) or 42 (gone). */
	assert_int_equal(n, 5);
	for (i = 1; i < n; i++)
		assert_true(na_veth_entry_cmp(&w[i - 1], &w[i]) <= 0);
	e = wanted_addr(w, n, AF_INET, "10.0.0.10");
	assert_non_null(e);
	assert_false(e->dup);
	assert_int_equal(e->key.bridge, 2);
	assert_int_equal(e->ep.ifindex, 3);
	assert_int_equal(e->ep.mtu, 1500);
	assert_int_equal(e->ep.mac[5], 0xa);
	assert_int_equal(e->ep.flags, 0);
	e = wanted_addr(w, n, AF_INET, "10.0.0.11");
	assert_int_equal(e->ep.ifindex, 4);
	assert_int_equal(e->ep.mtu, 9000);
	assert_non_null(wanted_addr(w, n, AF_INET6, "fd00::10"));
	assert_null(wanted_addr(w, n, AF_INET, "224.0.0.1"));
	for (i = 0; i < n; i++)
		assert_int_equal(w[i].dup, !memcmp(&w[i].key, &wanted_addr(w, n, AF_INET, "10.0.0.99")->key,
						   sizeof(w[i].key)));
	free(w);

	/* Synced alone, a has 10.0.0.99 to itself. */
	assert_int_equal(na_veth_wanted(&snap, only_a, 1, &w, &n), 0);
	assert_int_equal(n, 3);
	e = wanted_addr(w, n, AF_INET, "10.0.0.99");
	assert_non_null(e);
	assert_false(e->dup);
	free(w);

	assert_int_equal(na_veth_wanted(&snap, NULL, 0, &w, &n), 0);
	assert_int_equal(n, 0);
	assert_null(w);
}

static void what_sync_does_with_the_map(void **state)
{
	const int ports[] = { 3, 4 };
	struct na_veth_entry *w, cur;
	const struct na_veth_entry *e;
	size_t n;

	(void)state;
	assert_int_equal(na_veth_wanted(&snap, ports, 2, &w, &n), 0);
	e = wanted_addr(w, n, AF_INET, "10.0.0.10");
	cur = *e;
	assert_int_equal(na_veth_ep_decide(&cur, true, true, w, n), NA_VETH_EP_KEEP);
	/* Its port was dropped: it goes, whoever manages it. */
	assert_int_equal(na_veth_ep_decide(&cur, false, false, w, n), NA_VETH_EP_DELETE);
	/* On a port this sync is not about: left alone. */
	assert_int_equal(na_veth_ep_decide(&cur, true, false, w, n), NA_VETH_EP_LEAVE);
	/* The container lost the address. */
	cur.key.addr[0] ^= htonl(0x100);	/* 10.0.1.10 */
	assert_int_equal(na_veth_ep_decide(&cur, true, true, w, n), NA_VETH_EP_DELETE);
	assert_int_equal(na_veth_ep_decide(&cur, true, true, NULL, 0), NA_VETH_EP_DELETE);
	/* Added by hand: kept, whatever netlink says. */
	cur.ep.flags = NA_VETH_EP_MANUAL;
	assert_int_equal(na_veth_ep_decide(&cur, true, true, w, n), NA_VETH_EP_REFRESH);
	assert_int_equal(na_veth_ep_decide(&cur, false, true, w, n), NA_VETH_EP_DELETE);
	/* Claimed by two ports: the bridge decides, the redirect stays out. */
	cur = *wanted_addr(w, n, AF_INET, "10.0.0.99");
	cur.dup = false;
	assert_int_equal(na_veth_ep_decide(&cur, true, true, w, n), NA_VETH_EP_DELETE);
	free(w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(addresses_parse),
		cmocka_unit_test(only_unicast_is_usable),
		cmocka_unit_test(names_of_things),
		cmocka_unit_test(which_devices_are_ports),
		cmocka_unit_test(bridges_by_name),
		cmocka_unit_test(endpoints_from_snapshot),
		cmocka_unit_test(what_sync_does_with_the_map),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
