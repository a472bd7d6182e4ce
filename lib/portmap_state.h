/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The port remap's open state, shared by portmap_state.c (pins, links,
 * reconcile, removal) and portmap.c (rules and counters), and the
 * decisions both make that need no kernel (tested in
 * tests/unit/test_portmap.c).
 */
#ifndef NA_LIB_PORTMAP_STATE_H
#define NA_LIB_PORTMAP_STATE_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <bpf/bpf.h>

#include <netaccel/portmap.h>

#include "objset.h"

struct na_pm {
	struct na_state lock;	/* the state directory, locked */
	char dir[PATH_MAX];	/* <state directory>/portmap */
	struct na_objset os;	/* maps and programs (with their hooks); the
				 * programs' fds stay here */
	int rules, bound, real, scopes, stats;	/* na_pm_rules ... na_pm_stats */
};

/* The port remap's pins in dir, as its object describes them. */
int na_pm_describe(struct na_objset *os, const char *dir, struct na_reason *why);

/* Attach every hook to cg through links pinned in portmap/, unless pinned
 * already; what it attached is undone when one fails. Remove cgid's links
 * (detaching its hooks). */
int na_pm_attach(const struct na_pm *pm, const struct na_cgroup *cg, struct na_reason *why);
int na_pm_detach(const struct na_pm *pm, uint64_t cgid);

/* The keys of map, key_size bytes each (at most 16), into keys (NULL:
 * only count them); how many, at most max. */
size_t na_pm_keys(int map, void *keys, size_t key_size, size_t max);

/* The cgroup of cgid as a person reads it: its scope's path, "/" for the
 * root, "(cgroup <id>)" when it has no scope. */
void na_pm_cgroup_name(const struct na_pm *pm, uint64_t cgid, char *out, size_t outlen);

/* The flags of a rule for vport (na_pm_rule_make), below unpriv_start a
 * privileged port. */
uint16_t na_pm_rule_flags(uint16_t vport, uint16_t rport, bool unpriv, unsigned int unpriv_start);

/* Why a rule cannot be added next to another one of the same protocol. */
enum na_pm_clash {
	NA_PM_NO_CLASH,
	NA_PM_REAL_TAKEN,	/* both fix the same real port: never bound at once */
	NA_PM_REAL_IS_VIRTUAL,	/* its real port is a virtual port of the cgroup,
				 * which a second hook run would remap again */
	NA_PM_VIRTUAL_IS_REAL,	/* its virtual port is the cgroup's real port of
				 * the other */
};

/* Whether the rule want -> rule clashes with the rule key -> r. */
enum na_pm_clash na_pm_clash(const struct na_pm_key *want, const struct na_pm_rule *rule,
			     const struct na_pm_key *key, const struct na_pm_rule *r);

/* Order of list: cgroup id, then protocol, then port (qsort). */
int na_pm_key_cmp(const void *a, const void *b);

#endif /* NA_LIB_PORTMAP_STATE_H */
