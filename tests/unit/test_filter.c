// SPDX-License-Identifier: GPL-2.0-only
/*
 * The firewall check's decision without the kernel: views of a
 * namespace's netfilter chains and a bridge's settings, built by hand,
 * and the verdicts and reasons they give; and the walk of legacy
 * iptables and ebtables blobs laid out here as the kernel hands them
 * over. Nothing here reads the kernel.
 */
#include <net/if.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <linux/netfilter.h>
#include <linux/netfilter_arp.h>
#include <linux/netfilter_bridge.h>
#include <linux/netfilter_bridge/ebtables.h>
#include <linux/netfilter_ipv4/ip_tables.h>
#include <linux/netfilter_ipv6/ip6_tables.h>

#include "filter_internal.h"

/* ---- building views ---- */

static struct na_fw_port ports[3];
static struct na_fw_bridge br;
static struct na_fw_view fw;
static struct na_filter_verdict v;

static int setup(void **state)
{
	(void)state;
	memset(&fw, 0, sizeof(fw));
	memset(ports, 0, sizeof(ports));
	snprintf(ports[0].name, sizeof(ports[0].name), "veth-a");
	snprintf(ports[1].name, sizeof(ports[1].name), "veth-b");
	snprintf(ports[2].name, sizeof(ports[2].name), "veth-c");
	br = (struct na_fw_bridge){ .name = "br0", .ports = ports, .nports = 3 };
	memset(&v, 0xa5, sizeof(v));	/* a decision must fill it all */
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	na_fw_view_free(&fw);
	return 0;
}

/* br_netfilter loaded, its sysctls as given. */
static void brnf(bool v4, bool v6)
{
	fw.br_netfilter = true;
	fw.call_iptables = v4;
	fw.call_ip6tables = v6;
}

static struct na_fw_chain *add(uint8_t family, const char *table, const char *chain, uint8_t hook,
			       uint32_t rules, bool drop)
{
	struct na_fw_chain c = { .source = NA_FW_NFT, .family = family, .hook = hook,
				 .rules = rules, .drop = drop };

	snprintf(c.table, sizeof(c.table), "%s", table);
	snprintf(c.chain, sizeof(c.chain), "%s", chain);
	assert_int_equal(na_fw_add_chain(&fw, &c), 0);
	return &fw.chains[fw.nchains - 1];
}

static void devs(struct na_fw_chain *c, size_t n, const char *const *names)
{
	for (size_t i = 0; i < n && i < NA_FW_MAX_DEVS; i++)
		snprintf(c->devs[i], sizeof(c->devs[i]), "%s", names[i]);
	c->ndevs = n;
}

static void bridge_is(bool filtered, const char *why)
{
	na_fw_decide_bridge(&fw, &br, &v);
	if (v.filtered != filtered)
		fail_msg("filtered is %d, want %d: %s", v.filtered, filtered, v.why);
	if (why)
		assert_string_equal(v.why, why);
	assert_true(strlen(v.why) > 0);
}

static void ns_is(bool filtered, const char *why)
{
	na_fw_decide_ns(&fw, &v);
	if (v.filtered != filtered)
		fail_msg("filtered is %d, want %d: %s", v.filtered, filtered, v.why);
	if (why)
		assert_string_equal(v.why, why);
	assert_true(strlen(v.why) > 0);
}

/* ---- the bridge ---- */

static void nothing_is_not_filtered(void **state)
{
	(void)state;
	bridge_is(false, "nothing filters bridge br0: 0 netfilter base chains seen, none on its "
			 "forwarding path with rules or a drop policy; br_netfilter is not loaded");
	brnf(true, true);
	bridge_is(false, "nothing filters bridge br0: 0 netfilter base chains seen, none on its "
			 "forwarding path with rules or a drop policy; br_netfilter hands it bridged "
			 "IPv4 and IPv6");
}

static void bridge_family_forward(void **state)
{
	struct na_fw_chain *c;

	(void)state;
	c = add(NFPROTO_BRIDGE, "t", "f", NF_BR_FORWARD, 0, false);
	bridge_is(false, "nothing filters bridge br0: 1 netfilter base chain seen, none on its "
			 "forwarding path with rules or a drop policy; br_netfilter is not loaded");
	c->rules = 1;
	bridge_is(true, "nftables chain bridge t/f (hook forward, 1 rule)");
	c->rules = 0;
	c->drop = true;
	bridge_is(true, "nftables chain bridge t/f (hook forward, policy drop)");
	c->rules = 3;
	bridge_is(true, "nftables chain bridge t/f (hook forward, 3 rules, policy drop)");
}

static void bridge_family_hooks(void **state)
{
	struct na_fw_chain *c;

	(void)state;
	/* The bridge device's own traffic: not between ports. */
	add(NFPROTO_BRIDGE, "t", "in", NF_BR_LOCAL_IN, 5, true);
	add(NFPROTO_BRIDGE, "t", "out", NF_BR_LOCAL_OUT, 5, true);
	bridge_is(false, NULL);
	c = add(NFPROTO_BRIDGE, "t", "pre", NF_BR_PRE_ROUTING, 1, false);
	bridge_is(true, "nftables chain bridge t/pre (hook prerouting, 1 rule)");
	c->hook = NF_BR_POST_ROUTING;
	bridge_is(true, "nftables chain bridge t/pre (hook postrouting, 1 rule)");
	c->hook = NF_BR_BROUTING;
	c->source = NA_FW_EBTABLES;
	bridge_is(true, "legacy ebtables chain t/pre (hook brouting, 1 rule)");
}

static void inet_forward_needs_br_netfilter(void **state)
{
	(void)state;
	add(NFPROTO_INET, "filter", "forward", NF_INET_FORWARD, 2, false);
	/* Without br_netfilter the IPv4/IPv6 hooks never see bridged
	 * frames. */
	bridge_is(false, NULL);
	brnf(false, false);
	bridge_is(false, "nothing filters bridge br0: 1 netfilter base chain seen, none on its "
			 "forwarding path with rules or a drop policy; br_netfilter is off for it");
	brnf(true, false);
	bridge_is(true, "nftables chain inet filter/forward (hook forward, 2 rules), which sees "
			"bridged IPv4 through br_netfilter (net.bridge.bridge-nf-call-iptables=1)");
	brnf(true, true);
	bridge_is(true, "nftables chain inet filter/forward (hook forward, 2 rules), which sees "
			"bridged IPv4 and IPv6 through br_netfilter "
			"(net.bridge.bridge-nf-call-iptables=1, net.bridge.bridge-nf-call-ip6tables=1)");
	/* The bridge's own switch does what the sysctl does, for it. */
	brnf(false, false);
	br.nf_call_ip6tables = true;
	bridge_is(true, "nftables chain inet filter/forward (hook forward, 2 rules), which sees "
			"bridged IPv6 through br_netfilter (nf_call_ip6tables on br0)");
	/* ...but only with br_netfilter loaded. */
	fw.br_netfilter = false;
	bridge_is(false, NULL);
	br.nf_call_ip6tables = false;
	br.nf_call_iptables = true;
	bridge_is(false, NULL);
}

static void ip_families_follow_their_sysctl(void **state)
{
	struct na_fw_chain *c;

	(void)state;
	c = add(NFPROTO_IPV4, "filter", "FORWARD", NF_INET_FORWARD, 0, true);
	brnf(false, true);
	bridge_is(false, NULL);
	brnf(true, false);
	bridge_is(true, "nftables chain ip filter/FORWARD (hook forward, policy drop), which sees "
			"bridged IPv4 through br_netfilter (net.bridge.bridge-nf-call-iptables=1)");
	c->family = NFPROTO_IPV6;
	bridge_is(false, NULL);
	br.nf_call_ip6tables = true;
	bridge_is(true, "nftables chain ip6 filter/FORWARD (hook forward, policy drop), which sees "
			"bridged IPv6 through br_netfilter (nf_call_ip6tables on br0)");
}

static void prerouting_and_postrouting_count(void **state)
{
	struct na_fw_chain *c;

	(void)state;
	brnf(true, true);
	c = add(NFPROTO_IPV4, "raw", "PREROUTING", NF_INET_PRE_ROUTING, 1, false);
	bridge_is(true, NULL);
	assert_non_null(strstr(v.why, "nftables chain ip raw/PREROUTING (hook prerouting, 1 rule)"));
	c->hook = NF_INET_POST_ROUTING;
	bridge_is(true, NULL);
	/* The host's own sockets' hooks are not on the bridge's path. */
	c->hook = NF_INET_LOCAL_IN;
	bridge_is(false, NULL);
	c->hook = NF_INET_LOCAL_OUT;
	bridge_is(false, NULL);
}

static void nat_counts_only_by_policy(void **state)
{
	struct na_fw_chain *c;

	(void)state;
	brnf(true, true);
	c = add(NFPROTO_IPV4, "nat", "PREROUTING", NF_INET_PRE_ROUTING, 40, false);
	c->nat = true;
	bridge_is(false, NULL);
	c->drop = true;
	bridge_is(true, "nftables chain ip nat/PREROUTING (hook prerouting, 40 rules, policy drop), "
			"which sees bridged IPv4 through br_netfilter "
			"(net.bridge.bridge-nf-call-iptables=1)");
}

static void arp_is_left_out(void **state)
{
	(void)state;
	brnf(true, true);
	add(NFPROTO_ARP, "filter", "input", NF_ARP_IN, 3, true);
	bridge_is(false, NULL);
	ns_is(false, NULL);
}

static void chains_bound_to_devices(void **state)
{
	static const char *const other[] = { "eth0" };
	static const char *const port[] = { "eth0", "veth-b" };
	static const char *const wildcard[] = { "veth-*" };
	static const char *const many[] = { "x0", "x1", "x2", "x3", "x4", "x5", "x6", "x7" };
	struct na_fw_chain *c;

	(void)state;
	c = add(NFPROTO_NETDEV, "n", "in", NF_NETDEV_INGRESS, 1, false);
	devs(c, 1, other);
	bridge_is(false, NULL);
	devs(c, 2, port);
	bridge_is(true, "nftables chain netdev n/in (hook ingress on veth-b, 1 rule)");
	c->hook = NF_NETDEV_EGRESS;
	bridge_is(true, "nftables chain netdev n/in (hook egress on veth-b, 1 rule)");
	devs(c, 1, wildcard);
	bridge_is(true, "nftables chain netdev n/in (hook egress on veth-a, 1 rule)");
	/* Devices not all known: they may include a port. */
	devs(c, 0, NULL);
	bridge_is(true, "nftables chain netdev n/in (hook egress on devices it does not name, 1 rule)");
	devs(c, 8, many);
	bridge_is(false, NULL);
	c->ndevs = 9;
	bridge_is(true, "nftables chain netdev n/in (hook egress on x0 and others, 1 rule)");
	/* inet ingress is bound to devices too, and needs no br_netfilter. */
	c->family = NFPROTO_INET;
	c->hook = NF_INET_INGRESS;
	devs(c, 2, port);
	bridge_is(true, "nftables chain inet n/in (hook ingress on veth-b, 1 rule)");
	devs(c, 1, other);
	bridge_is(false, NULL);
}

static void the_bridge_itself(void **state)
{
	(void)state;
	ports[1].isolated = true;
	bridge_is(true, "port veth-b of br0 is isolated");
	ports[1].isolated = false;
	ports[2].locked = true;
	bridge_is(true, "port veth-c of br0 is locked: it forwards only from authorized hosts");
	ports[2].locked = false;
	br.vlan_filtering = true;
	bridge_is(true, "bridge br0 filters VLANs: its ports may be in different ones");
}

static void unread_is_filtered(void **state)
{
	(void)state;
	na_fw_unread(&fw, "legacy iptables table filter: %s", "its FORWARD chain does not read as a chain");
	na_fw_unread(&fw, "second");
	bridge_is(true, "legacy iptables table filter: its FORWARD chain does not read as a chain");
	assert_int_equal(fw.nunread, 2);
}

static void further_findings_are_counted(void **state)
{
	(void)state;
	brnf(true, true);
	ports[0].isolated = true;
	add(NFPROTO_BRIDGE, "t", "f", NF_BR_FORWARD, 1, false);
	add(NFPROTO_INET, "filter", "forward", NF_INET_FORWARD, 1, false);
	add(NFPROTO_INET, "filter", "input", NF_INET_LOCAL_IN, 1, false);
	bridge_is(true, "port veth-a of br0 is isolated; and 2 more");
}

static void long_names_stay_one_line(void **state)
{
	struct na_fw_chain c = { .source = NA_FW_NFT, .family = NFPROTO_BRIDGE,
				 .hook = NF_BR_FORWARD, .rules = 1 };

	(void)state;
	memset(c.table, 't', sizeof(c.table) - 1);
	memset(c.chain, 'c', sizeof(c.chain) - 1);
	assert_int_equal(na_fw_add_chain(&fw, &c), 0);
	add(NFPROTO_BRIDGE, "t", "f", NF_BR_FORWARD, 1, false);
	bridge_is(true, NULL);
	assert_int_equal(strlen(v.why), sizeof(v.why) - 1);
	assert_null(strchr(v.why, '\n'));
	/* Names may hold any byte. */
	snprintf(fw.chains[0].table, sizeof(fw.chains[0].table), "a\nb");
	snprintf(fw.chains[0].chain, sizeof(fw.chains[0].chain), "c\rd");
	bridge_is(true, "nftables chain bridge a?b/c?d (hook forward, 1 rule); and 1 more");
}

/* ---- a container's own namespace ---- */

static void container_hooks(void **state)
{
	static const char *const eth0[] = { "eth0" };
	struct na_fw_chain *c;

	(void)state;
	ns_is(false, "no firewall of its own: 0 netfilter base chains seen, none at prerouting, "
		     "input, output or postrouting with rules or a drop policy");
	/* Forwarding is not the way in or out of its sockets. */
	c = add(NFPROTO_INET, "filter", "forward", NF_INET_FORWARD, 3, true);
	add(NFPROTO_INET, "filter", "input", NF_INET_LOCAL_IN, 0, false);
	ns_is(false, "no firewall of its own: 2 netfilter base chains seen, none at prerouting, "
		     "input, output or postrouting with rules or a drop policy");
	c->hook = NF_INET_LOCAL_IN;
	ns_is(true, "container's own firewall: nftables chain inet filter/forward "
		    "(hook input, 3 rules, policy drop)");
	c->hook = NF_INET_LOCAL_OUT;
	c->source = NA_FW_IPTABLES;
	c->family = NFPROTO_IPV6;
	ns_is(true, "container's own firewall: legacy ip6tables chain filter/forward "
		    "(hook output, 3 rules, policy drop)");
	c->hook = NF_INET_PRE_ROUTING;
	ns_is(true, NULL);
	c->hook = NF_INET_POST_ROUTING;
	ns_is(true, NULL);
	c->nat = true;
	c->drop = false;
	ns_is(false, NULL);
	c->family = NFPROTO_NETDEV;
	c->hook = NF_NETDEV_INGRESS;
	c->nat = false;
	c->source = NA_FW_NFT;
	devs(c, 1, eth0);
	ns_is(true, "container's own firewall: nftables chain netdev filter/forward "
		    "(hook ingress on eth0, 3 rules)");
	/* br_netfilter settings are the bridge's business. */
	brnf(true, true);
	c->family = NFPROTO_IPV4;
	c->hook = NF_INET_FORWARD;
	ns_is(false, NULL);
}

static void container_unread(void **state)
{
	(void)state;
	na_fw_unread(&fw, "legacy ebtables table filter: its INPUT chain does not read as a chain");
	ns_is(true, "container's own firewall cannot be read: legacy ebtables table filter: its "
		    "INPUT chain does not read as a chain");
}

/* ---- legacy iptables blobs ---- */

#define STD_SIZE XT_ALIGN(sizeof(struct xt_standard_target))

/* An entry of entry_size bytes (ipt_entry, ip6t_entry) with a standard
 * target of verdict (or a target named name) at off; the next offset. */
static size_t put_xt(uint8_t *b, size_t off, size_t entry_size, uint16_t *target_offset,
		     uint16_t *next_offset, int verdict, const char *name)
{
	struct xt_standard_target t;

	*target_offset = (uint16_t)entry_size;
	*next_offset = (uint16_t)(entry_size + STD_SIZE);
	memset(&t, 0, sizeof(t));
	t.target.u.user.target_size = STD_SIZE;
	snprintf(t.target.u.user.name, sizeof(t.target.u.user.name), "%s", name);
	t.verdict = verdict;
	memcpy(b + off + entry_size, &t, sizeof(t));
	return off + entry_size + STD_SIZE;
}

static size_t ipt(uint8_t *b, size_t off, int verdict, const char *name)
{
	struct ipt_entry *e = (struct ipt_entry *)(b + off);

	memset(e, 0, sizeof(*e));
	return put_xt(b, off, sizeof(*e), &e->target_offset, &e->next_offset, verdict, name);
}

static size_t ip6t(uint8_t *b, size_t off, int verdict, const char *name)
{
	struct ip6t_entry *e = (struct ip6t_entry *)(b + off);

	memset(e, 0, sizeof(*e));
	return put_xt(b, off, sizeof(*e), &e->target_offset, &e->next_offset, verdict, name);
}

#define ACCEPT (-NF_ACCEPT - 1)
#define DROP (-NF_DROP - 1)
#define IN (1u << NF_INET_LOCAL_IN)
#define FWD (1u << NF_INET_FORWARD)
#define OUT (1u << NF_INET_LOCAL_OUT)

static uint64_t blob_space[1024];

/* iptables' filter table: INPUT policy drop, FORWARD two rules then
 * accept, OUTPUT accept, a user chain after them. */
static size_t filter_table(unsigned int *hook, unsigned int *under)
{
	uint8_t *b = (uint8_t *)blob_space;
	size_t off = 0;

	memset(blob_space, 0, sizeof(blob_space));
	hook[NF_INET_LOCAL_IN] = under[NF_INET_LOCAL_IN] = (unsigned int)off;
	off = ipt(b, off, DROP, "");
	hook[NF_INET_FORWARD] = (unsigned int)off;
	off = ipt(b, off, ACCEPT, "");
	off = ipt(b, off, 100, "");	/* a jump */
	under[NF_INET_FORWARD] = (unsigned int)off;
	off = ipt(b, off, ACCEPT, "");
	hook[NF_INET_LOCAL_OUT] = under[NF_INET_LOCAL_OUT] = (unsigned int)off;
	off = ipt(b, off, ACCEPT, "");
	off = ipt(b, off, 0, "ERROR");
	return off;
}

static void iptables_blob(void **state)
{
	unsigned int hook[NF_INET_NUMHOOKS] = { 0 }, under[NF_INET_NUMHOOKS] = { 0 };
	size_t size = filter_table(hook, under);

	(void)state;
	assert_int_equal(na_fw_xt_parse(&fw, NFPROTO_IPV4, "filter", IN | FWD | OUT, hook, under,
					blob_space, size), 0);
	assert_int_equal(fw.nunread, 0);
	assert_int_equal(fw.nchains, 3);
	assert_string_equal(fw.chains[0].chain, "INPUT");
	assert_int_equal(fw.chains[0].rules, 0);
	assert_true(fw.chains[0].drop);
	assert_string_equal(fw.chains[1].chain, "FORWARD");
	assert_int_equal(fw.chains[1].hook, NF_INET_FORWARD);
	assert_int_equal(fw.chains[1].rules, 2);
	assert_false(fw.chains[1].drop);
	assert_string_equal(fw.chains[2].chain, "OUTPUT");
	assert_int_equal(fw.chains[2].rules, 0);
	assert_false(fw.chains[2].drop);
	for (size_t i = 0; i < fw.nchains; i++) {
		assert_int_equal(fw.chains[i].source, NA_FW_IPTABLES);
		assert_int_equal(fw.chains[i].family, NFPROTO_IPV4);
		assert_string_equal(fw.chains[i].table, "filter");
	}
	brnf(true, false);
	bridge_is(true, "legacy iptables chain filter/FORWARD (hook forward, 2 rules), which sees "
			"bridged IPv4 through br_netfilter (net.bridge.bridge-nf-call-iptables=1)");
	ns_is(true, "container's own firewall: legacy iptables chain filter/INPUT "
		    "(hook input, policy drop)");
}

static void iptables_blob_that_does_not_walk(void **state)
{
	unsigned int hook[NF_INET_NUMHOOKS] = { 0 }, under[NF_INET_NUMHOOKS] = { 0 };
	size_t size = filter_table(hook, under);

	(void)state;
	/* An underflow between two entries' starts. */
	under[NF_INET_FORWARD] -= 8;
	assert_int_equal(na_fw_xt_parse(&fw, NFPROTO_IPV4, "filter", IN | FWD | OUT, hook, under,
					blob_space, size), 0);
	assert_int_equal(fw.nchains, 2);
	assert_int_equal(fw.nunread, 1);
	assert_string_equal(fw.unread, "legacy iptables table filter: its FORWARD chain does not read as a chain");
	bridge_is(true, fw.unread);
	/* A rule that reaches over the policy. */
	filter_table(hook, under);
	((struct ipt_entry *)((uint8_t *)blob_space + hook[NF_INET_FORWARD]))->next_offset *= 3;
	assert_int_equal(na_fw_xt_parse(&fw, NFPROTO_IPV4, "filter", FWD, hook, under, blob_space,
					size), 0);
	assert_int_equal(fw.nchains, 2);
	assert_int_equal(fw.nunread, 2);
	/* Past the end. */
	under[NF_INET_FORWARD] = (unsigned int)size;
	assert_int_equal(na_fw_xt_parse(&fw, NFPROTO_IPV4, "filter", FWD, hook, under, blob_space,
					size), 0);
	assert_int_equal(fw.nunread, 3);
	/* A policy that is no standard target. */
	filter_table(hook, under);
	ipt((uint8_t *)blob_space, under[NF_INET_LOCAL_OUT], 0, "REJECT");
	assert_int_equal(na_fw_xt_parse(&fw, NFPROTO_IPV4, "filter", OUT, hook, under, blob_space,
					size), 0);
	assert_int_equal(fw.nunread, 4);
	assert_int_equal(fw.nchains, 2);
}

static void ip6tables_blob(void **state)
{
	unsigned int hook[NF_INET_NUMHOOKS] = { 0 }, under[NF_INET_NUMHOOKS] = { 0 };
	uint8_t *b = (uint8_t *)blob_space;
	size_t off = 0;

	(void)state;
	/* mangle: every hook, one rule at postrouting. */
	for (unsigned int h = 0; h < NF_INET_NUMHOOKS; h++) {
		hook[h] = (unsigned int)off;
		if (h == NF_INET_POST_ROUTING)
			off = ip6t(b, off, ACCEPT, "");
		under[h] = (unsigned int)off;
		off = ip6t(b, off, ACCEPT, "");
	}
	assert_int_equal(na_fw_xt_parse(&fw, NFPROTO_IPV6, "mangle", 0x1f, hook, under, blob_space,
					off), 0);
	assert_int_equal(fw.nunread, 0);
	assert_int_equal(fw.nchains, 5);
	assert_int_equal(fw.chains[4].rules, 1);
	assert_string_equal(fw.chains[4].chain, "POSTROUTING");
	assert_int_equal(fw.chains[0].rules + fw.chains[1].rules + fw.chains[2].rules +
			 fw.chains[3].rules, 0);
	brnf(true, false);
	bridge_is(false, NULL);
	brnf(true, true);
	bridge_is(true, "legacy ip6tables chain mangle/POSTROUTING (hook postrouting, 1 rule), which "
			"sees bridged IPv6 through br_netfilter (net.bridge.bridge-nf-call-ip6tables=1)");
	/* Read with the IPv4 layout, the entries do not walk. */
	assert_int_equal(na_fw_xt_parse(&fw, NFPROTO_IPV4, "mangle", 0x1f, hook, under, blob_space,
					off), 0);
	assert_int_not_equal(fw.nunread, 0);
}

/* ---- legacy ebtables blobs ---- */

static size_t ebt_chain(uint8_t *b, size_t off, const char *name, int policy, unsigned int n)
{
	struct ebt_entries h;
	struct ebt_entry e;

	memset(&h, 0, sizeof(h));
	snprintf(h.name, sizeof(h.name), "%s", name);
	h.policy = policy;
	h.nentries = n;
	memcpy(b + off, &h, sizeof(h));
	off += sizeof(h);
	for (unsigned int i = 0; i < n; i++) {
		memset(&e, 0, sizeof(e));
		e.bitmask = EBT_ENTRY_OR_ENTRIES;
		e.watchers_offset = e.target_offset = sizeof(e);
		e.next_offset = sizeof(e) + sizeof(struct ebt_standard_target);
		memcpy(b + off, &e, sizeof(e));
		off += e.next_offset;
	}
	return off;
}

static void ebtables_blob(void **state)
{
	uint8_t *b = (uint8_t *)blob_space;
	unsigned int valid = (1u << NF_BR_LOCAL_IN) | (1u << NF_BR_FORWARD) | (1u << NF_BR_LOCAL_OUT);
	size_t off = 0;

	(void)state;
	memset(blob_space, 0, sizeof(blob_space));
	off = ebt_chain(b, off, "INPUT", EBT_DROP, 0);
	off = ebt_chain(b, off, "FORWARD", EBT_ACCEPT, 2);
	off = ebt_chain(b, off, "OUTPUT", EBT_ACCEPT, 0);
	off = ebt_chain(b, off, "user", EBT_RETURN, 1);
	assert_int_equal(na_fw_ebt_parse(&fw, "filter", valid, blob_space, off), 0);
	assert_int_equal(fw.nunread, 0);
	assert_int_equal(fw.nchains, 3);
	assert_int_equal(fw.chains[0].hook, NF_BR_LOCAL_IN);
	assert_true(fw.chains[0].drop);
	assert_int_equal(fw.chains[1].hook, NF_BR_FORWARD);
	assert_int_equal(fw.chains[1].rules, 2);
	assert_false(fw.chains[1].drop);
	assert_int_equal(fw.chains[2].hook, NF_BR_LOCAL_OUT);
	assert_int_equal(fw.chains[2].source, NA_FW_EBTABLES);
	assert_int_equal(fw.chains[2].family, NFPROTO_BRIDGE);
	bridge_is(true, "legacy ebtables chain filter/FORWARD (hook forward, 2 rules)");

	/* A blob cut short inside FORWARD's entries. */
	na_fw_view_free(&fw);
	assert_int_equal(na_fw_ebt_parse(&fw, "filter", valid, blob_space, sizeof(struct ebt_entries) * 2 + 8), 0);
	assert_int_equal(fw.nchains, 1);
	assert_string_equal(fw.unread, "legacy ebtables table filter: its FORWARD chain does not read as a chain");
	/* An entry where a chain's header should be. */
	na_fw_view_free(&fw);
	off = ebt_chain(b, 0, "BROUTING", EBT_ACCEPT, 1);
	assert_int_equal(na_fw_ebt_parse(&fw, "broute", 1u << NF_BR_BROUTING,
					 b + sizeof(struct ebt_entries), off - sizeof(struct ebt_entries)), 0);
	assert_int_equal(fw.nchains, 0);
	assert_string_equal(fw.unread, "legacy ebtables table broute: its BROUTING chain does not read as a chain");
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(nothing_is_not_filtered),
		T(bridge_family_forward),
		T(bridge_family_hooks),
		T(inet_forward_needs_br_netfilter),
		T(ip_families_follow_their_sysctl),
		T(prerouting_and_postrouting_count),
		T(nat_counts_only_by_policy),
		T(arp_is_left_out),
		T(chains_bound_to_devices),
		T(the_bridge_itself),
		T(unread_is_filtered),
		T(further_findings_are_counted),
		T(long_names_stay_one_line),
		T(container_hooks),
		T(container_unread),
		T(iptables_blob),
		T(iptables_blob_that_does_not_walk),
		T(ip6tables_blob),
		T(ebtables_blob),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
