// SPDX-License-Identifier: GPL-2.0-only
/* status and stats: what netaccel put in the kernel, and proof it works. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <json-c/json.h>

#include "ctl.h"
#include "metrics.h"
#include "log.h"
#include <netaccel/bypass.h>
#include <netaccel/state.h>
#include "veth.h"

static const char *const counter_names[] = { NA_COUNTER_NAMES };

_Static_assert(sizeof(counter_names) / sizeof(counter_names[0]) == NA_NUM_COUNTERS,
	       "every counter in struct na_stats needs a name");

const char *na_mode_name(uint32_t mode)
{
	return mode == NA_MODE_OPT_IN ? "opt-in" : mode == NA_MODE_ALL ? "all" : "?";
}

const char *na_slot_state_name(uint32_t state)
{
	switch (state) {
	case NA_SLOT_ACTIVE:
		return "active";
	case NA_SLOT_DRAINING:
		return "draining";
	default:
		return "free";
	}
}

_Static_assert(sizeof(struct na_stats) == NA_NUM_COUNTERS * sizeof(uint64_t),
	       "struct na_stats is its counters");

static json_object *counters_json(const struct na_stats *s)
{
	return na_json_counters(counter_names, (const uint64_t *)s, NA_NUM_COUNTERS);
}

static void counters_text(const struct na_stats *s)
{
	na_text_counters(stdout, counter_names, (const uint64_t *)s, NA_NUM_COUNTERS);
}

/* Whether the links of an enrolled cgroup are all pinned. */
static const char *links_state(const struct na_state *st,
			       const struct na_cgroup_cfg *cfg)
{
	unsigned int links = na_bypass_links(st, cfg->cgid);
	bool sockops = links & NA_LINK_SOCKOPS;

	if (cfg->state == NA_SLOT_DRAINING)
		return sockops ? "sock_ops" : "none";
	if (links == NA_LINKS_ALL)
		return "ok";
	return "incomplete (run enroll again to repair)";
}

/* Whether an enrolled cgroup has been removed since (root "" when the
 * hierarchy could not be found: then nothing is said to be gone). */
static bool cgroup_gone(const char *root, const struct na_cgroup_cfg *cfg)
{
	return root[0] && na_cgroup_id_exists(root, cfg->cgid) == 0;
}

static int64_t live_of(const struct na_stats *s)
{
	return (int64_t)(s->sockets_joined - s->sockets_closed);
}

/* What status and stats both say of an enrolled cgroup. */
static json_object *cgroup_json(const struct na_cgroup_cfg *cfg,
				const struct na_stats *s)
{
	json_object *e = json_object_new_object();

	json_object_object_add(e, "path", json_object_new_string(cfg->path));
	json_object_object_add(e, "id", json_object_new_int64((int64_t)cfg->cgid));
	json_object_object_add(e, "mode", json_object_new_string(na_mode_name(cfg->mode)));
	json_object_object_add(e, "state", json_object_new_string(na_slot_state_name(cfg->state)));
	json_object_object_add(e, "live_sockets", json_object_new_int64(live_of(s)));
	return e;
}

static const char *const datapaths[] = { "bypass", "portmap", "veth" };

/* "features": { datapath: [ {name, present, required, if_missing} ] } */
static json_object *features_json(const struct na_feature *f, size_t n)
{
	json_object *jf = json_object_new_object();
	size_t d, i;

	for (d = 0; d < sizeof(datapaths) / sizeof(datapaths[0]); d++) {
		json_object *ja = json_object_new_array();

		for (i = 0; i < n; i++) {
			json_object *e;

			if (strcmp(f[i].datapath, datapaths[d]))
				continue;
			e = json_object_new_object();
			json_object_object_add(e, "name", json_object_new_string(f[i].name));
			json_object_object_add(e, "present", json_object_new_boolean(f[i].ok));
			json_object_object_add(e, "required", json_object_new_boolean(f[i].required));
			if (!f[i].required)
				json_object_object_add(e, "if_missing",
						       json_object_new_string(f[i].if_missing));
			json_object_array_add(ja, e);
		}
		json_object_object_add(jf, datapaths[d], ja);
	}
	return jf;
}

/* Per datapath: whether it can load here, and what it does without each
 * optional feature this kernel lacks. */
static void print_features(const struct utsname *uts, const struct na_feature *f, size_t n)
{
	unsigned int a, b, c;
	size_t d, i, have, all, weak;

	printf("kernel %s", uts->release);
	if (!na_kernel_version(&a, &b, &c))
		printf(" (%u.%u.%u)", a, b, c);
	printf(", features each datapath uses:\n");
	for (d = 0; d < sizeof(datapaths) / sizeof(datapaths[0]); d++) {
		bool loads = true;

		have = all = weak = 0;
		for (i = 0; i < n; i++) {
			if (strcmp(f[i].datapath, datapaths[d]))
				continue;
			all++;
			have += f[i].ok;
			if (!f[i].ok && f[i].required)
				loads = false;
			else if (!f[i].ok)
				weak++;
		}
		printf("  %-8s %zu of %zu present", datapaths[d], have, all);
		if (!loads)
			printf("; CANNOT LOAD, this kernel lacks:");
		else if (weak)
			printf("; loads without:");
		printf("\n");
		for (i = 0; i < n; i++) {
			if (strcmp(f[i].datapath, datapaths[d]) || f[i].ok)
				continue;
			if (f[i].required)
				printf("           %s\n", f[i].name);
			else if (loads)
				printf("           %s: %s\n", f[i].name, f[i].if_missing);
		}
	}
}

/* status's tables: protections, and enrolled cgroups. */
static const struct na_col prot_cols[] = {
	{ "", 8, NA_LEFT, "  " }, { "", 11 }, { "", 0 }, { NULL }
};
static const struct na_col cgroup_cols[] = {
	{ "CGROUP", 40 }, { "ID", 10, NA_RIGHT }, { "MODE", 7 }, { "STATE", 9 },
	{ "LIVE", 6, NA_RIGHT }, { "LINKS", 0, NA_LEFT, "  " }, { NULL }
};

int cmd_status(struct na_ctl *ctl, int argc, char **argv)
{
	const struct na_cmd *cmd = na_find_cmd("status");
	struct na_feature feats[NA_MAX_FEATURES];
	char root[PATH_MAX];
	struct na_table t;
	struct na_cgroup_cfg cfg;
	json_object *jo = NULL, *jcg = NULL;
	struct na_stats s;
	struct na_state st;
	struct na_reason why = { 0 };
	struct utsname uts;
	bool json = false, have_state;
	const char *loaded;
	size_t i, nfeat;
	uint32_t slot;
	int c, err;
	long fill = 0, nets = 0, eps = 0;

	c = na_getopt_json(ctl, cmd, argc, argv, &json);
	if (c >= 0)
		return c;
	if (na_opt_args(cmd, argc, argv, NULL, 0))
		return NA_EXIT_USAGE;
	if (na_caps_require("status", false))
		return NA_EXIT_FAIL;

	err = na_state_open(&st, na_state_dir(ctl->state_dir), 0, &why);
	if (err && err != -ENOENT && err != -ENODATA && err != -EUCLEAN) {
		na_err_why(&why, err);
		return NA_EXIT_FAIL;
	}
	have_state = !err;
	if (na_cgroup_find_mount("/proc/self/mountinfo", root, sizeof(root)))
		root[0] = '\0';
	loaded = !err ? "loaded" :
		 err == -ENODATA ? "incomplete (an interrupted run: enroll completes it, cleanup removes it)" :
		 err == -EUCLEAN ? "inconsistent (its programs use other maps: run cleanup --force)" :
				   "nothing loaded";
	uname(&uts);
	nfeat = na_probe_features(feats, NA_MAX_FEATURES);

	if (json) {
		jo = json_object_new_object();
		json_object_object_add(jo, "version", json_object_new_string(NA_VERSION));
		json_object_object_add(jo, "state_dir", json_object_new_string(na_state_dir(ctl->state_dir)));
		json_object_object_add(jo, "loaded", json_object_new_boolean(have_state));
		json_object_object_add(jo, "state", json_object_new_string(
			!err ? "loaded" : err == -ENODATA ? "incomplete" :
			err == -EUCLEAN ? "inconsistent" : "none"));
		json_object_object_add(jo, "kernel", json_object_new_string(uts.release));
		json_object_object_add(jo, "features", features_json(feats, nfeat));
		jcg = json_object_new_array();
		json_object_object_add(jo, "cgroups", jcg);
	} else {
		printf("netaccel %s, state %s: %s\n", NA_VERSION, na_state_dir(ctl->state_dir),
		       loaded);
	}

	if (have_state) {
		struct na_protection prot[NA_MAX_PROTECTIONS];
		size_t nprot = na_state_protections(&st, prot);

		fill = na_state_sockhash_fill(&st);
		nets = na_state_map_count(&st, "na_nets");
		eps = na_state_map_count(&st, "na_endpoints");
		if (json) {
			json_object *jp = json_object_new_object(), *jpr = json_object_new_array();
			json_object *jn = json_object_new_object();

			for (i = 0; i < nprot; i++) {
				json_object *e = json_object_new_object();

				json_object_object_add(e, "name", json_object_new_string(prot[i].name));
				json_object_object_add(e, "active", json_object_new_boolean(prot[i].active));
				json_object_object_add(e, "what", json_object_new_string(prot[i].what));
				json_object_array_add(jpr, e);
			}
			json_object_object_add(jo, "protections", jpr);

			json_object_object_add(jp, "na_sock_create", json_object_new_int64(na_prog_id(st.prog_create)));
			json_object_object_add(jp, "na_sockops", json_object_new_int64(na_prog_id(st.prog_sockops)));
			json_object_object_add(jp, "na_msg", json_object_new_int64(na_prog_id(st.prog_msg)));
			json_object_object_add(jp, "na_setsockopt", json_object_new_int64(na_prog_id(st.prog_setsockopt)));
			json_object_object_add(jp, "na_getsockopt", json_object_new_int64(na_prog_id(st.prog_getsockopt)));
			json_object_object_add(jo, "programs", jp);
			json_object_object_add(jo, "sockhash_entries", json_object_new_int64(fill));
			json_object_object_add(jo, "sockhash_max", json_object_new_int64(NA_SOCKHASH_MAX));
			json_object_object_add(jn, "namespaces", json_object_new_int64(nets));
			json_object_object_add(jn, "addresses", json_object_new_int64(eps));
			json_object_object_add(jo, "networks", jn);
		} else {
			printf("programs: na_sock_create (id %u), na_sockops (id %u), na_msg (id %u, on na_sockhash),\n"
			       "          na_setsockopt (id %u), na_getsockopt (id %u)\n",
			       na_prog_id(st.prog_create), na_prog_id(st.prog_sockops), na_prog_id(st.prog_msg),
			       na_prog_id(st.prog_setsockopt), na_prog_id(st.prog_getsockopt));
			printf("fast path: %ld sockets in na_sockhash (max %d)\n", fill, NA_SOCKHASH_MAX);
			printf("across namespaces: %ld container namespaces, %ld addresses (networks list shows which)\n",
			       nets < 0 ? 0 : nets, eps < 0 ? 0 : eps);
			printf("protections:\n");
			na_table_start(&t, stdout, prot_cols);
			for (i = 0; i < nprot; i++) {
				na_table_cell(&t, "%s", prot[i].name);
				na_table_cell(&t, "%s", prot[i].active ? "active" : "unavailable");
				na_table_cell(&t, "%s%s", prot[i].what,
					      prot[i].active ? "" : prot[i].if_missing);
			}
			na_table_start(&t, stdout, cgroup_cols);
			na_table_header(&t);
		}
		for (slot = 0; slot < NA_MAX_CGROUPS; slot++) {
			if (na_state_get_slot(&st, slot, &cfg) || cfg.state == NA_SLOT_FREE)
				continue;
			na_state_read_slot(&st, slot, &s);
			if (json) {
				json_object *e = cgroup_json(&cfg, &s);

				json_object_object_add(e, "removed", json_object_new_boolean(cgroup_gone(root, &cfg)));
				json_object_object_add(e, "links", json_object_new_string(links_state(&st, &cfg)));
				json_object_array_add(jcg, e);
			} else {
				na_table_cell(&t, "%s", cfg.path[0] ? cfg.path : "/");
				na_table_cell(&t, "%llu", (unsigned long long)cfg.cgid);
				na_table_cell(&t, "%s", na_mode_name(cfg.mode));
				na_table_cell(&t, "%s%s", na_slot_state_name(cfg.state),
					      cgroup_gone(root, &cfg) ? " (cgroup removed)" : "");
				na_table_cell(&t, "%lld", (long long)live_of(&s));
				na_table_cell(&t, "%s", links_state(&st, &cfg));
			}
		}
		na_state_close(&st);
	}

	na_portmap_status(ctl, jo);
	na_veth_status(na_state_dir(ctl->state_dir), jo);
	na_splice_show(ctl, jo, false, true);
	if (json) {
		na_print_json(jo);
		return NA_EXIT_OK;
	}
	print_features(&uts, feats, nfeat);
	return NA_EXIT_OK;
}

/* stats --prometheus: every datapath's counters in the Prometheus text
 * format, for node_exporter's textfile collector. */
static int stats_prometheus(struct na_ctl *ctl)
{
	static struct na_metrics m;
	struct na_reason why = { 0 };
	int err;

	err = na_metrics_gather(na_state_dir(ctl->state_dir), &m, &why);
	if (!err)
		err = na_metrics_write(stdout, &m);
	if (err) {
		na_err_why(&why, err);
		return NA_EXIT_FAIL;
	}
	return NA_EXIT_OK;
}

/* stats <cgroup> for a cgroup that is not enrolled: its port remap
 * counters if it has any, else an error naming it (and the state
 * directory, when nothing is loaded there: empty_dir). */
static int portmap_only(struct na_ctl *ctl, bool json, const char *name, uint64_t cgid,
			const char *empty_dir)
{
	json_object *jo = json ? json_object_new_object() : NULL;

	if (json)
		json_object_object_add(jo, "cgroups", json_object_new_array());
	if (na_portmap_stats(ctl, cgid, jo) > 0) {
		if (json)
			na_print_json(jo);
		return NA_EXIT_OK;
	}
	json_object_put(jo);
	if (empty_dir)
		na_err("%s is not enrolled (nothing is loaded in %s)", name, empty_dir);
	else
		na_err("%s is not enrolled", name);
	return NA_EXIT_FAIL;
}

int cmd_stats(struct na_ctl *ctl, int argc, char **argv)
{
	const struct na_cmd *cmd = na_find_cmd("stats");
	struct na_stats s, total;
	struct na_cgroup_cfg cfg;
	struct na_cgroup cg;
	struct na_state st;
	struct na_reason why = { 0 };
	json_object *jo = NULL, *jcg = NULL;
	static const struct na_opt opts[] = {
		{ "json", 'j' },
		{ "prometheus", 'P', NA_OPT_LONG },
		{ 0 }
	};
	bool json = false, prometheus = false;
	int c, err, only = -1;
	uint32_t slot;

	while ((c = na_opt_next(ctl, cmd, argc, argv, opts)) != -1) {
		if (c == 'h')
			return NA_EXIT_OK;
		if (c == 'j')
			json = true;
		else if (c == 'P')
			prometheus = true;
		else
			return NA_EXIT_USAGE;
	}
	if (na_opt_args(cmd, argc, argv, NULL, prometheus ? 0 : 1))
		return NA_EXIT_USAGE;
	if (json && prometheus)
		return na_usage_error(cmd, "--json and --prometheus are two formats: choose one");
	if (na_caps_require("stats", false))
		return NA_EXIT_FAIL;
	if (prometheus)
		return stats_prometheus(ctl);
	if (optind < argc && (err = na_resolve_cgroup(argv[optind], &cg)))
		return na_exit_code(err);

	err = na_state_open(&st, na_state_dir(ctl->state_dir), 0, &why);
	if (err == -ENOENT) {
		if (optind < argc)
			return portmap_only(ctl, json, argv[optind], cg.id,
					    na_state_dir(ctl->state_dir));
		jo = json ? json_object_new_object() : NULL;
		memset(&total, 0, sizeof(total));
		if (json) {
			json_object_object_add(jo, "cgroups", json_object_new_array());
			json_object_object_add(jo, "total", counters_json(&total));
			na_portmap_stats(ctl, 0, jo);
			na_veth_stats(na_state_dir(ctl->state_dir), jo);
			na_splice_show(ctl, jo, true, false);
			na_print_json(jo);
		} else {
			printf("nothing loaded in %s\n", na_state_dir(ctl->state_dir));
			na_portmap_stats(ctl, 0, NULL);
			na_veth_stats(na_state_dir(ctl->state_dir), NULL);
			na_splice_show(ctl, NULL, true, false);
		}
		return NA_EXIT_OK;
	}
	if (err) {
		na_err_why(&why, err);
		return NA_EXIT_FAIL;
	}
	if (optind < argc) {
		only = na_state_find_slot(&st, cg.id, &cfg);
		if (only < 0) {
			na_state_close(&st);
			return portmap_only(ctl, json, argv[optind], cg.id, NULL);
		}
	}

	if (json) {
		jo = json_object_new_object();
		jcg = json_object_new_array();
		json_object_object_add(jo, "cgroups", jcg);
	}
	for (slot = 0; slot < NA_MAX_CGROUPS; slot++) {
		if (only >= 0 && slot != (uint32_t)only)
			continue;
		if (na_state_get_slot(&st, slot, &cfg) || cfg.state == NA_SLOT_FREE)
			continue;
		na_state_read_slot(&st, slot, &s);
		if (json) {
			json_object *e = cgroup_json(&cfg, &s);

			json_object_object_add(e, "counters", counters_json(&s));
			json_object_array_add(jcg, e);
		} else {
			printf("%s (id %llu, mode %s, %s, %lld live)\n", cfg.path[0] ? cfg.path : "/",
			       (unsigned long long)cfg.cgid, na_mode_name(cfg.mode),
			       na_slot_state_name(cfg.state), (long long)live_of(&s));
			counters_text(&s);
		}
	}
	if (only < 0) {
		/* The total includes sockets of cgroups no longer enrolled and
		 * events of no enrolled cgroup (sockets_untagged). */
		na_state_read_total(&st, &total);
		if (json) {
			json_object_object_add(jo, "total", counters_json(&total));
		} else {
			printf("total\n");
			counters_text(&total);
		}
	}
	na_state_close(&st);	/* before portmap and veth take the same lock */
	na_portmap_stats(ctl, only >= 0 ? cg.id : 0, jo);
	if (only < 0) {
		na_veth_stats(na_state_dir(ctl->state_dir), jo);
		na_splice_show(ctl, jo, true, false);
	}
	if (json)
		na_print_json(jo);
	return NA_EXIT_OK;
}
