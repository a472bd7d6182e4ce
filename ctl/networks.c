// SPDX-License-Identifier: GPL-2.0-only
/*
 * networks: which container network namespaces the local bypass pairs
 * sockets across (lib/net.c): list them, sync the bypass's tables with
 * what netlink says, and allow or deny a bridge whose traffic a firewall
 * sees.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include <netaccel/bypass.h>
#include <netaccel/veth.h>

#include "ctl.h"
#include "log.h"
#include "output.h"

static const struct na_cmd *networks_cmd(void)
{
	return na_find_cmd("networks");
}

static const struct na_opt net_opts[] = {
	{ "netns", 'n', NA_OPT_VALUE },
	{ "json", 'j' },
	{ 0 }
};

struct nopts {
	bool json;
};

/* The options of a subcommand (allowed: the keys it takes); 0 to go on,
 * else 'h', 'x' (failed) or '?' (usage). */
static int parse_opts(struct na_ctl *ctl, const char *allowed, int argc, char **argv,
		      struct nopts *o)
{
	const struct na_cmd *cmd = networks_cmd();
	struct na_reason why = { 0 };
	const char *netns = NULL;
	int c, err;

	memset(o, 0, sizeof(*o));
	while ((c = na_opt_next(ctl, cmd, argc, argv, net_opts)) != -1) {
		if (c == 'h' || c == '?')
			return c;
		if (!strchr(allowed, c)) {
			na_usage_error(cmd, "%s does not take %s", argv[0], argv[optind - 1]);
			return '?';
		}
		if (c == 'n')
			netns = optarg;
		else if (c == 'j')
			o->json = true;
	}
	if (netns && (err = na_netns_enter(netns, &why))) {
		na_err_why(&why, err);
		return 'x';
	}
	return 0;
}

static int done_code(int c)
{
	return c == 'h' ? NA_EXIT_OK : c == 'x' ? NA_EXIT_FAIL : NA_EXIT_USAGE;
}

static const char *addr_text(int family, const uint32_t *a, char *buf, size_t len)
{
	if (!inet_ntop(family, a, buf, (socklen_t)len))
		snprintf(buf, len, "?");
	return buf;
}

/* "pairs", or why a network or namespace does not. */
static const char *net_state(const struct na_net *n, bool written)
{
	if (n->filtered && !n->allowed)
		return "filtered";
	return written ? "pairs" : "not synced";
}

static void list_text(const struct na_net_view *v, const bool *written)
{
	char a[INET6_ADDRSTRLEN];
	size_t i, j;
	int k;

	if (!v->n) {
		printf("no bridges with container veths in this network namespace\n");
		return;
	}
	for (i = 0; i < v->n; i++) {
		const struct na_net *n = &v->v[i];

		printf("bridge %s: %s", n->bridge, net_state(n, written[i]));
		if (n->filtered)
			printf(" (%s%s)", n->filter_why,
			       n->allowed ? "; allowed by networks allow" : "");
		printf("\n");
		for (j = 0; j < n->nns; j++) {
			const struct na_net_ns *ns = &n->ns[j];

			printf("  %-24s %-12s", ns->name, ns->port);
			for (k = 0; k < ns->naddrs; k++)
				printf(" %s", addr_text(ns->addr[k].family, ns->addr[k].addr, a,
							sizeof(a)));
			if (ns->problem[0])
				printf("  (does not pair: %s)", ns->problem);
			printf("\n");
		}
	}
}

static json_object *list_json(const struct na_net_view *v, const bool *written)
{
	json_object *jo = json_object_new_object(), *jn = json_object_new_array();
	char a[INET6_ADDRSTRLEN];
	size_t i, j;
	int k;

	json_object_object_add(jo, "networks", jn);
	for (i = 0; i < v->n; i++) {
		const struct na_net *n = &v->v[i];
		json_object *o = json_object_new_object(), *jns = json_object_new_array();

		json_object_object_add(o, "bridge", json_object_new_string(n->bridge));
		json_object_object_add(o, "state", json_object_new_string(net_state(n, written[i])));
		json_object_object_add(o, "filtered", json_object_new_boolean(n->filtered));
		json_object_object_add(o, "allowed", json_object_new_boolean(n->allowed));
		json_object_object_add(o, "filter", json_object_new_string(n->filter_why));
		for (j = 0; j < n->nns; j++) {
			const struct na_net_ns *ns = &n->ns[j];
			json_object *x = json_object_new_object(), *ja = json_object_new_array();

			json_object_object_add(x, "name", json_object_new_string(ns->name));
			json_object_object_add(x, "inode", json_object_new_int64(ns->inum));
			json_object_object_add(x, "port", json_object_new_string(ns->port));
			for (k = 0; k < ns->naddrs; k++)
				json_object_array_add(ja, json_object_new_string(addr_text(
					ns->addr[k].family, ns->addr[k].addr, a, sizeof(a))));
			json_object_object_add(x, "addresses", ja);
			json_object_object_add(x, "pairs", json_object_new_boolean(
				!ns->problem[0] && written[i] && !(n->filtered && !n->allowed)));
			json_object_object_add(x, "problem", json_object_new_string(ns->problem));
			json_object_array_add(jns, x);
		}
		json_object_object_add(o, "namespaces", jns);
		json_object_array_add(jn, o);
	}
	return jo;
}

static int sub_list(struct na_ctl *ctl, int argc, char **argv)
{
	struct na_reason why = { 0 };
	struct na_net_view v;
	bool open = false, *written;
	struct na_state st;
	struct nopts o;
	size_t i;
	int c, err;

	c = parse_opts(ctl, "nj", argc, argv, &o);
	if (c)
		return done_code(c);
	if (na_opt_args(networks_cmd(), argc, argv, NULL, 0))
		return NA_EXIT_USAGE;
	if (na_caps_require("networks list", false))
		return NA_EXIT_FAIL;
	err = na_net_scan(&v, &why);
	if (err) {
		na_err_why(&why, err);
		return NA_EXIT_FAIL;
	}
	written = calloc(v.n + 1, sizeof(*written));
	if (!written) {
		na_net_view_free(&v);
		return NA_EXIT_FAIL;
	}
	if (!na_state_open(&st, na_state_dir(ctl->state_dir), 0, NULL))
		open = true;
	for (i = 0; open && i < v.n; i++) {
		v.v[i].allowed = na_net_allowed(&st, v.v[i].id);
		written[i] = na_net_written(&st, v.v[i].id);
	}
	if (open)
		na_state_close(&st);
	if (o.json)
		na_print_json(list_json(&v, written));
	else
		list_text(&v, written);
	free(written);
	na_net_view_free(&v);
	return NA_EXIT_OK;
}

/* The bypass's state, which must exist: networks pair enrolled cgroups. */
static int open_state(struct na_ctl *ctl, struct na_state *st)
{
	struct na_reason why = { 0 };
	int err;

	err = na_state_open(st, na_state_dir(ctl->state_dir), 0, &why);
	if (err == -ENOENT)
		na_err("nothing is enrolled in %s: enroll the containers' cgroups first",
		       na_state_dir(ctl->state_dir));
	else if (err)
		na_err_why(&why, err);
	return err;
}

/* What sync, allow and deny share: their options and arguments (missing,
 * max as for na_opt_args), the capabilities, and the state, open in st.
 * -1 to go on, else the exit code. */
static int begin_change(struct na_ctl *ctl, int argc, char **argv, const char *const *missing,
			int max, struct na_state *st)
{
	char what[32];
	int c;

	c = parse_opts(ctl, "n", argc, argv, &(struct nopts){ 0 });
	if (c)
		return done_code(c);
	if (na_opt_args(networks_cmd(), argc, argv, missing, max))
		return NA_EXIT_USAGE;
	snprintf(what, sizeof(what), "networks %s", argv[0]);
	if (na_caps_require(what, true) || open_state(ctl, st))
		return NA_EXIT_FAIL;
	return -1;
}

static int sub_sync(struct na_ctl *ctl, int argc, char **argv)
{
	struct na_reason why = { 0 };
	struct na_net_summary sum;
	struct na_state st;
	int code, err;

	code = begin_change(ctl, argc, argv, NULL, 0, &st);
	if (code >= 0)
		return code;
	err = na_net_sync(&st, &sum, &why);
	na_state_close(&st);
	if (err) {
		na_err_why(&why, err);
		return NA_EXIT_FAIL;
	}
	printf("%d networks, %d namespaces, %d addresses", sum.networks, sum.namespaces,
	       sum.endpoints);
	if (sum.filtered)
		printf("; %d filtered by a firewall, left on TCP (networks list says why)",
		       sum.filtered);
	printf("\n");
	return NA_EXIT_OK;
}

static int allow_deny(struct na_ctl *ctl, int argc, char **argv, bool allow)
{
	static const char *const missing[] = { "missing <bridge>", NULL };
	struct na_reason why = { 0 };
	struct na_net_summary sum;
	struct na_state st;
	int code, err;

	code = begin_change(ctl, argc, argv, missing, 1, &st);
	if (code >= 0)
		return code;
	err = na_net_allow(&st, argv[optind], allow, &why);
	if (!err)
		err = na_net_sync(&st, &sum, &why);
	na_state_close(&st);
	if (err) {
		na_err_why(&why, err);
		return na_exit_code(err);
	}
	printf(allow ? "containers on %s pair even though a firewall sees their traffic\n" :
		       "containers on %s pair only while no firewall sees their traffic\n",
	       argv[optind]);
	return NA_EXIT_OK;
}

static int sub_allow(struct na_ctl *ctl, int argc, char **argv)
{
	return allow_deny(ctl, argc, argv, true);
}

static int sub_deny(struct na_ctl *ctl, int argc, char **argv)
{
	return allow_deny(ctl, argc, argv, false);
}

int cmd_networks(struct na_ctl *ctl, int argc, char **argv)
{
	static const struct na_cmd subs[] = {
		{ "list", sub_list },
		{ "sync", sub_sync },
		{ "allow", sub_allow },
		{ "deny", sub_deny },
		{ 0 }
	};
	static const struct na_family fam = { subs, net_opts, NA_FAMILY_NAME_SUBS };

	return na_dispatch_sub(ctl, networks_cmd(), &fam, argc, argv);
}
