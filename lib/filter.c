// SPDX-License-Identifier: GPL-2.0-only
/*
 * Whether traffic between containers may be filtered, so that the bypass
 * must leave it on TCP: the decision, and the two calls that read the
 * kernel for it (nftables in filter_nft.c, legacy x_tables and ebtables
 * in filter_xt.c, the bridge and its ports over rtnetlink here).
 *
 * Frames between two ports of a Linux bridge pass the bridge family's
 * prerouting, forward and postrouting hooks. br_netfilter, when loaded
 * and asked to (the namespace's net.bridge.bridge-nf-call-ip(6)tables,
 * or the bridge's own nf_call_ip(6)tables), also hands bridged IPv4 and
 * IPv6 to the IPv4/IPv6 prerouting, forward and postrouting hooks, where
 * iptables and the nftables ip, ip6 and inet families filter them.
 * Chains bound to a port (netdev family, inet ingress) see them too. The
 * input and output hooks of the host do not: they are for the host's own
 * sockets. In a container's namespace, its own prerouting, input, output
 * and postrouting hooks are on the way in and out of its sockets.
 *
 * A chain counts when it has a rule or a drop policy: what its rules do
 * is not evaluated (a chain of accept rules still counts), so that the
 * answer stays right however the rules are written. A chain of type nat
 * counts only with a drop policy: a connection whose addresses NAT
 * changes shows different addresses at its two ends, and the bypass pairs
 * only sockets whose addresses match, so such a connection stays on TCP
 * anyway. ARP tables are left out: a container whose ARP is refused never
 * gets a connection that the bypass could carry.
 */
#include <net/if.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/netfilter.h>
#include <linux/netfilter_bridge.h>

#include "filter_internal.h"
#include "internal.h"
#include "netlink.h"

/* ---- the view ---- */

int na_fw_add_chain(struct na_fw_view *fw, const struct na_fw_chain *c)
{
	struct na_fw_chain *p;

	if (fw->nchains == fw->cap) {
		p = realloc(fw->chains, (fw->cap ? fw->cap * 2 : 16) * sizeof(*p));
		if (!p)
			return -ENOMEM;
		fw->chains = p;
		fw->cap = fw->cap ? fw->cap * 2 : 16;
	}
	fw->chains[fw->nchains++] = *c;
	return 0;
}

void na_fw_unread(struct na_fw_view *fw, const char *fmt, ...)
{
	va_list ap;

	if (!fw->nunread++) {
		va_start(ap, fmt);
		vsnprintf(fw->unread, sizeof(fw->unread), fmt, ap);
		va_end(ap);
	}
}

void na_fw_view_free(struct na_fw_view *fw)
{
	free(fw->chains);
	memset(fw, 0, sizeof(*fw));
}

/* ---- the decision ---- */

static const char *family_name(uint8_t f)
{
	switch (f) {
	case NFPROTO_INET: return "inet";
	case NFPROTO_IPV4: return "ip";
	case NFPROTO_IPV6: return "ip6";
	case NFPROTO_ARP: return "arp";
	case NFPROTO_NETDEV: return "netdev";
	case NFPROTO_BRIDGE: return "bridge";
	}
	return "?";
}

static const char *hook_name(uint8_t family, uint8_t hook)
{
	static const char *const inet[] = { "prerouting", "input", "forward", "output",
					    "postrouting", "ingress" };

	if (family == NFPROTO_NETDEV)
		return hook == NF_NETDEV_INGRESS ? "ingress" : hook == NF_NETDEV_EGRESS ? "egress" : "?";
	if (family == NFPROTO_BRIDGE && hook == NF_BR_BROUTING)
		return "brouting";
	return hook < sizeof(inet) / sizeof(inet[0]) ? inet[hook] : "?";
}

/* Whether the device pattern d (a trailing '*' matches any rest) names
 * the device name. */
static bool dev_matches(const char *d, const char *name)
{
	size_t n = strlen(d);

	if (n && d[n - 1] == '*')
		return !strncmp(d, name, n - 1);
	return !strcmp(d, name);
}

/*
 * Whether a chain bound to devices hooks one of br's ports; *port says
 * which, or stays NULL when the chain's devices are not all known (no
 * device list, more than were kept), which counts as a match.
 */
static bool hooks_a_port(const struct na_fw_chain *c, const struct na_fw_bridge *br,
			 const char **port)
{
	size_t i, j, kept = c->ndevs < NA_FW_MAX_DEVS ? c->ndevs : NA_FW_MAX_DEVS;

	*port = NULL;
	for (i = 0; i < kept; i++)
		for (j = 0; j < br->nports; j++)
			if (dev_matches(c->devs[i], br->ports[j].name)) {
				*port = br->ports[j].name;
				return true;
			}
	return c->ndevs == 0 || c->ndevs > NA_FW_MAX_DEVS;
}

/* "nftables chain inet filter/forward (hook forward, 3 rules, policy
 * drop)" and the like, for a chain that counts. */
static void describe(const struct na_fw_chain *c, const char *port, char *buf, size_t len)
{
	char how[128];
	int n = 0, w;

	switch (c->source) {
	case NA_FW_NFT:
		n = snprintf(buf, len, "nftables chain %s %s/%s", family_name(c->family), c->table,
			     c->chain);
		break;
	case NA_FW_IPTABLES:
		n = snprintf(buf, len, "legacy %s chain %s/%s",
			     c->family == NFPROTO_IPV6 ? "ip6tables" : "iptables", c->table, c->chain);
		break;
	case NA_FW_EBTABLES:
		n = snprintf(buf, len, "legacy ebtables chain %s/%s", c->table, c->chain);
		break;
	}
	w = snprintf(how, sizeof(how), "hook %s", hook_name(c->family, c->hook));
	if (port)
		w += snprintf(how + w, sizeof(how) - (size_t)w, " on %s", port);
	else if (c->ndevs)
		w += snprintf(how + w, sizeof(how) - (size_t)w, " on %s%s", c->devs[0],
			      c->ndevs > 1 ? " and others" : "");
	else if (c->family == NFPROTO_NETDEV || (c->family == NFPROTO_INET && c->hook == NF_INET_INGRESS))
		w += snprintf(how + w, sizeof(how) - (size_t)w, " on devices it does not name");
	if (c->rules)
		w += snprintf(how + w, sizeof(how) - (size_t)w, ", %u rule%s", c->rules,
			      c->rules == 1 ? "" : "s");
	if (c->drop)
		snprintf(how + w, sizeof(how) - (size_t)w, ", policy drop");
	if (n >= 0 && (size_t)n < len)
		snprintf(buf + n, len - (size_t)n, " (%s)", how);
}

/* Whether c may change what passes: a rule, or a drop policy, and for
 * NAT only the drop policy. */
static bool acts(const struct na_fw_chain *c)
{
	return c->drop || (c->rules && !c->nat);
}

/* Which bridged traffic br_netfilter hands to the IPv4 and IPv6 hooks. */
static void brnf_sends(const struct na_fw_view *fw, const struct na_fw_bridge *br, bool *v4,
		       bool *v6)
{
	*v4 = fw->br_netfilter && (fw->call_iptables || br->nf_call_iptables);
	*v6 = fw->br_netfilter && (fw->call_ip6tables || br->nf_call_ip6tables);
}

/* How br_netfilter brings bridged IPv4 (by4) and IPv6 (by6) to a chain,
 * for the why. */
static void brnf_via(const struct na_fw_view *fw, const struct na_fw_bridge *br, bool by4,
		     bool by6, char *buf, size_t len)
{
	char cause[2][64] = { "", "" };

	if (by4 && fw->call_iptables)
		snprintf(cause[0], sizeof(cause[0]), "net.bridge.bridge-nf-call-iptables=1");
	else if (by4)
		snprintf(cause[0], sizeof(cause[0]), "nf_call_iptables on %s", br->name);
	if (by6 && fw->call_ip6tables)
		snprintf(cause[1], sizeof(cause[1]), "net.bridge.bridge-nf-call-ip6tables=1");
	else if (by6)
		snprintf(cause[1], sizeof(cause[1]), "nf_call_ip6tables on %s", br->name);
	snprintf(buf, len, ", which sees bridged %s through br_netfilter (%s%s%s)",
		 by4 && by6 ? "IPv4 and IPv6" : by4 ? "IPv4" : "IPv6", cause[0],
		 by4 && by6 ? ", " : "", cause[1]);
}

/*
 * Whether c is on the path between br's ports: *port names the port a
 * device-bound chain hooks, via says how br_netfilter brings the traffic
 * to an IPv4/IPv6 chain.
 */
static bool on_bridge_path(const struct na_fw_view *fw, const struct na_fw_bridge *br,
			   const struct na_fw_chain *c, const char **port, char *via, size_t len)
{
	bool v4, v6, by4, by6;

	*port = NULL;
	via[0] = '\0';
	switch (c->family) {
	case NFPROTO_BRIDGE:
		/* Input and output are the bridge device's own traffic. */
		return c->hook != NF_BR_LOCAL_IN && c->hook != NF_BR_LOCAL_OUT;
	case NFPROTO_NETDEV:
		return hooks_a_port(c, br, port);
	case NFPROTO_INET:
	case NFPROTO_IPV4:
	case NFPROTO_IPV6:
		if (c->family == NFPROTO_INET && c->hook == NF_INET_INGRESS)
			return hooks_a_port(c, br, port);
		if (c->hook == NF_INET_LOCAL_IN || c->hook == NF_INET_LOCAL_OUT)
			return false;
		brnf_sends(fw, br, &v4, &v6);
		by4 = c->family != NFPROTO_IPV6 && v4;
		by6 = c->family != NFPROTO_IPV4 && v6;
		if (by4 || by6)
			brnf_via(fw, br, by4, by6, via, len);
		return by4 || by6;
	case NFPROTO_ARP:
		return false;
	}
	return true;	/* a family this code does not know */
}

/* Keep a reason on one line whatever the names in it hold: nftables
 * takes any bytes for a table's or a chain's name. */
static void one_line(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '?';
}

/* What a decision found: the first finding said, the others counted. */
struct findings {
	struct na_filter_verdict *v;
	unsigned int n;
};

__attribute__((format(printf, 2, 3)))
static void found(struct findings *f, const char *fmt, ...)
{
	va_list ap;

	if (!f->n++) {
		va_start(ap, fmt);
		vsnprintf(f->v->why, sizeof(f->v->why), fmt, ap);
		va_end(ap);
		one_line(f->v->why);
	}
}

static void conclude(struct findings *f)
{
	size_t len = strlen(f->v->why);

	f->v->filtered = f->n > 0;
	if (f->n > 1 && len < sizeof(f->v->why))
		snprintf(f->v->why + len, sizeof(f->v->why) - len, "; and %u more", f->n - 1);
}

void na_fw_decide_bridge(const struct na_fw_view *fw, const struct na_fw_bridge *br,
			 struct na_filter_verdict *v)
{
	struct findings f = { v, 0 };
	char desc[NA_REASON_MAX], via[192];
	const char *port;
	bool v4, v6;
	size_t i;

	memset(v, 0, sizeof(*v));
	if (fw->nunread)
		found(&f, "%s", fw->unread);
	if (br->vlan_filtering)
		found(&f, "bridge %s filters VLANs: its ports may be in different ones", br->name);
	for (i = 0; i < br->nports; i++) {
		if (br->ports[i].isolated)
			found(&f, "port %s of %s is isolated", br->ports[i].name, br->name);
		if (br->ports[i].locked)
			found(&f, "port %s of %s is locked: it forwards only from authorized hosts",
			      br->ports[i].name, br->name);
	}
	for (i = 0; i < fw->nchains; i++) {
		const struct na_fw_chain *c = &fw->chains[i];

		if (!acts(c) || !on_bridge_path(fw, br, c, &port, via, sizeof(via)))
			continue;
		describe(c, port, desc, sizeof(desc));
		found(&f, "%s%s", desc, via);
	}
	conclude(&f);
	if (v->filtered)
		return;
	brnf_sends(fw, br, &v4, &v6);
	snprintf(v->why, sizeof(v->why),
		 "nothing filters bridge %s: %zu netfilter base chain%s seen, none on its forwarding path with rules or a drop policy; br_netfilter %s",
		 br->name, fw->nchains, fw->nchains == 1 ? "" : "s",
		 !fw->br_netfilter ? "is not loaded" :
		 v4 && v6 ? "hands it bridged IPv4 and IPv6" :
		 v4 ? "hands it bridged IPv4 only" :
		 v6 ? "hands it bridged IPv6 only" : "is off for it");
}

/* Whether c is on the way in or out of a namespace's own sockets. */
static bool on_ns_path(const struct na_fw_chain *c)
{
	/* Forward is for traffic that passes through. */
	switch (c->family) {
	case NFPROTO_BRIDGE:
		return c->hook != NF_BR_FORWARD;
	case NFPROTO_INET:
	case NFPROTO_IPV4:
	case NFPROTO_IPV6:
		return c->hook != NF_INET_FORWARD;
	case NFPROTO_ARP:
		return false;
	}
	return true;	/* netdev: on a device of the namespace */
}

void na_fw_decide_ns(const struct na_fw_view *fw, struct na_filter_verdict *v)
{
	struct findings f = { v, 0 };
	char desc[NA_REASON_MAX];
	size_t i;

	memset(v, 0, sizeof(*v));
	if (fw->nunread)
		found(&f, "container's own firewall cannot be read: %s", fw->unread);
	for (i = 0; i < fw->nchains; i++) {
		const struct na_fw_chain *c = &fw->chains[i];

		if (!acts(c) || !on_ns_path(c))
			continue;
		describe(c, NULL, desc, sizeof(desc));
		found(&f, "container's own firewall: %s", desc);
	}
	conclude(&f);
	if (!v->filtered)
		snprintf(v->why, sizeof(v->why),
			 "no firewall of its own: %zu netfilter base chain%s seen, none at prerouting, input, output or postrouting with rules or a drop policy",
			 fw->nchains, fw->nchains == 1 ? "" : "s");
}

/* ---- reading the kernel ---- */

/* A 0/1 sysctl; one that exists but cannot be read counts as on. */
static bool sysctl_on(const char *path)
{
	char buf[16] = "";
	FILE *f = fopen(path, "re");
	bool on = true;

	if (f) {
		if (fgets(buf, sizeof(buf), f))
			on = atoi(buf) != 0;
		fclose(f);
	}
	return on;
}

/* Everything of the current namespace's netfilter a decision needs.
 * /proc/sys/net shows the calling thread's network namespace. */
static int read_view(struct na_fw_view *fw, struct na_reason *why)
{
	int err;

	memset(fw, 0, sizeof(*fw));
	/* br_netfilter registers net.bridge when it loads. */
	fw->br_netfilter = access("/proc/sys/net/bridge/bridge-nf-call-iptables", F_OK) == 0;
	if (fw->br_netfilter) {
		fw->call_iptables = sysctl_on("/proc/sys/net/bridge/bridge-nf-call-iptables");
		fw->call_ip6tables = sysctl_on("/proc/sys/net/bridge/bridge-nf-call-ip6tables");
	}
	err = na_fw_read_nft(fw, why);
	if (!err)
		err = na_fw_read_xt(fw, why);
	if (err)
		na_fw_view_free(fw);
	return err;
}

/* The bridge called name and its ports, over rtnetlink. */
static int read_bridge(const char *name, struct na_fw_bridge *br, struct na_fw_port **ports,
		       struct na_reason *why)
{
	struct mnl_socket *nl = NULL;
	struct na_nl_links l = { NULL, 0 };
	struct na_nl_link link;
	struct na_fw_port *p = NULL;
	size_t i;
	int err;

	memset(br, 0, sizeof(*br));
	*ports = NULL;
	err = na_nl_open(&nl);
	if (err)
		return na_reason_set(why, err, "cannot open a netlink socket: %s", strerror(-err));
	err = na_nl_link_get(nl, name, &link);
	if (err == -ENODEV) {
		err = na_reason_set(why, err, "no such device: %s", name);
		goto out;
	}
	if (err) {
		err = na_reason_set(why, err, "cannot read device %s: %s", name, strerror(-err));
		goto out;
	}
	if (strcmp(link.kind, "bridge")) {
		err = na_reason_set(why, -EINVAL, "%s is not a bridge", name);
		goto out;
	}
	err = na_nl_ports(nl, link.ifindex, &l);
	if (err) {
		err = na_reason_set(why, err, "cannot list the ports of %s: %s", name, strerror(-err));
		goto out;
	}
	p = calloc(l.n ? l.n : 1, sizeof(*p));
	if (!p) {
		err = -ENOMEM;
		goto out;
	}
	for (i = 0; i < l.n; i++) {
		snprintf(p[i].name, sizeof(p[i].name), "%s", l.v[i].name);
		p[i].isolated = l.v[i].isolated;
		p[i].locked = l.v[i].locked;
	}
	snprintf(br->name, sizeof(br->name), "%s", link.name);
	br->vlan_filtering = link.vlan_filtering;
	br->nf_call_iptables = link.nf_call_iptables;
	br->nf_call_ip6tables = link.nf_call_ip6tables;
	br->ports = p;
	br->nports = l.n;
	*ports = p;
out:
	free(l.v);
	na_nl_close(nl);
	return err;
}

int na_filter_check(const char *bridge, struct na_filter_verdict *v, struct na_reason *why)
{
	struct na_fw_bridge br;
	struct na_fw_port *ports;
	struct na_fw_view fw;
	int err;

	memset(v, 0, sizeof(*v));
	err = read_bridge(bridge, &br, &ports, why);
	if (err)
		return err;
	err = read_view(&fw, why);
	if (!err) {
		na_fw_decide_bridge(&fw, &br, v);
		na_fw_view_free(&fw);
	}
	free(ports);
	return err;
}

int na_filter_check_ns(struct na_filter_verdict *v, struct na_reason *why)
{
	struct na_fw_view fw;
	int err;

	memset(v, 0, sizeof(*v));
	err = read_view(&fw, why);
	if (err)
		return err;
	na_fw_decide_ns(&fw, v);
	na_fw_view_free(&fw);
	return 0;
}
