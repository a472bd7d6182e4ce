// SPDX-License-Identifier: GPL-2.0-only
/*
 * The local bypass's enrollments: putting cgroups on the fast path and
 * taking them off it without losing a byte.
 *
 * A slot goes FREE -> ACTIVE (enroll) -> DRAINING (unenroll) -> FREE. While
 * it drains, no new connection joins, but the sockets already in the
 * sockhash keep being redirected to their end, and the sockops link stays
 * so that their closing is counted. Nothing ever deletes a live sockhash
 * entry except removing the whole state (cleanup --force).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <netaccel/bypass.h>

#include "internal.h"
#include "na_cgroup.h"

struct link_kind {
	const char *suffix;
	enum bpf_attach_type type;
	const char *hook;
};

/* In the order of the NA_LINK_* bits. */
static const struct link_kind link_kinds[] = {
	{ "create", BPF_CGROUP_INET_SOCK_CREATE, "sock_create" },
	{ "sockops", BPF_CGROUP_SOCK_OPS, "sock_ops" },
	{ "setsockopt", BPF_CGROUP_SETSOCKOPT, "setsockopt" },
	{ "getsockopt", BPF_CGROUP_GETSOCKOPT, "getsockopt" },
};
#define LINK_SOCKOPS 1	/* kept while a slot drains */
_Static_assert(NA_LINK_SOCKOPS == 1 << LINK_SOCKOPS && NA_LINKS_ALL == (1 << 4) - 1,
	       "link_kinds[] is in the order of the NA_LINK_* bits");

static int link_pin_name(uint64_t cgid, const struct link_kind *k, char *out,
			 size_t outlen)
{
	int n = snprintf(out, outlen, "cg%llu_%s", (unsigned long long)cgid,
			 k->suffix);

	return n < 0 || (size_t)n >= outlen ? -ENAMETOOLONG : 0;
}

unsigned int na_bypass_links(const struct na_state *st, uint64_t cgid)
{
	char name[64], path[PATH_MAX];
	unsigned int bits = 0;
	size_t i;

	for (i = 0; i < sizeof(link_kinds) / sizeof(link_kinds[0]); i++)
		if (!link_pin_name(cgid, &link_kinds[i], name, sizeof(name)) &&
		    !na_state_pin_path(st, name, path, sizeof(path)) && !access(path, F_OK))
			bits |= 1u << i;
	return bits;
}

static int unpin_link(const struct na_state *st, uint64_t cgid,
		      const struct link_kind *k)
{
	char name[64], path[PATH_MAX];

	if (link_pin_name(cgid, k, name, sizeof(name)) ||
	    na_state_pin_path(st, name, path, sizeof(path)))
		return -ENAMETOOLONG;
	if (unlink(path) && errno != ENOENT)
		return -errno;
	return 0;
}

static const struct na_attach_needs needs = {
	.perm = " (needs CAP_BPF, CAP_NET_ADMIN and CAP_PERFMON)",
	.kernel = " (the kernel lacks cgroup BPF links for this hook; needs Linux >= 5.7 with CONFIG_CGROUP_BPF)",
};

/* Attach prog to the cgroup through a link pinned in the state directory,
 * unless that pin exists already. Returns 1 when it attached, 0 when it was
 * there, negative errno on failure. */
static int attach_link(const struct na_state *st, const struct na_cgroup *cg,
		       int cgfd, int prog, const struct link_kind *k, struct na_reason *why)
{
	char name[64], path[PATH_MAX];
	int err;

	err = link_pin_name(cg->id, k, name, sizeof(name));
	if (!err)
		err = na_state_pin_path(st, name, path, sizeof(path));
	if (err)
		return err;
	return na_link_pin_cgroup(prog, cg, cgfd, k->type, k->hook, path, &needs, why);
}

static int zero_stats(const struct na_state *st, uint32_t slot)
{
	return na_percpu_zero(st->map_stats, &slot, sizeof(struct na_stats), BPF_ANY);
}

static int64_t live_sockets(const struct na_state *st, uint32_t slot)
{
	struct na_stats s;

	if (na_state_read_slot(st, slot, &s))
		return 0;
	return (int64_t)(s.sockets_joined - s.sockets_closed);
}

static int put_slot(const struct na_state *st, uint32_t slot,
		    const struct na_cgroup_cfg *cfg)
{
	return bpf_map_update_elem(st->map_cgroups, &slot, cfg, BPF_ANY) ? -errno : 0;
}

/* Stop new connections of the slot from joining; live ones go on. */
static int drain_slot(const struct na_state *st, uint32_t slot,
		      struct na_cgroup_cfg *cfg)
{
	size_t i;
	int err;

	if (bpf_map_delete_elem(st->map_cgslot, &cfg->cgid) && errno != ENOENT)
		return -errno;
	if (cfg->state == NA_SLOT_ACTIVE) {
		cfg->state = NA_SLOT_DRAINING;
		err = put_slot(st, slot, cfg);
		if (err)
			return err;
	}
	/* New sockets need no tag any more, and the option level answers
	 * ENOPROTOOPT again as for a cgroup never enrolled; closing sockets
	 * must still be counted, so the sockops link stays until the slot is
	 * free. */
	for (i = 0; i < sizeof(link_kinds) / sizeof(link_kinds[0]); i++) {
		if (i == LINK_SOCKOPS)
			continue;
		err = unpin_link(st, cfg->cgid, &link_kinds[i]);
		if (err)
			return err;
	}
	return 0;
}

/* The slot has no live connection left: detach everything it had. */
static int free_slot(const struct na_state *st, uint32_t slot,
		     struct na_cgroup_cfg *cfg)
{
	size_t i;
	int err;

	for (i = 0; i < sizeof(link_kinds) / sizeof(link_kinds[0]); i++) {
		err = unpin_link(st, cfg->cgid, &link_kinds[i]);
		if (err)
			return err;
	}
	/* Keep gen, so that sockets tagged under the old enrollment never
	 * match a later one. */
	cfg->state = NA_SLOT_FREE;
	cfg->cgid = 0;
	cfg->mode = 0;
	memset(cfg->path, 0, sizeof(cfg->path));
	return put_slot(st, slot, cfg);
}

/* A slot drains until its sockets have closed; the sockhash being empty
 * settles it too, whatever the counters say. */
static bool slot_drained(const struct na_state *st, uint32_t slot, long fill)
{
	return fill == 0 || live_sockets(st, slot) <= 0;
}

static bool slot_uses(uint64_t cgid, void *st)
{
	struct na_cgroup_cfg cfg;

	return na_state_find_slot(st, cgid, &cfg) >= 0;
}

/*
 * Finish what earlier runs left half-done: free drained slots, and remove
 * links whose cgroup no slot holds any more (a run killed between the two).
 */
unsigned int na_bypass_reconcile_slot(uint32_t state, bool cgroup_gone, bool drained)
{
	unsigned int todo = 0;

	/* A removed cgroup makes no new sockets: let it drain. */
	if (state == NA_SLOT_ACTIVE && cgroup_gone)
		todo |= NA_RECONCILE_DRAIN;
	if ((state == NA_SLOT_DRAINING || (todo & NA_RECONCILE_DRAIN)) && drained)
		todo |= NA_RECONCILE_FREE;
	return todo;
}

void na_bypass_reconcile(const struct na_state *st)
{
	long fill = na_state_sockhash_fill(st);
	struct na_cgroup_cfg cfg;
	char root[PATH_MAX];
	unsigned int todo;
	bool gone, drained;
	uint32_t slot;

	if (na_cgroup_find_mount("/proc/self/mountinfo", root, sizeof(root)))
		root[0] = '\0';
	for (slot = 0; slot < NA_MAX_CGROUPS; slot++) {
		if (na_state_get_slot(st, slot, &cfg) || cfg.state == NA_SLOT_FREE)
			continue;
		gone = cfg.state == NA_SLOT_ACTIVE && root[0] &&
		       na_cgroup_id_exists(root, cfg.cgid) == 0;
		/* The counters are read only for a slot that could be freed. */
		drained = (cfg.state == NA_SLOT_DRAINING || gone) && slot_drained(st, slot, fill);
		todo = na_bypass_reconcile_slot(cfg.state, gone, drained);
		if (todo & NA_RECONCILE_DRAIN) {
			if (drain_slot(st, slot, &cfg))
				continue;
			na_lib_log(NA_LOG_INFO, "%s: the cgroup was removed, unenrolled",
				   cfg.path[0] ? cfg.path : "/");
		}
		if ((todo & NA_RECONCILE_FREE) && !free_slot(st, slot, &cfg))
			na_lib_log(NA_LOG_INFO, "%s: drained, detached", cfg.path[0] ? cfg.path : "/");
	}

	na_sweep_cgroup_links(st->dir, slot_uses, (void *)st);
}

static int attach_all(const struct na_state *st, const struct na_cgroup *cg,
		      bool *attached, struct na_reason *why)
{
	int progs[] = { st->prog_create, st->prog_sockops,
			st->prog_setsockopt, st->prog_getsockopt };
	int cgfd, err = 0;
	size_t i;

	cgfd = na_open_cgroup(cg, why);
	if (cgfd < 0)
		return cgfd;
	for (i = 0; i < sizeof(link_kinds) / sizeof(link_kinds[0]); i++) {
		err = attach_link(st, cg, cgfd, progs[i], &link_kinds[i], why);
		if (err < 0)
			break;
		if (err > 0)
			*attached = true;
		err = 0;
	}
	close(cgfd);
	return err;
}

/* A new enrollment in a free slot; undone entirely if any step fails. */
static int enroll_new(const struct na_state *st, const struct na_cgroup *cg,
		      uint32_t mode, struct na_reason *why)
{
	struct na_cgroup_cfg cfg;
	bool attached = false;
	uint32_t slot;
	int err;

	for (slot = 0; slot < NA_MAX_CGROUPS; slot++)
		if (!na_state_get_slot(st, slot, &cfg) && cfg.state == NA_SLOT_FREE)
			break;
	if (slot == NA_MAX_CGROUPS)
		return na_reason_set(why, -ENOSPC,
				     "cannot enroll %s: %d cgroups are enrolled or draining already, the most netaccel handles",
				     cg->path, NA_MAX_CGROUPS);

	err = zero_stats(st, slot);
	if (err)
		goto fail;
	cfg.cgid = cg->id;
	cfg.mode = mode;
	cfg.state = NA_SLOT_ACTIVE;
	cfg.gen++;
	snprintf(cfg.path, sizeof(cfg.path), "%.*s", (int)sizeof(cfg.path) - 1, cg->rel);
	err = put_slot(st, slot, &cfg);
	if (err)
		goto fail;
	if (bpf_map_update_elem(st->map_cgslot, &cg->id, &slot, BPF_ANY)) {
		err = -errno;
		goto undo_slot;
	}
	err = attach_all(st, cg, &attached, why);
	if (err)
		goto undo_slot;
	return 0;

undo_slot:
	bpf_map_delete_elem(st->map_cgslot, &cg->id);
	free_slot(st, slot, &cfg);
fail:
	return na_reason_set(why, err, "cannot enroll %s: %s", cg->path, strerror(-err));
}

int na_bypass_enroll(const struct na_state *st, const struct na_cgroup *cg, uint32_t mode,
		     enum na_enroll_done *done, uint32_t *mode_now, struct na_reason *why)
{
	struct na_cgroup_cfg cfg;
	bool attached = false;
	int slot, err;

	slot = na_state_find_slot(st, cg->id, &cfg);
	if (slot < 0) {
		*mode_now = mode ? mode : NA_MODE_ALL;
		*done = NA_ENROLLED;
		return enroll_new(st, cg, *mode_now, why);
	}
	/* Enrolled already, or draining: bring it to what was asked, and
	 * repair whatever an interrupted run left out. */
	*done = NA_ENROLL_UNCHANGED;
	if (cfg.state != NA_SLOT_ACTIVE)
		*done = NA_REENROLLED;
	else if (mode && mode != cfg.mode)
		*done = NA_ENROLL_MODE_CHANGED;
	cfg.mode = mode ? mode : cfg.mode;
	cfg.state = NA_SLOT_ACTIVE;
	*mode_now = cfg.mode;
	err = put_slot(st, (uint32_t)slot, &cfg);
	if (!err && bpf_map_update_elem(st->map_cgslot, &cg->id, &slot, BPF_ANY))
		err = -errno;
	if (err)
		return na_reason_set(why, err, "cannot enroll %s: %s", cg->path, strerror(-err));
	err = attach_all(st, cg, &attached, why);
	if (err)
		return na_reason_set(why, err, "cannot enroll %s: %s", cg->path, strerror(-err));
	if (attached && *done == NA_ENROLL_UNCHANGED)
		*done = NA_ENROLL_REPAIRED;
	return 0;
}

int64_t na_bypass_unenroll(const struct na_state *st, uint32_t slot, struct na_cgroup_cfg *cfg,
			   struct na_reason *why)
{
	const char *name = cfg->path[0] ? cfg->path : "/";
	int64_t live;
	int err;

	err = drain_slot(st, slot, cfg);
	if (err)
		return na_reason_set(why, err, "cannot unenroll %s: %s", name, strerror(-err));
	live = live_sockets(st, slot);
	if (!slot_drained(st, slot, na_state_sockhash_fill(st)))
		return live > 0 ? live : 1;
	err = free_slot(st, slot, cfg);
	if (err)
		return na_reason_set(why, err, "cannot unenroll %s: %s", name, strerror(-err));
	return 0;
}

int na_bypass_drain_all(const struct na_state *st, struct na_reason *why)
{
	struct na_cgroup_cfg cfg;
	uint32_t slot;
	int err;

	for (slot = 0; slot < NA_MAX_CGROUPS; slot++) {
		if (na_state_get_slot(st, slot, &cfg) || cfg.state == NA_SLOT_FREE)
			continue;
		err = drain_slot(st, slot, &cfg);
		if (err)
			return na_reason_set(why, err, "cannot unenroll %s: %s", cfg.path,
					     strerror(-err));
	}
	return 0;
}

int na_bypass_find_by_path(const struct na_state *st, const char *rel, struct na_cgroup_cfg *cfg)
{
	uint32_t slot;

	while (*rel == '/')
		rel++;
	for (slot = 0; slot < NA_MAX_CGROUPS; slot++) {
		if (na_state_get_slot(st, slot, cfg) || cfg->state == NA_SLOT_FREE)
			continue;
		if (!strcmp(cfg->path, rel))
			return (int)slot;
	}
	return -ENOENT;
}

int na_bypass_remove(const struct na_state *st, struct na_reason *why)
{
	static const char *const order[] = { "cg", "link_", "prog_", "" };
	int err;

	if (st->prog_msg >= 0 && st->map_sockhash >= 0)
		bpf_prog_detach2(st->prog_msg, st->map_sockhash, BPF_SK_MSG_VERDICT);
	err = na_unpin_dir(st->dir, order, sizeof(order) / sizeof(order[0]), NULL);
	if (err)
		na_reason_set(why, err, "cannot remove %s: %s", st->dir, strerror(-err));
	return err;
}
