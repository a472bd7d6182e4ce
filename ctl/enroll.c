// SPDX-License-Identifier: GPL-2.0-only
/*
 * enroll, unenroll, cleanup: putting cgroups on the fast path and taking
 * them off it without losing a byte.
 *
 * A slot goes FREE -> ACTIVE (enroll) -> DRAINING (unenroll) -> FREE. While
 * it drains, no new connection joins, but the sockets already in the
 * sockhash keep being redirected to their end, and the sockops link stays
 * so that their closing is counted. Nothing ever deletes a live sockhash
 * entry except `cleanup --force`.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "ctl.h"
#include "log.h"
#include <netaccel/state.h>
#include "veth.h"

struct link_kind {
	const char *suffix;
	enum bpf_attach_type type;
	const char *hook;
};

static const struct link_kind link_kinds[] = {
	{ "create", BPF_CGROUP_INET_SOCK_CREATE, "sock_create" },
	{ "sockops", BPF_CGROUP_SOCK_OPS, "sock_ops" },
	{ "setsockopt", BPF_CGROUP_SETSOCKOPT, "setsockopt" },
	{ "getsockopt", BPF_CGROUP_GETSOCKOPT, "getsockopt" },
};
#define LINK_SOCKOPS 1	/* kept while a slot drains */

static int link_pin_name(uint64_t cgid, const struct link_kind *k, char *out,
			 size_t outlen)
{
	int n = snprintf(out, outlen, "cg%llu_%s", (unsigned long long)cgid,
			 k->suffix);

	return n < 0 || (size_t)n >= outlen ? -ENAMETOOLONG : 0;
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

/* Attach prog to the cgroup through a link pinned in the state directory,
 * unless that pin exists already. Returns 1 when it attached, 0 when it was
 * there, negative errno on failure (printed). */
static int attach_link(const struct na_state *st, const struct na_cgroup *cg,
		       int cgfd, int prog, const struct link_kind *k)
{
	char name[64], path[PATH_MAX];
	struct na_reason why = { 0 };
	int err;

	err = link_pin_name(cg->id, k, name, sizeof(name));
	if (!err)
		err = na_state_pin_path(st, name, path, sizeof(path));
	if (err)
		return err;
	err = na_link_pin(prog, cgfd, k->type, path, &why);
	if (err < 0 && why.kind == NA_WHY_ATTACH_FAILED)
		na_err("cannot attach %s to %s: %s%s", k->hook, cg->path,
		       strerror(-err),
		       err == -EPERM ? " (needs CAP_BPF, CAP_NET_ADMIN and CAP_PERFMON)" :
		       err == -EINVAL || err == -EOPNOTSUPP ?
				" (the kernel lacks cgroup BPF links for this hook; needs Linux >= 5.7 with CONFIG_CGROUP_BPF)" : "");
	else if (err < 0)
		na_err_why(&why, err);
	return err;
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
static void reconcile(const struct na_state *st)
{
	long fill = na_state_sockhash_fill(st);
	struct na_cgroup_cfg cfg;
	char root[PATH_MAX];
	uint32_t slot;

	if (na_cgroup_find_mount("/proc/self/mountinfo", root, sizeof(root)))
		root[0] = '\0';
	for (slot = 0; slot < NA_MAX_CGROUPS; slot++) {
		if (na_state_get_slot(st, slot, &cfg) || cfg.state == NA_SLOT_FREE)
			continue;
		/* A removed cgroup makes no new sockets: let it drain. */
		if (cfg.state == NA_SLOT_ACTIVE && root[0] &&
		    na_cgroup_id_exists(root, cfg.cgid) == 0 &&
		    drain_slot(st, slot, &cfg) == 0)
			na_info("%s: the cgroup was removed, unenrolled", cfg.path[0] ? cfg.path : "/");
		if (cfg.state != NA_SLOT_DRAINING)
			continue;
		if (slot_drained(st, slot, fill) && !free_slot(st, slot, &cfg))
			na_info("%s: drained, detached", cfg.path[0] ? cfg.path : "/");
	}

	na_sweep_cgroup_links(st->dir, slot_uses, (void *)st);
}

static int parse_mode(const char *s, uint32_t *mode)
{
	if (!strcmp(s, "all"))
		*mode = NA_MODE_ALL;
	else if (!strcmp(s, "opt-in"))
		*mode = NA_MODE_OPT_IN;
	else
		return -EINVAL;
	return 0;
}

static int attach_all(const struct na_state *st, const struct na_cgroup *cg,
		      bool *attached)
{
	int progs[] = { st->prog_create, st->prog_sockops,
			st->prog_setsockopt, st->prog_getsockopt };
	int cgfd, err = 0;
	size_t i;

	cgfd = open(cg->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cgfd < 0) {
		err = -errno;
		na_err("cannot open cgroup %s: %s", cg->path, strerror(-err));
		return err;
	}
	for (i = 0; i < sizeof(link_kinds) / sizeof(link_kinds[0]); i++) {
		err = attach_link(st, cg, cgfd, progs[i], &link_kinds[i]);
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
		      uint32_t mode)
{
	struct na_cgroup_cfg cfg;
	bool attached = false;
	uint32_t slot;
	int err;

	for (slot = 0; slot < NA_MAX_CGROUPS; slot++)
		if (!na_state_get_slot(st, slot, &cfg) && cfg.state == NA_SLOT_FREE)
			break;
	if (slot == NA_MAX_CGROUPS) {
		na_err("cannot enroll %s: %d cgroups are enrolled or draining already, the most netaccel handles",
		       cg->path, NA_MAX_CGROUPS);
		return -ENOSPC;
	}

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
	err = attach_all(st, cg, &attached);
	if (err)
		goto undo_slot;
	return 0;

undo_slot:
	bpf_map_delete_elem(st->map_cgslot, &cg->id);
	free_slot(st, slot, &cfg);
fail:
	if (!na_err_reported())
		na_err("cannot enroll %s: %s", cg->path, strerror(-err));
	return err;
}

static const char *display(const struct na_cgroup *cg)
{
	return cg->rel[0] ? cg->rel : "/";
}

int cmd_enroll(struct na_ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "mode", required_argument, NULL, 'm' },
		{ 0 }
	};
	const struct na_cmd *cmd = na_find_cmd("enroll");
	struct na_cgroup_cfg cfg;
	uint32_t mode = 0;	/* not given: all when new, else unchanged */
	bool attached = false;
	struct na_cgroup cg;
	struct na_state st;
	struct na_reason why = { 0 };
	const char *what;
	int c, slot, err;

	while ((c = na_getopt(ctl, cmd, argc, argv, "m:", opts)) != -1) {
		if (c == 'h')
			return NA_EXIT_OK;
		if (c == '?')
			return NA_EXIT_USAGE;
		if (c == 'm' && parse_mode(optarg, &mode))
			return na_usage_error(cmd, "unknown mode '%s' (use all or opt-in)", optarg);
	}
	if (optind >= argc)
		return na_usage_error(cmd, "missing <cgroup>");
	if (optind + 1 < argc)
		return na_usage_error(cmd, "unexpected argument '%s'", argv[optind + 1]);

	if (na_caps_require("enroll", true))
		return NA_EXIT_FAIL;
	err = na_resolve_cgroup(argv[optind], &cg);
	if (err)
		return na_exit_code(err);
	err = na_state_open(&st, na_state_dir(ctl->state_dir), NA_STATE_CREATE, &why);
	if (err) {
		na_err_why(&why, err);
		return NA_EXIT_FAIL;
	}
	reconcile(&st);

	slot = na_state_find_slot(&st, cg.id, &cfg);
	if (slot < 0) {
		mode = mode ? mode : NA_MODE_ALL;
		err = enroll_new(&st, &cg, mode);
		if (!err)
			printf("enrolled %s (mode %s)\n", display(&cg), na_mode_name(mode));
		goto out;
	}

	/* Enrolled already, or draining: bring it to what was asked, and
	 * repair whatever an interrupted run left out. */
	what = "is enrolled";
	if (cfg.state != NA_SLOT_ACTIVE)
		what = "re-enrolled";
	else if (mode && mode != cfg.mode)
		what = "changed the mode of";
	cfg.mode = mode ? mode : cfg.mode;
	cfg.state = NA_SLOT_ACTIVE;
	err = put_slot(&st, slot, &cfg);
	if (err)
		goto fail;
	if (bpf_map_update_elem(st.map_cgslot, &cg.id, &slot, BPF_ANY)) {
		err = -errno;
		goto fail;
	}
	err = attach_all(&st, &cg, &attached);
	if (err)
		goto out;
	if (attached && !strcmp(what, "is enrolled"))
		what = "repaired enrollment of";
	if (!strcmp(what, "is enrolled"))
		printf("%s is enrolled (mode %s)\n", display(&cg), na_mode_name(cfg.mode));
	else
		printf("%s %s (mode %s)\n", what, display(&cg), na_mode_name(cfg.mode));
	goto out;
fail:
	na_err("cannot enroll %s: %s", cg.path, strerror(-err));
out:
	na_state_close(&st);
	return err ? NA_EXIT_FAIL : NA_EXIT_OK;
}

/* A cgroup that is gone can still be unenrolled by the path it had. */
static int find_by_path(const struct na_state *st, const char *spec,
			struct na_cgroup_cfg *cfg)
{
	char root[PATH_MAX];
	const char *rel = spec;
	size_t n;
	uint32_t slot;

	if (na_cgroup_root(root, sizeof(root)) == 0) {
		n = strlen(root);
		if (!strncmp(spec, root, n) && (spec[n] == '/' || !spec[n]))
			rel = spec + n;
	}
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

int cmd_unenroll(struct na_ctl *ctl, int argc, char **argv)
{
	const struct na_cmd *cmd = na_find_cmd("unenroll");
	static const struct option opts[] = { { 0 } };
	char why[1024], root[PATH_MAX], name[NA_CGROUP_PATH_MAX + 1];
	struct na_cgroup_cfg cfg;
	struct na_cgroup cg;
	struct na_state st;
	struct na_reason swhy = { 0 };
	int c, slot, err, rerr;
	int64_t live;

	while ((c = na_getopt(ctl, cmd, argc, argv, "", opts)) != -1) {
		if (c == 'h')
			return NA_EXIT_OK;
		return NA_EXIT_USAGE;
	}
	if (optind >= argc)
		return na_usage_error(cmd, "missing <cgroup>");
	if (optind + 1 < argc)
		return na_usage_error(cmd, "unexpected argument '%s'", argv[optind + 1]);
	if (na_caps_require("unenroll", true))
		return NA_EXIT_FAIL;
	if (na_cgroup_root(root, sizeof(root)))
		return NA_EXIT_FAIL;
	rerr = na_cgroup_resolve(root, "/proc", argv[optind], &cg, why, sizeof(why));
	if (rerr == -EINVAL) {
		na_err("%s", why);
		return NA_EXIT_USAGE;
	}

	err = na_state_open(&st, na_state_dir(ctl->state_dir), 0, &swhy);
	if (err == -ENOENT) {
		/* Nothing is enrolled; still tell a typo from a real cgroup. */
		if (rerr) {
			na_err("%s", why);
			return NA_EXIT_FAIL;
		}
		printf("%s is not enrolled\n", display(&cg));
		return NA_EXIT_OK;
	}
	if (err) {
		na_err_why(&swhy, err);
		return NA_EXIT_FAIL;
	}

	slot = rerr ? -ENOENT : na_state_find_slot(&st, cg.id, &cfg);
	if (slot < 0) {
		/* A cgroup that was removed (and perhaps made again under the
		 * same path, as systemd does on a restart) is unenrolled by
		 * the path it had. */
		slot = find_by_path(&st, argv[optind], &cfg);
		if (slot >= 0 && !rerr && cfg.cgid == cg.id)
			slot = -ENOENT;
	}
	if (slot < 0) {
		if (rerr) {
			na_err("%s", why);
			err = rerr;
		} else {
			printf("%s is not enrolled\n", display(&cg));
		}
		goto out;
	}
	snprintf(name, sizeof(name), "%s", cfg.path[0] ? cfg.path : "/");

	err = drain_slot(&st, slot, &cfg);
	if (err)
		goto fail;
	live = live_sockets(&st, slot);
	if (slot_drained(&st, slot, na_state_sockhash_fill(&st))) {
		err = free_slot(&st, slot, &cfg);
		if (err)
			goto fail;
		printf("unenrolled %s\n", name);
	} else {
		printf("unenrolled %s: %lld accelerated sockets draining; they keep the fast path until they close (see netaccel-ctl status)\n",
		       name, (long long)live);
	}
	reconcile(&st);
	goto out;
fail:
	na_err("cannot unenroll %s: %s", name, strerror(-err));
out:
	na_state_close(&st);
	return err ? NA_EXIT_FAIL : NA_EXIT_OK;
}

/* Remove every pin: links first, then programs, then maps, so that a run
 * killed half-way leaves maps a later run reuses, never programs without
 * their maps. */
static int remove_state(const struct na_state *st)
{
	static const char *const order[] = { "cg", "link_", "prog_", "" };

	bpf_prog_detach2(st->prog_msg, st->map_sockhash, BPF_SK_MSG_VERDICT);
	return na_unpin_dir(st->dir, order, sizeof(order) / sizeof(order[0]), NULL);
}

int cmd_cleanup(struct na_ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "force", no_argument, NULL, 'f' },
		{ 0 }
	};
	const struct na_cmd *cmd = na_find_cmd("cleanup");
	struct na_cgroup_cfg cfg;
	struct na_state st;
	struct na_reason why = { 0 };
	bool force = false;
	uint32_t slot;
	int c, err, pm, veth;
	long fill;

	while ((c = na_getopt(ctl, cmd, argc, argv, "f", opts)) != -1) {
		if (c == 'h')
			return NA_EXIT_OK;
		if (c == 'f')
			force = true;
		else
			return NA_EXIT_USAGE;
	}
	if (optind < argc)
		return na_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
	if (na_caps_require("cleanup", true))
		return NA_EXIT_FAIL;
	/* The veth redirect first: it has nothing to drain, and its pins sit
	 * in a subdirectory that remove_state would trip over. */
	veth = na_veth_cleanup(na_state_dir(ctl->state_dir));
	if (veth < 0)
		return NA_EXIT_FAIL;

	/* Port remap too: its portmap/ subdirectory must be gone before
	 * the state directory can be. */
	pm = na_portmap_cleanup(ctl);
	if (pm < 0)
		return NA_EXIT_FAIL;
	if ((pm > 0 || veth > 0) && rmdir(na_state_dir(ctl->state_dir)) == 0)
		return NA_EXIT_OK;	/* there was nothing else */

	err = na_state_open(&st, na_state_dir(ctl->state_dir), 0, &why);
	if (err == -ENOENT) {
		/* A directory with nothing of ours left in it goes too. */
		if (rmdir(na_state_dir(ctl->state_dir)) == 0 && !veth && !pm)
			printf("removed empty netaccel state %s\n", na_state_dir(ctl->state_dir));
		else if (!veth && !pm)
			printf("nothing to clean up in %s\n", na_state_dir(ctl->state_dir));
		return NA_EXIT_OK;
	}
	if (err == -EUCLEAN && !force) {
		na_err_why(&why, err);
		return NA_EXIT_FAIL;
	}
	if (err == -ENODATA || err == -EUCLEAN) {
		/* Half-made, half-removed or mixed state: take it down pin by
		 * pin. */
		struct na_state bare = { .dir_fd = -1, .prog_msg = -1, .map_sockhash = -1 };

		snprintf(bare.dir, sizeof(bare.dir), "%s", na_state_dir(ctl->state_dir));
		err = remove_state(&bare);
		if (!err)
			printf("removed incomplete netaccel state %s\n", bare.dir);
		return err ? NA_EXIT_FAIL : NA_EXIT_OK;
	}
	if (err) {
		na_err_why(&why, err);
		return NA_EXIT_FAIL;
	}

	for (slot = 0; slot < NA_MAX_CGROUPS; slot++) {
		if (na_state_get_slot(&st, slot, &cfg) || cfg.state == NA_SLOT_FREE)
			continue;
		err = drain_slot(&st, slot, &cfg);
		if (err) {
			na_err("cannot unenroll %s: %s", cfg.path, strerror(-err));
			goto out;
		}
	}
	reconcile(&st);
	fill = na_state_sockhash_fill(&st);
	if (fill > 0 && !force) {
		printf("stopped new connections; %ld accelerated sockets are still draining and keep the fast path until they close.\n"
		       "Run netaccel-ctl cleanup again afterwards, or cleanup --force to cut them.\n",
		       fill);
		goto out;
	}
	err = remove_state(&st);
	if (err) {
		na_err("cannot remove %s: %s", st.dir, strerror(-err));
		goto out;
	}
	if (fill > 0)
		printf("removed netaccel from the kernel; cut %ld accelerated sockets (bytes queued on them were dropped)\n",
		       fill);
	else
		printf("removed netaccel from the kernel (%s)\n", st.dir);
out:
	na_state_close(&st);
	return err ? NA_EXIT_FAIL : NA_EXIT_OK;
}
