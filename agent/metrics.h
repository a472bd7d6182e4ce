/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Every counter of every datapath in the Prometheus text exposition format
 * (metrics.c): `netaccel-ctl stats --prometheus` writes it for
 * node_exporter's textfile collector, and the node agent will serve it.
 * Gathering (from the kernel state) and writing (from what was gathered)
 * are apart, so that the format is tested without the kernel.
 */
#ifndef NA_METRICS_H
#define NA_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <netaccel/portmap.h>
#include <netaccel/reason.h>
#include <netaccel/splice.h>

#include "netaccel_abi.h"

/* An enrolled (or draining) cgroup of the local bypass. */
struct na_metrics_slot {
	struct na_cgroup_cfg cfg;
	struct na_stats stats;
};

/* What one scrape reports. */
struct na_metrics {
	bool bypass;			/* the local bypass is loaded */
	size_t nslots;
	struct na_metrics_slot slot[NA_MAX_CGROUPS];
	struct na_stats other;		/* counted for no enrolled cgroup: the
					 * total less the enrolled slots' sum */
	long sockhash_entries;
	bool portmap;
	size_t npm;
	struct na_pm_cgroup pm[NA_PM_MAX_CGROUPS];
	bool veth;
	struct na_veth_stats veth_total;
	bool splice;			/* the proxy splice is pinned (splice enable) */
	long splice_pairs;
	struct na_splice_stats splice_total;
};

/* Read every datapath's counters from the state under state_dir; a
 * datapath that is not loaded is left out. 0 or negative errno. */
int na_metrics_gather(const char *state_dir, struct na_metrics *m, struct na_reason *why);

/* Write m to f in the Prometheus text format (version 0.0.4). 0, or
 * negative errno when f failed. */
int na_metrics_write(FILE *f, const struct na_metrics *m);

#endif /* NA_METRICS_H */
