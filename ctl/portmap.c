// SPDX-License-Identifier: GPL-2.0-only
/*
 * portmap add|list|del: the command lines of per-cgroup port remapping
 * (lib/portmap.c does the work), and the port remap's part of cleanup,
 * status and stats.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include <netaccel/portmap.h>

#include "ctl.h"
#include "log.h"

static const char *const pm_counter_names[] = { NA_PM_COUNTER_NAMES };

_Static_assert(sizeof(pm_counter_names) / sizeof(pm_counter_names[0]) == NA_PM_NUM_COUNTERS,
	       "every counter in struct na_pm_stats needs a name");

/* Print a failure of the port remap, with what to type next where there
 * is an answer. */
static void pm_err_why(const struct na_reason *why, int err)
{
	if (why->kind == NA_WHY_STATE_INCOMPLETE)
		na_err("%s: run netaccel-ctl portmap add to complete it, or cleanup to remove it",
		       why->msg);
	else if (why->kind == NA_WHY_LOAD_FAILED)
		na_err("%s (needs Linux >= 5.9 with CONFIG_CGROUP_BPF; run with -vv to see the verifier log)",
		       why->msg);
	else
		na_err_why(why, err);
}

/* Open the port remap state; with create, make whatever is missing.
 * -ENOENT (not printed) when there is none; other errors are printed. */
static int pm_open(struct na_ctl *ctl, bool create, struct na_pm **pm)
{
	struct na_reason why = { 0 };
	int err;

	err = na_pm_open(pm, na_state_dir(ctl->state_dir), create ? NA_STATE_CREATE : 0, &why);
	if (err && err != -ENOENT)
		pm_err_why(&why, err);
	return err;
}

/* Detach what is no longer used; with repair, print what could not be
 * attached again and go on. */
static void pm_reconcile(struct na_pm *pm, bool repair)
{
	struct na_reason why = { 0 };
	int err = na_pm_reconcile(pm, repair, &why);

	if (err)
		pm_err_why(&why, err);
}

/* <port> or <port>:<real port> */
static int parse_rule(const struct na_cmd *cmd, const char *s, uint16_t *vport,
		      uint16_t *rport, bool allow_real)
{
	if (!na_pm_parse_rule(s, allow_real, vport, rport))
		return 0;
	na_usage_error(cmd, "invalid port '%s' (expected %s, ports 1-65535)", s,
		       allow_real ? "<port> or <port>:<real port>" : "<port>");
	return -EINVAL;
}

static const char *display(const struct na_cgroup *cg)
{
	return cg->rel[0] ? cg->rel : "/";
}

/* What add and del are told: the rule's key (cgroup, protocol, port), the
 * real port and --allow-unprivileged (add only), and how to name it. */
struct rule_args {
	struct na_pm_key key;
	uint16_t rport;
	bool unpriv;
	struct na_cgroup cg;
	char what[32];
};

/*
 * Parse `portmap add|del <cgroup> <port>[...] [options]`, check the
 * privileges to change the state and resolve the cgroup. -1 to go on, or
 * the exit code (after printing why).
 */
static int rule_args(struct na_ctl *ctl, bool add, int argc, char **argv, struct rule_args *a)
{
	static const struct na_opt add_opts[] = {
		{ "allow-unprivileged", 'U', NA_OPT_LONG },
		{ "udp", 'u', NA_OPT_LONG },
		{ 0 }
	};
	static const char *const add_missing[] = {
		"add: missing <cgroup>", "add: missing <port>[:<real port>]", NULL
	};
	static const char *const del_missing[] = {
		"del: missing <cgroup>", "del: missing <port>", NULL
	};
	const struct na_cmd *cmd = na_find_cmd("portmap");
	int c, err;

	memset(a, 0, sizeof(*a));
	a->key.proto = NA_PM_TCP;
	/* del takes --udp only: add's table without its first option. */
	while ((c = na_opt_next(ctl, cmd, argc, argv, add ? add_opts : add_opts + 1)) != -1) {
		if (c == 'h')
			return NA_EXIT_OK;
		if (c == 'u')
			a->key.proto = NA_PM_UDP;
		else if (c == 'U')
			a->unpriv = true;
		else
			return NA_EXIT_USAGE;
	}
	if (na_opt_args(cmd, argc, argv, add ? add_missing : del_missing, 2) ||
	    parse_rule(cmd, argv[optind + 1], &a->key.vport, &a->rport, add))
		return NA_EXIT_USAGE;
	if (a->rport && a->rport == a->key.vport)
		return na_usage_error(cmd, "real port %u is the virtual port itself", a->rport);
	if (na_caps_require(add ? "portmap add" : "portmap del", true))
		return NA_EXIT_FAIL;
	err = na_resolve_cgroup(argv[optind], &a->cg);
	if (err)
		return na_exit_code(err);
	a->key.cgid = a->cg.id;
	na_pm_port_text(&a->key, a->what, sizeof(a->what));
	return -1;
}

static int pm_add(struct na_ctl *ctl, int argc, char **argv)
{
	struct na_reason why = { 0 };
	const char *priv_note = "";
	struct na_pm_rule rule;
	struct rule_args a;
	struct na_pm *pm;
	int err;

	err = rule_args(ctl, true, argc, argv, &a);
	if (err >= 0)
		return err;
	rule = na_pm_rule_make(a.key.vport, a.rport, a.unpriv);
	if (pm_open(ctl, true, &pm))
		return NA_EXIT_FAIL;
	pm_reconcile(pm, true);
	err = na_pm_rule_add(pm, &a.cg, &a.key, &rule, &why);
	na_pm_close(pm);
	if (err == -EEXIST) {
		na_err("%s (portmap del it first)", why.msg);
		return NA_EXIT_FAIL;
	}
	if (err) {
		pm_err_why(&why, err);
		return NA_EXIT_FAIL;
	}
	if (rule.flags & NA_PMF_PRIV_VPORT)
		priv_note = a.unpriv ? "; unprivileged processes may bind it too" :
				       "; binding it needs CAP_NET_BIND_SERVICE";
	if (a.rport)
		printf("%s: port %s binds real port %u%s\n", display(&a.cg), a.what, a.rport,
		       priv_note);
	else
		printf("%s: port %s binds a real port the kernel picks (portmap list shows it)%s\n",
		       display(&a.cg), a.what, priv_note);
	return NA_EXIT_OK;
}

static int pm_del(struct na_ctl *ctl, int argc, char **argv)
{
	struct na_reason why = { 0 };
	struct na_pm_bound left;
	struct rule_args a;
	struct na_pm *pm;
	int err;

	err = rule_args(ctl, false, argc, argv, &a);
	if (err >= 0)
		return err;
	err = pm_open(ctl, false, &pm);
	if (err == -ENOENT) {
		na_err("%s has no rule for port %s (no port rules at all)", display(&a.cg), a.what);
		return NA_EXIT_FAIL;
	}
	if (err)
		return NA_EXIT_FAIL;
	err = na_pm_rule_del(pm, &a.cg, &a.key, &left, &why);
	if (err == -ENOENT)
		na_err("%s (see netaccel-ctl portmap list)", why.msg);
	else if (err)
		pm_err_why(&why, err);
	else
		pm_reconcile(pm, true);
	na_pm_close(pm);
	if (err)
		return NA_EXIT_FAIL;
	if (left.refs)
		printf("%s: deleted the rule for %s; %u sockets bound through it keep their real port %u until they close\n",
		       display(&a.cg), a.what, left.refs, left.rport);
	else
		printf("%s: deleted the rule for %s\n", display(&a.cg), a.what);
	return NA_EXIT_OK;
}

/* What list and status --json say of a rule or a binding. */
static json_object *entry_json(const struct na_pm_entry *e, json_object *real_port)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "cgroup", json_object_new_string(e->cgroup));
	json_object_object_add(o, "id", json_object_new_int64((int64_t)e->key.cgid));
	json_object_object_add(o, "proto", json_object_new_string(na_pm_proto_name(e->key.proto)));
	json_object_object_add(o, "port", json_object_new_int(e->key.vport));
	json_object_object_add(o, "real_port", real_port);
	return o;
}

static void list_rules(struct na_pm *pm, json_object *jr)
{
	static struct na_pm_entry rules[NA_PM_MAX_RULES];
	size_t i, n = na_pm_rules(pm, rules, NA_PM_MAX_RULES);
	char real[64];

	if (!jr)
		printf("%-36s %-5s %5s  %-22s\n", "CGROUP", "PROTO", "PORT", "REAL PORT");
	for (i = 0; i < n; i++) {
		const struct na_pm_entry *e = &rules[i];
		bool fixed = e->rule.flags & NA_PMF_FIXED;
		bool unpriv = e->rule.flags & NA_PMF_UNPRIV;

		if (jr) {
			json_object *o = entry_json(e, fixed ? json_object_new_int(e->rule.rport) : NULL);

			json_object_object_add(o, "allow_unprivileged", json_object_new_boolean(unpriv));
			json_object_array_add(jr, o);
			continue;
		}
		if (fixed)
			snprintf(real, sizeof(real), "%u", e->rule.rport);
		else
			snprintf(real, sizeof(real), "picked by the kernel");
		printf("%-36s %-5s %5u  %s%s\n", e->cgroup, na_pm_proto_name(e->key.proto),
		       e->key.vport, real, unpriv ? ", unprivileged allowed" : "");
	}
	if (!n && !jr)
		printf("(no rules)\n");
}

static void list_bindings(struct na_pm *pm, json_object *jb)
{
	static struct na_pm_entry bound[NA_PM_MAX_RULES];
	size_t i, n = na_pm_bindings(pm, bound, NA_PM_MAX_RULES);

	if (!jb)
		printf("\nbound now (ss, /proc/net and tcpdump show the real port):\n%-36s %-5s %5s  %9s  %s\n",
		       "CGROUP", "PROTO", "PORT", "REAL PORT", "SOCKETS");
	for (i = 0; i < n; i++) {
		const struct na_pm_entry *e = &bound[i];

		if (jb) {
			json_object *o = entry_json(e, json_object_new_int(e->bound.rport));

			json_object_object_add(o, "sockets", json_object_new_int64(e->bound.refs));
			json_object_object_add(o, "rule", json_object_new_boolean(e->has_rule));
			json_object_array_add(jb, o);
			continue;
		}
		printf("%-36s %-5s %5u  %9u  %u%s\n", e->cgroup, na_pm_proto_name(e->key.proto),
		       e->key.vport, e->bound.rport, e->bound.refs,
		       e->has_rule ? "" : " (rule deleted)");
	}
	if (!n && !jb)
		printf("(none)\n");
}

static int pm_list(struct na_ctl *ctl, int argc, char **argv)
{
	const struct na_cmd *cmd = na_find_cmd("portmap");
	json_object *jo = NULL, *jr = NULL, *jb = NULL;
	struct na_pm *pm;
	bool json = false;
	int c, err;

	c = na_getopt_json(ctl, cmd, argc, argv, &json);
	if (c >= 0)
		return c;
	if (na_opt_args(cmd, argc, argv, NULL, 0))
		return NA_EXIT_USAGE;
	if (na_caps_require("portmap list", false))
		return NA_EXIT_FAIL;
	if (json) {
		jo = json_object_new_object();
		jr = json_object_new_array();
		jb = json_object_new_array();
		json_object_object_add(jo, "rules", jr);
		json_object_object_add(jo, "bound", jb);
	}
	err = pm_open(ctl, false, &pm);
	if (err == -ENOENT) {
		if (json)
			na_print_json(jo);
		else
			printf("no port rules\n");
		return NA_EXIT_OK;
	}
	if (err) {
		json_object_put(jo);
		return NA_EXIT_FAIL;
	}
	pm_reconcile(pm, false);
	list_rules(pm, jr);
	list_bindings(pm, jb);
	na_pm_close(pm);
	if (json)
		na_print_json(jo);
	return NA_EXIT_OK;
}

int cmd_portmap(struct na_ctl *ctl, int argc, char **argv)
{
	static const struct na_cmd subs[] = {
		{ "add", pm_add },
		{ "list", pm_list },
		{ "del", pm_del },
		{ 0 }
	};
	static const struct na_family fam = { subs, NULL, NA_FAMILY_NAME_SUBS };

	return na_dispatch_sub(ctl, na_find_cmd("portmap"), &fam, argc, argv);
}

int na_portmap_cleanup(struct na_ctl *ctl)
{
	struct na_reason why = { 0 };
	int err, rules;

	err = na_pm_remove(na_state_dir(ctl->state_dir), &rules, &why);
	if (err < 0)
		na_err_why(&why, err);
	else if (err > 0)
		printf("removed port remapping (%d rules) from the kernel\n", rules);
	return err;
}

int na_portmap_stats(struct na_ctl *ctl, uint64_t only, json_object *jo)
{
	static struct na_pm_cgroup cgs[NA_PM_MAX_CGROUPS];
	json_object *jpm = NULL, *jcg = NULL, *e;
	struct na_pm_stats total;
	struct na_pm *pm;
	size_t i, n;
	int shown = 0;

	if (pm_open(ctl, false, &pm)) {
		if (jo && !only)
			json_object_object_add(jo, "portmap", NULL);
		return 0;
	}
	n = na_pm_cgroups(pm, cgs, NA_PM_MAX_CGROUPS, &total);
	na_pm_close(pm);
	if (jo) {
		jpm = json_object_new_object();
		jcg = json_object_new_array();
		json_object_object_add(jpm, "cgroups", jcg);
	}
	for (i = 0; i < n; i++) {
		const struct na_pm_cgroup *cg = &cgs[i];

		if (only && cg->id != only)
			continue;
		shown++;
		if (jo) {
			e = json_object_new_object();
			json_object_object_add(e, "path", json_object_new_string(cg->scope.path));
			json_object_object_add(e, "id", json_object_new_int64((int64_t)cg->id));
			json_object_object_add(e, "rules", json_object_new_int64(cg->scope.rules));
			json_object_object_add(e, "counters",
					       na_json_counters(pm_counter_names,
								(const uint64_t *)&cg->stats,
								NA_PM_NUM_COUNTERS));
			json_object_array_add(jcg, e);
		} else {
			printf("portmap %s (id %llu, %u rules)\n",
			       cg->scope.path[0] ? cg->scope.path : "/",
			       (unsigned long long)cg->id, cg->scope.rules);
			na_text_counters(stdout, pm_counter_names, (const uint64_t *)&cg->stats,
					 NA_PM_NUM_COUNTERS);
		}
	}
	if (!only) {
		if (jo) {
			json_object_object_add(jpm, "total",
					       na_json_counters(pm_counter_names, (const uint64_t *)&total,
								NA_PM_NUM_COUNTERS));
		} else if (n) {
			printf("portmap total\n");
			na_text_counters(stdout, pm_counter_names, (const uint64_t *)&total,
					 NA_PM_NUM_COUNTERS);
		}
	}
	if (jo)
		json_object_object_add(jo, "portmap", jpm);
	return shown;
}

int na_portmap_status(struct na_ctl *ctl, json_object *jo)
{
	struct na_pm_prog progs[NA_PM_MAX_PROGS];
	json_object *jpm, *jp;
	struct na_pm *pm;
	int rules, cgroups, err;
	size_t i, n;

	err = pm_open(ctl, false, &pm);
	if (err) {
		if (jo)
			json_object_object_add(jo, "portmap", NULL);
		else if (err == -ENOENT)
			printf("portmap: no port rules\n");
		return 0;
	}
	na_pm_count(pm, &rules, &cgroups);
	n = na_pm_programs(pm, progs, NA_PM_MAX_PROGS);
	if (jo) {
		jpm = json_object_new_object();
		jp = json_object_new_object();
		json_object_object_add(jpm, "rules", json_object_new_int(rules));
		json_object_object_add(jpm, "cgroups", json_object_new_int(cgroups));
		for (i = 0; i < n; i++)
			json_object_object_add(jp, progs[i].name, json_object_new_int64(progs[i].id));
		json_object_object_add(jpm, "programs", jp);
		json_object_object_add(jo, "portmap", jpm);
	} else {
		printf("portmap: %d rules on %d cgroups, %zu programs (na_pm_*) pinned in %s (netaccel-ctl portmap list)\n",
		       rules, cgroups, n, na_pm_dir(pm));
	}
	na_pm_close(pm);
	return 0;
}
