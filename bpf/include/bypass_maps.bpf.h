/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Every map of the local bypass, declared once. Names are the ones pinned
 * under the state directory and shown by bpftool (at most 15 characters).
 */
#ifndef NA_BYPASS_MAPS_BPF_H
#define NA_BYPASS_MAPS_BPF_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "netaccel_abi.h"

/* Enrolled cgroups by slot: id, mode, state (active or draining). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, NA_MAX_CGROUPS);
	__type(key, __u32);
	__type(value, struct na_cgroup_cfg);
} na_cgroups SEC(".maps");

/* Active enrolled cgroups by id -> slot; sock_create searches it. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, NA_MAX_CGROUPS);
	__type(key, __u64);
	__type(value, __u32);
} na_cgslot SEC(".maps");

/* Counters per slot (NA_SLOT_GLOBAL for events of no enrolled cgroup). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, NA_STATS_SLOTS);
	__type(key, __u32);
	__type(value, struct na_stats);
} na_stats SEC(".maps");

/* Sockets on the fast path, by connection identity. */
struct {
	__uint(type, BPF_MAP_TYPE_SOCKHASH);
	__uint(max_entries, NA_SOCKHASH_MAX);
	__type(key, struct na_sock_key);
	__type(value, __u64);
} na_sockhash SEC(".maps");

/* Kernel address of each socket in na_sockhash, by the same key, so that a
 * sender can read its peer's redirect backlog (see peer_backlogged). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, NA_SOCKHASH_MAX);
	__type(key, struct na_sock_key);
	__type(value, __u64);
} na_sockaddr SEC(".maps");

/* The network each container namespace is on (netaccel_abi.h), and the
 * namespace each address of a network belongs to: where a connection's
 * other end is when it is in another namespace. Written by user space,
 * namespaces by inode number. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, NA_NET_NS_MAX);
	__type(key, __u32);
	__type(value, struct na_net_member);
} na_nets SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, NA_NET_EP_MAX);
	__type(key, struct na_endpoint_key);
	__type(value, __u32);
} na_endpoints SEC(".maps");

/* Networks whose namespaces pair although a firewall sees their traffic,
 * by network id: what the administrator allowed (user space only). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, __u64);
	__type(value, __u32);
} na_net_allow SEC(".maps");

/* The cookie (what sockets' keys hold) of each namespace on a network,
 * by inode number, learned from its sockets as they listen and connect.
 * Least recently used entries go: a namespace whose cookie is not known
 * is no peer, and its connections stay on TCP. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, NA_NET_NS_MAX);
	__type(key, __u32);
	__type(value, __u64);
} na_nscookie SEC(".maps");

/* Listeners of enrolled cgroups: how many per (netns, port), and the
 * latest one. A connecting socket joins only when its destination port is
 * here and that listener is event-driven. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, NA_LISTEN_MAX);
	__type(key, struct na_listen_key);
	__type(value, struct na_listen_val);
} na_listeners SEC(".maps");

/* How each fast-path socket (and listener) was seen reading, by its kernel
 * address: enum na_rx_flags in the low 32 bits, the reading process (tgid)
 * in the high 32. An entry goes when the socket closes. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, NA_SOCKHASH_MAX + NA_LISTEN_MAX);
	__type(key, __u64);
	__type(value, __u64);
} na_rxstate SEC(".maps");

/* Processes (tgid) that spliced from a fast-path socket (enum
 * na_proc_flags): no sender redirects to their sockets.
 * Least recently used go first; a reused tgid only keeps a process on TCP. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, __u32);
} na_procs SEC(".maps");

/* Moves whenever a socket is seen splicing or asking FIONREAD (where that
 * misses redirected bytes), so that senders look at na_rxstate again
 * before their next redirect. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} na_fitgen SEC(".maps");

/* Per-socket state, made when a socket needs one; BPF_F_CLONE hands a
 * tagged listener's on to its accepted sockets. */
struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC | BPF_F_CLONE);
	__type(key, int);
	__type(value, struct na_sk_state);
} na_sk_state SEC(".maps");

#endif /* NA_BYPASS_MAPS_BPF_H */
