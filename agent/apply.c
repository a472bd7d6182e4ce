// SPDX-License-Identifier: GPL-2.0-only
/*
 * Carrying out the node agent's plan with libnetaccel: enrollments and
 * mode changes first (under the bypass state's lock), then port rules
 * (under the port remap's), then bridges (under the veth redirect's); one
 * state is open at a time, since they share the state directory's lock.
 * Then each action's line is printed, as it was carried out.
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
	FILE *out, *err;
	int failed;
};

static void done(struct run *r, const struct na_action *a)
{
	char line[1024];

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

		if (!is(a, NA_ACT_ENROLL, NA_ACT_MODE))
			continue;
		na_reason_clear(&why);
		if (!open) {
			err = na_state_open(&st, r->dir, NA_STATE_CREATE, &why);
			if (err) {
				failed(r, a, &why, err);
				continue;
			}
			open = true;
			na_bypass_reconcile(&st);
		}
		err = na_bypass_enroll(&st, &a->cg, a->mode, &how, &now, &why);
		if (err) {
			failed(r, a, &why, err);
			continue;
		}
		if (how == NA_ENROLL_UNCHANGED) {
			a->kind = NA_ACT_KEEP;	/* enrolled since the plan was made */
			a->was = now;
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

		if (a->kind != NA_ACT_PM_ADD)
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
		key.vport = a->pm->port;
		key.proto = a->pm->proto;
		rule = na_pm_rule_make(a->pm->port, a->pm->real, a->pm->unpriv);
		err = na_pm_rule_add(pm, &a->cg, &key, &rule, &why);
		if (err)
			failed(r, a, &why, err);
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
		struct na_veth_sel sel = { .bridges = &a->bridge, .nbridges = 1 };

		if (!is(a, NA_ACT_VETH_ATTACH, NA_ACT_VETH_KEEP))
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
		err = na_veth_resolve(&sel, NA_VETH_BRIDGES_USED, &ifindex, NULL, &why);
		if (!err)
			err = na_veth_attach(v, &ifindex, 1, NULL, 0, &res, &why);
		if (err) {
			failed(r, a, &why, err);
			continue;
		}
		/* A veth that came since the plan was made is attached too. */
		a->kind = res.attached ? NA_ACT_VETH_ATTACH : NA_ACT_VETH_KEEP;
	}
	if (v)
		na_veth_close(v);
}

int na_plan_apply(struct na_plan *plan, const char *state_dir, FILE *out, FILE *err)
{
	struct run r = { .dir = state_dir, .out = out, .err = err };
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
