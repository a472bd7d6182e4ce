/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The port remap (lib/portmap.c, lib/portmap_state.c): per-cgroup port
 * views. A rule gives a cgroup's virtual port a real port, fixed or one
 * the kernel picks at bind; the cgroup's hooks stay attached while it has
 * rules or sockets bound through one. Everything lives in the portmap/
 * subdirectory of the state directory, under the state directory's lock.
 * Every function that can fail returns a negative errno and fills why.
 */
#ifndef NETACCEL_PORTMAP_H
#define NETACCEL_PORTMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <netaccel/state.h>

#define NA_PM_SUBDIR "portmap"

struct na_cgroup;

/* An open port remap state; it holds the state directory's lock. */
struct na_pm;

/*
 * Open the port remap state of the state directory dir and take its lock.
 * With NA_STATE_CREATE, mount bpffs where needed, make portmap/, and load
 * and pin whatever is missing (completing a half-made state). Without it:
 * -ENOENT when there is no state, -ENODATA (NA_WHY_STATE_INCOMPLETE) when
 * part of it is missing. A load the verifier refused is
 * NA_WHY_LOAD_FAILED. Close with na_pm_close.
 */
int na_pm_open(struct na_pm **pm, const char *dir, unsigned int flags, struct na_reason *why);
void na_pm_close(struct na_pm *pm);

/* Where its pins are: <state directory>/portmap. */
const char *na_pm_dir(const struct na_pm *pm);

/*
 * Detach the cgroups that have no rule and no socket bound through one,
 * forget removed cgroups, remove links no cgroup holds (a run killed
 * half-way) and, with repair, attach again the links an interrupted run
 * left out of the others. What it did goes to the log (NA_LOG_INFO). 0,
 * or the first repair that failed (the others are still tried).
 */
int na_pm_reconcile(struct na_pm *pm, bool repair, struct na_reason *why);

/* A rule as typed: "<port>" or, with real, "<port>:<real port>"; ports
 * 1-65535, digits only. *rport is left alone when none is given. 0 or
 * -EINVAL. */
int na_pm_parse_rule(const char *s, bool real, uint16_t *vport, uint16_t *rport);

/* The rule for vport: real port rport (0: one the kernel picks), unpriv
 * to let processes without CAP_NET_BIND_SERVICE bind a virtual port below
 * this network namespace's first unprivileged port (NA_PMF_PRIV_VPORT). */
struct na_pm_rule na_pm_rule_make(uint16_t vport, uint16_t rport, bool unpriv);

/* "tcp" or "udp"; a port as "3000/tcp". */
const char *na_pm_proto_name(uint8_t proto);
void na_pm_port_text(const struct na_pm_key *key, char *out, size_t outlen);

/*
 * Add rule for key in cg (key->cgid is cg's id) and attach the cgroup's
 * hooks; undone when any of it fails. -EEXIST when the cgroup has a rule
 * for the port already, -EADDRINUSE or -EINVAL when the real port clashes
 * with another rule; a refused attachment is NA_WHY_ATTACH_FAILED.
 */
int na_pm_rule_add(struct na_pm *pm, const struct na_cgroup *cg, const struct na_pm_key *key,
		   const struct na_pm_rule *rule, struct na_reason *why);

/*
 * Delete the rule for key in cg. New binds stop being remapped; sockets
 * bound through the rule keep their real port until they close: *left is
 * their binding (refs 0: none). -ENOENT when there is no such rule.
 */
int na_pm_rule_del(struct na_pm *pm, const struct na_cgroup *cg, const struct na_pm_key *key,
		   struct na_pm_bound *left, struct na_reason *why);

/* A rule, or a port bound through one, as list shows it. */
struct na_pm_entry {
	struct na_pm_key key;
	char cgroup[NA_CGROUP_PATH_MAX + 32];	/* its path ("/": the root), or
						 * "(cgroup <id>)" when unknown */
	bool has_rule;			/* rule holds the key's rule */
	struct na_pm_rule rule;
	struct na_pm_bound bound;	/* na_pm_bindings only */
};

/* The rules, and the ports bound now through a rule (refs > 0, its rule
 * deleted or not), sorted by cgroup id, protocol and port. How many, at
 * most max. */
size_t na_pm_rules(struct na_pm *pm, struct na_pm_entry *out, size_t max);
size_t na_pm_bindings(struct na_pm *pm, struct na_pm_entry *out, size_t max);

/* How many rules there are, and cgroups with the hooks attached. */
void na_pm_count(struct na_pm *pm, int *rules, int *cgroups);

/* A cgroup with the hooks attached, and its counters summed over the
 * CPUs. */
struct na_pm_cgroup {
	uint64_t id;
	struct na_pm_scope scope;	/* its path and how many rules it has */
	struct na_pm_stats stats;
};

/* The cgroups with the hooks attached, in the kernel's order, and the sum
 * of their counters in *total. How many, at most max. */
size_t na_pm_cgroups(struct na_pm *pm, struct na_pm_cgroup *out, size_t max,
		     struct na_pm_stats *total);

/* A program of the port remap and its id in the kernel (0: unknown). */
struct na_pm_prog {
	char name[64];
	uint32_t id;
};

/* The programs, in the BPF object's order; how many, at most max. */
#define NA_PM_MAX_PROGS 32
size_t na_pm_programs(const struct na_pm *pm, struct na_pm_prog *out, size_t max);

/*
 * Remove the port remap of the state directory dir: links first
 * (detaching), then programs, then maps, then portmap/. 1 when there was
 * one (*rules: how many rules it had), 0 when there was none.
 */
int na_pm_remove(const char *dir, int *rules, struct na_reason *why);

#endif /* NETACCEL_PORTMAP_H */
