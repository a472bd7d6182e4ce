// SPDX-License-Identifier: GPL-2.0-only
/*
 * veth redirect: a frame that a container sends to another container on
 * the same bridge is handed straight to the destination container's
 * interface with bpf_redirect_peer, skipping the bridge and the host stack.
 *
 *  na_veth_ingress  TC ingress of the host side of each container veth
 *                   (a tcx link, or a clsact filter on older kernels).
 *
 * Only what the bridge would deliver to exactly that one port is
 * redirected: unicast IPv4/IPv6 addressed to the MAC on record for the
 * destination address, on the same bridge, and short enough for the
 * destination's MTU. Everything else continues on the normal path, and
 * TC_NEXT lets any program after ours run as if we were not there.
 */
#include <linux/bpf.h>
#include <linux/types.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "netaccel_abi.h"
#include "na_count.bpf.h"
#include "na_defs.bpf.h"
#include "veth_maps.bpf.h"

char LICENSE[] SEC("license") = "GPL";

struct ethhdr {
	__u8 h_dest[6];
	__u8 h_source[6];
	__be16 h_proto;
} __attribute__((packed));

struct iphdr {
	__u8 ihl_version;	/* ihl in the low nibble on little endian */
	__u8 tos;
	__be16 tot_len;
	__be16 id;
	__be16 frag_off;
	__u8 ttl;
	__u8 protocol;
	__sum16 check;
	__be32 saddr;
	__be32 daddr;
};

struct ipv6hdr {
	__be32 vtc_flow;
	__be16 payload_len;
	__u8 nexthdr;
	__u8 hop_limit;
	__be32 saddr[4];
	__be32 daddr[4];
};

struct tcphdr_min {
	__be16 source;
	__be16 dest;
	__be32 seq;
	__be32 ack_seq;
	__u8 doff_res;		/* data offset in the high nibble */
	__u8 flags;
};

static __always_inline struct na_veth_stats *stats_of(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&na_veth_stats, &zero);
}

#define COUNT(field, n) NA_COUNT_IN(stats_of(), field, n)

/* Leave the frame to the normal path, saying why. */
#define PASS(field)                                                          \
	do {                                                                 \
		COUNT(field, 1);                                             \
		COUNT(passed, 1);                                            \
		return NA_TC_NEXT;                                           \
	} while (0)

/* Length of the IP and transport headers of a GSO frame, or 0 when it is
 * not TCP or UDP (then its segment size cannot be checked). */
static __always_inline __u32 gso_hdr_len(void *l4, void *data_end, __u8 proto,
					 __u32 l3len)
{
	struct tcphdr_min *th = l4;

	if (proto == IPPROTO_UDP)
		return l3len + 8;
	if (proto != IPPROTO_TCP || (void *)(th + 1) > data_end)
		return 0;
	return l3len + (th->doff_res >> 4) * 4;
}

/* clang lowers __builtin_memcmp to a call BPF cannot make: compare by hand. */
static __always_inline int same_mac(const __u8 *a, const __u8 *b)
{
	int i;

#pragma unroll
	for (i = 0; i < 6; i++)
		if (a[i] != b[i])
			return 0;
	return 1;
}

SEC("tc")
int na_veth_ingress(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct na_veth_port *port, *tport;
	struct na_veth_epstat *es;
	struct na_veth_key key = {};
	struct na_veth_ep *ep;
	struct ethhdr *eth = data;
	__u32 l3len = 0, ifindex = skb->ifindex, seglen;
	void *l4 = NULL;
	__u8 proto = 0;

	port = bpf_map_lookup_elem(&na_veth_ports, &ifindex);
	if (!port)
		PASS(unknown_port);
	if ((void *)(eth + 1) > data_end)
		PASS(not_ip);
	if (eth->h_dest[0] & 1)		/* group bit: broadcast or multicast */
		PASS(not_unicast);

	key.bridge = port->bridge;
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = (void *)(eth + 1);

		if ((void *)(ip + 1) > data_end)
			PASS(not_ip);
		key.family = AF_INET;
		key.addr[0] = ip->daddr;
		l3len = (ip->ihl_version & 0x0f) * 4;
		if (l3len < sizeof(*ip))
			PASS(not_ip);
		proto = ip->protocol;
		l4 = (void *)ip + l3len;
	} else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);

		if ((void *)(ip6 + 1) > data_end)
			PASS(not_ip);
		key.family = AF_INET6;
		key.addr[0] = ip6->daddr[0];
		key.addr[1] = ip6->daddr[1];
		key.addr[2] = ip6->daddr[2];
		key.addr[3] = ip6->daddr[3];
		l3len = sizeof(*ip6);
		proto = ip6->nexthdr;
		l4 = ip6 + 1;
	} else {
		PASS(not_ip);
	}

	ep = bpf_map_lookup_elem(&na_veth_eps, &key);
	if (!ep)
		PASS(no_endpoint);
	/* The destination port must still be ours and on the same bridge:
	 * user space removes a deleted veth from na_veth_ports first. */
	tport = bpf_map_lookup_elem(&na_veth_ports, &ep->ifindex);
	if (!tport || tport->bridge != port->bridge)
		PASS(no_endpoint);
	if (ep->ifindex == ifindex)
		PASS(same_port);
	if (!same_mac(eth->h_dest, ep->mac))
		PASS(mac_mismatch);

	/* What the bridge checks before it forwards (is_skb_forwardable):
	 * the IP packet fits the MTU, or for a GSO frame each segment does. */
	if (skb->gso_size) {
		seglen = gso_hdr_len(l4, data_end, proto, l3len);
		if (!seglen || seglen + skb->gso_size > ep->mtu)
			PASS(too_big);
	} else if (skb->len - ETH_HLEN > ep->mtu) {
		PASS(too_big);
	}

	/* The frame is addressed to another host's MAC, so it came in as
	 * PACKET_OTHERHOST; before Linux 6.15 the peer would drop it as
	 * such after redirect_peer. */
	if (bpf_skb_change_type(skb, PACKET_HOST))
		PASS(not_unicast);

	es = bpf_map_lookup_elem(&na_veth_epstats, &key);
	if (es) {
		es->packets++;
		es->bytes += skb->len;
	}
	COUNT(redirected, 1);
	COUNT(bytes_redirected, skb->len);
	return bpf_redirect_peer(ep->ifindex, 0);
}
