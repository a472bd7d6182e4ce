// SPDX-License-Identifier: GPL-2.0-only
/*
 * portmap add|list|del: per-cgroup port remapping (bpf/portmap.bpf.c).
 *
 * Everything lives in the portmap/ subdirectory of the state directory,
 * under the state directory's lock:
 *
 *   na_pm_rules na_pm_bound ...        maps (pinned by libbpf, by name)
 *   prog_<hook>                        programs
 *   cg<ID>_<hook>                      links of the cgroup with id ID
 *
 * A cgroup keeps its links while it has rules or sockets bound through
 * one; every portmap command detaches cgroups that have neither any more,
 * and forgets cgroups that were removed.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <json-c/json.h>

#include "ctl.h"
#include "log.h"
#include "portmap.skel.h"
#include <netaccel/state.h>

#define PM_SUBDIR "portmap"

enum pm_prog {
	PM_CREATE, PM_BIND4, PM_BIND6, PM_POST4, PM_POST6, PM_RELEASE,
	PM_CONN4, PM_CONN6, PM_SEND4, PM_SEND6, PM_NAME4, PM_NAME6,
	PM_PEER4, PM_PEER6, PM_RECV4, PM_RECV6, PM_NPROGS
};

/* One hook: its program's pin, its links' suffix and attach type. */
static const struct {
	const char *name;
	enum bpf_attach_type type;
} hooks[PM_NPROGS] = {
	[PM_CREATE] = { "create", BPF_CGROUP_INET_SOCK_CREATE },
	[PM_BIND4] = { "bind4", BPF_CGROUP_INET4_BIND },
	[PM_BIND6] = { "bind6", BPF_CGROUP_INET6_BIND },
	[PM_POST4] = { "post4", BPF_CGROUP_INET4_POST_BIND },
	[PM_POST6] = { "post6", BPF_CGROUP_INET6_POST_BIND },
	[PM_RELEASE] = { "release", BPF_CGROUP_INET_SOCK_RELEASE },
	[PM_CONN4] = { "conn4", BPF_CGROUP_INET4_CONNECT },
	[PM_CONN6] = { "conn6", BPF_CGROUP_INET6_CONNECT },
	[PM_SEND4] = { "send4", BPF_CGROUP_UDP4_SENDMSG },
	[PM_SEND6] = { "send6", BPF_CGROUP_UDP6_SENDMSG },
	[PM_NAME4] = { "name4", BPF_CGROUP_INET4_GETSOCKNAME },
	[PM_NAME6] = { "name6", BPF_CGROUP_INET6_GETSOCKNAME },
	[PM_PEER4] = { "peer4", BPF_CGROUP_INET4_GETPEERNAME },
	[PM_PEER6] = { "peer6", BPF_CGROUP_INET6_GETPEERNAME },
	[PM_RECV4] = { "recv4", BPF_CGROUP_UDP4_RECVMSG },
	[PM_RECV6] = { "recv6", BPF_CGROUP_UDP6_RECVMSG },
};

struct pm_state {
	struct na_state lock;	/* the state directory, locked */
	char dir[PATH_MAX];	/* <state directory>/portmap */
	int rules, bound, real, scopes, stats;
	int progs[PM_NPROGS];
};

static const char *const pm_counter_names[] = { NA_PM_COUNTER_NAMES };

_Static_assert(sizeof(pm_counter_names) / sizeof(pm_counter_names[0]) == NA_PM_NUM_COUNTERS,
	       "every counter in struct na_pm_stats needs a name");

static void pm_close(struct pm_state *ps)
{
	int *fds[] = { &ps->rules, &ps->bound, &ps->real, &ps->scopes, &ps->stats };
	size_t i;

	for (i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
		if (*fds[i] >= 0)
			close(*fds[i]);
		*fds[i] = -1;
	}
	for (i = 0; i < PM_NPROGS; i++) {
		if (ps->progs[i] >= 0)
			close(ps->progs[i]);
		ps->progs[i] = -1;
	}
	na_state_close(&ps->lock);
}

static int pm_path(const struct pm_state *ps, const char *name, char *out,
		   size_t outlen)
{
	int n = snprintf(out, outlen, "%s/%s", ps->dir, name);

	return n < 0 || (size_t)n >= outlen ? -ENAMETOOLONG : 0;
}

static int pm_get(const struct pm_state *ps, const char *name)
{
	char path[PATH_MAX];
	int fd;

	if (pm_path(ps, name, path, sizeof(path)))
		return -ENAMETOOLONG;
	fd = bpf_obj_get(path);
	return fd < 0 ? -errno : fd;
}

static int prog_pin_name(enum pm_prog p, char *out, size_t outlen)
{
	int n = snprintf(out, outlen, "prog_%s", hooks[p].name);

	return n < 0 || (size_t)n >= outlen ? -ENAMETOOLONG : 0;
}

static int open_pins(struct pm_state *ps)
{
	struct {
		const char *name;
		int *fd;
	} maps[] = {
		{ "na_pm_rules", &ps->rules },
		{ "na_pm_bound", &ps->bound },
		{ "na_pm_real", &ps->real },
		{ "na_pm_scopes", &ps->scopes },
		{ "na_pm_stats", &ps->stats },
	};
	char name[32];
	size_t i;

	for (i = 0; i < sizeof(maps) / sizeof(maps[0]); i++) {
		*maps[i].fd = pm_get(ps, maps[i].name);
		if (*maps[i].fd < 0)
			return *maps[i].fd;
	}
	for (i = 0; i < PM_NPROGS; i++) {
		prog_pin_name(i, name, sizeof(name));
		ps->progs[i] = pm_get(ps, name);
		if (ps->progs[i] < 0)
			return ps->progs[i];
	}
	return 0;
}

/* Load the programs, reusing pinned maps, and pin what is missing: maps
 * first, then programs, so that an interrupted run leaves a prefix. */
static int load_and_pin(struct pm_state *ps)
{
	struct bpf_program *progs[PM_NPROGS];
	struct na_reason why = { 0 };
	struct na_portmap *skel;
	struct bpf_map *map;
	char path[PATH_MAX], name[32];
	int err;
	size_t i;

	skel = na_portmap__open();
	if (!skel) {
		err = -errno;
		na_err("cannot open the port remap BPF object: %s", strerror(-err));
		return err;
	}
	bpf_object__for_each_map(map, skel->obj) {
		if (bpf_map__is_internal(map))
			continue;
		err = pm_path(ps, bpf_map__name(map), path, sizeof(path));
		if (err || (err = bpf_map__set_pin_path(map, path)))
			goto out;
	}
	err = na_portmap__load(skel);
	if (err) {
		na_err("cannot load the port remap programs into the kernel: %s (%s)",
		       strerror(-err),
		       err == -EPERM ? "needs CAP_BPF, CAP_NET_ADMIN and CAP_PERFMON" :
				       "needs Linux >= 5.9 with CONFIG_CGROUP_BPF; run with -vv to see the verifier log");
		goto out;
	}
	progs[PM_CREATE] = skel->progs.na_pm_create;
	progs[PM_BIND4] = skel->progs.na_pm_bind4;
	progs[PM_BIND6] = skel->progs.na_pm_bind6;
	progs[PM_POST4] = skel->progs.na_pm_post4;
	progs[PM_POST6] = skel->progs.na_pm_post6;
	progs[PM_RELEASE] = skel->progs.na_pm_release;
	progs[PM_CONN4] = skel->progs.na_pm_conn4;
	progs[PM_CONN6] = skel->progs.na_pm_conn6;
	progs[PM_SEND4] = skel->progs.na_pm_send4;
	progs[PM_SEND6] = skel->progs.na_pm_send6;
	progs[PM_NAME4] = skel->progs.na_pm_name4;
	progs[PM_NAME6] = skel->progs.na_pm_name6;
	progs[PM_PEER4] = skel->progs.na_pm_peer4;
	progs[PM_PEER6] = skel->progs.na_pm_peer6;
	progs[PM_RECV4] = skel->progs.na_pm_recv4;
	progs[PM_RECV6] = skel->progs.na_pm_recv6;
	for (i = 0; i < PM_NPROGS; i++) {
		if ((err = prog_pin_name(i, name, sizeof(name))) ||
		    (err = pm_path(ps, name, path, sizeof(path))))
			goto out;
		err = na_pin_prog_once(progs[i], path, &why);
		if (err) {
			na_err_why(&why, err);
			goto out;
		}
	}
	err = 0;
out:
	na_portmap__destroy(skel);
	return err;
}

/*
 * Open the port remap state and take the state directory's lock. With
 * create, make whatever is missing. -ENOENT (not printed) when there is
 * none; other errors are printed.
 */
static int pm_open(struct pm_state *ps, struct na_ctl *ctl, bool create)
{
	const char *dir = na_state_dir(ctl->state_dir);
	struct na_reason why = { 0 };
	int err, n;
	size_t i;

	memset(ps, 0, sizeof(*ps));
	ps->rules = ps->bound = ps->real = ps->scopes = ps->stats = -1;
	for (i = 0; i < PM_NPROGS; i++)
		ps->progs[i] = -1;
	err = na_state_lock(&ps->lock, dir, create ? NA_STATE_CREATE : 0, &why);
	if (err) {
		if (err != -ENOENT)
			na_err_why(&why, err);
		return err;
	}
	n = snprintf(ps->dir, sizeof(ps->dir), "%s/" PM_SUBDIR, ps->lock.dir);
	if (n < 0 || (size_t)n >= sizeof(ps->dir)) {
		err = -ENAMETOOLONG;
		goto fail;
	}
	if (create && mkdir(ps->dir, 0700) && errno != EEXIST) {
		err = -errno;
		na_err("cannot create %s: %s", ps->dir, strerror(-err));
		goto fail;
	}
	if (access(ps->dir, F_OK)) {
		err = -ENOENT;
		goto fail;
	}
	err = open_pins(ps);
	if (err == -ENOENT && create) {
		err = load_and_pin(ps);
		if (!err)
			err = open_pins(ps);
	} else if (err == -ENOENT) {
		na_err("port remap state in %s is incomplete (an interrupted run): run netaccel-ctl portmap add to complete it, or cleanup to remove it",
		       ps->dir);
		err = -ENODATA;
	}
	if (err) {
		if (!na_err_reported())
			na_err("cannot open port remap state in %s: %s", ps->dir, strerror(-err));
		goto fail;
	}
	return 0;
fail:
	pm_close(ps);
	return err;
}

static int link_pin_name(uint64_t cgid, enum pm_prog p, char *out, size_t outlen)
{
	int n = snprintf(out, outlen, "cg%llu_%s", (unsigned long long)cgid,
			 hooks[p].name);

	return n < 0 || (size_t)n >= outlen ? -ENAMETOOLONG : 0;
}

/* Attach every hook to the cgroup through links pinned in portmap/,
 * unless pinned already. Undoes what it attached when one fails. */
static int attach_all(const struct pm_state *ps, const struct na_cgroup *cg)
{
	bool made[PM_NPROGS] = { false };
	char name[64], path[PATH_MAX];
	struct na_reason why = { 0 };
	int cgfd, err = 0;
	size_t i;

	cgfd = open(cg->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cgfd < 0) {
		err = -errno;
		na_err("cannot open cgroup %s: %s", cg->path, strerror(-err));
		return err;
	}
	for (i = 0; i < PM_NPROGS; i++) {
		if ((err = link_pin_name(cg->id, i, name, sizeof(name))) ||
		    (err = pm_path(ps, name, path, sizeof(path))))
			break;
		err = na_link_pin(ps->progs[i], cgfd, hooks[i].type, path, &why);
		if (err < 0 && why.kind == NA_WHY_ATTACH_FAILED) {
			na_err("cannot attach %s to %s: %s%s", hooks[i].name, cg->path,
			       strerror(-err),
			       err == -EPERM ? " (needs CAP_BPF and CAP_NET_ADMIN)" :
			       err == -EINVAL || err == -EOPNOTSUPP ?
					" (the kernel lacks this cgroup hook; needs Linux >= 5.9 with CONFIG_CGROUP_BPF)" : "");
			break;
		}
		if (err < 0) {
			na_err_why(&why, err);
			break;
		}
		made[i] = err > 0;
		err = 0;
	}
	close(cgfd);
	if (err) {
		for (i = 0; i < PM_NPROGS; i++)
			if (made[i] && !link_pin_name(cg->id, i, name, sizeof(name)) &&
			    !pm_path(ps, name, path, sizeof(path)))
				unlink(path);
	}
	return err;
}

/* Unpinning a link detaches its program (nothing else holds the link). */
static int detach_all(const struct pm_state *ps, uint64_t cgid)
{
	char name[64], path[PATH_MAX];
	int err = 0;
	size_t i;

	for (i = 0; i < PM_NPROGS; i++) {
		if (link_pin_name(cgid, i, name, sizeof(name)) ||
		    pm_path(ps, name, path, sizeof(path)))
			return -ENAMETOOLONG;
		if (unlink(path) && errno != ENOENT)
			err = -errno;
	}
	return err;
}

static const char *proto_name(uint8_t proto)
{
	return proto == NA_PM_UDP ? "udp" : "tcp";
}

/* Sockets bound through a rule of cgid now (live bindings). */
static long live_bindings(const struct pm_state *ps, uint64_t cgid)
{
	struct na_pm_key key, next;
	struct na_pm_bound b;
	void *prev = NULL;
	long n = 0;
	int guard = 0;

	while (!bpf_map_get_next_key(ps->bound, prev, &next) && guard++ <= NA_PM_MAX_RULES) {
		key = next;
		prev = &key;
		if (key.cgid == cgid && !bpf_map_lookup_elem(ps->bound, &key, &b))
			n += b.refs;
	}
	return n;
}

/* Remove every key of cgid from a map keyed by struct na_pm_key. */
static void forget_keys(int map, uint64_t cgid, bool only_unused)
{
	struct na_pm_key keys[NA_PM_MAX_RULES], key, next;
	struct na_pm_bound b;
	void *prev = NULL;
	int n = 0, i;

	while (!bpf_map_get_next_key(map, prev, &next) && n < NA_PM_MAX_RULES) {
		key = next;
		prev = &key;
		if (key.cgid != cgid)
			continue;
		if (only_unused && (bpf_map_lookup_elem(map, &key, &b) || b.refs))
			continue;
		keys[n++] = key;
	}
	for (i = 0; i < n; i++)
		bpf_map_delete_elem(map, &keys[i]);
}

/* Detach a cgroup and forget everything of it. */
static int drop_scope(const struct pm_state *ps, uint64_t cgid)
{
	int err = detach_all(ps, cgid);

	if (err)
		return err;
	forget_keys(ps->rules, cgid, false);
	forget_keys(ps->bound, cgid, false);
	forget_keys(ps->real, cgid, false);
	bpf_map_delete_elem(ps->stats, &cgid);
	bpf_map_delete_elem(ps->scopes, &cgid);
	return 0;
}

/* Re-attach the links an interrupted run left out of a cgroup that still
 * exists under the path it had. */
static void repair_links(const struct pm_state *ps, const char *root, uint64_t cgid,
			 const struct na_pm_scope *sc)
{
	char path[PATH_MAX], name[64], pin[PATH_MAX];
	struct na_cgroup cg;
	size_t i;

	for (i = 0; i < PM_NPROGS; i++)
		if (!link_pin_name(cgid, i, name, sizeof(name)) &&
		    !pm_path(ps, name, pin, sizeof(pin)) && access(pin, F_OK))
			break;
	if (i == PM_NPROGS)
		return;		/* all there */
	if (snprintf(path, sizeof(path), "%s/%s", root, sc->path) >= (int)sizeof(path) ||
	    na_cgroup_from_path(root, path, &cg) || cg.id != cgid)
		return;
	if (!attach_all(ps, &cg))
		na_info("%s: re-attached the port remap links an interrupted run left out",
			sc->path[0] ? sc->path : "/");
}

static bool scope_uses(uint64_t cgid, void *arg)
{
	const struct pm_state *ps = arg;
	struct na_pm_scope sc;

	return bpf_map_lookup_elem(ps->scopes, &cgid, &sc) == 0;
}

/* Cgroups with no rule and no live binding are detached; removed cgroups
 * are forgotten; links no scope holds (an interrupted run) go; with
 * repair, missing links of the others are attached again. */
static void reconcile(const struct pm_state *ps, bool repair)
{
	uint64_t ids[NA_PM_MAX_CGROUPS], key, next;
	struct na_pm_scope sc;
	char root[PATH_MAX];
	void *prev = NULL;
	int n = 0, i;

	if (na_cgroup_find_mount("/proc/self/mountinfo", root, sizeof(root)))
		root[0] = '\0';
	while (!bpf_map_get_next_key(ps->scopes, prev, &next) && n < NA_PM_MAX_CGROUPS) {
		key = next;
		prev = &key;
		ids[n++] = key;
	}
	for (i = 0; i < n; i++) {
		if (bpf_map_lookup_elem(ps->scopes, &ids[i], &sc))
			continue;
		if (root[0] && na_cgroup_id_exists(root, ids[i]) == 0) {
			if (!drop_scope(ps, ids[i]))
				na_info("%s: the cgroup was removed, its port rules with it",
					sc.path[0] ? sc.path : "/");
		} else if (sc.rules == 0 && live_bindings(ps, ids[i]) == 0) {
			if (!drop_scope(ps, ids[i]))
				na_info("%s: no port rule and no socket left, detached",
					sc.path[0] ? sc.path : "/");
		} else if (repair && root[0]) {
			repair_links(ps, root, ids[i], &sc);
		}
	}
	na_sweep_cgroup_links(ps->dir, scope_uses, (void *)ps);
}

/* A port number as typed: 1..65535, digits only. */
static int parse_port(const char *s, uint16_t *port)
{
	unsigned long v;
	char *end;

	if (!*s || strspn(s, "0123456789") != strlen(s) || strlen(s) > 5)
		return -EINVAL;
	v = strtoul(s, &end, 10);
	if (v < 1 || v > 65535)
		return -EINVAL;
	*port = (uint16_t)v;
	return 0;
}

/* <port> or <port>:<real port> */
static int parse_rule(const struct na_cmd *cmd, const char *s, uint16_t *vport,
		      uint16_t *rport, bool allow_real)
{
	char buf[32];
	char *colon;

	if (snprintf(buf, sizeof(buf), "%s", s) >= (int)sizeof(buf))
		goto bad;
	colon = strchr(buf, ':');
	if (colon) {
		if (!allow_real)
			goto bad;
		*colon = '\0';
		if (parse_port(colon + 1, rport))
			goto bad;
	}
	if (parse_port(buf, vport))
		goto bad;
	return 0;
bad:
	na_usage_error(cmd, "invalid port '%s' (expected %s, ports 1-65535)", s,
		       allow_real ? "<port> or <port>:<real port>" : "<port>");
	return -EINVAL;
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

static const char *display(const struct na_cgroup *cg)
{
	return cg->rel[0] ? cg->rel : "/";
}

static void port_text(const struct na_pm_key *k, char *out, size_t outlen)
{
	snprintf(out, outlen, "%u/%s", k->vport, proto_name(k->proto));
}

/* A fixed real port may be neither another rule's real port (the two
 * could never bind at once) nor a virtual port in the same cgroup (a
 * second hook run would remap it again). */
static int check_conflicts(const struct pm_state *ps, const struct na_pm_key *want,
			   const struct na_pm_rule *rule, const struct na_cgroup *cg)
{
	struct na_pm_key key, next;
	struct na_pm_rule r;
	struct na_pm_scope sc;
	void *prev = NULL;
	char what[32];
	int guard = 0;

	port_text(want, what, sizeof(what));
	while (!bpf_map_get_next_key(ps->rules, prev, &next) && guard++ <= NA_PM_MAX_RULES) {
		key = next;
		prev = &key;
		if (key.proto != want->proto || bpf_map_lookup_elem(ps->rules, &key, &r))
			continue;
		if ((rule->flags & NA_PMF_FIXED) && (r.flags & NA_PMF_FIXED) &&
		    r.rport == rule->rport) {
			if (bpf_map_lookup_elem(ps->scopes, &key.cgid, &sc))
				sc.path[0] = '\0';
			na_err("cannot add %s in %s: real port %u is already the real port of %u/%s in %s",
			       what, display(cg), rule->rport, key.vport,
			       proto_name(key.proto), sc.path[0] ? sc.path : "/");
			return -EADDRINUSE;
		}
		if (key.cgid != want->cgid)
			continue;
		if ((rule->flags & NA_PMF_FIXED) && key.vport == rule->rport) {
			na_err("cannot add %s in %s: real port %u is a virtual port of that cgroup",
			       what, display(cg), rule->rport);
			return -EINVAL;
		}
		if ((r.flags & NA_PMF_FIXED) && r.rport == want->vport) {
			na_err("cannot add %s in %s: %u is the real port of its rule for %u/%s",
			       what, display(cg), want->vport, key.vport, proto_name(key.proto));
			return -EINVAL;
		}
	}
	return 0;
}

static int zero_stats(const struct pm_state *ps, uint64_t cgid)
{
	return na_percpu_zero(ps->stats, &cgid, sizeof(struct na_pm_stats), BPF_NOEXIST);
}

static int pm_add(struct na_ctl *ctl, const struct na_cmd *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "udp", no_argument, NULL, 'u' },
		{ "allow-unprivileged", no_argument, NULL, 'U' },
		{ 0 }
	};
	struct na_pm_key key = { .proto = NA_PM_TCP };
	struct na_pm_rule rule = { 0 };
	struct na_pm_scope sc;
	bool unpriv = false, new_scope = false;
	uint16_t vport = 0, rport = 0;
	struct na_cgroup cg;
	struct pm_state ps;
	const char *priv_note = "";
	char what[32];
	int c, err;

	while ((c = na_getopt(ctl, cmd, argc, argv, "", opts)) != -1) {
		if (c == 'h')
			return NA_EXIT_OK;
		if (c == 'u')
			key.proto = NA_PM_UDP;
		else if (c == 'U')
			unpriv = true;
		else
			return NA_EXIT_USAGE;
	}
	if (optind >= argc)
		return na_usage_error(cmd, "add: missing <cgroup>");
	if (optind + 1 >= argc)
		return na_usage_error(cmd, "add: missing <port>[:<real port>]");
	if (optind + 2 < argc)
		return na_usage_error(cmd, "unexpected argument '%s'", argv[optind + 2]);
	if (parse_rule(cmd, argv[optind + 1], &vport, &rport, true))
		return NA_EXIT_USAGE;
	if (rport && rport == vport)
		return na_usage_error(cmd, "real port %u is the virtual port itself", rport);
	if (na_caps_require("portmap add", true))
		return NA_EXIT_FAIL;
	err = na_resolve_cgroup(argv[optind], &cg);
	if (err)
		return na_exit_code(err);

	key.cgid = cg.id;
	key.vport = vport;
	rule.rport = rport;
	rule.flags = (rport ? NA_PMF_FIXED : 0) | (unpriv ? NA_PMF_UNPRIV : 0) |
		     (vport < unprivileged_port_start() ? NA_PMF_PRIV_VPORT : 0);
	port_text(&key, what, sizeof(what));

	if (pm_open(&ps, ctl, true))
		return NA_EXIT_FAIL;
	reconcile(&ps, true);
	if (!bpf_map_lookup_elem(ps.rules, &key, &(struct na_pm_rule){ 0 })) {
		na_err("cannot add %s in %s: the cgroup has a rule for it already (portmap del it first)",
		       what, display(&cg));
		err = -EEXIST;
		goto out;
	}
	err = check_conflicts(&ps, &key, &rule, &cg);
	if (err)
		goto out;

	if (bpf_map_lookup_elem(ps.scopes, &cg.id, &sc)) {
		memset(&sc, 0, sizeof(sc));
		snprintf(sc.path, sizeof(sc.path), "%.*s", (int)sizeof(sc.path) - 1, cg.rel);
		new_scope = true;
		err = zero_stats(&ps, cg.id);
		if (err)
			goto fail;
	}
	sc.rules++;
	if (bpf_map_update_elem(ps.rules, &key, &rule, BPF_NOEXIST)) {
		err = -errno;
		goto fail;
	}
	if (bpf_map_update_elem(ps.scopes, &cg.id, &sc, BPF_ANY)) {
		err = -errno;
		goto undo_rule;
	}
	err = attach_all(&ps, &cg);
	if (err)
		goto undo_scope;
	if (rule.flags & NA_PMF_PRIV_VPORT)
		priv_note = unpriv ? "; unprivileged processes may bind it too" :
				     "; binding it needs CAP_NET_BIND_SERVICE";
	if (rport)
		printf("%s: port %s binds real port %u%s\n", display(&cg), what, rport,
		       priv_note);
	else
		printf("%s: port %s binds a real port the kernel picks (portmap list shows it)%s\n",
		       display(&cg), what, priv_note);
	goto out;

undo_scope:
	if (new_scope) {
		detach_all(&ps, cg.id);
		bpf_map_delete_elem(ps.scopes, &cg.id);
	} else {
		sc.rules--;
		bpf_map_update_elem(ps.scopes, &cg.id, &sc, BPF_ANY);
	}
undo_rule:
	bpf_map_delete_elem(ps.rules, &key);
fail:
	if (new_scope)
		bpf_map_delete_elem(ps.stats, &cg.id);
	if (!na_err_reported())
		na_err("cannot add %s in %s: %s", what, display(&cg), strerror(-err));
out:
	pm_close(&ps);
	return err ? NA_EXIT_FAIL : NA_EXIT_OK;
}

static int pm_del(struct na_ctl *ctl, const struct na_cmd *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "udp", no_argument, NULL, 'u' },
		{ 0 }
	};
	struct na_pm_key key = { .proto = NA_PM_TCP };
	struct na_pm_bound b;
	struct na_pm_scope sc;
	struct na_cgroup cg;
	struct pm_state ps;
	uint16_t vport = 0, unused;
	char what[32];
	long live = 0;
	int c, err;

	while ((c = na_getopt(ctl, cmd, argc, argv, "", opts)) != -1) {
		if (c == 'h')
			return NA_EXIT_OK;
		if (c == 'u')
			key.proto = NA_PM_UDP;
		else
			return NA_EXIT_USAGE;
	}
	if (optind >= argc)
		return na_usage_error(cmd, "del: missing <cgroup>");
	if (optind + 1 >= argc)
		return na_usage_error(cmd, "del: missing <port>");
	if (optind + 2 < argc)
		return na_usage_error(cmd, "unexpected argument '%s'", argv[optind + 2]);
	if (parse_rule(cmd, argv[optind + 1], &vport, &unused, false))
		return NA_EXIT_USAGE;
	if (na_caps_require("portmap del", true))
		return NA_EXIT_FAIL;
	err = na_resolve_cgroup(argv[optind], &cg);
	if (err)
		return na_exit_code(err);
	key.cgid = cg.id;
	key.vport = vport;
	port_text(&key, what, sizeof(what));

	err = pm_open(&ps, ctl, false);
	if (err == -ENOENT) {
		na_err("%s has no rule for port %s (no port rules at all)", display(&cg), what);
		return NA_EXIT_FAIL;
	}
	if (err)
		return NA_EXIT_FAIL;
	if (bpf_map_lookup_elem(ps.rules, &key, &(struct na_pm_rule){ 0 })) {
		na_err("%s has no rule for port %s (see netaccel-ctl portmap list)", display(&cg), what);
		err = -ENOENT;
		goto out;
	}
	if (bpf_map_delete_elem(ps.rules, &key)) {
		err = -errno;
		na_err("cannot delete the rule for %s in %s: %s", what, display(&cg), strerror(-err));
		goto out;
	}
	/* New binds stop being remapped now; sockets bound through the rule
	 * keep their real port, and connects in the cgroup still reach them. */
	if (!bpf_map_lookup_elem(ps.bound, &key, &b)) {
		if (b.refs)
			live = b.refs;
		else
			bpf_map_delete_elem(ps.bound, &key);
	}
	if (!bpf_map_lookup_elem(ps.scopes, &cg.id, &sc) && sc.rules > 0) {
		sc.rules--;
		bpf_map_update_elem(ps.scopes, &cg.id, &sc, BPF_ANY);
	}
	reconcile(&ps, true);
	if (live)
		printf("%s: deleted the rule for %s; %ld sockets bound through it keep their real port %u until they close\n",
		       display(&cg), what, live, b.rport);
	else
		printf("%s: deleted the rule for %s\n", display(&cg), what);
out:
	pm_close(&ps);
	return err ? NA_EXIT_FAIL : NA_EXIT_OK;
}

static void scope_path(const struct pm_state *ps, uint64_t cgid, char *out, size_t outlen)
{
	struct na_pm_scope sc;

	if (bpf_map_lookup_elem(ps->scopes, &cgid, &sc))
		snprintf(out, outlen, "(cgroup %llu)", (unsigned long long)cgid);
	else
		snprintf(out, outlen, "%s", sc.path[0] ? sc.path : "/");
}

static int cmp_key(const void *a, const void *b)
{
	const struct na_pm_key *x = a, *y = b;

	if (x->cgid != y->cgid)
		return x->cgid < y->cgid ? -1 : 1;
	if (x->proto != y->proto)
		return x->proto < y->proto ? -1 : 1;
	return (int)x->vport - (int)y->vport;
}

/* The keys of a map keyed by struct na_pm_key, sorted; how many. */
static int sorted_keys(int map, struct na_pm_key *keys)
{
	struct na_pm_key key, next;
	void *prev = NULL;
	int n = 0;

	while (!bpf_map_get_next_key(map, prev, &next) && n < NA_PM_MAX_RULES) {
		key = next;
		prev = &key;
		keys[n++] = key;
	}
	qsort(keys, n, sizeof(*keys), cmp_key);
	return n;
}

static int pm_list(struct na_ctl *ctl, const struct na_cmd *cmd, int argc, char **argv)
{
	static struct na_pm_key keys[NA_PM_MAX_RULES];
	json_object *jo = NULL, *jr = NULL, *jb = NULL, *e;
	char path[NA_CGROUP_PATH_MAX + 32], rule[64];
	struct na_pm_bound b;
	struct na_pm_rule r;
	struct pm_state ps;
	bool json = false;
	int c, err, n, i;

	c = na_getopt_json(ctl, cmd, argc, argv, &json);
	if (c >= 0)
		return c;
	if (optind < argc)
		return na_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
	if (na_caps_require("portmap list", false))
		return NA_EXIT_FAIL;
	if (json) {
		jo = json_object_new_object();
		jr = json_object_new_array();
		jb = json_object_new_array();
		json_object_object_add(jo, "rules", jr);
		json_object_object_add(jo, "bound", jb);
	}
	err = pm_open(&ps, ctl, false);
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
	reconcile(&ps, false);

	n = sorted_keys(ps.rules, keys);
	if (!json)
		printf("%-36s %-5s %5s  %-22s\n", "CGROUP", "PROTO", "PORT", "REAL PORT");
	for (i = 0; i < n; i++) {
		if (bpf_map_lookup_elem(ps.rules, &keys[i], &r))
			continue;
		scope_path(&ps, keys[i].cgid, path, sizeof(path));
		if (json) {
			e = json_object_new_object();
			json_object_object_add(e, "cgroup", json_object_new_string(path));
			json_object_object_add(e, "id", json_object_new_int64((int64_t)keys[i].cgid));
			json_object_object_add(e, "proto", json_object_new_string(proto_name(keys[i].proto)));
			json_object_object_add(e, "port", json_object_new_int(keys[i].vport));
			json_object_object_add(e, "real_port", (r.flags & NA_PMF_FIXED) ?
					       json_object_new_int(r.rport) : NULL);
			json_object_object_add(e, "allow_unprivileged",
					       json_object_new_boolean(r.flags & NA_PMF_UNPRIV));
			json_object_array_add(jr, e);
			continue;
		}
		if (r.flags & NA_PMF_FIXED)
			snprintf(rule, sizeof(rule), "%u", r.rport);
		else
			snprintf(rule, sizeof(rule), "picked by the kernel");
		printf("%-36s %-5s %5u  %s%s\n", path, proto_name(keys[i].proto), keys[i].vport,
		       rule, (r.flags & NA_PMF_UNPRIV) ? ", unprivileged allowed" : "");
	}
	if (!n && !json)
		printf("(no rules)\n");

	n = sorted_keys(ps.bound, keys);
	if (!json)
		printf("\nbound now (ss, /proc/net and tcpdump show the real port):\n%-36s %-5s %5s  %9s  %s\n",
		       "CGROUP", "PROTO", "PORT", "REAL PORT", "SOCKETS");
	for (c = 0, i = 0; i < n; i++) {
		if (bpf_map_lookup_elem(ps.bound, &keys[i], &b) || !b.refs)
			continue;
		c++;
		scope_path(&ps, keys[i].cgid, path, sizeof(path));
		if (json) {
			e = json_object_new_object();
			json_object_object_add(e, "cgroup", json_object_new_string(path));
			json_object_object_add(e, "id", json_object_new_int64((int64_t)keys[i].cgid));
			json_object_object_add(e, "proto", json_object_new_string(proto_name(keys[i].proto)));
			json_object_object_add(e, "port", json_object_new_int(keys[i].vport));
			json_object_object_add(e, "real_port", json_object_new_int(b.rport));
			json_object_object_add(e, "sockets", json_object_new_int64(b.refs));
			json_object_object_add(e, "rule", json_object_new_boolean(
				!bpf_map_lookup_elem(ps.rules, &keys[i], &r)));
			json_object_array_add(jb, e);
			continue;
		}
		printf("%-36s %-5s %5u  %9u  %u%s\n", path, proto_name(keys[i].proto), keys[i].vport,
		       b.rport, b.refs,
		       bpf_map_lookup_elem(ps.rules, &keys[i], &r) ? " (rule deleted)" : "");
	}
	if (!c && !json)
		printf("(none)\n");
	pm_close(&ps);
	if (json)
		na_print_json(jo);
	return NA_EXIT_OK;
}

int cmd_portmap(struct na_ctl *ctl, int argc, char **argv)
{
	const struct na_cmd *cmd = na_find_cmd("portmap");
	const char *sub;
	int i;

	/* Help asked for before any subcommand. */
	if (argc < 2 || argv[1][0] == '-') {
		for (i = 1; i < argc; i++) {
			if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
				na_cmd_help(cmd);
				return NA_EXIT_OK;
			}
		}
		if (argc < 2)
			return na_usage_error(cmd, "missing subcommand (add, list or del)");
		return na_usage_error(cmd, "expected a subcommand (add, list or del) before '%s'", argv[1]);
	}
	sub = argv[1];
	argc--;
	argv++;
	optind = 0;
	if (!strcmp(sub, "add"))
		return pm_add(ctl, cmd, argc, argv);
	if (!strcmp(sub, "del"))
		return pm_del(ctl, cmd, argc, argv);
	if (!strcmp(sub, "list"))
		return pm_list(ctl, cmd, argc, argv);
	return na_usage_error(cmd, "unknown subcommand '%s' (use add, list or del)", sub);
}

/* Rules in the pinned map of dir, for the message of cleanup. */
static int count_rules(const char *dir)
{
	struct na_pm_key key, next;
	char path[PATH_MAX];
	void *prev = NULL;
	int fd, n = 0;

	if (snprintf(path, sizeof(path), "%s/na_pm_rules", dir) >= (int)sizeof(path))
		return 0;
	fd = bpf_obj_get(path);
	if (fd < 0)
		return 0;
	while (!bpf_map_get_next_key(fd, prev, &next) && n < NA_PM_MAX_RULES) {
		key = next;
		prev = &key;
		n++;
	}
	close(fd);
	return n;
}

int na_portmap_cleanup(struct na_ctl *ctl)
{
	static const char *const order[] = { "cg", "prog_", "" };
	struct na_reason why = { 0 };
	struct na_state lock;
	char dir[PATH_MAX];
	int err, n, rules = 0;

	err = na_state_lock(&lock, na_state_dir(ctl->state_dir), 0, &why);
	if (err == -ENOENT)
		return 0;
	if (err) {
		na_err_why(&why, err);
		return err;
	}
	n = snprintf(dir, sizeof(dir), "%s/" PM_SUBDIR, lock.dir);
	if (n < 0 || (size_t)n >= sizeof(dir)) {
		err = -ENAMETOOLONG;
		goto out;
	}
	if (access(dir, F_OK)) {
		err = 0;
		goto out;
	}
	rules = count_rules(dir);
	/* Links first (detaching), then programs, then maps. */
	err = na_unpin_dir(dir, order, sizeof(order) / sizeof(order[0]), NULL);
	if (err) {
		na_err("cannot remove %s: %s", dir, strerror(-err));
		goto out;
	}
	printf("removed port remapping (%d rules) from the kernel\n", rules);
	err = 1;
out:
	na_state_close(&lock);
	return err;
}

/* Sum of one cgroup's per-CPU counters. */
static int read_stats(const struct pm_state *ps, uint64_t cgid, struct na_pm_stats *out)
{
	_Static_assert(sizeof(*out) == NA_PM_NUM_COUNTERS * sizeof(uint64_t),
		       "struct na_pm_stats is its counters");
	return na_percpu_sum(ps->stats, &cgid, (uint64_t *)out, NA_PM_NUM_COUNTERS);
}

static json_object *counters_json(const struct na_pm_stats *s)
{
	json_object *o = json_object_new_object();
	size_t i;

	for (i = 0; i < NA_PM_NUM_COUNTERS; i++)
		json_object_object_add(o, pm_counter_names[i],
				       json_object_new_int64((int64_t)((const __u64 *)s)[i]));
	return o;
}

static void counters_text(const struct na_pm_stats *s)
{
	size_t i;

	for (i = 0; i < NA_PM_NUM_COUNTERS; i++)
		printf("  %-18s %llu\n", pm_counter_names[i],
		       (unsigned long long)((const __u64 *)s)[i]);
}

int na_portmap_stats(struct na_ctl *ctl, uint64_t only, json_object *jo)
{
	uint64_t ids[NA_PM_MAX_CGROUPS], key, next;
	struct na_pm_stats s, total;
	json_object *jpm = NULL, *jcg = NULL, *e;
	struct na_pm_scope sc;
	struct pm_state ps;
	void *prev = NULL;
	int n = 0, i, shown = 0;
	size_t k;

	if (pm_open(&ps, ctl, false)) {
		if (jo && !only)
			json_object_object_add(jo, "portmap", NULL);
		return 0;
	}
	while (!bpf_map_get_next_key(ps.scopes, prev, &next) && n < NA_PM_MAX_CGROUPS) {
		key = next;
		prev = &key;
		ids[n++] = key;
	}
	memset(&total, 0, sizeof(total));
	if (jo) {
		jpm = json_object_new_object();
		jcg = json_object_new_array();
		json_object_object_add(jpm, "cgroups", jcg);
	}
	for (i = 0; i < n; i++) {
		if (bpf_map_lookup_elem(ps.scopes, &ids[i], &sc) || read_stats(&ps, ids[i], &s))
			continue;
		for (k = 0; k < NA_PM_NUM_COUNTERS; k++)
			((__u64 *)&total)[k] += ((__u64 *)&s)[k];
		if (only && ids[i] != only)
			continue;
		shown++;
		if (jo) {
			e = json_object_new_object();
			json_object_object_add(e, "path", json_object_new_string(sc.path));
			json_object_object_add(e, "id", json_object_new_int64((int64_t)ids[i]));
			json_object_object_add(e, "rules", json_object_new_int64(sc.rules));
			json_object_object_add(e, "counters", counters_json(&s));
			json_object_array_add(jcg, e);
		} else {
			printf("portmap %s (id %llu, %u rules)\n", sc.path[0] ? sc.path : "/",
			       (unsigned long long)ids[i], sc.rules);
			counters_text(&s);
		}
	}
	if (!only) {
		if (jo) {
			json_object_object_add(jpm, "total", counters_json(&total));
		} else if (n) {
			printf("portmap total\n");
			counters_text(&total);
		}
	}
	if (jo)
		json_object_object_add(jo, "portmap", jpm);
	pm_close(&ps);
	return shown;
}

int na_portmap_status(struct na_ctl *ctl, json_object *jo)
{
	struct na_pm_key key, next;
	struct bpf_prog_info info;
	void *prev = NULL;
	json_object *jpm, *jp;
	struct pm_state ps;
	uint64_t sk, snext;
	int rules = 0, cgroups = 0, err;
	__u32 len;
	size_t i;

	err = pm_open(&ps, ctl, false);
	if (err) {
		if (jo)
			json_object_object_add(jo, "portmap", NULL);
		else if (err == -ENOENT)
			printf("portmap: no port rules\n");
		return 0;
	}
	while (!bpf_map_get_next_key(ps.rules, prev, &next) && rules < NA_PM_MAX_RULES) {
		key = next;
		prev = &key;
		rules++;
	}
	prev = NULL;
	while (!bpf_map_get_next_key(ps.scopes, prev, &snext) && cgroups < NA_PM_MAX_CGROUPS) {
		sk = snext;
		prev = &sk;
		cgroups++;
	}
	if (jo) {
		jpm = json_object_new_object();
		jp = json_object_new_object();
		json_object_object_add(jpm, "rules", json_object_new_int(rules));
		json_object_object_add(jpm, "cgroups", json_object_new_int(cgroups));
		for (i = 0; i < PM_NPROGS; i++) {
			char name[32];

			memset(&info, 0, sizeof(info));
			len = sizeof(info);
			snprintf(name, sizeof(name), "na_pm_%s", hooks[i].name);
			json_object_object_add(jp, name, json_object_new_int64(
				bpf_obj_get_info_by_fd(ps.progs[i], &info, &len) ? 0 : info.id));
		}
		json_object_object_add(jpm, "programs", jp);
		json_object_object_add(jo, "portmap", jpm);
	} else {
		printf("portmap: %d rules on %d cgroups, %d programs (na_pm_*) pinned in %s (netaccel-ctl portmap list)\n",
		       rules, cgroups, PM_NPROGS, ps.dir);
	}
	pm_close(&ps);
	return 0;
}
