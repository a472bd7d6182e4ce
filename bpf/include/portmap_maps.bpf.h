/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Every map of the port remap, declared once. Pinned by name in the
 * portmap/ subdirectory of the state directory.
 */
#ifndef NA_PORTMAP_MAPS_BPF_H
#define NA_PORTMAP_MAPS_BPF_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "netaccel_abi.h"

/* Rules: (cgroup, virtual port, protocol) -> real port and flags. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, NA_PM_MAX_RULES);
	__type(key, struct na_pm_key);
	__type(value, struct na_pm_rule);
} na_pm_rules SEC(".maps");

/* Virtual ports bound now: (cgroup, virtual port, protocol) -> real port. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, NA_PM_MAX_RULES);
	__type(key, struct na_pm_key);
	__type(value, struct na_pm_bound);
} na_pm_bound SEC(".maps");

/* UDP real ports bound now back to their virtual port. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, NA_PM_MAX_RULES);
	__type(key, struct na_pm_key);
	__type(value, struct na_pm_real);
} na_pm_real SEC(".maps");

/* Cgroups with the hooks attached, by id. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, NA_PM_MAX_CGROUPS);
	__type(key, __u64);
	__type(value, struct na_pm_scope);
} na_pm_scopes SEC(".maps");

/* Counters per cgroup id (entries made by user space with the scope). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, NA_PM_MAX_CGROUPS);
	__type(key, __u64);
	__type(value, struct na_pm_stats);
} na_pm_stats SEC(".maps");

/* Per-socket view; BPF_F_CLONE hands it on to accepted sockets. */
struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC | BPF_F_CLONE);
	__type(key, int);
	__type(value, struct na_pm_sk);
} na_pm_sk SEC(".maps");

#endif /* NA_PORTMAP_MAPS_BPF_H */
