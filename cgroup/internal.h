/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What the files of cgroup/ share and nobody else uses: the state of one
 * na_cgroup_resolve() call and the helpers that more than one file calls.
 * The public interface is na_cgroup.h.
 */
#ifndef NA_CGROUP_INTERNAL_H
#define NA_CGROUP_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "na_cgroup.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* What one na_cgroup_resolve() call works with. */
struct resolve {
	const char *spec;	/* what the user typed, starts every message */
	const char *given_root;	/* the root as the caller spelled it */
	const char *proc;
	char root[PATH_MAX];	/* the root, canonical */
	struct na_cgroup *out;
	char *err;
	size_t errlen;
};

/* strerrordesc_np(err), or "Unknown error". (cgroup.c) */
const char *na_cg_errdesc(int err);

/* The part of path below root, or NULL when it is not below. (cgroup.c) */
const char *na_cg_path_below(const char *path, const char *root);

/* out = root/rel without doubled slashes. (cgroup.c) */
int na_cg_join(char *out, size_t outlen, const char *root, const char *rel);

/* Whether dir (relative to dirfd) holds a regular file cgroup.procs. (cgroup.c) */
bool na_cg_has_procs(int dirfd, const char *dir);

/* Write "<spec>: <message>" to the caller's buffer and return ret. (cgroup.c) */
__attribute__((format(printf, 3, 4)))
int na_cg_fail(const struct resolve *r, int ret, const char *fmt, ...);

/* Check that candidate is a cgroup inside the root and fill r->out. (resolve.c) */
int na_cg_check_cgroup(struct resolve *r, const char *candidate);

/* The container:<prefix> form. (container.c) */
int na_cg_resolve_container(struct resolve *r, const char *prefix);

#endif /* NA_CGROUP_INTERNAL_H */
