/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The node agent's policy file (policy.c): which cgroups to enroll and in
 * which mode, port remap rules and bridges for the veth redirect, read from
 * YAML with libyaml. Parsing is pure (no kernel, no cgroup tree); a file
 * that is wrong anywhere is refused whole, with the line and the reason.
 * docs/agent.md describes the format.
 */
#ifndef NA_POLICY_H
#define NA_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <netaccel/reason.h>

/* How a bypass rule names its cgroups. */
enum na_policy_sel {
	NA_POL_CGROUP,		/* a glob on paths below the cgroup root */
	NA_POL_UNIT,		/* a systemd unit: the cgroup named so, anywhere */
	NA_POL_CONTAINER,	/* a container id, prefix or glob ("*": all) */
	NA_POL_POD,		/* a Kubernetes pod's UID, prefix or glob ("*": all) */
};

struct na_policy_bypass {
	enum na_policy_sel sel;
	char *match;		/* as written; a cgroup glob without its leading '/' */
	uint32_t mode;		/* NA_MODE_ALL (the default) or NA_MODE_OPT_IN */
	int line;
};

struct na_policy_portmap {
	char *cgroup;		/* any form netaccel-ctl takes */
	uint16_t port;
	uint16_t real;		/* 0: the kernel picks one at bind */
	uint8_t proto;		/* NA_PM_TCP or NA_PM_UDP */
	bool unpriv;		/* allow_unprivileged */
	int line;
};

/* Bridges at most: those one veth attach works on (NA_VETH_MAX_BRIDGES). */
#define NA_POLICY_MAX_BRIDGES 16

struct na_policy {
	struct na_policy_bypass *bypass;
	size_t nbypass;
	struct na_policy_portmap *portmap;
	size_t nportmap;
	char **bridges;
	size_t nbridges;
};

/*
 * Parse the policy in text (len bytes) read from the file name. 0, or a
 * negative errno (-EINVAL: the file is wrong, -ENOMEM) with why holding
 * "<name>:<line>: <reason>". p is left empty on failure; free it with
 * na_policy_free either way.
 */
int na_policy_parse(const char *text, size_t len, const char *name, struct na_policy *p,
		    struct na_reason *why);

/* Read the file and parse it; a file that cannot be read is
 * "cannot read <file>: <errno text>". */
int na_policy_load(const char *file, struct na_policy *p, struct na_reason *why);

void na_policy_free(struct na_policy *p);

/*
 * What changed from old to new, rule by rule: fn gets '-' and the line of
 * each rule old has and new has not, then '+' and the line of each rule
 * new adds. How many lines, or -ENOMEM.
 */
int na_policy_diff(const struct na_policy *old, const struct na_policy *new,
		   void (*fn)(void *arg, char sign, const char *rule), void *arg);

/* "all" or "opt-in". */
const char *na_policy_mode_name(uint32_t mode);

#endif /* NA_POLICY_H */
