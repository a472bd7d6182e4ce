/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The firewall check's parts (filter.c, filter_nft.c, filter_xt.c): a
 * view of a namespace's netfilter base chains and bridge settings, read
 * from the kernel, and the decision made on that view alone, which the
 * unit tests feed by hand.
 */
#ifndef NA_LIB_FILTER_INTERNAL_H
#define NA_LIB_FILTER_INTERNAL_H

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <netaccel/filter.h>
#include <netaccel/reason.h>

/* Where a chain was read. */
enum na_fw_source {
	NA_FW_NFT,		/* nftables (iptables-nft and ebtables-nft too) */
	NA_FW_IPTABLES,		/* legacy x_tables: iptables, ip6tables */
	NA_FW_EBTABLES,		/* legacy ebtables */
};

/* nftables names are up to NFT_NAME_MAXLEN (256) with the NUL. */
#define NA_FW_NAME_MAX 256
#define NA_FW_MAX_DEVS 8

/* A base chain: where a table hooks into the traffic. */
struct na_fw_chain {
	enum na_fw_source source;
	uint8_t family;			/* NFPROTO_* */
	uint8_t hook;			/* the family's hook: NF_INET_*,
					 * NF_BR_*, NF_NETDEV_* */
	bool nat;			/* nftables type nat */
	bool drop;			/* its policy drops */
	uint32_t rules;
	char table[NA_FW_NAME_MAX];
	char chain[NA_FW_NAME_MAX];
	/* The devices a netdev or inet ingress chain is bound to; ndevs
	 * may exceed NA_FW_MAX_DEVS (the rest are not kept). A name ending
	 * in '*' stands for every device it starts. */
	size_t ndevs;
	char devs[NA_FW_MAX_DEVS][IF_NAMESIZE];
};

/* What a namespace's netfilter looks like. */
struct na_fw_view {
	struct na_fw_chain *chains;
	size_t nchains, cap;
	/* br_netfilter is loaded (net.bridge exists in this namespace), and
	 * its sysctls there: bridged IPv4 / IPv6 go through the IPv4 / IPv6
	 * hooks. */
	bool br_netfilter;
	bool call_iptables;
	bool call_ip6tables;
	/* The first thing that could not be read, and how many there were:
	 * any makes the traffic filtered. */
	char unread[NA_REASON_MAX / 2];
	unsigned int nunread;
};

/* A port of a bridge. */
struct na_fw_port {
	char name[IF_NAMESIZE];
	bool isolated;			/* IFLA_BRPORT_ISOLATED */
	bool locked;			/* IFLA_BRPORT_LOCKED */
};

/* A bridge, with its own settings. */
struct na_fw_bridge {
	char name[IF_NAMESIZE];
	bool vlan_filtering;
	bool nf_call_iptables;		/* IFLA_BR_NF_CALL_IPTABLES */
	bool nf_call_ip6tables;
	const struct na_fw_port *ports;
	size_t nports;
};

/* ---- the decision (filter.c), on a view alone ---- */

/* Whether traffic between br's ports may be filtered, given the view of
 * br's namespace. */
void na_fw_decide_bridge(const struct na_fw_view *fw, const struct na_fw_bridge *br,
			 struct na_filter_verdict *v);
/* Whether a container's namespace filters its own traffic in or out. */
void na_fw_decide_ns(const struct na_fw_view *fw, struct na_filter_verdict *v);

/* Add a copy of c to the view; -ENOMEM. */
int na_fw_add_chain(struct na_fw_view *fw, const struct na_fw_chain *c);
/* Note something that could not be read (kept if it is the first). */
__attribute__((format(printf, 2, 3)))
void na_fw_unread(struct na_fw_view *fw, const char *fmt, ...);
void na_fw_view_free(struct na_fw_view *fw);

/* ---- reading the kernel ---- */

/* The nftables base chains of the namespace, with their rule counts,
 * tables that are dormant left out (filter_nft.c). */
int na_fw_read_nft(struct na_fw_view *fw, struct na_reason *why);

/* The legacy iptables, ip6tables and ebtables base chains (filter_xt.c). */
int na_fw_read_xt(struct na_fw_view *fw, struct na_reason *why);

/*
 * The base chains of a legacy x_tables table, from the blob
 * IPT_SO_GET_ENTRIES (IP6T_...) answers, size bytes, with the hook
 * offsets of IPT_SO_GET_INFO. family is NFPROTO_IPV4 or NFPROTO_IPV6,
 * which fixes the layout of an entry. A blob that does not walk is noted
 * unread. 0 or -ENOMEM.
 */
int na_fw_xt_parse(struct na_fw_view *fw, uint8_t family, const char *table,
		   unsigned int valid_hooks, const unsigned int *hook_entry,
		   const unsigned int *underflow, const void *blob, size_t size);

/* The same for a legacy ebtables table's entries (EBT_SO_GET_ENTRIES). */
int na_fw_ebt_parse(struct na_fw_view *fw, const char *table, unsigned int valid_hooks,
		    const void *blob, size_t size);

#endif /* NA_LIB_FILTER_INTERNAL_H */
