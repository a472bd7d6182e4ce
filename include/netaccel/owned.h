/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What the node agent made, so that it undoes that and nothing else: a
 * pinned hash map <state directory>/agent/owned with one entry per
 * enrollment, port rule and bridge the agent added. Enrollments and rules
 * made by hand are never in it. It lives in bpffs beside the state it
 * describes, so an agent that restarts finds it, and `cleanup` removes it
 * with the rest. The agent/ directory's flock says an agent is running.
 */
#ifndef NETACCEL_OWNED_H
#define NETACCEL_OWNED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <netaccel/reason.h>

enum na_owned_kind {
	NA_OWNED_BYPASS = 1,	/* id: the enrolled cgroup's id */
	NA_OWNED_PORTMAP = 2,	/* id: the cgroup's id; port, proto: the rule's */
	NA_OWNED_VETH = 3,	/* id: the bridge's interface index */
};

/* The map's key (its value is unused). */
struct na_owned {
	uint64_t id;
	uint16_t port;
	uint8_t kind;
	uint8_t proto;
	uint32_t pad;
};

struct na_owned_map {
	int fd;			/* the map; -1 when there is none yet */
	int dir_fd;		/* agent/, holding its lock with NA_OWNED_LOCK */
};

enum {
	NA_OWNED_CREATE = 1 << 0,	/* mount bpffs, make agent/ and the map */
	NA_OWNED_LOCK = 1 << 1,		/* be the one agent of this state */
};

/*
 * Open the record of the state directory dir. Without NA_OWNED_CREATE a
 * missing one is an empty record (m->fd -1), not an error. With
 * NA_OWNED_LOCK, -EBUSY when another agent holds it. Close with
 * na_owned_close, also on failure.
 */
int na_owned_open(struct na_owned_map *m, const char *dir, unsigned int flags,
		  struct na_reason *why);
void na_owned_close(struct na_owned_map *m);

int na_owned_add(const struct na_owned_map *m, const struct na_owned *o);
int na_owned_del(const struct na_owned_map *m, const struct na_owned *o);
bool na_owned_has(const struct na_owned_map *m, const struct na_owned *o);
/* The entries, at most max; how many. */
size_t na_owned_list(const struct na_owned_map *m, struct na_owned *out, size_t max);

/* Whether an agent runs on the state directory dir now. */
bool na_owned_busy(const char *dir);
/* Remove the record and agent/ (cleanup): -EBUSY while an agent runs, 1
 * when there was one, 0 when there was none. */
int na_owned_remove(const char *dir, struct na_reason *why);

#endif /* NETACCEL_OWNED_H */
