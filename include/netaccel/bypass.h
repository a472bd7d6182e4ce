/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The local bypass's enrollments (lib/bypass.c): a cgroup goes on the fast
 * path, and comes off it without losing a byte. Every function works on
 * a state opened with na_state_open and fills why when it fails.
 */
#ifndef NETACCEL_BYPASS_H
#define NETACCEL_BYPASS_H

#include <stdint.h>

#include <netaccel/state.h>

struct na_cgroup;

/* What na_bypass_enroll did. */
enum na_enroll_done {
	NA_ENROLLED,			/* a new enrollment */
	NA_ENROLL_UNCHANGED,		/* enrolled already, as asked */
	NA_ENROLL_REPAIRED,		/* enrolled already; links an interrupted
					 * run left out are attached again */
	NA_ENROLL_MODE_CHANGED,
	NA_REENROLLED,			/* it was draining */
};

/*
 * Enroll cg with mode (0: all for a new enrollment, unchanged for an
 * existing one); *done says which, *mode_now the mode in force. A new
 * enrollment that fails half-way is undone. -ENOSPC when every slot is
 * taken.
 */
int na_bypass_enroll(const struct na_state *st, const struct na_cgroup *cg, uint32_t mode,
		     enum na_enroll_done *done, uint32_t *mode_now, struct na_reason *why);

/*
 * Stop new connections of the enrolled cgroup in slot from joining, and
 * detach it once nothing is left to drain. 0 when it is detached, the
 * number of accelerated sockets still draining (they keep the fast path
 * until they close), or a negative errno.
 */
int64_t na_bypass_unenroll(const struct na_state *st, uint32_t slot, struct na_cgroup_cfg *cfg,
			   struct na_reason *why);

/* The links of a cgroup, as bits of what na_bypass_links says is pinned. */
enum {
	NA_LINK_CREATE = 1 << 0,
	NA_LINK_SOCKOPS = 1 << 1,	/* kept while a slot drains */
	NA_LINK_SETSOCKOPT = 1 << 2,
	NA_LINK_GETSOCKOPT = 1 << 3,
	NA_LINKS_ALL = (1 << 4) - 1,
};
unsigned int na_bypass_links(const struct na_state *st, uint64_t cgid);

/* Stop new connections of every enrolled cgroup from joining (cleanup). */
int na_bypass_drain_all(const struct na_state *st, struct na_reason *why);

/* The slot enrolled under the path rel (relative to the cgroup root), for
 * a cgroup that is gone; -ENOENT when none is. */
int na_bypass_find_by_path(const struct na_state *st, const char *rel,
			   struct na_cgroup_cfg *cfg);

/*
 * Finish what earlier runs left half-done: unenroll cgroups that were
 * removed, detach slots that have drained, remove links no slot holds
 * (a run killed between the two). What it did goes to the log
 * (NA_LOG_INFO).
 */
void na_bypass_reconcile(const struct na_state *st);

/*
 * Remove every pin of the bypass, links first, then programs, then maps,
 * and the state directory. st may be one that could not be opened (its
 * dir set, fds -1): a half-made or mixed state goes pin by pin. Sockets
 * still on the fast path are cut.
 */
int na_bypass_remove(const struct na_state *st, struct na_reason *why);

#endif /* NETACCEL_BYPASS_H */
