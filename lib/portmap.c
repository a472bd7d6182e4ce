// SPDX-License-Identifier: GPL-2.0-only
/*
 * The port remap's rules and counters (bpf/portmap.bpf.c): a rule gives a
 * cgroup's virtual port a real port; adding one attaches the cgroup's
 * hooks (portmap_state.c), and the counters are kept per cgroup and CPU.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>

#include "na_cgroup.h"
#include "internal.h"
#include "portmap_state.h"

/* A port number as typed: 1..65535, digits only. */
static int parse_port(const char *s, uint16_t *port)
{
	unsigned long v;

	if (!*s || strspn(s, "0123456789") != strlen(s) || strlen(s) > 5)
		return -EINVAL;
	v = strtoul(s, NULL, 10);
	if (v < 1 || v > 65535)
		return -EINVAL;
	*port = (uint16_t)v;
	return 0;
}

int na_pm_parse_rule(const char *s, bool real, uint16_t *vport, uint16_t *rport)
{
	char buf[32];
	char *colon;

	if (snprintf(buf, sizeof(buf), "%s", s) >= (int)sizeof(buf))
		return -EINVAL;
	colon = strchr(buf, ':');
	if (colon) {
		if (!real)
			return -EINVAL;
		*colon = '\0';
		if (parse_port(colon + 1, rport))
			return -EINVAL;
	}
	return parse_port(buf, vport);
}

/* The lowest unprivileged port in this network namespace. */
static unsigned int unprivileged_port_start(void)
{
	unsigned int v = 1024;
	FILE *f = fopen("/proc/sys/net/ipv4/ip_unprivileged_port_start", "r");

	if (f) {
		if (fscanf(f, "%u", &v) != 1)
			v = 1024;
		fclose(f);
	}
	return v;
}

uint16_t na_pm_rule_flags(uint16_t vport, uint16_t rport, bool unpriv, unsigned int unpriv_start)
{
	return (rport ? NA_PMF_FIXED : 0) | (unpriv ? NA_PMF_UNPRIV : 0) |
	       (vport < unpriv_start ? NA_PMF_PRIV_VPORT : 0);
}

struct na_pm_rule na_pm_rule_make(uint16_t vport, uint16_t rport, bool unpriv)
{
	return (struct na_pm_rule){
		.rport = rport,
		.flags = na_pm_rule_flags(vport, rport, unpriv, unprivileged_port_start()),
	};
}

const char *na_pm_proto_name(uint8_t proto)
{
	return proto == NA_PM_UDP ? "udp" : "tcp";
}

void na_pm_port_text(const struct na_pm_key *key, char *out, size_t outlen)
{
	snprintf(out, outlen, "%u/%s", key->vport, na_pm_proto_name(key->proto));
}

static const char *display(const struct na_cgroup *cg)
{
	return cg->rel[0] ? cg->rel : "/";
}

void na_pm_cgroup_name(const struct na_pm *pm, uint64_t cgid, char *out, size_t outlen)
{
	struct na_pm_scope sc;

	if (bpf_map_lookup_elem(pm->scopes, &cgid, &sc))
		snprintf(out, outlen, "(cgroup %llu)", (unsigned long long)cgid);
	else
		snprintf(out, outlen, "%s", sc.path[0] ? sc.path : "/");
}

/* A fixed real port may be neither another rule's real port (the two
 * could never bind at once) nor a virtual port in the same cgroup (a
 * second hook run would remap it again). */
enum na_pm_clash na_pm_clash(const struct na_pm_key *want, const struct na_pm_rule *rule,
			     const struct na_pm_key *key, const struct na_pm_rule *r)
{
	bool fixed = rule->flags & NA_PMF_FIXED;

	if (key->proto != want->proto)
		return NA_PM_NO_CLASH;
	if (fixed && (r->flags & NA_PMF_FIXED) && r->rport == rule->rport)
		return NA_PM_REAL_TAKEN;
	if (key->cgid != want->cgid)
		return NA_PM_NO_CLASH;
	if (fixed && key->vport == rule->rport)
		return NA_PM_REAL_IS_VIRTUAL;
	if ((r->flags & NA_PMF_FIXED) && r->rport == want->vport)
		return NA_PM_VIRTUAL_IS_REAL;
	return NA_PM_NO_CLASH;
}

/* The first rule the new one clashes with, said in why. */
static int check_clashes(const struct na_pm *pm, const struct na_pm_key *want,
			 const struct na_pm_rule *rule, const struct na_cgroup *cg,
			 struct na_reason *why)
{
	struct na_pm_key keys[NA_PM_MAX_RULES];
	size_t i, n = na_pm_keys(pm->rules, keys, sizeof(keys[0]), NA_PM_MAX_RULES);
	struct na_pm_scope sc;
	struct na_pm_rule r;
	char what[32];

	na_pm_port_text(want, what, sizeof(what));
	for (i = 0; i < n; i++) {
		const struct na_pm_key *k = &keys[i];

		if (bpf_map_lookup_elem(pm->rules, k, &r))
			continue;
		switch (na_pm_clash(want, rule, k, &r)) {
		case NA_PM_NO_CLASH:
			continue;
		case NA_PM_REAL_TAKEN:
			if (bpf_map_lookup_elem(pm->scopes, &k->cgid, &sc))
				sc.path[0] = '\0';
			return na_reason_set(why, -EADDRINUSE,
					     "cannot add %s in %s: real port %u is already the real port of %u/%s in %s",
					     what, display(cg), rule->rport, k->vport,
					     na_pm_proto_name(k->proto), sc.path[0] ? sc.path : "/");
		case NA_PM_REAL_IS_VIRTUAL:
			return na_reason_set(why, -EINVAL,
					     "cannot add %s in %s: real port %u is a virtual port of that cgroup",
					     what, display(cg), rule->rport);
		case NA_PM_VIRTUAL_IS_REAL:
			return na_reason_set(why, -EINVAL,
					     "cannot add %s in %s: %u is the real port of its rule for %u/%s",
					     what, display(cg), want->vport, k->vport,
					     na_pm_proto_name(k->proto));
		}
	}
	return 0;
}

int na_pm_rule_add(struct na_pm *pm, const struct na_cgroup *cg, const struct na_pm_key *key,
		   const struct na_pm_rule *rule, struct na_reason *why)
{
	struct na_pm_rule old;
	struct na_pm_scope sc;
	bool new_scope = false;
	char what[32];
	int err;

	na_pm_port_text(key, what, sizeof(what));
	if (!bpf_map_lookup_elem(pm->rules, key, &old))
		return na_reason_set(why, -EEXIST,
				     "cannot add %s in %s: the cgroup has a rule for it already",
				     what, display(cg));
	err = check_clashes(pm, key, rule, cg, why);
	if (err)
		return err;

	if (bpf_map_lookup_elem(pm->scopes, &cg->id, &sc)) {
		memset(&sc, 0, sizeof(sc));
		snprintf(sc.path, sizeof(sc.path), "%.*s", (int)sizeof(sc.path) - 1, cg->rel);
		new_scope = true;
		err = na_percpu_zero(pm->stats, &cg->id, sizeof(struct na_pm_stats), BPF_NOEXIST);
		if (err)
			goto fail;
	}
	sc.rules++;
	if (bpf_map_update_elem(pm->rules, key, rule, BPF_NOEXIST)) {
		err = -errno;
		goto fail;
	}
	if (bpf_map_update_elem(pm->scopes, &cg->id, &sc, BPF_ANY)) {
		err = -errno;
		goto undo_rule;
	}
	err = na_pm_attach(pm, cg, why);
	if (err)
		goto undo_scope;
	return 0;

undo_scope:
	if (new_scope) {
		na_pm_detach(pm, cg->id);
		bpf_map_delete_elem(pm->scopes, &cg->id);
	} else {
		sc.rules--;
		bpf_map_update_elem(pm->scopes, &cg->id, &sc, BPF_ANY);
	}
undo_rule:
	bpf_map_delete_elem(pm->rules, key);
fail:
	if (new_scope)
		bpf_map_delete_elem(pm->stats, &cg->id);
	return na_reason_set(why, err, "cannot add %s in %s: %s", what, display(cg),
			     strerror(-err));
}

int na_pm_rule_del(struct na_pm *pm, const struct na_cgroup *cg, const struct na_pm_key *key,
		   struct na_pm_bound *left, struct na_reason *why)
{
	struct na_pm_scope sc;
	struct na_pm_bound b;
	struct na_pm_rule r;
	char what[32];
	int err;

	memset(left, 0, sizeof(*left));
	na_pm_port_text(key, what, sizeof(what));
	if (bpf_map_lookup_elem(pm->rules, key, &r))
		return na_reason_set(why, -ENOENT, "%s has no rule for port %s", display(cg), what);
	if (bpf_map_delete_elem(pm->rules, key)) {
		err = -errno;
		return na_reason_set(why, err, "cannot delete the rule for %s in %s: %s", what,
				     display(cg), strerror(-err));
	}
	/* New binds stop being remapped now; sockets bound through the rule
	 * keep their real port, and connects in the cgroup still reach them. */
	if (!bpf_map_lookup_elem(pm->bound, key, &b)) {
		if (b.refs)
			*left = b;
		else
			bpf_map_delete_elem(pm->bound, key);
	}
	if (!bpf_map_lookup_elem(pm->scopes, &cg->id, &sc) && sc.rules > 0) {
		sc.rules--;
		bpf_map_update_elem(pm->scopes, &cg->id, &sc, BPF_ANY);
	}
	return 0;
}

int na_pm_key_cmp(const void *a, const void *b)
{
	const struct na_pm_key *x = a, *y = b;

	if (x->cgid != y->cgid)
		return x->cgid < y->cgid ? -1 : 1;
	if (x->proto != y->proto)
		return x->proto < y->proto ? -1 : 1;
	return (int)x->vport - (int)y->vport;
}

/* The entries of map (na_pm_rules or na_pm_bound), sorted; a binding only
 * while a socket holds it. */
static size_t list(const struct na_pm *pm, int map, struct na_pm_entry *out, size_t max)
{
	struct na_pm_key keys[NA_PM_MAX_RULES];
	size_t i, m = 0, n = na_pm_keys(map, keys, sizeof(keys[0]), NA_PM_MAX_RULES);

	qsort(keys, n, sizeof(keys[0]), na_pm_key_cmp);
	for (i = 0; i < n && m < max; i++) {
		struct na_pm_entry *e = &out[m];

		memset(e, 0, sizeof(*e));
		e->key = keys[i];
		e->has_rule = !bpf_map_lookup_elem(pm->rules, &keys[i], &e->rule);
		if (map == pm->rules ? !e->has_rule :
		    bpf_map_lookup_elem(map, &keys[i], &e->bound) || !e->bound.refs)
			continue;
		na_pm_cgroup_name(pm, keys[i].cgid, e->cgroup, sizeof(e->cgroup));
		m++;
	}
	return m;
}

size_t na_pm_rules(struct na_pm *pm, struct na_pm_entry *out, size_t max)
{
	return list(pm, pm->rules, out, max);
}

size_t na_pm_bindings(struct na_pm *pm, struct na_pm_entry *out, size_t max)
{
	return list(pm, pm->bound, out, max);
}

void na_pm_count(struct na_pm *pm, int *rules, int *cgroups)
{
	*rules = (int)na_pm_keys(pm->rules, NULL, sizeof(struct na_pm_key), NA_PM_MAX_RULES);
	*cgroups = (int)na_pm_keys(pm->scopes, NULL, sizeof(uint64_t), NA_PM_MAX_CGROUPS);
}

size_t na_pm_cgroups(struct na_pm *pm, struct na_pm_cgroup *out, size_t max,
		     struct na_pm_stats *total)
{
	_Static_assert(sizeof(*total) == NA_PM_NUM_COUNTERS * sizeof(uint64_t),
		       "struct na_pm_stats is its counters");
	uint64_t ids[NA_PM_MAX_CGROUPS];
	size_t i, k, m = 0, n = na_pm_keys(pm->scopes, ids, sizeof(ids[0]), NA_PM_MAX_CGROUPS);

	memset(total, 0, sizeof(*total));
	for (i = 0; i < n && m < max; i++) {
		struct na_pm_cgroup *c = &out[m];

		c->id = ids[i];
		if (bpf_map_lookup_elem(pm->scopes, &ids[i], &c->scope) ||
		    na_percpu_sum(pm->stats, &ids[i], (uint64_t *)&c->stats, NA_PM_NUM_COUNTERS))
			continue;
		for (k = 0; k < NA_PM_NUM_COUNTERS; k++)
			((uint64_t *)total)[k] += ((const uint64_t *)&c->stats)[k];
		m++;
	}
	return m;
}
