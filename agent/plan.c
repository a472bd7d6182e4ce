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
#include <net/if.h>
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
/* Entries of the agent's record read at most. */
#define OWNED_MAX 16384

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

/* A pod UID as Kubernetes writes it: 8-4-4-4-12 hex digits. */
#define POD_UID_LEN 36

/*
 * The UID of the pod whose cgroup is rel, as the kubelet names it:
 * "kubepods-<qos>-pod<uid with _ for ->.slice" with the systemd cgroup
 * driver, "pod<uid>" below a kubepods directory with the cgroupfs one.
 */
static bool pod_uid(const char *rel, char uid[POD_UID_LEN + 1])
{
	const char *b = base(rel), *s;
	size_t i;

	if (!strncmp(b, "kubepods-", 9) && (s = strstr(b, "-pod")) &&
	    strlen(s) == 4 + POD_UID_LEN + strlen(".slice") && !strcmp(s + 4 + POD_UID_LEN, ".slice"))
		s += 4;
	else if (!strncmp(b, "pod", 3) && strlen(b) == 3 + POD_UID_LEN && strstr(rel, "kubepods"))
		s = b + 3;
	else
		return false;
	for (i = 0; i < POD_UID_LEN; i++) {
		char ch = s[i] == '_' ? '-' : s[i];

		if (ch == '-' ? !(i == 8 || i == 13 || i == 18 || i == 23) :
				!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f')))
			return false;
		uid[i] = ch;
	}
	uid[POD_UID_LEN] = '\0';
	return true;
}

bool na_plan_matches(const struct na_policy_bypass *rule, const char *rel)
{
	char uid[POD_UID_LEN + 1];
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
	case NA_POL_POD:
		if (!pod_uid(rel, uid))
			return false;
		if (strpbrk(rule->match, "*?["))
			return !fnmatch(rule->match, uid, 0);
		return !strncmp(uid, rule->match, strlen(rule->match));
	}
	return false;
}

struct walk {
	const struct na_policy *p;
	const char *root;
	dev_t dev;
	struct na_plan *plan;
	bool *matched;		/* per bypass rule */
	uint64_t *ids;		/* of every cgroup seen, sorted after the walk */
	size_t nids, maxids;
	char rel[PATH_MAX];
};

/* A cgroup's id is its directory's inode number. */
static int seen(struct walk *w, uint64_t id)
{
	if (w->nids == w->maxids) {
		size_t n = w->maxids * 2 + 256;
		uint64_t *ids = reallocarray(w->ids, n, sizeof(*ids));

		if (!ids)
			return -ENOMEM;
		w->ids = ids;
		w->maxids = n;
	}
	w->ids[w->nids++] = id;
	return 0;
}

static int cmp_id(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static bool exists(const struct walk *w, uint64_t id)
{
	return bsearch(&id, w->ids, w->nids, sizeof(id), cmp_id);
}

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
			if (!lstat(path, &sb) && S_ISDIR(sb.st_mode) && sb.st_dev == w->dev) {
				err = seen(w, (uint64_t)sb.st_ino);
				if (!err)
					err = walk(w, depth + 1);
			}
			w->rel[len] = '\0';
		}
		free(names[i]);
	}
	free(names);
	return err;
}

/* The agent's record, NA_OWNED_<kind> entries only; how many (max at
 * most). */
static size_t owned_of(const struct na_owned_map *owned, uint8_t kind, struct na_owned *out,
		       size_t max)
{
	size_t i, j, n;

	if (!owned)
		return 0;
	n = na_owned_list(owned, out, max);
	for (i = j = 0; i < n; i++)
		if (out[i].kind == kind)
			out[j++] = out[i];
	return j;
}

/* Whether the policy still wants o's object (the plan holds an action
 * that adds or keeps it). */
static bool planned(const struct na_plan *plan, const struct na_owned *o)
{
	size_t i;

	for (i = 0; i < plan->n; i++) {
		const struct na_action *a = &plan->a[i];

		switch (o->kind) {
		case NA_OWNED_BYPASS:
			if ((a->kind == NA_ACT_ENROLL || a->kind == NA_ACT_KEEP ||
			     a->kind == NA_ACT_MODE) && a->cg.id == o->id)
				return true;
			break;
		case NA_OWNED_PORTMAP:
			if ((a->kind == NA_ACT_PM_ADD || a->kind == NA_ACT_PM_KEEP) &&
			    a->cg.id == o->id && a->pm->port == o->port && a->pm->proto == o->proto)
				return true;
			break;
		case NA_OWNED_VETH:
			if (a->own.kind == NA_OWNED_VETH && a->own.id == o->id)
				return true;
			break;
		}
	}
	return false;
}

static struct na_action *release(struct na_plan *plan, enum na_action_kind kind,
				 const struct na_owned *o)
{
	struct na_action *a = add(plan, kind);

	if (a)
		a->own = *o;
	return a;
}

/* Enrollments the agent made that the policy no longer names: unenroll
 * them, or forget those whose cgroup is gone (reconcile frees the slot). */
static int release_bypass(const struct na_owned_map *owned, const struct na_state *st,
			  const struct walk *w, struct na_plan *plan)
{
	struct na_owned *own = calloc(OWNED_MAX, sizeof(*own));
	struct na_cgroup_cfg cfg;
	struct na_action *a;
	size_t i, n;

	if (!own)
		return -ENOMEM;
	n = owned_of(owned, NA_OWNED_BYPASS, own, OWNED_MAX);
	for (i = 0; i < n; i++) {
		if (planned(plan, &own[i]))
			continue;
		if (st && exists(w, own[i].id) && na_state_find_slot(st, own[i].id, &cfg) >= 0 &&
		    cfg.state == NA_SLOT_ACTIVE) {
			a = release(plan, NA_ACT_UNENROLL, &own[i]);
			if (a)
				snprintf(a->note, sizeof(a->note), "%s",
					 cfg.path[0] ? cfg.path : "/");
		} else {
			a = release(plan, NA_ACT_FORGET, &own[i]);
			if (a)
				snprintf(a->note, sizeof(a->note), "enrollment of cgroup %llu",
					 (unsigned long long)own[i].id);
		}
		if (!a)
			break;
	}
	free(own);
	return i == n ? 0 : -ENOMEM;
}

/* Enrollments: what the state says of each cgroup the walk found. */
static int plan_bypass(const struct na_policy *p, const char *root, const char *dir,
		       const struct na_owned_map *owned, struct na_plan *plan,
		       struct na_reason *why)
{
	struct walk w = { .p = p, .root = root, .plan = plan };
	struct na_cgroup_cfg cfg;
	struct na_owned any;
	struct na_state st;
	struct stat sb;
	size_t i;
	int err;

	if (!p->nbypass && !owned_of(owned, NA_OWNED_BYPASS, &any, 1))
		return 0;
	if (stat(root, &sb))
		return na_reason_set(why, -errno, "cannot read %s: %s", root, strerror(errno));
	w.dev = sb.st_dev;
	w.matched = calloc(p->nbypass + 1, sizeof(*w.matched));
	if (!w.matched)
		return -ENOMEM;
	err = seen(&w, (uint64_t)sb.st_ino);
	if (!err)
		err = walk(&w, 0);
	qsort(w.ids, w.nids, sizeof(*w.ids), cmp_id);
	for (i = 0; !err && i < p->nbypass; i++) {
		struct na_action *a = w.matched[i] ? NULL : add(plan, NA_ACT_NO_MATCH);

		if (!w.matched[i] && !a)
			err = -ENOMEM;
		else if (a)
			a->rule = &p->bypass[i];
	}
	free(w.matched);
	if (err)
		goto out;
	err = na_state_open(&st, dir, 0, why);
	if (err == -ENOENT) {
		na_reason_clear(why);
		err = release_bypass(owned, NULL, &w, plan);	/* nothing is enrolled */
		goto out;
	}
	if (err)
		goto out;
	for (i = 0; i < plan->n; i++) {
		struct na_action *a = &plan->a[i];

		if (a->kind != NA_ACT_ENROLL || na_state_find_slot(&st, a->cg.id, &cfg) < 0 ||
		    cfg.state != NA_SLOT_ACTIVE)
			continue;
		a->was = cfg.mode;
		a->kind = cfg.mode == a->mode ? NA_ACT_KEEP : NA_ACT_MODE;
	}
	err = release_bypass(owned, &st, &w, plan);
	na_state_close(&st);
out:
	free(w.ids);
	return err;
}

static void rule_text(uint16_t vport, const struct na_pm_rule *r, char *buf, size_t len)
{
	if (r->flags & NA_PMF_FIXED)
		snprintf(buf, len, "%u:%u", vport, r->rport);
	else
		snprintf(buf, len, "%u", vport);
}

/* Port rules the agent added that the policy no longer has, or whose
 * cgroup is gone: delete those still in the state (rules[0..nrules)), and
 * forget them. */
static int release_portmap(const struct na_owned_map *owned, const char *root,
			   const struct na_pm_entry *rules, size_t nrules, struct na_plan *plan)
{
	struct na_owned *own = calloc(OWNED_MAX, sizeof(*own));
	struct na_action *a = NULL;
	size_t i, j, n;
	bool gone;

	if (!own)
		return -ENOMEM;
	n = owned_of(owned, NA_OWNED_PORTMAP, own, OWNED_MAX);
	for (i = 0; i < n; i++) {
		if (planned(plan, &own[i]))
			continue;
		for (j = 0; j < nrules; j++)
			if (rules[j].has_rule && rules[j].key.cgid == own[i].id &&
			    rules[j].key.vport == own[i].port && rules[j].key.proto == own[i].proto)
				break;
		gone = na_cgroup_id_exists(root, own[i].id) == 0;
		a = release(plan, j < nrules && !gone ? NA_ACT_PM_DEL : NA_ACT_FORGET, &own[i]);
		if (!a)
			break;
		if (j < nrules) {
			/* A forget deletes the rule too (cg.id set). */
			a->cg.id = own[i].id;
			snprintf(a->cg.rel, sizeof(a->cg.rel), "%s",
				 strcmp(rules[j].cgroup, "/") ? rules[j].cgroup : "");
			snprintf(a->note, sizeof(a->note), "%s%s %s %u", gone ? "port rule of " : "",
				 rules[j].cgroup, na_pm_proto_name(own[i].proto), own[i].port);
		} else {
			snprintf(a->note, sizeof(a->note), "port rule %s %u of cgroup %llu",
				 na_pm_proto_name(own[i].proto), own[i].port,
				 (unsigned long long)own[i].id);
		}
	}
	free(own);
	return i == n ? 0 : -ENOMEM;
}

/* Port rules: resolve each rule's cgroup, find the rule of the state for
 * its port. */
static int plan_portmap(const struct na_policy *p, const char *root, const char *dir,
			const struct na_owned_map *owned, struct na_plan *plan,
			struct na_reason *why)
{
	struct na_pm_entry *rules = NULL;
	struct na_pm *pm = NULL;
	size_t i, j, nrules = 0;
	struct na_owned any;
	int err;

	if (!p->nportmap && !owned_of(owned, NA_OWNED_PORTMAP, &any, 1))
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
	err = release_portmap(owned, root, rules, nrules, plan);
	free(rules);
	return err;
}

/* Bridges: each must exist with a port the redirect can use; attached
 * already when a port of it is in the state. */
static int plan_veth(const struct na_policy *p, const char *dir, const struct na_owned_map *owned,
		     struct na_plan *plan)
{
	struct na_veth_state *v = NULL;
	struct na_veth_list l = { 0 };
	struct na_reason why = { 0 };
	struct na_owned own[NA_POLICY_MAX_BRIDGES * 4];
	char name[IF_NAMESIZE];
	size_t i, j, n;
	int ifindex;

	n = owned_of(owned, NA_OWNED_VETH, own, sizeof(own) / sizeof(own[0]));
	if (!p->nbridges && !n)
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
		a->own.kind = NA_OWNED_VETH;
		a->own.id = (uint64_t)ifindex;
		for (j = 0; j < l.nports; j++)
			if (!strcmp(l.ports[j].bridge, a->bridge))
				a->kind = NA_ACT_VETH_KEEP;
	}
	/* Bridges the agent attached to that the policy no longer has (by
	 * index: a bridge of the same name made again is another one). */
	for (j = 0; i == p->nbridges && j < n; j++) {
		struct na_action *a;
		bool attached = false;
		size_t k;

		if (planned(plan, &own[j]))
			continue;
		if (if_indextoname((unsigned int)own[j].id, name))
			for (k = 0; k < l.nports; k++)
				attached |= !strcmp(l.ports[k].bridge, name);
		a = release(plan, attached ? NA_ACT_VETH_DETACH : NA_ACT_FORGET, &own[j]);
		if (!a)
			break;
		if (attached)
			snprintf(a->note, sizeof(a->note), "%s", name);
		else
			snprintf(a->note, sizeof(a->note), "bridge with index %llu",
				 (unsigned long long)own[j].id);
	}
	na_veth_list_free(&l);
	if (v)
		na_veth_close(v);
	return i == p->nbridges && j >= n ? 0 : -ENOMEM;
}

int na_plan_make(const struct na_policy *p, const char *root, const char *state_dir,
		 const struct na_owned_map *owned, struct na_plan *plan, struct na_reason *why)
{
	int err;

	memset(plan, 0, sizeof(*plan));
	err = plan_bypass(p, root, state_dir, owned, plan, why);
	if (!err)
		err = plan_portmap(p, root, state_dir, owned, plan, why);
	if (!err)
		err = plan_veth(p, state_dir, owned, plan);
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
	[NA_POL_POD] = "pod",
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
	case NA_ACT_UNENROLL:
		snprintf(buf, len, "unenroll %s (the policy no longer names it)", a->note);
		break;
	case NA_ACT_PM_DEL:
		snprintf(buf, len, "portmap del %s (the policy no longer has it)", a->note);
		break;
	case NA_ACT_VETH_DETACH:
		snprintf(buf, len, "veth detach --bridge %s (the policy no longer has it)", a->note);
		break;
	case NA_ACT_FORGET:
		snprintf(buf, len, "forget the %s (gone)", a->note);
		break;
	}
}

bool na_action_changes(const struct na_action *a)
{
	switch (a->kind) {
	case NA_ACT_ENROLL:
	case NA_ACT_MODE:
	case NA_ACT_PM_ADD:
	case NA_ACT_VETH_ATTACH:
	case NA_ACT_UNENROLL:
	case NA_ACT_PM_DEL:
	case NA_ACT_VETH_DETACH:
	case NA_ACT_FORGET:
		return true;
	default:
		return false;
	}
}
