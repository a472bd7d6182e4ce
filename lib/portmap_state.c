// SPDX-License-Identifier: GPL-2.0-only
/*
 * The port remap's pins and links, in the portmap/ subdirectory of the
 * state directory, under the state directory's lock:
 *
 *   na_pm_rules na_pm_bound ...        maps (pinned by libbpf, by name)
 *   prog_create prog_bind4 ...         programs (prog_<last word of the
 *                                      program's name>)
 *   cg<ID>_create cg<ID>_bind4 ...     links of the cgroup with id ID
 *
 * Which maps and programs there are comes from the skeleton (objset.h),
 * and so does each program's hook: the attach type libbpf reads from its
 * SEC() name. A cgroup keeps its links while it has rules or sockets bound
 * through one; reconcile detaches cgroups that have neither any more, and
 * forgets cgroups that were removed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "internal.h"
#include "na_cgroup.h"
#include "portmap.skel.h"
#include "portmap_state.h"

static int open_skel(struct na_portmap **skel, struct na_reason *why)
{
	*skel = na_portmap__open();
	if (!*skel) {
		int err = -errno;

		return na_reason_set(why, err, "cannot open the port remap BPF object: %s",
				     strerror(-err));
	}
	return 0;
}

int na_pm_describe(struct na_objset *os, const char *dir, struct na_reason *why)
{
	struct na_portmap *skel;
	int err;

	err = open_skel(&skel, why);
	if (err)
		return err;
	err = na_objset_init(os, dir, skel->obj);
	na_portmap__destroy(skel);
	return err;
}

/* Load the programs of skel (described in pm->os), reusing the pinned
 * maps, and pin what is missing: maps first, then programs, so that an
 * interrupted run leaves a prefix. */
static int load_and_pin(struct na_pm *pm, struct na_portmap *skel, struct na_reason *why)
{
	int err = na_portmap__load(skel);

	if (err == -EPERM)
		return na_reason_set(why, err,
				     "cannot load the port remap programs into the kernel: %s (needs CAP_BPF, CAP_NET_ADMIN and CAP_PERFMON)",
				     strerror(-err));
	if (err)
		return na_reason_set_kind(why, NA_WHY_LOAD_FAILED, err,
					  "cannot load the port remap programs into the kernel: %s",
					  strerror(-err));
	return na_objset_pin(&pm->os, skel->obj, why);
}

void na_pm_close(struct na_pm *pm)
{
	int *fds[] = { &pm->rules, &pm->bound, &pm->real, &pm->scopes, &pm->stats };
	size_t i;

	if (!pm)
		return;
	for (i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		if (*fds[i] >= 0)
			close(*fds[i]);
	na_objset_close(&pm->os);
	na_state_close(&pm->lock);
	free(pm);
}

/* Open the pins (loading what is missing, with create) and take the
 * maps' fds; the programs' stay in pm->os. */
static int open_pins(struct na_pm *pm, bool create, struct na_reason *why)
{
	struct na_portmap *skel;
	int err;

	err = open_skel(&skel, why);
	if (err)
		return err;
	err = na_objset_init(&pm->os, pm->dir, skel->obj);
	if (!err)
		err = na_objset_open(&pm->os);
	if (err == -ENOENT && create) {
		err = load_and_pin(pm, skel, why);
		if (!err)
			err = na_objset_open(&pm->os);
	} else if (err == -ENOENT) {
		err = na_reason_set_kind(why, NA_WHY_STATE_INCOMPLETE, -ENODATA,
					 "port remap state in %s is incomplete (an interrupted run)",
					 pm->dir);
	}
	na_portmap__destroy(skel);
	if (err)
		return err;
	pm->rules = na_objset_take(&pm->os, "na_pm_rules");
	pm->bound = na_objset_take(&pm->os, "na_pm_bound");
	pm->real = na_objset_take(&pm->os, "na_pm_real");
	pm->scopes = na_objset_take(&pm->os, "na_pm_scopes");
	pm->stats = na_objset_take(&pm->os, "na_pm_stats");
	return 0;
}

int na_pm_open(struct na_pm **out, const char *dir, unsigned int flags, struct na_reason *why)
{
	bool create = flags & NA_STATE_CREATE;
	struct na_pm *pm;
	int err, n;

	*out = NULL;
	na_reason_clear(why);
	pm = calloc(1, sizeof(*pm));
	if (!pm)
		return na_reason_set(why, -ENOMEM, "%s", strerror(ENOMEM));
	pm->rules = pm->bound = pm->real = pm->scopes = pm->stats = -1;
	err = na_state_lock(&pm->lock, dir, flags, why);
	if (err)
		goto fail;
	n = snprintf(pm->dir, sizeof(pm->dir), "%s/" NA_PM_SUBDIR, pm->lock.dir);
	if (n < 0 || (size_t)n >= sizeof(pm->dir)) {
		err = na_reason_set(why, -ENAMETOOLONG, "%s/" NA_PM_SUBDIR ": name too long",
				    pm->lock.dir);
		goto fail;
	}
	if (create && mkdir(pm->dir, 0700) && errno != EEXIST) {
		err = na_reason_set(why, -errno, "cannot create %s: %s", pm->dir, strerror(errno));
		goto fail;
	}
	if (access(pm->dir, F_OK)) {
		err = na_reason_set(why, -ENOENT, "no port remap state in %s", pm->lock.dir);
		goto fail;
	}
	err = open_pins(pm, create, why);
	if (err) {
		na_reason_set(why, err, "cannot open port remap state in %s: %s", pm->dir,
			      strerror(-err));
		goto fail;
	}
	*out = pm;
	return 0;
fail:
	na_pm_close(pm);
	return err;
}

const char *na_pm_dir(const struct na_pm *pm)
{
	return pm->dir;
}

size_t na_pm_programs(const struct na_pm *pm, struct na_pm_prog *out, size_t max)
{
	size_t i, n = 0;

	for (i = 0; i < pm->os.n && n < max; i++) {
		struct bpf_prog_info info = { 0 };
		__u32 len = sizeof(info);

		if (!pm->os.obj[i].prog)
			continue;
		snprintf(out[n].name, sizeof(out[n].name), "%s", pm->os.obj[i].name);
		out[n].id = pm->os.obj[i].fd >= 0 &&
			    !bpf_obj_get_info_by_fd(pm->os.obj[i].fd, &info, &len) ? info.id : 0;
		n++;
	}
	return n;
}

static int link_path(const struct na_pm *pm, uint64_t cgid, const char *prog, char *out,
		     size_t outlen)
{
	char name[NA_PIN_NAME_MAX];
	int n;

	if (na_cglink_pin_name(cgid, prog, name, sizeof(name)))
		return -ENAMETOOLONG;
	n = snprintf(out, outlen, "%s/%s", pm->dir, name);
	return n < 0 || (size_t)n >= outlen ? -ENAMETOOLONG : 0;
}

/* What a refused attachment of the port remap's hooks needs. */
static const struct na_attach_needs needs = {
	.perm = " (needs CAP_BPF and CAP_NET_ADMIN)",
	.kernel = " (the kernel lacks this cgroup hook; needs Linux >= 5.9 with CONFIG_CGROUP_BPF)",
};

/* The hook of a program as a person reads it: the last word of its name. */
static const char *hook_name(const char *prog)
{
	const char *word = strrchr(prog, '_');

	return word ? word + 1 : prog;
}

int na_pm_attach(const struct na_pm *pm, const struct na_cgroup *cg, struct na_reason *why)
{
	bool made[NA_OBJSET_MAX] = { false };
	char path[PATH_MAX];
	int cgfd, err = 0;
	size_t i;

	cgfd = na_open_cgroup(cg, why);
	if (cgfd < 0)
		return cgfd;
	for (i = 0; i < pm->os.n && !err; i++) {
		const struct na_pinned *p = &pm->os.obj[i];

		if (!p->prog || p->fd < 0)
			continue;
		err = link_path(pm, cg->id, p->name, path, sizeof(path));
		if (err) {
			na_reason_set(why, err, "%s: name too long", pm->dir);
			break;
		}
		err = na_link_pin_cgroup(p->fd, cg, cgfd, (enum bpf_attach_type)p->attach_type, hook_name(p->name), path,
					 &needs, why);
		made[i] = err > 0;
		if (err > 0)
			err = 0;
	}
	close(cgfd);
	for (i = 0; err && i < pm->os.n; i++)
		if (made[i] && !link_path(pm, cg->id, pm->os.obj[i].name, path, sizeof(path)))
			unlink(path);
	return err;
}

/* Unpinning a link detaches its program (nothing else holds the link). */
int na_pm_detach(const struct na_pm *pm, uint64_t cgid)
{
	char path[PATH_MAX];
	int err = 0;
	size_t i;

	for (i = 0; i < pm->os.n; i++) {
		if (!pm->os.obj[i].prog)
			continue;
		if (link_path(pm, cgid, pm->os.obj[i].name, path, sizeof(path)))
			return -ENAMETOOLONG;
		if (unlink(path) && errno != ENOENT)
			err = -errno;
	}
	return err;
}

size_t na_pm_keys(int map, void *keys, size_t key_size, size_t max)
{
	unsigned char key[16], next[16];
	void *prev = NULL;
	size_t n = 0;

	if (key_size > sizeof(key))
		return 0;
	while (n < max && !bpf_map_get_next_key(map, prev, next)) {
		if (keys)
			memcpy((unsigned char *)keys + n * key_size, next, key_size);
		memcpy(key, next, key_size);
		prev = key;
		n++;
	}
	return n;
}

/* Sockets bound through a rule of cgid now (live bindings). */
static long live_bindings(const struct na_pm *pm, uint64_t cgid)
{
	struct na_pm_key keys[NA_PM_MAX_RULES];
	size_t i, n = na_pm_keys(pm->bound, keys, sizeof(keys[0]), NA_PM_MAX_RULES);
	struct na_pm_bound b;
	long live = 0;

	for (i = 0; i < n; i++)
		if (keys[i].cgid == cgid && !bpf_map_lookup_elem(pm->bound, &keys[i], &b))
			live += b.refs;
	return live;
}

/* Remove every key of cgid from a map keyed by struct na_pm_key. */
static void forget_keys(int map, uint64_t cgid)
{
	struct na_pm_key keys[NA_PM_MAX_RULES];
	size_t i, n = na_pm_keys(map, keys, sizeof(keys[0]), NA_PM_MAX_RULES);

	for (i = 0; i < n; i++)
		if (keys[i].cgid == cgid)
			bpf_map_delete_elem(map, &keys[i]);
}

/* Detach a cgroup and forget everything of it. */
static int drop_scope(const struct na_pm *pm, uint64_t cgid)
{
	int err = na_pm_detach(pm, cgid);

	if (err)
		return err;
	forget_keys(pm->rules, cgid);
	forget_keys(pm->bound, cgid);
	forget_keys(pm->real, cgid);
	bpf_map_delete_elem(pm->stats, &cgid);
	bpf_map_delete_elem(pm->scopes, &cgid);
	return 0;
}

/* Attach again the links an interrupted run left out of a cgroup that
 * still exists under the path it had. */
static int repair_links(const struct na_pm *pm, const char *root, uint64_t cgid,
			const struct na_pm_scope *sc, struct na_reason *why)
{
	char path[PATH_MAX];
	struct na_cgroup cg;
	size_t i;
	int err;

	for (i = 0; i < pm->os.n; i++)
		if (pm->os.obj[i].prog && pm->os.obj[i].fd >= 0 &&
		    !link_path(pm, cgid, pm->os.obj[i].name, path, sizeof(path)) &&
		    access(path, F_OK))
			break;
	if (i == pm->os.n)
		return 0;	/* all there */
	if (snprintf(path, sizeof(path), "%s/%s", root, sc->path) >= (int)sizeof(path) ||
	    na_cgroup_from_path(root, path, &cg) || cg.id != cgid)
		return 0;
	err = na_pm_attach(pm, &cg, why);
	if (!err)
		na_lib_log(NA_LOG_INFO,
			   "%s: re-attached the port remap links an interrupted run left out",
			   sc->path[0] ? sc->path : "/");
	return err;
}

static bool scope_uses(uint64_t cgid, void *arg)
{
	const struct na_pm *pm = arg;
	struct na_pm_scope sc;

	return bpf_map_lookup_elem(pm->scopes, &cgid, &sc) == 0;
}

int na_pm_reconcile(struct na_pm *pm, bool repair, struct na_reason *why)
{
	uint64_t ids[NA_PM_MAX_CGROUPS];
	struct na_pm_scope sc;
	char root[PATH_MAX];
	int err = 0, e;
	size_t i, n;

	if (na_cgroup_find_mount("/proc/self/mountinfo", root, sizeof(root)))
		root[0] = '\0';
	n = na_pm_keys(pm->scopes, ids, sizeof(ids[0]), NA_PM_MAX_CGROUPS);
	for (i = 0; i < n; i++) {
		if (bpf_map_lookup_elem(pm->scopes, &ids[i], &sc))
			continue;
		if (root[0] && na_cgroup_id_exists(root, ids[i]) == 0) {
			if (!drop_scope(pm, ids[i]))
				na_lib_log(NA_LOG_INFO, "%s: the cgroup was removed, its port rules with it",
					   sc.path[0] ? sc.path : "/");
		} else if (sc.rules == 0 && live_bindings(pm, ids[i]) == 0) {
			if (!drop_scope(pm, ids[i]))
				na_lib_log(NA_LOG_INFO, "%s: no port rule and no socket left, detached",
					   sc.path[0] ? sc.path : "/");
		} else if (repair && root[0]) {
			e = repair_links(pm, root, ids[i], &sc, why);
			if (!err)
				err = e;
		}
	}
	na_sweep_cgroup_links(pm->dir, scope_uses, pm);
	return err;
}

/* Rules in the port remap pinned in dir, for what removing it says. */
static int count_rules(const char *dir)
{
	struct na_objset os;
	int fd, n = 0;

	if (na_pm_describe(&os, dir, NULL))
		return 0;
	na_objset_open(&os);
	fd = na_objset_take(&os, "na_pm_rules");
	if (fd >= 0) {
		n = (int)na_pm_keys(fd, NULL, sizeof(struct na_pm_key), NA_PM_MAX_RULES);
		close(fd);
	}
	na_objset_close(&os);
	return n;
}

int na_pm_remove(const char *dir, int *rules, struct na_reason *why)
{
	static const char *const order[] = { "cg", "prog_", "" };
	char sub[PATH_MAX];
	struct na_state lock;
	int err, n;

	*rules = 0;
	err = na_state_lock(&lock, dir, 0, why);
	if (err == -ENOENT)
		return 0;
	if (err)
		return err;
	n = snprintf(sub, sizeof(sub), "%s/" NA_PM_SUBDIR, lock.dir);
	if (n < 0 || (size_t)n >= sizeof(sub)) {
		err = na_reason_set(why, -ENAMETOOLONG, "%s/" NA_PM_SUBDIR ": name too long",
				    lock.dir);
		goto out;
	}
	if (access(sub, F_OK)) {
		err = 0;
		goto out;
	}
	*rules = count_rules(sub);
	/* Links first (detaching), then programs, then maps. */
	err = na_unpin_dir(sub, order, sizeof(order) / sizeof(order[0]), NULL);
	if (err)
		na_reason_set(why, err, "cannot remove %s: %s", sub, strerror(-err));
	else
		err = 1;
out:
	na_state_close(&lock);
	return err;
}
