/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * cgroup v2 discovery and resolution: where the unified hierarchy is
 * mounted, and which cgroup directory a user means.
 */
#ifndef NA_CGROUP_H
#define NA_CGROUP_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A container id: 64 hex digits. */
#define NA_CONTAINER_ID_LEN 64

struct na_cgroup {
	char path[PATH_MAX];	/* absolute directory path */
	char rel[PATH_MAX];	/* relative to the root, "" for the root */
	uint64_t id;		/* cgroup id: inode number of the directory */
};

/*
 * Find the cgroup v2 mount point listed in a mountinfo file
 * (/proc/self/mountinfo in production). Mount points with escaped
 * characters (\040 ...) are decoded. Returns 0, -ENOENT when no cgroup2
 * mount is listed, or another negative errno when the file cannot be read.
 * mountinfo NULL means /proc/self/mountinfo. When several cgroup2 mounts are
 * listed, the first of the whole hierarchy (root field "/") wins; a mount of
 * a subtree is returned only when there is none. -ENAMETOOLONG when the
 * mount point does not fit in outlen.
 */
int na_cgroup_find_mount(const char *mountinfo, char *out, size_t outlen);

/*
 * Resolve what the user typed to a cgroup directory under root:
 *   an absolute path inside root;
 *   a path relative to root ("a/b" or "/a/b");
 *   "pid:<PID>"  (reads <proc>/<PID>/cgroup, the "0::" line);
 *   "container:<ID or unique prefix>" (docker-<id>.scope,
 *     cri-containerd-<id>.scope, crio-<id>.scope, libpod-<id>.scope,
 *     docker/<id>, or a directory named by the full id, anywhere below root).
 * A directory counts as a cgroup when it holds a cgroup.procs file.
 * On failure returns a negative errno and writes one line to err that says
 * what was tried (no trailing newline, no program name); it starts with
 * spec. The errors a user can cause:
 *   -EINVAL     empty spec, malformed pid:<PID> or container:<ID>
 *   -ENOENT     no such cgroup, or no container matches
 *   -ENOTDIR    exists but is not a cgroup (no cgroup.procs)
 *   -EXDEV      outside root (a path elsewhere, "..", a symlink out)
 *   -ESRCH      pid:<PID> names no process
 *   -ENODATA    pid:<PID> has no cgroup v2 entry ("0::" line)
 *   -ENOTUNIQ   container:<prefix> matches more than one container
 * proc NULL means /proc. When one container id names several directories,
 * the shallowest wins (then a .scope over a bare id).
 */
int na_cgroup_resolve(const char *root, const char *proc, const char *spec,
		      struct na_cgroup *out, char *err, size_t errlen);

/*
 * Fill out from an absolute directory path already known to be under root.
 * Both are canonicalised; -EXDEV when path is not under root, -ENOTDIR when
 * it is not a directory (cgroup.procs is not checked).
 */
int na_cgroup_from_path(const char *root, const char *path,
			struct na_cgroup *out);

/*
 * The cgroup of process pid, as an absolute path (reads <proc>/<pid>/cgroup;
 * proc NULL means /proc). The path is root joined with the "0::" entry, not
 * checked for existence. -ESRCH when there is no such process, -ENODATA
 * when it has no "0::" line.
 */
int na_cgroup_of_pid(const char *root, const char *proc, long pid,
		     char *out, size_t outlen);

/*
 * Move process pid (0: the caller) into the cgroup directory path, by
 * writing the pid to its cgroup.procs. Returns 0 or the negative errno of
 * the open or write (the kernel says why a move is refused).
 */
int na_cgroup_enter(const char *path, long pid);

/* Whether the cgroup with this id still exists in the hierarchy mounted at
 * root: 1 yes, 0 no (removed, perhaps made again under the same path with
 * a new id), negative errno when it cannot be told (needs
 * CAP_DAC_READ_SEARCH). */
int na_cgroup_id_exists(const char *root, uint64_t id);

/* The container id in the name of a scope a runtime made for a container
 * (docker-<id>.scope, libpod-<id>.scope, cri-containerd-<id>.scope,
 * crio-<id>.scope): true, with id filled. */
bool na_cgroup_scope_id(const char *name, char id[NA_CONTAINER_ID_LEN + 1]);

#endif /* NA_CGROUP_H */
