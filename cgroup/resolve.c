/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Resolution of what a user typed to a cgroup directory: the path and
 * pid:<PID> forms, the check every form ends with, and
 * na_cgroup_resolve() that picks the form (container:<id> is searched for
 * in container.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "internal.h"

/*
 * The last step of every form: candidate must exist, lie inside the root
 * once symlinks and ".." are resolved, and be a cgroup directory.
 */
int na_cg_check_cgroup(struct resolve *r, const char *candidate)
{
	char canon[PATH_MAX];
	struct stat st;
	int ret;

	if (!realpath(candidate, canon)) {
		ret = errno;
		if (ret == ENOENT)
			return na_cg_fail(r, -ENOENT, "no such cgroup (looked for %s)",
				    candidate);
		return na_cg_fail(r, -ret, "cannot resolve %s: %s", candidate,
			    na_cg_errdesc(ret));
	}
	if (!na_cg_path_below(canon, r->root))
		return na_cg_fail(r, -EXDEV,
			    "%s is not inside the cgroup v2 hierarchy mounted at %s",
			    canon, r->root);
	if (stat(canon, &st)) {
		ret = errno;
		return na_cg_fail(r, -ret, "cannot stat %s: %s", canon, na_cg_errdesc(ret));
	}
	if (!S_ISDIR(st.st_mode))
		return na_cg_fail(r, -ENOTDIR, "not a cgroup (%s is not a directory)",
			    canon);
	if (!na_cg_has_procs(AT_FDCWD, canon))
		return na_cg_fail(r, -ENOTDIR, "not a cgroup (no cgroup.procs in %s)",
			    canon);
	ret = na_cgroup_from_path(r->root, canon, r->out);
	if (ret)
		return na_cg_fail(r, ret, "cannot use %s: %s", canon, na_cg_errdesc(-ret));
	return 0;
}

/* ---- path form ---- */

/*
 * An absolute path below the root names itself. Any other path is relative
 * to the root, also with a leading slash ("/app.slice" is what
 * /proc/<pid>/cgroup shows) -- unless only the absolute path exists, which
 * means the user named a directory outside the hierarchy (a v1 controller
 * on a hybrid host, say).
 */
static int resolve_path(struct resolve *r)
{
	const char *spec = r->spec;
	char candidate[PATH_MAX];
	struct stat st;

	if (spec[0] == '/' &&
	    (na_cg_path_below(spec, r->root) || na_cg_path_below(spec, r->given_root)))
		return na_cg_check_cgroup(r, spec);
	if (na_cg_join(candidate, sizeof(candidate), r->root, spec))
		return na_cg_fail(r, -ENAMETOOLONG, "path too long");
	if (spec[0] == '/' && lstat(candidate, &st) && errno == ENOENT &&
	    !lstat(spec, &st))
		return na_cg_fail(r, -EXDEV,
			    "not inside the cgroup v2 hierarchy mounted at %s (and %s does not exist)",
			    r->root, candidate);
	return na_cg_check_cgroup(r, candidate);
}

/* ---- pid form ---- */

/* A decimal pid, 1 to INT_MAX, digits only (no sign, no spaces). */
static int parse_pid(const char *s, long *pid)
{
	long v = 0;

	if (!*s)
		return -EINVAL;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -EINVAL;
		if (v > (INT_MAX - (*s - '0')) / 10)
			return -ERANGE;
		v = v * 10 + (*s - '0');
	}
	if (!v)
		return -EINVAL;
	*pid = v;
	return 0;
}

int na_cgroup_of_pid(const char *root, const char *proc, long pid,
		     char *out, size_t outlen)
{
	char file[PATH_MAX];
	char *line = NULL;
	size_t cap = 0;
	int ret;
	FILE *f;

	if (pid <= 0 || pid > INT_MAX)
		return -EINVAL;
	ret = snprintf(file, sizeof(file), "%s/%ld/cgroup",
		       proc ? proc : "/proc", pid);
	if (ret < 0 || (size_t)ret >= sizeof(file))
		return -ENAMETOOLONG;
	f = fopen(file, "re");
	if (!f)
		return errno == ENOENT ? -ESRCH : -errno;
	ret = -ENODATA;
	while (getline(&line, &cap, f) >= 0) {
		if (strncmp(line, "0::", 3))
			continue;
		line[strcspn(line, "\n")] = '\0';
		ret = na_cg_join(out, outlen, root, line + 3);
		break;
	}
	if (ret == -ENODATA && ferror(f))
		ret = -EIO;
	free(line);
	fclose(f);
	return ret;
}

static int resolve_pid(struct resolve *r, const char *arg)
{
	char path[PATH_MAX];
	long pid;
	int ret;

	ret = parse_pid(arg, &pid);
	if (ret == -ERANGE)
		return na_cg_fail(r, -EINVAL, "process id out of range");
	if (ret)
		return na_cg_fail(r, -EINVAL,
			    "invalid process id (expected pid:<PID>, a positive decimal number)");
	ret = na_cgroup_of_pid(r->root, r->proc, pid, path, sizeof(path));
	if (ret == -ESRCH)
		return na_cg_fail(r, ret, "no such process (no %s/%ld/cgroup)",
			    r->proc, pid);
	if (ret == -ENODATA)
		return na_cg_fail(r, ret,
			    "process is in no cgroup v2 (no \"0::\" line in %s/%ld/cgroup)",
			    r->proc, pid);
	if (ret)
		return na_cg_fail(r, ret, "cannot read %s/%ld/cgroup: %s", r->proc,
			    pid, na_cg_errdesc(-ret));
	return na_cg_check_cgroup(r, path);
}

/* ---- entry points ---- */

int na_cgroup_resolve(const char *root, const char *proc, const char *spec,
		      struct na_cgroup *out, char *err, size_t errlen)
{
	struct resolve r = {
		.spec = spec ? spec : "",
		.given_root = root,
		.proc = proc ? proc : "/proc",
		.out = out,
		.err = err,
		.errlen = errlen,
	};
	int ret;

	if (err && errlen)
		err[0] = '\0';
	if (!*r.spec)
		return na_cg_fail(&r, -EINVAL,
			    "empty cgroup name (expected a path, pid:<PID> or container:<ID>)");
	if (!root || !out)
		return na_cg_fail(&r, -EINVAL, "no cgroup root or result given");
	if (!realpath(root, r.root)) {
		ret = errno;
		return na_cg_fail(&r, -ret, "cannot use cgroup v2 root %s: %s", root,
			    na_cg_errdesc(ret));
	}
	if (!strncmp(r.spec, "pid:", 4))
		return resolve_pid(&r, r.spec + 4);
	if (!strncmp(r.spec, "container:", 10))
		return na_cg_resolve_container(&r, r.spec + 10);
	return resolve_path(&r);
}
