/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The proxy splice's shared state (lib/splice_state.c): an administrator
 * loads the splice program once and pins it under <state-dir>/splice, so
 * that proxies use it through netaccel_splice() (<netaccel.h>) without
 * the privilege to load BPF programs themselves. The application side is
 * in <netaccel.h>.
 */
#ifndef NETACCEL_SPLICE_H
#define NETACCEL_SPLICE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <netaccel/reason.h>

#include "netaccel_abi.h"

#define NA_SPLICE_SUBDIR "splice"

/*
 * Load and pin the splice program and its maps under state_dir/splice
 * (done already: kept, and only the access changes). With group >= 0,
 * processes of that group may use it: the directory and the maps become
 * the group's (maps read-write), and the directories above it searchable
 * by everyone (bpffs is mode 0700 where systemd mounts it); *opened lists
 * those directories' paths (NULL: not asked). group -1 leaves root only.
 */
int na_splice_enable(const char *state_dir, gid_t group, char *opened, size_t openedlen,
		     struct na_reason *why);

/* Unpin it: pairs that live keep running (their processes hold the maps);
 * new ones take splice(2). 1 when it was there, 0 when not. */
int na_splice_disable(const char *state_dir, struct na_reason *why);

struct na_splice_summary {
	bool enabled;
	gid_t group;			/* (gid_t)-1: root only */
	long pairs;			/* sockets in the map / 2 */
	long paused;			/* directions paused now */
	long stale;			/* directions whose sockets are gone (a
					 * proxy killed with live pairs) */
	struct na_splice_stats stats;	/* totals since enabled */
};

/* What is pinned under state_dir/splice (enabled false: nothing). */
int na_splice_summary(const char *state_dir, struct na_splice_summary *out,
		      struct na_reason *why);

#endif /* NETACCEL_SPLICE_H */
