// SPDX-License-Identifier: GPL-2.0-only
/*
 * The node agent's plan: walk the cgroup v2 hierarchy and give each cgroup
 * the first bypass rule that matches it, resolve port rules' cgroups, look
 * bridges up, and compare all of it with what netaccel's state holds
 * (enrollments and their modes, port rules, attached bridges). Reads only.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <netaccel/bypass.h>
#include <netaccel/portmap.h>
#include <netaccel/veth.h>

#include "plan.h"

/* How deep below the root the walk goes. */
#define WALK_MAX_DEPTH 32
/* Port rules read from the state at most. */
#define PM_MAX_RULES 4096

static struct na_action *add(struct na_plan *plan, enum na_action_kind kind)
{
	struct na_action *a = reallocarray(plan->a, plan->n + 1, sizeof(*a));

	if (!a)
		return NULL;
	plan->a = a;
	a = &a[plan->n++];
	memset(a, 0, sizeof(*a));
	a->kind = kind;
	return a;
}

static const char *base(const char *rel)
{
	const char *s = strrchr(rel, '/');

	return s ? s + 1 : rel;
}

bool na_plan_matches(const struct na_policy_bypass *rule, const char *rel)
{
	char id[NA_CONTAINER_ID_LEN + 1];

	switch (rule->sel) {
	case NA_POL_CGROUP:
		if (!strcmp(rule->match, "/"))
			return !*rel;
		return *rel && !fnmatch(rule->match, rel, FNM_PATHNAME);
	case NA_POL_UNIT:
		return *rel && !fnmatch(rule->match, base(rel), 0);
	case NA_POL_CONTAINER:
		if (!na_cgroup_scope_id(base(rel), id))
			return false;
		if (strpbrk(rule->match, "*?["))
			return !fnmatch(rule->match, id, 0);
		return !strncmp(id, rule->match, strlen(rule->match));
	}
	return false;
}

struct walk {
	const struct na_policy *p;
	const char *root;
	dev_t dev;
	struct na_plan *plan;
	bool *matched;		/* per bypass rule */
	char rel[PATH_MAX];
};

static int visit(struct walk *w)
{
	char path[PATH_MAX * 2];
	struct na_action *a;
	size_t i;

	for (i = 0; i < w->p->nbypass; i++)
		if (na_plan_matches(&w->p->bypass[i], w->rel))
			break;
	if (i == w->p->nbypass)
		return 0;
	w->matched[i] = true;
	a = add(w->plan, NA_ACT_ENROLL);
	if (!a)
		return -ENOMEM;
	a->mode = w->p->bypass[i].mode;
	snprintf(path, sizeof(path), "%s/%s", w->root, w->rel);
	/* Gone since it was listed: nothing to do for it. */
	if (na_cgroup_from_path(w->root, path, &a->cg))
		w->plan->n--;
	return 0;
}

static int only_dirs(const struct dirent *de)
{
	return (de->d_type == DT_DIR || de->d_type == DT_UNKNOWN) && strcmp(de->d_name, ".") &&
	       strcmp(de->d_name, "..");
}

/* Visit w->rel, then the cgroups below it in name order, on the root's file
 * system only. */
static int walk(struct walk *w, int depth)
{
	struct dirent **names;
	size_t len = strlen(w->rel);
	char path[PATH_MAX * 2];
	struct stat sb;
	int i, n, err;

	err = visit(w);
	if (err || depth >= WALK_MAX_DEPTH)
		return err;
	snprintf(path, sizeof(path), "%s/%s", w->root, w->rel);
	n = scandir(path, &names, only_dirs, alphasort);
	if (n < 0)
		return 0;	/* removed while we looked */
	for (i = 0; i < n; i++) {
		if (!err && len + strlen(names[i]->d_name) + 2 < sizeof(w->rel)) {
			snprintf(w->rel + len, sizeof(w->rel) - len, "%s%s", len ? "/" : "",
				 names[i]->d_name);
			snprintf(path, sizeof(path), "%s/%s", w->root, w->rel);
			if (!lstat(path, &sb) && S_ISDIR(sb.st_mode) && sb.st_dev == w->dev)
				err = walk(w, depth + 1);
			w->rel[len] = '\0';
		}
		free(names[i]);
	}
	free(names);
	return err;
}

/* Enrollments: what the state says of each cgroup the walk found. */
static int plan_bypass(const struct na_policy *p, const char *root, const char *dir,
		       struct na_plan *plan, struct na_reason *why)
{
	struct walk w = { .p = p, .root = root, .plan = plan };
	struct na_cgroup_cfg cfg;
	struct na_state st;
	struct stat sb;
	size_t i;
	int err;

	if (!p->nbypass)
		return 0;
	if (stat(root, &sb))
		return na_reason_set(why, -errno, "cannot read %s: %s", root, strerror(errno));
	w.dev = sb.st_dev;
	w.matched = calloc(p->nbypass, sizeof(*w.matched));
	if (!w.matched)
		return -ENOMEM;
	err = walk(&w, 0);
	for (i = 0; !err && i < p->nbypass; i++) {
		struct na_action *a = w.matched[i] ? NULL : add(plan, NA_ACT_NO_MATCH);

		if (!w.matched[i] && !a)
			err = -ENOMEM;
		else if (a)
			a->rule = &p->bypass[i];
	}
	free(w.matched);
	if (err)
		return err;

	err = na_state_open(&st, dir, 0, why);
	if (err == -ENOENT) {
		na_reason_clear(why);
		return 0;	/* nothing is enrolled */
	}
	if (err)
		return err;
	for (i = 0; i < plan->n; i++) {
		struct na_action *a = &plan->a[i];

		if (a->kind != NA_ACT_ENROLL || na_state_find_slot(&st, a->cg.id, &cfg) < 0 ||
		    cfg.state != NA_SLOT_ACTIVE)
			continue;
		a->was = cfg.mode;
		a->kind = cfg.mode == a->mode ? NA_ACT_KEEP : NA_ACT_MODE;
	}
	na_state_close(&st);
	return 0;
}

static void rule_text(uint16_t vport, const struct na_pm_rule *r, char *buf, size_t len)
{
	if (r->flags & NA_PMF_FIXED)
		snprintf(buf, len, "%u:%u", vport, r->rport);
	else
		snprintf(buf, len, "%u", vport);
}

/* Port rules: resolve each rule's cgroup, find the rule of the state for
 * its port. */
static int plan_portmap(const struct na_policy *p, const char *root, const char *dir,
			struct na_plan *plan, struct na_reason *why)
{
	struct na_pm_entry *rules = NULL;
	struct na_pm *pm = NULL;
	size_t i, j, nrules = 0;
	int err;

	if (!p->nportmap)
		return 0;
	err = na_pm_open(&pm, dir, 0, why);
	if (err && err != -ENOENT)
		return err;
	na_reason_clear(why);
	if (pm) {
		rules = calloc(PM_MAX_RULES, sizeof(*rules));
		if (!rules) {
			na_pm_close(pm);
			return -ENOMEM;
		}
		nrules = na_pm_rules(pm, rules, PM_MAX_RULES);
		na_pm_close(pm);
	}
	for (i = 0; i < p->nportmap; i++) {
		const struct na_policy_portmap *r = &p->portmap[i];
		struct na_action *a = add(plan, NA_ACT_PM_ADD);
		struct na_pm_rule want = na_pm_rule_make(r->port, r->real, r->unpriv);

		if (!a) {
			free(rules);
			return -ENOMEM;
		}
		a->pm = r;
		if (na_cgroup_resolve(root, "/proc", r->cgroup, &a->cg, a->note, sizeof(a->note))) {
			a->kind = NA_ACT_PM_SKIP;
			continue;
		}
		for (j = 0; j < nrules; j++) {
			const struct na_pm_entry *e = &rules[j];

			if (!e->has_rule || e->key.cgid != a->cg.id || e->key.vport != r->port ||
			    e->key.proto != r->proto)
				continue;
			if (e->rule.rport == want.rport && e->rule.flags == want.flags) {
				a->kind = NA_ACT_PM_KEEP;
			} else {
				a->kind = NA_ACT_PM_OTHER;
				rule_text(r->port, &e->rule, a->note, sizeof(a->note));
			}
		}
	}
	free(rules);
	return 0;
}

/* Bridges: each must exist with a port the redirect can use; attached
 * already when a port of it is in the state. */
static int plan_veth(const struct na_policy *p, const char *dir, struct na_plan *plan)
{
	struct na_veth_state *v = NULL;
	struct na_veth_list l = { 0 };
	struct na_reason why = { 0 };
	size_t i, j;
	int ifindex;

	if (!p->nbridges)
		return 0;
	if (!na_veth_open(&v, dir, 0, NULL) && na_veth_list(v, true, &l)) {
		na_veth_list_free(&l);
		memset(&l, 0, sizeof(l));
	}
	for (i = 0; i < p->nbridges; i++) {
		struct na_veth_sel sel = { .bridges = (const char *const *)&p->bridges[i],
					   .nbridges = 1 };
		struct na_action *a = add(plan, NA_ACT_VETH_ATTACH);

		if (!a)
			break;
		a->bridge = p->bridges[i];
		na_reason_clear(&why);
		if (na_veth_resolve(&sel, NA_VETH_BRIDGES_USED, &ifindex, NULL, &why)) {
			a->kind = NA_ACT_VETH_SKIP;
			snprintf(a->note, sizeof(a->note), "%s",
				 why.msg[0] ? why.msg : "cannot look it up");
			continue;
		}
		for (j = 0; j < l.nports; j++)
			if (!strcmp(l.ports[j].bridge, a->bridge))
				a->kind = NA_ACT_VETH_KEEP;
	}
	na_veth_list_free(&l);
	if (v)
		na_veth_close(v);
	return i == p->nbridges ? 0 : -ENOMEM;
}

int na_plan_make(const struct na_policy *p, const char *root, const char *state_dir,
		 struct na_plan *plan, struct na_reason *why)
{
	int err;

	memset(plan, 0, sizeof(*plan));
	err = plan_bypass(p, root, state_dir, plan, why);
	if (!err)
		err = plan_portmap(p, root, state_dir, plan, why);
	if (!err)
		err = plan_veth(p, state_dir, plan);
	if (err)
		na_plan_free(plan);
	return err;
}

void na_plan_free(struct na_plan *plan)
{
	free(plan->a);
	memset(plan, 0, sizeof(*plan));
}

static const char *display(const struct na_cgroup *cg)
{
	return cg->rel[0] ? cg->rel : "/";
}

static const char *const sel_names[] = {
	[NA_POL_CGROUP] = "cgroup", [NA_POL_UNIT] = "unit", [NA_POL_CONTAINER] = "container",
};

void na_action_text(const struct na_action *a, char *buf, size_t len)
{
	const struct na_policy_portmap *r = a->pm;
	struct na_pm_rule want;
	char rule[32] = "";

	if (r) {
		want = na_pm_rule_make(r->port, r->real, r->unpriv);
		rule_text(r->port, &want, rule, sizeof(rule));
	}
	switch (a->kind) {
	case NA_ACT_ENROLL:
		snprintf(buf, len, "enroll %s (mode %s)", display(&a->cg),
			 na_policy_mode_name(a->mode));
		break;
	case NA_ACT_KEEP:
		snprintf(buf, len, "keep %s (enrolled, mode %s)", display(&a->cg),
			 na_policy_mode_name(a->was));
		break;
	case NA_ACT_MODE:
		snprintf(buf, len, "set mode %s of %s (enrolled, mode %s)",
			 na_policy_mode_name(a->mode), display(&a->cg), na_policy_mode_name(a->was));
		break;
	case NA_ACT_NO_MATCH:
		snprintf(buf, len, "no cgroup matches %s \"%s\" (line %d)", sel_names[a->rule->sel],
			 a->rule->match, a->rule->line);
		break;
	case NA_ACT_PM_ADD:
	case NA_ACT_PM_KEEP:
		snprintf(buf, len, "%s %s %s %s%s",
			 a->kind == NA_ACT_PM_KEEP ? "keep portmap" : "portmap add",
			 display(&a->cg), na_pm_proto_name(r->proto), rule,
			 r->unpriv ? " --allow-unprivileged" : "");
		break;
	case NA_ACT_PM_OTHER:
		snprintf(buf, len, "keep portmap %s %s %s (the policy says %s; the agent does not replace rules)",
			 display(&a->cg), na_pm_proto_name(r->proto), a->note, rule);
		break;
	case NA_ACT_PM_SKIP:
		snprintf(buf, len, "skip portmap %s %s %s (%s)", r->cgroup,
			 na_pm_proto_name(r->proto), rule, a->note);
		break;
	case NA_ACT_VETH_ATTACH:
		snprintf(buf, len, "veth attach --bridge %s", a->bridge);
		break;
	case NA_ACT_VETH_KEEP:
		snprintf(buf, len, "keep veth attach --bridge %s", a->bridge);
		break;
	case NA_ACT_VETH_SKIP:
		snprintf(buf, len, "skip veth attach --bridge %s (%s)", a->bridge, a->note);
		break;
	}
}
