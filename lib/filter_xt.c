// SPDX-License-Identifier: GPL-2.0-only
/*
 * The legacy x_tables of the calling thread's network namespace: the base
 * chains of iptables-legacy, ip6tables-legacy and ebtables-legacy tables,
 * read with the getsockopt calls those tools make (IPT_SO_GET_INFO and
 * IPT_SO_GET_ENTRIES, the IPv6 and ebtables ones). Each base chain's rules
 * are counted and its policy read, so that a table that is merely there
 * (one `iptables-legacy -L` makes the filter table, with empty chains)
 * does not count.
 *
 * Asking the kernel for a table that does not exist yet in a namespace
 * creates it there, and may load its module. So iptables tables are read
 * only when /proc/<thread>/net/ip_tables_names (ip6_...) lists them,
 * which shows what exists and changes nothing. ebtables has no such list:
 * a table is asked for only where it can already be in the kernel
 * without a module being loaded for it (see ebt_may_have).
 */
#include <net/if.h>

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <linux/netfilter.h>
#include <linux/netfilter_bridge.h>
#include <linux/netfilter_bridge/ebtables.h>
#include <linux/netfilter_ipv4/ip_tables.h>
#include <linux/netfilter_ipv6/ip6_tables.h>

#include "filter_internal.h"

/* Reads of a table made before giving up on one that keeps changing
 * between its size and its entries. */
#define XT_TRIES 8

/* Where an entry of a family's x_tables blob keeps its offsets. */
struct xt_layout {
	size_t entry;		/* the entry without matches and target */
	size_t target_offset;
	size_t next_offset;
	size_t entries_at;	/* where IPT_SO_GET_ENTRIES puts the blob */
};

static const struct xt_layout ipt_layout = {
	sizeof(struct ipt_entry), offsetof(struct ipt_entry, target_offset),
	offsetof(struct ipt_entry, next_offset), offsetof(struct ipt_get_entries, entrytable),
};

static const struct xt_layout ip6t_layout = {
	sizeof(struct ip6t_entry), offsetof(struct ip6t_entry, target_offset),
	offsetof(struct ip6t_entry, next_offset), offsetof(struct ip6t_get_entries, entrytable),
};

/* The IPv6 calls take the same getinfo and answer with the same header. */
_Static_assert(sizeof(struct ipt_getinfo) == sizeof(struct ip6t_getinfo), "getinfo");
_Static_assert(IPT_SO_GET_INFO == IP6T_SO_GET_INFO && IPT_SO_GET_ENTRIES == IP6T_SO_GET_ENTRIES,
	       "getsockopt numbers");

static const char *const xt_chain_names[NF_INET_NUMHOOKS] = {
	"PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING",
};

static unsigned int u16_at(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

/* Whether the policy entry e (left bytes to the blob's end) drops: a
 * standard target whose verdict is not accept. */
static bool xt_policy(const uint8_t *e, size_t left, const struct xt_layout *l, bool *drop)
{
	struct xt_entry_target t;
	size_t toff, next;
	int verdict;

	if (left < l->entry)
		return false;
	toff = u16_at(e + l->target_offset);
	next = u16_at(e + l->next_offset);
	if (next > left || toff < l->entry || toff + sizeof(struct xt_standard_target) > next)
		return false;
	memcpy(&t, e + toff, sizeof(t));
	if (memchr(t.u.user.name, '\0', sizeof(t.u.user.name)) == NULL ||
	    strcmp(t.u.user.name, XT_STANDARD_TARGET))
		return false;
	memcpy(&verdict, e + toff + sizeof(t), sizeof(verdict));
	*drop = verdict != -NF_ACCEPT - 1;
	return true;
}

int na_fw_xt_parse(struct na_fw_view *fw, uint8_t family, const char *table,
		   unsigned int valid_hooks, const unsigned int *hook_entry,
		   const unsigned int *underflow, const void *blob, size_t size)
{
	const struct xt_layout *l = family == NFPROTO_IPV6 ? &ip6t_layout : &ipt_layout;
	const char *tool = family == NFPROTO_IPV6 ? "ip6tables" : "iptables";
	const uint8_t *b = blob;
	struct na_fw_chain c;
	size_t off, end, next;
	unsigned int h;
	bool ok;
	int err;

	for (h = 0; h < NF_INET_NUMHOOKS; h++) {
		if (!(valid_hooks & (1u << h)))
			continue;
		memset(&c, 0, sizeof(c));
		c.source = NA_FW_IPTABLES;
		c.family = family;
		c.hook = (uint8_t)h;
		snprintf(c.table, sizeof(c.table), "%s", table);
		snprintf(c.chain, sizeof(c.chain), "%s", xt_chain_names[h]);
		/* A base chain's rules run from its hook entry to its
		 * underflow, the entry that holds its policy. */
		off = hook_entry[h];
		end = underflow[h];
		ok = off <= end && end <= size;
		while (ok && off < end) {
			next = size - off >= l->entry ? u16_at(b + off + l->next_offset) : 0;
			ok = next >= l->entry && next <= end - off;
			off += next;
			c.rules++;
		}
		if (ok)
			ok = xt_policy(b + end, size - end, l, &c.drop);
		if (!ok) {
			na_fw_unread(fw, "legacy %s table %s: its %s chain does not read as a chain",
				     tool, table, xt_chain_names[h]);
			continue;
		}
		err = na_fw_add_chain(fw, &c);
		if (err)
			return err;
	}
	return 0;
}

/* Read the iptables or ip6tables table of family through the socket
 * fd. A table that went away meanwhile is nothing to read. */
static int xt_read_table(struct na_fw_view *fw, int fd, uint8_t family,
			 const char table[XT_TABLE_MAXNAMELEN], struct na_reason *why)
{
	const struct xt_layout *l = family == NFPROTO_IPV6 ? &ip6t_layout : &ipt_layout;
	int level = family == NFPROTO_IPV6 ? IPPROTO_IPV6 : IPPROTO_IP;
	const char *tool = family == NFPROTO_IPV6 ? "ip6tables" : "iptables";
	struct ipt_getinfo info;
	struct ipt_get_entries *e;
	socklen_t len;
	int tries, err = -EAGAIN;

	for (tries = 0; err == -EAGAIN && tries < XT_TRIES; tries++) {
		memset(&info, 0, sizeof(info));
		snprintf(info.name, sizeof(info.name), "%s", table);
		len = sizeof(info);
		if (getsockopt(fd, level, IPT_SO_GET_INFO, &info, &len) < 0) {
			err = -errno;
			break;
		}
		e = calloc(1, l->entries_at + info.size);
		if (!e)
			return -ENOMEM;
		snprintf(e->name, sizeof(e->name), "%s", table);
		e->size = info.size;
		len = (socklen_t)(l->entries_at + info.size);
		/* EAGAIN: the table was replaced after its size was read. */
		err = getsockopt(fd, level, IPT_SO_GET_ENTRIES, e, &len) < 0 ? -errno : 0;
		if (!err)
			err = na_fw_xt_parse(fw, family, table, info.valid_hooks, info.hook_entry,
					     info.underflow, (const uint8_t *)e + l->entries_at,
					     info.size);
		free(e);
	}
	if (err == -ENOENT)
		return 0;
	if (err == -EPERM || err == -EACCES)
		return na_reason_set(why, -EPERM,
				     "cannot read the legacy %s table %s: %s (needs CAP_NET_ADMIN in the network namespace)",
				     tool, table, strerror(-err));
	if (err)
		return na_reason_set(why, err, "cannot read the legacy %s table %s: %s", tool,
				     table, strerror(-err));
	return 0;
}

/*
 * A socket to ask x_tables through. The tools open a raw one, which needs
 * CAP_NET_RAW; an unbound UDP socket hands the same getsockopt calls to
 * netfilter (ip_getsockopt, ipv6_getsockopt), so CAP_NET_ADMIN, which
 * the calls themselves need, is enough.
 */
static int xt_socket(int af)
{
	int fd = socket(af, SOCK_DGRAM | SOCK_CLOEXEC, IPPROTO_UDP);

	return fd < 0 ? -errno : fd;
}

/* The tables of a family that exist in this namespace, from names (the
 * path under /proc/thread-self/net: the calling thread's namespace). */
static int xt_read_family(struct na_fw_view *fw, uint8_t family, const char *names,
			  struct na_reason *why)
{
	char path[64], line[XT_TABLE_MAXNAMELEN + 1];
	FILE *f;
	int fd = -1, err = 0;

	snprintf(path, sizeof(path), "/proc/thread-self/net/%s", names);
	f = fopen(path, "re");
	if (!f)
		return 0;	/* no legacy x_tables for the family in this kernel */
	while (!err && fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		if (strlen(line) >= XT_TABLE_MAXNAMELEN)
			continue;	/* no table has such a name */
		/* iptables refuses DROP in nat, and what NAT changes keeps a
		 * connection off the bypass by itself. */
		if (!line[0] || !strcmp(line, "nat"))
			continue;
		if (fd < 0) {
			fd = xt_socket(family == NFPROTO_IPV6 ? AF_INET6 : AF_INET);
			if (fd < 0) {
				err = na_reason_set(why, fd, "cannot open a socket to read legacy iptables: %s",
						    strerror(-fd));
				break;
			}
		}
		err = xt_read_table(fw, fd, family, line, why);
	}
	if (fd >= 0)
		close(fd);
	fclose(f);
	return err;
}

/* ---- ebtables ---- */

static const char *const ebt_chain_names[NF_BR_NUMHOOKS] = {
	"PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING", "BROUTING",
};

int na_fw_ebt_parse(struct na_fw_view *fw, const char *table, unsigned int valid_hooks,
		    const void *blob, size_t size)
{
	const uint8_t *b = blob;
	struct ebt_entries hdr;
	struct na_fw_chain c;
	unsigned int h, i, next;
	size_t off = 0;
	int err;

	/* The base chains come first, in the order of their hooks, each a
	 * header followed by its entries. */
	for (h = 0; h < NF_BR_NUMHOOKS; h++) {
		if (!(valid_hooks & (1u << h)))
			continue;
		if (size - off < sizeof(hdr))
			goto unreadable;
		memcpy(&hdr, b + off, sizeof(hdr));
		if (hdr.distinguisher != 0)
			goto unreadable;
		off += sizeof(hdr);
		for (i = 0; i < hdr.nentries; i++) {
			if (size - off < sizeof(struct ebt_entry))
				goto unreadable;
			memcpy(&next, b + off + offsetof(struct ebt_entry, next_offset), sizeof(next));
			if (next < sizeof(struct ebt_entry) || next > size - off)
				goto unreadable;
			off += next;
		}
		memset(&c, 0, sizeof(c));
		c.source = NA_FW_EBTABLES;
		c.family = NFPROTO_BRIDGE;
		c.hook = (uint8_t)h;
		c.rules = hdr.nentries;
		c.drop = hdr.policy != EBT_ACCEPT;
		snprintf(c.table, sizeof(c.table), "%s", table);
		snprintf(c.chain, sizeof(c.chain), "%s", ebt_chain_names[h]);
		err = na_fw_add_chain(fw, &c);
		if (err)
			return err;
	}
	return 0;
unreadable:
	na_fw_unread(fw, "legacy ebtables table %s: its %s chain does not read as a chain", table,
		     ebt_chain_names[h]);
	return 0;
}

/* Whether /sys/module has module: loaded, or built in with parameters. */
static bool module_listed(const char *module)
{
	char path[64];

	snprintf(path, sizeof(path), "/sys/module/%s", module);
	return access(path, F_OK) == 0;
}

/* Whether the running kernel's modules.builtin lists module: 1 or 0, or
 * -1 when it cannot be read (a container without /lib/modules). */
static int builtin(const char *module)
{
	char path[128 + sizeof(((struct utsname *)0)->release)], line[256], want[64];
	struct utsname u;
	size_t n, wn;
	FILE *f;
	int found = 0;

	if (uname(&u) < 0)
		return -1;
	snprintf(path, sizeof(path), "/lib/modules/%s/modules.builtin", u.release);
	f = fopen(path, "re");
	if (!f)
		return -1;
	wn = (size_t)snprintf(want, sizeof(want), "/%s.ko", module);
	while (!found && fgets(line, sizeof(line), f)) {
		n = strcspn(line, "\n");
		found = n >= wn && !memcmp(line + n - wn, want, wn);
	}
	fclose(f);
	return found;
}

/*
 * Whether the ebtables table (ebtable_<table>) may exist in this kernel,
 * known without asking for it: asking creates it in the namespace when
 * the kernel has it and loads its module when the ebtables core is there
 * but the table's module is not. Its module loaded says yes. With the
 * core a loaded module, a table module that is not loaded is nowhere.
 * Otherwise the core is built in or missing (missing refuses the request
 * at once): a kernel without modules, or a table built in, says yes, as
 * does a list of built-in modules that cannot be read.
 */
static bool ebt_may_have(const char *table)
{
	char module[32];

	snprintf(module, sizeof(module), "ebtable_%s", table);
	if (module_listed(module))
		return true;
	if (access("/proc/modules", F_OK) != 0)
		return true;
	if (module_listed("ebtables"))
		return false;
	return builtin(module) != 0;
}

static int ebt_read_table(struct na_fw_view *fw, int fd, const char *table, struct na_reason *why)
{
	struct ebt_replace r;
	socklen_t len;
	char *entries;
	int tries, err = -EAGAIN;

	for (tries = 0; (err == -EAGAIN || err == -EINVAL) && tries < XT_TRIES; tries++) {
		memset(&r, 0, sizeof(r));
		snprintf(r.name, sizeof(r.name), "%s", table);
		len = sizeof(r);
		if (getsockopt(fd, IPPROTO_IP, EBT_SO_GET_INFO, &r, &len) < 0) {
			err = -errno;
			break;
		}
		entries = malloc(r.entries_size ? r.entries_size : 1);
		if (!entries)
			return -ENOMEM;
		r.entries = entries;
		r.num_counters = 0;
		r.counters = NULL;
		/* The kernel reads the header and writes the entries where
		 * r.entries points; the length counts both. EINVAL: the table
		 * changed size after its size was read. */
		len = (socklen_t)(sizeof(r) + r.entries_size);
		err = getsockopt(fd, IPPROTO_IP, EBT_SO_GET_ENTRIES, &r, &len) < 0 ? -errno : 0;
		if (!err)
			err = na_fw_ebt_parse(fw, table, r.valid_hooks, entries, r.entries_size);
		free(entries);
	}
	/* ENOPROTOOPT: no ebtables in this kernel; ENOENT: no such table. */
	if (err == -ENOPROTOOPT || err == -ENOENT)
		return 0;
	if (err == -EPERM || err == -EACCES)
		return na_reason_set(why, -EPERM,
				     "cannot read the legacy ebtables table %s: %s (needs CAP_NET_ADMIN in the network namespace)",
				     table, strerror(-err));
	if (err)
		return na_reason_set(why, err, "cannot read the legacy ebtables table %s: %s",
				     table, strerror(-err));
	return 0;
}

static int ebt_read(struct na_fw_view *fw, struct na_reason *why)
{
	static const char *const tables[] = { "filter", "nat", "broute" };
	size_t i;
	int fd = -1, err = 0;

	for (i = 0; !err && i < sizeof(tables) / sizeof(tables[0]); i++) {
		if (!ebt_may_have(tables[i]))
			continue;
		if (fd < 0) {
			fd = xt_socket(AF_INET);
			if (fd < 0)
				return na_reason_set(why, fd, "cannot open a socket to read legacy ebtables: %s",
						     strerror(-fd));
		}
		err = ebt_read_table(fw, fd, tables[i], why);
	}
	if (fd >= 0)
		close(fd);
	return err;
}

int na_fw_read_xt(struct na_fw_view *fw, struct na_reason *why)
{
	int err;

	err = xt_read_family(fw, NFPROTO_IPV4, "ip_tables_names", why);
	if (!err)
		err = xt_read_family(fw, NFPROTO_IPV6, "ip6_tables_names", why);
	if (!err)
		err = ebt_read(fw, why);
	return err;
}
