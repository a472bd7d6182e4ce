/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The veth watch: a long-running loop that follows containers coming and
 * going on some bridges and keeps the veth redirect's ports and endpoints
 * in step (veth_watch.c). After its first pass it keeps only CAP_BPF and
 * CAP_NET_ADMIN and runs under a seccomp filter.
 */
#ifndef NA_VETH_WATCH_H
#define NA_VETH_WATCH_H

#include <stddef.h>

#include <netaccel/reason.h>
#include <netaccel/veth.h>

/* How the watch reports while it runs. */
struct na_veth_watch_log {
	void (*say)(void *arg, const char *line);	/* a change it made: one line */
	void (*warn)(void *arg, const char *line);	/* a problem it keeps going through */
	/* a pass that failed, and why (reported on every pass) */
	void (*fail)(void *arg, const struct na_reason *why, int err);
	void *arg;
};

struct na_veth_watch_cfg {
	const char *const *bridges;	/* names, looked up on every pass */
	size_t nbridges;
	struct na_veth_watch_log log;
};

struct na_veth_watch;

/* Stop on SIGTERM and SIGINT, and listen to netlink (before the state is
 * opened, so that no change falls in between). */
int na_veth_watch_new(struct na_veth_watch **out, const struct na_veth_watch_cfg *cfg,
		      struct na_reason *why);

/* Take over v (opened with NA_VETH_CREATE | NA_VETH_LOCK; the caller still
 * closes it), make the first pass, then drop every capability the loop
 * does not need and install the seccomp filter. */
int na_veth_watch_start(struct na_veth_watch *w, struct na_veth_state *v, struct na_reason *why);

/* Follow the bridges until a signal (returns its number), until the state
 * is removed by cleanup or detach (0), or a failure (negative errno). */
int na_veth_watch_run(struct na_veth_watch *w);

void na_veth_watch_free(struct na_veth_watch *w);

#endif /* NA_VETH_WATCH_H */
