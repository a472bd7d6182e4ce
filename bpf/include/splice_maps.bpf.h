/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Every map of the proxy splice, declared once. Pinned under
 * <state-dir>/splice/ by these names, or private to the process that
 * loaded them.
 */
#ifndef NA_SPLICE_MAPS_BPF_H
#define NA_SPLICE_MAPS_BPF_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "netaccel_abi.h"

/* Spliced sockets: the cookie of one socket -> the other socket of its
 * pair, where that one's bytes go. na_splice_verdict is attached here. */
struct {
	__uint(type, BPF_MAP_TYPE_SOCKHASH);
	__uint(max_entries, NA_SPLICE_MAX);
	__type(key, __u64);
	__type(value, __u64);
} na_splice_socks SEC(".maps");

/* Each direction of a pair, by the same key. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, NA_SPLICE_MAX);
	__type(key, __u64);
	__type(value, struct na_splice_dir);
} na_splice_dirs SEC(".maps");

/* Paused directions the process asks back, by the same key. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, NA_SPLICE_MAX);
	__type(key, __u64);
	__type(value, struct na_splice_resume);
} na_splice_resume SEC(".maps");

/* Totals (one entry). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct na_splice_stats);
} na_splice_stats SEC(".maps");

#endif /* NA_SPLICE_MAPS_BPF_H */
