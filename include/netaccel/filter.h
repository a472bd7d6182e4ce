/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Whether netfilter, or the bridge itself, may drop or change traffic
 * between two containers (lib/filter*.c). The local bypass hands a
 * socket's bytes straight to its peer socket, so that traffic skips every
 * netfilter hook on its way: the bridge's forwarding path in the host's
 * namespace and each container's own input and output hooks. A bypass
 * that skipped a firewall would be a hole in it, so a network whose
 * traffic may be filtered stays on TCP.
 *
 * Both calls look at the network namespace the calling thread is in: a
 * caller that holds a namespace's fd setns()es there first (a thread of
 * its own is best, since setns() moves only the calling thread). They
 * read the kernel as it is at the call; rules added later are seen by
 * the next call.
 *
 * A verdict errs on the side of "filtered": a chain is counted by its
 * rules and policy, never by what its rules do, and what cannot be read
 * is filtered. A failure (a negative errno) means nothing is known: treat
 * the traffic as filtered.
 */
#ifndef NETACCEL_FILTER_H
#define NETACCEL_FILTER_H

#include <stdbool.h>

#include <netaccel/reason.h>

struct na_filter_verdict {
	bool filtered;			/* something may drop or change traffic
					 * between the bridge's ports (or in the
					 * container's own namespace) */
	char why[NA_REASON_MAX];	/* one line: what was found, or what was
					 * looked at when nothing was */
};

/*
 * Whether traffic between ports of the bridge called bridge, in the
 * current network namespace, may be filtered: an nftables or legacy
 * iptables/ebtables chain on its forwarding path (the bridge family's,
 * the IPv4/IPv6 families' when br_netfilter hands them bridged frames,
 * chains bound to its ports), an isolated or locked port, VLAN filtering.
 * 0 with v filled; -ENODEV (no such device), -EINVAL (not a bridge),
 * -EPERM (needs CAP_NET_ADMIN in the namespace) or another negative
 * errno with why said.
 */
int na_filter_check(const char *bridge, struct na_filter_verdict *v, struct na_reason *why);

/*
 * Whether the current network namespace, a container's, has a firewall
 * of its own on the way in or out (nftables or legacy iptables chains at
 * prerouting, input, output or postrouting, chains bound to its devices),
 * which the bypass would skip too. 0 with v filled, or a negative errno
 * with why said.
 */
int na_filter_check_ns(struct na_filter_verdict *v, struct na_reason *why);

#endif /* NETACCEL_FILTER_H */
