// SPDX-License-Identifier: GPL-2.0-only
/*
 * The state directory: one bpffs directory holding every program, map and
 * link netaccel put in the kernel, so that acceleration outlives the CLI
 * and the next run (or `cleanup`) finds all of it. This file finds or
 * makes the directory (mounting bpffs where it is the usual /sys/fs/bpf)
 * and takes its lock; the local bypass keeps its pins directly in it
 * (bypass_state.c), other datapaths in a subdirectory each.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include <netaccel/state.h>

#include "config.h"
#include "internal.h"

#ifndef BPF_FS_MAGIC
#define BPF_FS_MAGIC 0xcafe4a11
#endif

const char *na_state_dir(const char *opt)
{
	const char *env;

	if (opt && *opt)
		return opt;
	env = getenv(NA_STATE_DIR_ENV);
	if (env && *env)
		return env;
	return NA_DEFAULT_STATE_DIR;
}

static void state_init(struct na_state *st)
{
	memset(st, 0, sizeof(*st));
	st->dir_fd = -1;
	st->map_cgroups = st->map_cgslot = st->map_stats = -1;
	st->map_sockhash = st->map_sk_state = -1;
	st->prog_create = st->prog_sockops = st->prog_msg = -1;
	st->prog_setsockopt = st->prog_getsockopt = -1;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void close_pins(struct na_state *st)
{
	close_fd(&st->map_cgroups);
	close_fd(&st->map_cgslot);
	close_fd(&st->map_stats);
	close_fd(&st->map_sockhash);
	close_fd(&st->map_sk_state);
	close_fd(&st->prog_create);
	close_fd(&st->prog_sockops);
	close_fd(&st->prog_msg);
	close_fd(&st->prog_setsockopt);
	close_fd(&st->prog_getsockopt);
}

void na_state_close(struct na_state *st)
{
	close_pins(st);
	close_fd(&st->dir_fd);	/* drops the lock */
}

int na_state_pin_path(const struct na_state *st, const char *name, char *out,
		      size_t outlen)
{
	int n = snprintf(out, outlen, "%s/%s", st->dir, name);

	return n < 0 || (size_t)n >= outlen ? -ENAMETOOLONG : 0;
}

int na_state_get_pin(const struct na_state *st, const char *name)
{
	char path[PATH_MAX];
	int fd, err;

	err = na_state_pin_path(st, name, path, sizeof(path));
	if (err)
		return err;
	fd = bpf_obj_get(path);
	return fd < 0 ? -errno : fd;
}

static bool on_bpffs(const char *path)
{
	struct statfs sfs;

	return statfs(path, &sfs) == 0 && (unsigned long)sfs.f_type == BPF_FS_MAGIC;
}

/*
 * The state directory must sit on a bpffs. Its parent is mounted when it
 * is the usual /sys/fs/bpf and nothing is mounted there yet; anywhere else
 * we say what is wrong rather than mount over a directory we do not own.
 */
int na_state_ensure_bpffs(const char *dir, struct na_reason *why)
{
	char parent[PATH_MAX];
	struct stat sb;
	char *slash;

	if (snprintf(parent, sizeof(parent), "%s", dir) >= (int)sizeof(parent))
		return na_reason_set(why, -ENAMETOOLONG, "state directory %s: name too long", dir);
	slash = strrchr(parent, '/');
	if (dir[0] != '/' || !slash || slash == parent || !slash[1])
		return na_reason_set(why, -EINVAL,
				     "state directory %s: must be an absolute path inside a bpffs mount, such as /sys/fs/bpf/netaccel",
				     dir);
	*slash = '\0';
	if (on_bpffs(parent))
		return 0;
	if (strcmp(parent, "/sys/fs/bpf") != 0) {
		if (stat(parent, &sb))
			return na_reason_set(why, -ENOTSUP, "state directory %s: %s does not exist",
					     dir, parent);
		return na_reason_set(why, -ENOTSUP,
				     "state directory %s: %s is not on a bpffs mount (choose a directory under /sys/fs/bpf)",
				     dir, parent);
	}
	if (mkdir(parent, 0755) && errno != EEXIST)
		return na_reason_set(why, -errno, "cannot create %s: %s", parent, strerror(errno));
	if (mount("bpf", parent, "bpf", 0, "mode=0700")) {
		int err = -errno;

		return na_reason_set(why, err, "cannot mount bpffs on %s: %s%s", parent,
				     strerror(-err), err == -EPERM ? " (needs CAP_SYS_ADMIN)" : "");
	}
	na_lib_log(NA_LOG_INFO, "mounted bpffs on %s", parent);
	return 0;
}

int na_state_open_dir(const char *dir, bool lock, struct na_reason *why)
{
	int fd, err;

	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (!on_bpffs(dir)) {
		close(fd);
		return na_reason_set(why, -ENOTSUP,
				     "state directory %s is not on a bpffs mount (choose a directory under /sys/fs/bpf)",
				     dir);
	}
	/* One writer at a time: commands are read-modify-write on the maps. */
	if (lock && flock(fd, LOCK_EX)) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

static int lock_dir(struct na_state *st, bool create, struct na_reason *why)
{
	const char *base = strrchr(st->dir, '/');

	if (create && mkdir(st->dir, 0700) && errno != EEXIST) {
		int err = -errno;

		/* bpffs refuses names with a dot (they are kept for its own
		 * files) with EPERM, which reads like a privilege problem. */
		if (err == -EPERM && base && strchr(base, '.'))
			return na_reason_set(why, err,
					     "cannot create state directory %s: bpffs does not allow '.' in names",
					     st->dir);
		return na_reason_set(why, err, "cannot create state directory %s: %s", st->dir,
				     strerror(-err));
	}
	int fd = na_state_open_dir(st->dir, true, why);

	if (fd < 0)
		return fd;
	st->dir_fd = fd;
	return 0;
}

int na_state_begin(struct na_state *st, const char *dir, bool create, struct na_reason *why)
{
	int err;

	state_init(st);
	if (snprintf(st->dir, sizeof(st->dir), "%s", dir) >= (int)sizeof(st->dir))
		return na_reason_set(why, -ENAMETOOLONG, "state directory %s: name too long", dir);
	if (create && (err = na_state_ensure_bpffs(st->dir, why)))
		return err;
	return lock_dir(st, create, why);
}

int na_state_lock(struct na_state *st, const char *dir, unsigned int flags,
		  struct na_reason *why)
{
	int err;

	err = na_state_begin(st, dir, flags & NA_STATE_CREATE, why);
	if (err) {
		na_reason_set(why, err, "cannot open netaccel state in %s: %s", st->dir,
			      strerror(-err));
		na_state_close(st);
	}
	return err;
}
