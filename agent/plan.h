/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What the node agent does with a policy (plan.c, apply.c): the policy
 * resolved against the cgroup tree and netaccel's state into actions, one
 * line each, which --check prints and --once carries out. The agent adds
 * what the policy names (enrolls, changes a mode, adds port rules, attaches
 * bridges) and undoes what it made itself once the policy no longer names
 * it (its record: <netaccel/owned.h>); what it finds made by hand it
 * leaves as it is.
 */
#ifndef NA_PLAN_H
#define NA_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <netaccel/owned.h>

#include "na_cgroup.h"
#include "policy.h"

enum na_action_kind {
	NA_ACT_ENROLL,		/* not enrolled (or draining): enroll */
	NA_ACT_KEEP,		/* enrolled in the policy's mode */
	NA_ACT_MODE,		/* enrolled in another mode: change it */
	NA_ACT_NO_MATCH,	/* a bypass rule that names no cgroup now */
	NA_ACT_PM_ADD,
	NA_ACT_PM_KEEP,
	NA_ACT_PM_OTHER,	/* the port has another rule: left as it is */
	NA_ACT_PM_SKIP,		/* its cgroup cannot be resolved now */
	NA_ACT_VETH_ATTACH,
	NA_ACT_VETH_KEEP,
	NA_ACT_VETH_SKIP,	/* no such bridge, or nothing on it to attach to */
	/* What the agent made and the policy no longer names: */
	NA_ACT_UNENROLL,
	NA_ACT_PM_DEL,
	NA_ACT_VETH_DETACH,
	NA_ACT_FORGET,		/* gone already: only the record is left */
};

struct na_action {
	enum na_action_kind kind;
	struct na_cgroup cg;			/* bypass and portmap */
	uint32_t mode, was;			/* bypass: the policy's, the one in force */
	const struct na_policy_bypass *rule;	/* NA_ACT_NO_MATCH */
	const struct na_policy_portmap *pm;
	const char *bridge;
	char note[NA_REASON_MAX];		/* why skipped; the rule in force; what
						 * a release names */
	struct na_owned own;			/* what the agent's record says of it */
	bool failed;				/* na_plan_apply could not */
};

struct na_plan {
	struct na_action *a;
	size_t n;
};

/*
 * Resolve policy p against the cgroup v2 hierarchy at root, the state
 * under state_dir and the agent's record owned (may be NULL: nothing is
 * released); changes nothing. 0, or a negative errno with why.
 */
int na_plan_make(const struct na_policy *p, const char *root, const char *state_dir,
		 const struct na_owned_map *owned, struct na_plan *plan, struct na_reason *why);

/* Whether the action changes something (not keep, skip or no match). */
bool na_action_changes(const struct na_action *a);
void na_plan_free(struct na_plan *plan);

/* The line an action is shown as (--check), or was done as (--once). */
void na_action_text(const struct na_action *a, char *buf, size_t len);

/* Whether rule matches the cgroup at rel ("" for the root) (plan.c). */
bool na_plan_matches(const struct na_policy_bypass *rule, const char *rel);

/*
 * Carry the plan out (apply.c), keeping the agent's record owned (may be
 * NULL) of what it made and undid: each failure goes to err as
 * "netaccel-agent: cannot <action>: <reason>" and does not stop the others;
 * then the line of every action done (or found done) goes to out, or with
 * quiet only those that changed something. How many failed.
 */
int na_plan_apply(struct na_plan *plan, const char *state_dir, const struct na_owned_map *owned,
		  bool quiet, FILE *out, FILE *err);

#endif /* NA_PLAN_H */
