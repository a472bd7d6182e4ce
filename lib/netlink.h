/* SPDX-License-Identifier: GPL-2.0-only */
/* The netlink view of the host the veth redirect works from (netlink.c). */
#ifndef NA_LIB_NETLINK_H
#define NA_LIB_NETLINK_H

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mnl_socket;

/* One network device, as RTM_GETLINK describes it. */
struct na_nl_link {
	int ifindex;
	char name[IF_NAMESIZE];
	char kind[16];		/* IFLA_INFO_KIND: "veth", "bridge", ... */
	int master;		/* IFLA_MASTER, 0 when none */
	int link;		/* IFLA_LINK: a veth's peer, in link_nsid */
	int link_nsid;		/* IFLA_LINK_NETNSID, -1 when the same netns */
	unsigned int mtu;
	unsigned int flags;	/* IFF_* */
	uint8_t mac[6];
	int vlan_filtering;	/* a bridge's IFLA_BR_VLAN_FILTERING */
	int nf_call_iptables;	/* a bridge's IFLA_BR_NF_CALL_IPTABLES */
	int nf_call_ip6tables;	/* a bridge's IFLA_BR_NF_CALL_IP6TABLES */
	int port_state;		/* a bridge port's IFLA_BRPORT_STATE, -1 unknown */
	int isolated;		/* a bridge port's IFLA_BRPORT_ISOLATED */
	int locked;		/* a bridge port's IFLA_BRPORT_LOCKED */
};

/* One address of a device. */
struct na_nl_addr {
	int ifindex;
	int family;		/* AF_INET or AF_INET6 */
	uint32_t addr[4];	/* network byte order; IPv4 in addr[0] */
};

struct na_nl_links {
	struct na_nl_link *v;
	size_t n;
};

struct na_nl_addrs {
	struct na_nl_addr *v;
	size_t n;
};

/* A netlink route socket with strict checking of dump requests. */
int na_nl_open(struct mnl_socket **out);
void na_nl_close(struct mnl_socket *nl);
/* Every device, or every address, of the netns with id nsid as seen from
 * ours (-1: our own). */
int na_nl_links(struct mnl_socket *nl, int nsid, struct na_nl_links *out);
int na_nl_addrs(struct mnl_socket *nl, int nsid, struct na_nl_addrs *out);
/* The device called name in our netns (-ENODEV: none), and the devices
 * whose master is the device with index master (a bridge's ports). */
int na_nl_link_get(struct mnl_socket *nl, const char *name, struct na_nl_link *out);
int na_nl_ports(struct mnl_socket *nl, int master, struct na_nl_links *out);
/* The id our namespace gives the network namespace open as nsfd: -ENOENT
 * when it has none (no veth or netlink user made one), or another
 * negative errno. */
int na_nl_nsid_of(struct mnl_socket *nl, int nsfd);
/* Filters on a tc parent of a device (any kind, anyone's). */
int na_nl_count_filters(struct mnl_socket *nl, int ifindex, uint32_t parent);
const struct na_nl_link *na_nl_find(const struct na_nl_links *l, int ifindex);
const struct na_nl_link *na_nl_find_name(const struct na_nl_links *l,
					 const char *name);

#endif /* NA_LIB_NETLINK_H */
