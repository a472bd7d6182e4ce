/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Every map of the veth redirect, declared once. They are pinned under
 * <state-dir>/veth/ by these names (at most 15 characters).
 */
#ifndef NA_VETH_MAPS_BPF_H
#define NA_VETH_MAPS_BPF_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "netaccel_abi.h"

/* Container endpoints: (bridge, address) -> host veth, peer MAC, MTU. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, NA_VETH_MAX_EPS);
	__type(key, struct na_veth_key);
	__type(value, struct na_veth_ep);
} na_veth_eps SEC(".maps");

/* Frames and bytes redirected to each endpoint, by the same key. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, NA_VETH_MAX_EPS);
	__type(key, struct na_veth_key);
	__type(value, struct na_veth_epstat);
} na_veth_epstats SEC(".maps");

/* Host-side veths the program is attached to: ifindex -> bridge, hook. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, NA_VETH_MAX_PORTS);
	__type(key, __u32);
	__type(value, struct na_veth_port);
} na_veth_ports SEC(".maps");

/* Totals: frames redirected, and why the others took the normal path. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct na_veth_stats);
} na_veth_stats SEC(".maps");

/* The network namespace the state belongs to (one entry). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct na_veth_meta);
} na_veth_meta SEC(".maps");

#endif /* NA_VETH_MAPS_BPF_H */
