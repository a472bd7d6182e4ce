// SPDX-License-Identifier: GPL-2.0-only
/*
 * veth attach|add|del|list|detach|watch: the veth redirect, which hands a
 * frame from one container straight to another on the same bridge. The
 * redirect itself is in libnetaccel (lib/veth_*.c), the watch loop in
 * agent/veth_watch.c; this file parses, calls them and prints.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <netaccel/state.h>
#include <netaccel/veth.h>

#include "ctl.h"
#include "log.h"
#include "veth.h"
#include "veth_watch.h"

/* What to type next, for the failures that have an answer. */
static const char *advice(const struct na_reason *why, int err)
{
	switch (why->kind) {
	case NA_WHY_OTHER_NAMESPACE:
		return err == -EXDEV ? ": run in that one (--netns), or use another --state-dir" :
				       ": use netaccel-ctl veth --netns <name>, or nsenter --net=/run/netns/<name>";
	case NA_WHY_STATE_INCOMPLETE:
		return ": veth attach completes it, cleanup removes it";
	case NA_WHY_LOAD_FAILED:
		return " (needs Linux >= 5.10 for bpf_redirect_peer; -vv shows the verifier log)";
	case NA_WHY_KERNEL_LACKS:
		return " (tcx needs Linux >= 6.6; --hook tc uses clsact)";
	default:
		return "";
	}
}

/* Print what the library said went wrong, if it said anything (a bare
 * errno has been enough for these commands to fail quietly). */
static void veth_err(const struct na_reason *why, int err)
{
	if (na_reason_said(why))
		na_err("%s%s", why->msg, advice(why, err));
}

int na_veth_ctl_open(const char *dir, unsigned int flags, bool quiet, struct na_veth_state **v,
		     struct na_reason *why)
{
	int err = na_veth_open(v, dir, flags, why);

	if (!err)
		return 0;
	if (na_reason_said(why) && (why->kind != NA_WHY_STATE_INCOMPLETE || !quiet))
		veth_err(why, err);
	else if (!quiet && err != -ENOENT)
		na_err("cannot open veth state in %s/" NA_VETH_SUBDIR ": %s%s", dir, strerror(-err),
		       err == -EPERM || err == -EACCES ? " (needs CAP_BPF and CAP_NET_ADMIN)" : "");
	return err;
}

/* What a command changes, said with -v (and conflicts always). */
static void on_event(const struct na_veth_event *ev, void *arg)
{
	switch (ev->kind) {
	case NA_VETH_EP_ADDED:
		na_info("added endpoint %s on %s", ev->addr, ev->bridge);
		break;
	case NA_VETH_EP_CHANGED:
		na_info("changed endpoint %s on %s", ev->addr, ev->bridge);
		break;
	case NA_VETH_EP_REMOVED:
		na_info("removed endpoint %s on %s", ev->addr, ev->bridge);
		break;
	case NA_VETH_PORT_STALE:
		na_info("removed stale port %s", ev->veth);
		break;
	case NA_VETH_ADDR_CONFLICT:
		na_warn("%s is on two ports of one bridge: not accelerated", ev->addr);
		break;
	case NA_VETH_PORT_ATTACHED:
		break;
	}
}

/* A state opened for a change: its hook preference and its log. */
static int open_for_change(struct na_ctl *ctl, int hook, struct na_veth_state **v)
{
	struct na_reason why = { 0 };
	int err;

	err = na_veth_ctl_open(na_state_dir(ctl->state_dir), NA_VETH_CREATE | NA_VETH_LOCK, false, v,
			 &why);
	if (err)
		return err;
	na_veth_set_hook(*v, hook);
	na_veth_on_event(*v, on_event, NULL);
	return 0;
}

/* ---- commands ---- */

struct vopts {
	const char *bridges[NA_VETH_MAX_BRIDGES];
	size_t nbridges;
	int hook;
	bool json;
};

static const struct na_cmd *veth_cmd(void)
{
	return na_find_cmd("veth");
}

/* Options of a subcommand; allowed lists which ones it takes. */
/* The options of every veth subcommand (each takes those it names in
 * parse_opts' allowed); they may also come before the subcommand. */
static const struct na_opt veth_opts[] = {
	{ "bridge", 'b', NA_OPT_VALUE },
	{ "json", 'j', 0 },
	{ "hook", 'H', NA_OPT_VALUE | NA_OPT_LONG },
	{ "netns", 'n', NA_OPT_VALUE },
	{ 0 }
};

static int parse_opts(struct na_ctl *ctl, const char *sub, const char *allowed,
		      int argc, char **argv, struct vopts *o)
{
	const struct na_cmd *cmd = veth_cmd();
	struct na_reason why = { 0 };
	const char *netns = NULL;
	int c, err;

	memset(o, 0, sizeof(*o));
	while ((c = na_opt_next(ctl, cmd, argc, argv, veth_opts)) != -1) {
		if (c == 'h')
			return 'h';
		if (c == '?')
			return '?';
		if (!strchr(allowed, c)) {
			na_usage_error(cmd, "veth %s takes no option '%s'", sub, argv[optind - 1]);
			return '?';
		}
		switch (c) {
		case 'b':
			if (!*optarg || strlen(optarg) >= IF_NAMESIZE) {
				na_usage_error(cmd, "bad bridge name '%s'", optarg);
				return '?';
			}
			if (o->nbridges == NA_VETH_MAX_BRIDGES) {
				na_usage_error(cmd, "at most %d bridges", NA_VETH_MAX_BRIDGES);
				return '?';
			}
			o->bridges[o->nbridges++] = optarg;
			break;
		case 'j':
			o->json = true;
			break;
		case 'H':
			if (!strcmp(optarg, "tcx"))
				o->hook = NA_VETH_HOOK_TCX;
			else if (!strcmp(optarg, "tc"))
				o->hook = NA_VETH_HOOK_TC;
			else if (!strcmp(optarg, "auto"))
				o->hook = NA_VETH_HOOK_AUTO;
			else {
				na_usage_error(cmd, "unknown hook '%s' (use auto, tcx or tc)", optarg);
				return '?';
			}
			break;
		case 'n':
			netns = optarg;
			break;
		}
	}
	if (netns && (err = na_netns_enter(netns, &why))) {
		veth_err(&why, err);
		return 'x';
	}
	return 0;
}

static int sub_attach(struct na_ctl *ctl, int argc, char **argv)
{
	const struct na_cmd *cmd = veth_cmd();
	int bridges[NA_VETH_MAX_BRIDGES], *ports = NULL, n;
	struct na_veth_state *v = NULL;
	struct na_reason why = { 0 };
	struct na_veth_attached res;
	struct na_veth_sel sel;
	struct vopts o;
	int err, c;

	c = parse_opts(ctl, "attach", "bHn", argc, argv, &o);
	if (c)
		return c == 'h' ? NA_EXIT_OK : c == 'x' ? NA_EXIT_FAIL : NA_EXIT_USAGE;
	n = argc - optind;
	if (!n && !o.nbridges)
		return na_usage_error(cmd, "veth attach needs --bridge <bridge> or <ifname>...");
	if (n && o.nbridges)
		return na_usage_error(cmd, "veth attach takes --bridge or interface names, not both");
	if (na_caps_require("veth attach", true))
		return NA_EXIT_FAIL;
	ports = calloc(NA_VETH_MAX_PORTS, sizeof(*ports));
	if (!ports)
		return NA_EXIT_FAIL;
	if (n > NA_VETH_MAX_PORTS)
		n = NA_VETH_MAX_PORTS;
	sel = (struct na_veth_sel){ o.bridges, o.nbridges, argv + optind, (size_t)n };
	err = na_veth_resolve(&sel, NA_VETH_PORTS_USABLE | NA_VETH_BRIDGES_USED, bridges, ports,
			      &why);
	if (err) {
		veth_err(&why, err);
		goto out;
	}
	err = open_for_change(ctl, o.hook, &v);
	if (err)
		goto out;
	err = na_veth_attach(v, bridges, o.nbridges, ports, o.nbridges ? 0 : (size_t)n, &res, &why);
	if (err)
		veth_err(&why, err);
	else
		printf("attached to %zu veth%s (%d new), %d endpoint%s\n", res.ports,
		       res.ports == 1 ? "" : "s", res.attached, res.endpoints,
		       res.endpoints == 1 ? "" : "s");
	na_veth_close(v);
out:
	free(ports);
	return err ? NA_EXIT_FAIL : NA_EXIT_OK;
}

static int sub_detach(struct na_ctl *ctl, int argc, char **argv)
{
	const struct na_cmd *cmd = veth_cmd();
	const char *dir = na_state_dir(ctl->state_dir);
	struct na_veth_state *v = NULL;
	struct na_reason why = { 0 };
	struct na_veth_sel sel;
	struct vopts o;
	int n, err, c;

	c = parse_opts(ctl, "detach", "bn", argc, argv, &o);
	if (c)
		return c == 'h' ? NA_EXIT_OK : c == 'x' ? NA_EXIT_FAIL : NA_EXIT_USAGE;
	n = argc - optind;
	if (!n && !o.nbridges)
		return na_usage_error(cmd, "veth detach needs --bridge <bridge> or <ifname>...");
	if (n && o.nbridges)
		return na_usage_error(cmd, "veth detach takes --bridge or interface names, not both");
	if (n > 64)
		return na_usage_error(cmd, "at most 64 interfaces at once");
	if (na_caps_require("veth detach", true))
		return NA_EXIT_FAIL;
	sel = (struct na_veth_sel){ o.bridges, o.nbridges, argv + optind, (size_t)n };

	err = na_veth_ctl_open(dir, NA_VETH_LOCK, true, &v, &why);
	if (err == -ENOENT || err == -ENODATA) {
		/* Nothing to detach from; the names must still be right. */
		na_reason_clear(&why);
		err = na_veth_resolve(&sel, 0, NULL, NULL, &why);
		if (err)
			veth_err(&why, err);
		else
			printf("nothing is attached\n");
		return err ? NA_EXIT_FAIL : NA_EXIT_OK;
	}
	if (err) {
		if (!na_reason_said(&why))
			na_err("cannot open veth state in %s/" NA_VETH_SUBDIR ": %s", dir,
			       strerror(-err));
		return NA_EXIT_FAIL;
	}
	na_veth_on_event(v, on_event, NULL);
	n = na_veth_detach(v, &sel, &why);
	if (n < 0)
		veth_err(&why, n);
	else
		printf("detached from %d veth%s\n", n, n == 1 ? "" : "s");
	na_veth_close(v);
	return n < 0 ? NA_EXIT_FAIL : NA_EXIT_OK;
}

static int sub_add(struct na_ctl *ctl, int argc, char **argv)
{
	const struct na_cmd *cmd = veth_cmd();
	char veth[IF_NAMESIZE], bridge[IF_NAMESIZE];
	struct na_veth_state *v = NULL;
	struct na_reason why = { 0 };
	struct na_veth_key key;
	struct na_veth_sel sel;
	int port, r, err, c;
	struct vopts o;

	c = parse_opts(ctl, "add", "Hn", argc, argv, &o);
	if (c)
		return c == 'h' ? NA_EXIT_OK : c == 'x' ? NA_EXIT_FAIL : NA_EXIT_USAGE;
	if (argc - optind != 2)
		return na_usage_error(cmd, "veth add needs <address> <ifname>");
	if (na_veth_parse_addr(argv[optind], &key))
		return na_usage_error(cmd, "bad address '%s' (an IPv4 or IPv6 address)", argv[optind]);
	if (!na_veth_addr_usable((int)key.family, key.addr))
		return na_usage_error(cmd, "%s is not a unicast address", argv[optind]);
	if (na_caps_require("veth add", true))
		return NA_EXIT_FAIL;
	sel = (struct na_veth_sel){ NULL, 0, argv + optind + 1, 1 };
	err = na_veth_resolve(&sel, NA_VETH_PORTS_USABLE, NULL, &port, &why);
	if (err) {
		veth_err(&why, err);
		return NA_EXIT_FAIL;
	}
	if (open_for_change(ctl, o.hook, &v))
		return NA_EXIT_FAIL;
	r = na_veth_add(v, &key, port, veth, bridge, &why);
	if (r >= 0)
		printf("%s endpoint %s -> %s on %s\n", r ? "added" : "kept", argv[optind], veth,
		       bridge);
	else if (na_reason_said(&why))
		veth_err(&why, r);
	else if (r == -EAGAIN)
		na_err("%s changed while netaccel-ctl ran; try again", argv[optind + 1]);
	else
		na_err("cannot add endpoint %s: %s", argv[optind], strerror(-r));
	na_veth_close(v);
	return r < 0 ? NA_EXIT_FAIL : NA_EXIT_OK;
}

static int sub_del(struct na_ctl *ctl, int argc, char **argv)
{
	const struct na_cmd *cmd = veth_cmd();
	struct na_veth_state *v = NULL;
	struct na_reason why = { 0 };
	struct na_veth_key key;
	int err, c, removed;
	struct vopts o;

	c = parse_opts(ctl, "del", "n", argc, argv, &o);
	if (c)
		return c == 'h' ? NA_EXIT_OK : c == 'x' ? NA_EXIT_FAIL : NA_EXIT_USAGE;
	if (argc - optind != 1)
		return na_usage_error(cmd, "veth del needs one <address>");
	if (na_veth_parse_addr(argv[optind], &key))
		return na_usage_error(cmd, "bad address '%s' (an IPv4 or IPv6 address)", argv[optind]);
	if (na_caps_require("veth del", true))
		return NA_EXIT_FAIL;
	err = na_veth_ctl_open(na_state_dir(ctl->state_dir), NA_VETH_LOCK, false, &v, &why);
	if (err == -ENOENT) {
		printf("%s is not an endpoint\n", argv[optind]);
		return NA_EXIT_OK;
	}
	if (err)
		return NA_EXIT_FAIL;
	removed = na_veth_del(v, &key, &why);
	na_veth_close(v);
	if (removed < 0) {
		veth_err(&why, removed);
		return NA_EXIT_FAIL;
	}
	if (removed)
		printf("removed endpoint %s\n", argv[optind]);
	else
		printf("%s is not an endpoint\n", argv[optind]);
	return NA_EXIT_OK;
}

/* ---- list ---- */

static int sub_list(struct na_ctl *ctl, int argc, char **argv)
{
	const struct na_cmd *cmd = veth_cmd();
	struct na_veth_state *v = NULL;
	struct na_reason why = { 0 };
	json_object *jo = NULL;
	struct vopts o;
	int err, c;

	c = parse_opts(ctl, "list", "jn", argc, argv, &o);
	if (c)
		return c == 'h' ? NA_EXIT_OK : c == 'x' ? NA_EXIT_FAIL : NA_EXIT_USAGE;
	if (optind < argc)
		return na_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
	if (na_caps_require("veth list", false))
		return NA_EXIT_FAIL;
	err = na_veth_ctl_open(na_state_dir(ctl->state_dir), 0, false, &v, &why);
	if (err == -ENOENT) {
		if (o.json) {
			jo = json_object_new_object();
			json_object_object_add(jo, "endpoints", json_object_new_array());
			json_object_object_add(jo, "ports", json_object_new_array());
			na_print_json(jo);
		} else {
			printf("nothing is attached\n");
		}
		return NA_EXIT_OK;
	}
	if (err)
		return NA_EXIT_FAIL;
	if (o.json)
		jo = json_object_new_object();
	na_veth_show(v, jo, true);
	if (jo)
		na_print_json(jo);
	na_veth_close(v);
	return NA_EXIT_OK;
}

int na_veth_cleanup(const char *state_dir)
{
	struct na_reason why = { 0 };
	int n;

	n = na_veth_remove(state_dir, &why);
	if (n == -ENOENT && !na_reason_said(&why))
		return 0;
	if (n < 0) {
		veth_err(&why, n);
		return n;
	}
	printf("removed the veth redirect (%d device%s)\n", n, n == 1 ? "" : "s");
	return 1;
}

/* ---- watch ---- */

static void watch_say(void *arg, const char *line)
{
	printf("%s\n", line);
	fflush(stdout);
}

static void watch_warn(void *arg, const char *line)
{
	na_warn("%s", line);
}

static void watch_fail(void *arg, const struct na_reason *why, int err)
{
	veth_err(why, err);
}

static int sub_watch(struct na_ctl *ctl, int argc, char **argv)
{
	const struct na_cmd *cmd = veth_cmd();
	struct na_veth_watch_cfg cfg = {
		.log = { .say = watch_say, .warn = watch_warn, .fail = watch_fail },
	};
	struct na_veth_state *v = NULL;
	struct na_veth_watch *w = NULL;
	struct na_reason why = { 0 };
	struct na_veth_sel sel;
	struct vopts o;
	int err, c;

	c = parse_opts(ctl, "watch", "bHn", argc, argv, &o);
	if (c)
		return c == 'h' ? NA_EXIT_OK : c == 'x' ? NA_EXIT_FAIL : NA_EXIT_USAGE;
	if (optind < argc)
		return na_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
	if (!o.nbridges)
		return na_usage_error(cmd, "veth watch needs --bridge <bridge>");
	if (na_caps_require("veth watch", true))
		return NA_EXIT_FAIL;
	sel = (struct na_veth_sel){ o.bridges, o.nbridges, NULL, 0 };
	err = na_veth_resolve(&sel, 0, NULL, NULL, &why);
	if (err) {
		veth_err(&why, err);
		return NA_EXIT_FAIL;
	}
	cfg.bridges = o.bridges;
	cfg.nbridges = o.nbridges;
	err = na_veth_watch_new(&w, &cfg, &why);
	if (err) {
		veth_err(&why, err);
		return NA_EXIT_FAIL;
	}
	err = na_veth_ctl_open(na_state_dir(ctl->state_dir), NA_VETH_CREATE | NA_VETH_LOCK, false, &v,
			 &why);
	if (err)
		goto out;
	na_veth_set_hook(v, o.hook);
	err = na_veth_watch_start(w, v, &why);
	if (err) {
		veth_err(&why, err);
		goto out;
	}
	printf("watching %s%s%s (SIGTERM or SIGINT stops; the redirect stays in place)\n",
	       o.bridges[0], o.nbridges > 1 ? " and " : "", o.nbridges > 1 ? "more" : "");
	fflush(stdout);
	err = na_veth_watch_run(w);
	if (err == 0)
		printf("the veth state was removed (cleanup or detach); watch stops\n");
	else if (err > 0)
		printf("stopped by %s; the redirect stays in place (veth detach or cleanup removes it)\n",
		       err == SIGTERM ? "SIGTERM" : "SIGINT");
	err = err < 0 ? err : 0;
out:
	fflush(stdout);
	na_veth_watch_free(w);
	na_veth_close(v);
	return err ? NA_EXIT_FAIL : NA_EXIT_OK;
}

int cmd_veth(struct na_ctl *ctl, int argc, char **argv)
{
	static const struct na_cmd subs[] = {
		{ "attach", sub_attach },
		{ "add", sub_add },
		{ "del", sub_del },
		{ "list", sub_list },
		{ "detach", sub_detach },
		{ "watch", sub_watch },
		{ 0 }
	};
	static const struct na_family fam = { subs, veth_opts, 0 };

	return na_dispatch_sub(ctl, veth_cmd(), &fam, argc, argv);
}
