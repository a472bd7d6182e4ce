// SPDX-License-Identifier: GPL-2.0-only
/*
 * Carrying out the node agent's plan with libnetaccel: enrollments, mode
 * changes and unenrollments first (under the bypass state's lock), then
 * port rules (under the port remap's), then bridges (under the veth
 * redirect's); one state is open at a time, since they share the state
 * directory's lock. What the agent made goes into its record, what it
 * undid leaves it. Then each action's line is printed, as it was carried
 * out.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <netaccel/bypass.h>
#include <netaccel/portmap.h>
#include <netaccel/veth.h>

#include "plan.h"

struct run {
	const char *dir;
	const struct na_owned_map *owned;
	bool quiet;
	FILE *out, *err;
	int failed;
};

static void done(struct run *r, const struct na_action *a)
{
	char line[1024];

	if (r->quiet && !na_action_changes(a))
		return;
	na_action_text(a, line, sizeof(line));
	fprintf(r->out, "%s\n", line);
	fflush(r->out);
}

static void failed(struct run *r, struct na_action *a, const struct na_reason *why, int err)
{
	char line[1024];

	na_action_text(a, line, sizeof(line));
	fprintf(r->err, "netaccel-agent: cannot %s: %s\n", line,
		why->msg[0] ? why->msg : strerror(-err));
	a->failed = true;
	r->failed++;
}

static bool is(const struct na_action *a, enum na_action_kind k1, enum na_action_kind k2)
{
	return a->kind == k1 || a->kind == k2;
}

/* Record what the agent made (o), or forget it (gone true). A record that
 * cannot be kept is said: the agent would not undo it later. */
static void record(struct run *r, const struct na_action *a, const struct na_owned *o, bool gone)
{
	char line[1024];
	int err;

	if (!r->owned)
		return;
	err = gone ? na_owned_del(r->owned, o) : na_owned_add(r->owned, o);
	if (!err || (gone && err == -ENOENT))
		return;
	na_action_text(a, line, sizeof(line));
	fprintf(r->err, "netaccel-agent: %s: cannot update the agent's record: %s\n", line,
		strerror(-err));
}

static void apply_release(struct run *r, struct na_action *a, const struct na_state *st)
{
	struct na_reason why = { 0 };
	struct na_cgroup_cfg cfg;
	int64_t left;
	uint32_t slot;
	int err;

	err = na_state_find_slot(st, a->own.id, &cfg);
	if (err < 0 || cfg.state != NA_SLOT_ACTIVE) {
		record(r, a, &a->own, true);	/* unenrolled since, or draining */
		return;
	}
	slot = (uint32_t)err;
	left = na_bypass_unenroll(st, slot, &cfg, &why);
	if (left < 0) {
		failed(r, a, &why, (int)left);
		return;
	}
	record(r, a, &a->own, true);
}

static void apply_bypass(struct run *r, struct na_plan *plan)
{
	struct na_reason why = { 0 };
	enum na_enroll_done how;
	struct na_state st;
	bool open = false;
	uint32_t now;
	size_t i;
	int err;

	for (i = 0; i < plan->n; i++) {
		struct na_action *a = &plan->a[i];
		struct na_owned o = { .kind = NA_OWNED_BYPASS, .id = a->cg.id };
		bool forget = a->kind == NA_ACT_FORGET && a->own.kind == NA_OWNED_BYPASS;

		if (!is(a, NA_ACT_ENROLL, NA_ACT_MODE) && a->kind != NA_ACT_UNENROLL && !forget)
			continue;
		na_reason_clear(&why);
		if (!open) {
			err = na_state_open(&st, r->dir, NA_STATE_CREATE, &why);
			if (err && forget) {
				record(r, a, &a->own, true);
				continue;
			}
			if (err) {
				failed(r, a, &why, err);
				continue;
			}
			open = true;
			/* Also frees the slots of removed cgroups (forget). */
			na_bypass_reconcile(&st);
		}
		if (a->kind == NA_ACT_UNENROLL || forget) {
			apply_release(r, a, &st);
			continue;
		}
		err = na_bypass_enroll(&st, &a->cg, a->mode, &how, &now, &why);
		if (err) {
			failed(r, a, &why, err);
			continue;
		}
		if (how == NA_ENROLL_UNCHANGED) {
			a->kind = NA_ACT_KEEP;	/* enrolled since the plan was made */
			a->was = now;
		} else if (a->kind == NA_ACT_ENROLL && (how == NA_ENROLLED || how == NA_REENROLLED)) {
			record(r, a, &o, false);
		}
	}
	if (open)
		na_state_close(&st);
}

static void apply_portmap(struct run *r, struct na_plan *plan)
{
	struct na_reason why = { 0 };
	struct na_pm *pm = NULL;
	struct na_pm_rule rule;
	struct na_pm_key key;
	size_t i;
	int err;

	for (i = 0; i < plan->n; i++) {
		struct na_action *a = &plan->a[i];
		struct na_owned o = { .kind = NA_OWNED_PORTMAP, .id = a->cg.id };
		bool forget = a->kind == NA_ACT_FORGET && a->own.kind == NA_OWNED_PORTMAP;
		struct na_pm_bound left;

		if (forget && !a->cg.id) {
			record(r, a, &a->own, true);	/* no rule left to delete */
			continue;
		}
		if (a->kind != NA_ACT_PM_ADD && a->kind != NA_ACT_PM_DEL && !forget)
			continue;
		na_reason_clear(&why);
		if (!pm) {
			err = na_pm_open(&pm, r->dir, NA_STATE_CREATE, &why);
			if (err) {
				pm = NULL;
				failed(r, a, &why, err);
				continue;
			}
			na_pm_reconcile(pm, true, &why);
			na_reason_clear(&why);
		}
		memset(&key, 0, sizeof(key));
		key.cgid = a->cg.id;
		if (a->kind == NA_ACT_PM_DEL || forget) {
			key.vport = a->own.port;
			key.proto = a->own.proto;
			err = na_pm_rule_del(pm, &a->cg, &key, &left, &why);
			if (err && err != -ENOENT)
				failed(r, a, &why, err);
			else
				record(r, a, &a->own, true);
			continue;
		}
		key.vport = a->pm->port;
		key.proto = a->pm->proto;
		rule = na_pm_rule_make(a->pm->port, a->pm->real, a->pm->unpriv);
		err = na_pm_rule_add(pm, &a->cg, &key, &rule, &why);
		if (err) {
			failed(r, a, &why, err);
			continue;
		}
		o.port = key.vport;
		o.proto = key.proto;
		record(r, a, &o, false);
	}
	if (pm)
		na_pm_close(pm);
}

static void apply_veth(struct run *r, struct na_plan *plan)
{
	struct na_reason why = { 0 };
	struct na_veth_state *v = NULL;
	struct na_veth_attached res;
	size_t i;
	int err, ifindex;

	for (i = 0; i < plan->n; i++) {
		struct na_action *a = &plan->a[i];
		const char *name = a->kind == NA_ACT_VETH_DETACH ? a->note : a->bridge;
		struct na_veth_sel sel = { .bridges = &name, .nbridges = 1 };

		if (a->kind == NA_ACT_FORGET && a->own.kind == NA_OWNED_VETH) {
			record(r, a, &a->own, true);
			continue;
		}
		if (!is(a, NA_ACT_VETH_ATTACH, NA_ACT_VETH_KEEP) && a->kind != NA_ACT_VETH_DETACH)
			continue;
		na_reason_clear(&why);
		if (!v) {
			err = na_veth_open(&v, r->dir, NA_VETH_CREATE | NA_VETH_LOCK, &why);
			if (err) {
				v = NULL;
				failed(r, a, &why, err);
				continue;
			}
		}
		if (a->kind == NA_ACT_VETH_DETACH) {
			err = na_veth_detach(v, &sel, &why);
			if (err < 0 && err != -ENODEV) {
				failed(r, a, &why, err);
				continue;
			}
			record(r, a, &a->own, true);
			if (!na_veth_present(v)) {
				na_veth_close(v);	/* the last port went, and the state */
				v = NULL;
			}
			continue;
		}
		err = na_veth_resolve(&sel, NA_VETH_BRIDGES_USED, &ifindex, NULL, &why);
		if (!err)
			err = na_veth_attach(v, &ifindex, 1, NULL, 0, &res, &why);
		if (err) {
			failed(r, a, &why, err);
			continue;
		}
		/* Only a bridge the agent attached first is its own; a veth
		 * that came since the plan was made is attached too. */
		if (a->kind == NA_ACT_VETH_ATTACH && res.attached)
			record(r, a, &a->own, false);
		a->kind = res.attached ? NA_ACT_VETH_ATTACH : NA_ACT_VETH_KEEP;
	}
	if (v)
		na_veth_close(v);
}

int na_plan_apply(struct na_plan *plan, const char *state_dir, const struct na_owned_map *owned,
		  bool quiet, FILE *out, FILE *err)
{
	struct run r = { .dir = state_dir, .owned = owned, .quiet = quiet, .out = out, .err = err };
	size_t i;

	apply_bypass(&r, plan);
	apply_portmap(&r, plan);
	apply_veth(&r, plan);
	/* What was done (or found done), in the plan's order; a failed
	 * action was reported already. */
	for (i = 0; i < plan->n; i++)
		if (!plan->a[i].failed)
			done(&r, &plan->a[i]);
	return r.failed;
}
