/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * cgroup v2 discovery and resolution: where the unified hierarchy is
 * mounted, and which cgroup directory a user means.
 */
#ifndef NA_CGROUP_H
#define NA_CGROUP_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

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
 * what was tried (no trailing newline, no program name).
 */
int na_cgroup_resolve(const char *root, const char *proc, const char *spec,
		      struct na_cgroup *out, char *err, size_t errlen);

/* Fill out from an absolute directory path already known to be under root. */
int na_cgroup_from_path(const char *root, const char *path,
			struct na_cgroup *out);

/* The cgroup of process pid, as an absolute path (reads <proc>/<pid>/cgroup). */
int na_cgroup_of_pid(const char *root, const char *proc, long pid,
		     char *out, size_t outlen);

/* Move process pid (0: the caller) into the cgroup directory path. */
int na_cgroup_enter(const char *path, long pid);

#endif /* NA_CGROUP_H */
