// SPDX-License-Identifier: GPL-2.0-only
/*
 * The proxy splice's pinned state, for proxies without privilege:
 *
 *   <state-dir>/splice/prog_verdict        na_splice_verdict, attached to
 *   <state-dir>/splice/na_splice_socks     the sockhash of spliced sockets
 *   <state-dir>/splice/na_splice_dirs ...  the other maps, by name
 *
 * The kernel lets a process without CAP_BPF use a pinned map it may open
 * (Linux 6.0+, also with kernel.unprivileged_bpf_disabled set), but never
 * load a program or make a map: an administrator does that once here, and
 * gives a group access by the pins' owner and mode.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <netaccel/splice.h>
#include <netaccel/state.h>

#include "internal.h"
#include "objset.h"
#include "splice.skel.h"

#ifndef BPF_FS_MAGIC
#define BPF_FS_MAGIC 0xcafe4a11
#endif

/* In the order of struct na_splice_maps. */
static const char *const maps[] = {
	"na_splice_socks", "na_splice_dirs", "na_splice_resume", "na_splice_stats",
};

static int subdir(const char *state_dir, char *out, size_t len)
{
	return snprintf(out, len, "%s/" NA_SPLICE_SUBDIR, state_dir) >= (int)len ? -ENAMETOOLONG
										 : 0;
}

static int pin_path(const char *dir, const char *name, char *out, size_t len)
{
	return snprintf(out, len, "%s/%s", dir, name) >= (int)len ? -ENAMETOOLONG : 0;
}

static bool complete(const char *dir)
{
	char p[PATH_MAX];

	for (size_t i = 0; i < sizeof(maps) / sizeof(maps[0]); i++)
		if (pin_path(dir, maps[i], p, sizeof(p)) || access(p, F_OK))
			return false;
	return !pin_path(dir, "prog_verdict", p, sizeof(p)) && !access(p, F_OK);
}

static int load_and_pin(const char *dir, struct na_reason *why)
{
	struct na_objset os;
	struct na_splice *skel;
	char path[PATH_MAX];
	int err, prog = -1, socks = -1;

	skel = na_splice__open();
	if (!skel) {
		err = -errno;
		return na_reason_set(why, err, "cannot open the splice BPF object: %s",
				     strerror(-err));
	}
	err = na_objset_init(&os, dir, skel->obj);
	if (err) {
		na_reason_set(why, err, "cannot describe the splice pins: %s", strerror(-err));
		goto out;
	}
	err = na_splice__load(skel);
	if (err) {
		na_reason_set_kind(why, NA_WHY_LOAD_FAILED, err,
				   "cannot load the splice program: %s", strerror(-err));
		goto out;
	}
	err = na_objset_pin(&os, skel->obj, why);
	if (err)
		goto out;
	/* The pinned program (kept by an earlier run, or just pinned) goes
	 * on the pinned map: the attachment lives as long as the map. */
	err = pin_path(dir, "prog_verdict", path, sizeof(path));
	if (!err && (prog = bpf_obj_get(path)) < 0)
		err = -errno;
	if (!err && !pin_path(dir, "na_splice_socks", path, sizeof(path)) &&
	    (socks = bpf_obj_get(path)) < 0)
		err = -errno;
	if (!err && bpf_prog_attach(prog, socks, BPF_SK_SKB_STREAM_VERDICT, 0) < 0)
		err = -errno;
	if (err)
		na_reason_set_kind(why, NA_WHY_ATTACH_FAILED, err,
				   "cannot attach the splice program to its map: %s", strerror(-err));
out:
	if (prog >= 0)
		close(prog);
	if (socks >= 0)
		close(socks);
	na_splice__destroy(skel);
	return err;
}

/* Owner and mode of dir's pins and of dir: the group's (maps read-write,
 * the directory searchable), or root's alone. */
static int set_access(const char *dir, gid_t group, struct na_reason *why)
{
	bool shared = group != (gid_t)-1;
	char p[PATH_MAX];

	for (size_t i = 0; i < sizeof(maps) / sizeof(maps[0]); i++) {
		if (pin_path(dir, maps[i], p, sizeof(p)) ||
		    chown(p, 0, shared ? group : 0) || chmod(p, shared ? 0660 : 0600))
			return na_reason_set(why, -errno, "cannot set the access of %s: %s", p,
					     strerror(errno));
	}
	if (chown(dir, 0, shared ? group : 0) || chmod(dir, shared ? 0750 : 0700))
		return na_reason_set(why, -errno, "cannot set the access of %s: %s", dir,
				     strerror(errno));
	return 0;
}

/* Make every directory from dir's parent up to the bpffs mount
 * searchable by all (o+x: no listing), listing what changed in opened. */
static int open_parents(const char *dir, char *opened, size_t len, struct na_reason *why)
{
	char p[PATH_MAX];
	size_t used = 0;

	if (opened && len)
		opened[0] = 0;
	snprintf(p, sizeof(p), "%s", dir);
	for (;;) {
		char *slash = strrchr(p, '/');
		struct statfs fs;
		struct stat sb;

		if (!slash || slash == p)
			break;
		*slash = 0;
		if (statfs(p, &fs) || fs.f_type != BPF_FS_MAGIC || stat(p, &sb))
			break;
		if (!(sb.st_mode & S_IXOTH)) {
			if (chmod(p, (sb.st_mode & 07777) | S_IXOTH))
				return na_reason_set(why, -errno, "cannot make %s searchable: %s",
						     p, strerror(errno));
			if (opened && used < len)
				used += (size_t)snprintf(opened + used, len - used, "%s%s",
							 used ? ", " : "", p);
		}
	}
	return 0;
}

int na_splice_enable(const char *state_dir, gid_t group, char *opened, size_t openedlen,
		     struct na_reason *why)
{
	struct na_state st;
	char dir[PATH_MAX];
	int err;

	if (opened && openedlen)
		opened[0] = 0;
	err = subdir(state_dir, dir, sizeof(dir));
	if (err)
		return na_reason_set(why, err, "state directory too long");
	err = na_state_lock(&st, state_dir, NA_STATE_CREATE, why);
	if (err)
		return err;
	if (mkdir(dir, 0700) && errno != EEXIST) {
		err = na_reason_set(why, -errno, "cannot make %s: %s", dir, strerror(errno));
		goto out;
	}
	if (!complete(dir)) {
		err = load_and_pin(dir, why);
		if (err)
			goto out;
	}
	err = set_access(dir, group, why);
	if (!err && group != (gid_t)-1)
		err = open_parents(dir, opened, openedlen, why);
out:
	na_state_close(&st);
	return err;
}

int na_splice_disable(const char *state_dir, struct na_reason *why)
{
	static const char *const order[] = { "prog_", "" };
	char dir[PATH_MAX];
	int err;

	err = subdir(state_dir, dir, sizeof(dir));
	if (err)
		return na_reason_set(why, err, "state directory too long");
	if (access(dir, F_OK))
		return 0;
	err = na_unpin_dir(dir, order, sizeof(order) / sizeof(order[0]), NULL);
	if (err)
		return na_reason_set(why, err, "cannot remove %s: %s", dir, strerror(-err));
	return 1;
}

void na_splice_close_maps(struct na_splice_maps *m)
{
	int *fd = &m->socks;

	for (size_t i = 0; i < sizeof(maps) / sizeof(maps[0]); i++) {
		if (fd[i] >= 0)
			close(fd[i]);
		fd[i] = -1;
	}
}

int na_splice_open_maps(const char *dir, struct na_splice_maps *m)
{
	int *fd = &m->socks, err = 0;
	char p[PATH_MAX];

	for (size_t i = 0; i < sizeof(maps) / sizeof(maps[0]); i++)
		fd[i] = -1;
	for (size_t i = 0; i < sizeof(maps) / sizeof(maps[0]) && !err; i++) {
		err = pin_path(dir, maps[i], p, sizeof(p));
		if (!err && (fd[i] = bpf_obj_get(p)) < 0)
			err = -errno;
	}
	if (err)
		na_splice_close_maps(m);
	return err;
}

int na_splice_summary(const char *state_dir, struct na_splice_summary *out,
		      struct na_reason *why)
{
	struct na_splice_maps m;
	__u64 key, *prev = NULL;
	char dir[PATH_MAX];
	struct stat sb;
	uint32_t zero = 0;
	int err;

	memset(out, 0, sizeof(*out));
	out->group = (gid_t)-1;
	if (subdir(state_dir, dir, sizeof(dir)) || stat(dir, &sb))
		return 0;
	if (sb.st_gid != 0)
		out->group = sb.st_gid;
	err = na_splice_open_maps(dir, &m);
	if (err)
		return na_reason_set_kind(why, NA_WHY_STATE_INCOMPLETE, err,
					  "the splice state in %s is incomplete (netaccel-ctl splice "
					  "enable repairs it): %s", dir, strerror(-err));
	out->enabled = true;
	while (!bpf_map_get_next_key(m.socks, prev, &key)) {
		out->pairs++;
		prev = &key;
	}
	out->pairs /= 2;
	prev = NULL;
	while (!bpf_map_get_next_key(m.dirs, prev, &key)) {
		struct na_splice_dir d;
		__u64 cookie;

		/* A direction is keyed by its source socket's cookie, as
		 * that socket's entry in the sockhash is: none there, the
		 * socket is gone (or its pair is being made just now). */
		if (bpf_map_lookup_elem(m.socks, &key, &cookie))
			out->stale++;
		else if (!bpf_map_lookup_elem(m.dirs, &key, &d) && d.paused)
			out->paused++;
		prev = &key;
	}
	na_percpu_sum(m.stats, &zero, (uint64_t *)&out->stats, NA_SPLICE_NUM_COUNTERS);
	na_splice_close_maps(&m);
	return 0;
}
