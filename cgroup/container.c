/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The container:<id> form: a search below the cgroup root for the
 * directories a container runtime names by the container's id, with the
 * rules that pick one of them or call the prefix ambiguous.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

/* Container ids (docker, containerd, CRI-O, podman) are 64 hex digits. */
#define CONTAINER_ID_LEN	NA_CONTAINER_ID_LEN
/* How far below the root a container search looks. */
#define CONTAINER_MAX_DEPTH	12
/* How many ids an "ambiguous" message lists before "and more". */
#define CONTAINER_SHOWN		4

/* Append "/name" (or "name" to an empty buffer) at len. */
static int path_append(char *buf, size_t size, size_t len, const char *name)
{
	size_t n = strlen(name);

	if (len + 1 + n >= size)
		return -ENAMETOOLONG;
	if (len)
		buf[len++] = '/';
	memcpy(buf + len, name, n + 1);
	return 0;
}

/* ---- container form ---- */

static const char *const scope_prefixes[] = {
	"docker-", "cri-containerd-", "crio-", "libpod-",
};

static bool is_lower_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

static bool is_hex_string(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (!is_lower_hex(s[i]))
			return false;
	return true;
}

/*
 * The container id a cgroup directory is named by, or NULL: either
 * "<runtime>-<id>.scope" (the systemd cgroup driver; scope set),
 * "<runtime>-<id>" (podman's cgroupfs driver, libpod_parent/libpod-<id>;
 * scope set), or the bare id (the cgroupfs driver of the others:
 * docker/<id>, kubepods/.../pod<uid>/<id>). The
 * id is not NUL-terminated. Helper scopes such as libpod-conmon-<id>.scope
 * and crio-conmon-<id>.scope hold the runtime's monitor, not the container;
 * they are rejected because "conmon-..." is not a hex id.
 */
static const char *container_id(const char *name, bool *scope)
{
	static const char suffix[] = ".scope";
	size_t len = strlen(name);
	size_t i, n;

	*scope = false;
	if (len == CONTAINER_ID_LEN && is_hex_string(name, len))
		return name;
	for (i = 0; i < ARRAY_SIZE(scope_prefixes); i++) {
		n = strlen(scope_prefixes[i]);
		if ((len != n + CONTAINER_ID_LEN + strlen(suffix) && len != n + CONTAINER_ID_LEN) ||
		    strncmp(name, scope_prefixes[i], n) ||
		    !is_hex_string(name + n, CONTAINER_ID_LEN) ||
		    (len > n + CONTAINER_ID_LEN && strcmp(name + n + CONTAINER_ID_LEN, suffix)))
			continue;
		*scope = true;
		return name + n;
	}
	return NULL;
}

bool na_cgroup_scope_id(const char *name, char id[NA_CONTAINER_ID_LEN + 1])
{
	const char *s;
	bool scope;

	s = container_id(name, &scope);
	if (!s || !scope)
		return false;
	memcpy(id, s, CONTAINER_ID_LEN);
	id[CONTAINER_ID_LEN] = '\0';
	return true;
}

struct container_search {
	const char *prefix;	/* what the user typed after "container:" */
	size_t prefix_len;
	dev_t dev;		/* the root's file system; never leave it */
	char path[PATH_MAX];	/* directory being visited, relative to root */
	/* the smallest distinct ids that match, sorted */
	char ids[CONTAINER_SHOWN][CONTAINER_ID_LEN + 1];
	int nids;
	bool more;		/* more distinct ids than ids[] holds */
	/* the directory chosen while only one id matches */
	char best[PATH_MAX];
	int best_depth;
	bool best_scope;
};

/*
 * When one id names several directories, the shallowest is the container's
 * own cgroup: deeper ones are cgroups made inside it (by systemd or a
 * runtime running in the container), and programs attached to the
 * container's cgroup cover them too. At equal depth a runtime's .scope
 * wins over a bare id; after that the smallest path, so that the answer
 * does not depend on readdir order.
 */
static bool better_match(const struct container_search *s, int depth,
			 bool scope)
{
	if (depth != s->best_depth)
		return depth < s->best_depth;
	if (scope != s->best_scope)
		return scope;
	return strcmp(s->path, s->best) < 0;
}

static bool known_id(const struct container_search *s, const char *id)
{
	int i;

	for (i = 0; i < s->nids; i++)
		if (!memcmp(s->ids[i], id, CONTAINER_ID_LEN))
			return true;
	return false;
}

/*
 * Insert id in sorted order. When ids[] is full, the largest is dropped,
 * so that an "ambiguous" message does not depend on readdir order.
 */
static void add_id(struct container_search *s, const char *id)
{
	int i = s->nids;

	if (i == CONTAINER_SHOWN) {
		s->more = true;
		if (memcmp(id, s->ids[i - 1], CONTAINER_ID_LEN) > 0)
			return;
		i--;
	} else {
		s->nids++;
	}
	for (; i > 0 && memcmp(s->ids[i - 1], id, CONTAINER_ID_LEN) > 0; i--)
		memcpy(s->ids[i], s->ids[i - 1], sizeof(s->ids[i]));
	memcpy(s->ids[i], id, CONTAINER_ID_LEN);
	s->ids[i][CONTAINER_ID_LEN] = '\0';
}

static void note_match(struct container_search *s, const char *id,
		       int depth, bool scope)
{
	if (!known_id(s, id))
		add_id(s, id);
	if (s->nids == 1 && better_match(s, depth, scope)) {
		memcpy(s->best, s->path, sizeof(s->best));
		s->best_depth = depth;
		s->best_scope = scope;
	}
}

static void consider(struct container_search *s, int fd, const char *name,
		     int depth)
{
	const char *id;
	bool scope;

	id = container_id(name, &scope);
	if (id && !strncmp(id, s->prefix, s->prefix_len) && na_cg_has_procs(fd, "."))
		note_match(s, id, depth, scope);
}

static bool maybe_dir(const struct dirent *de)
{
	if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
		return false;
	return de->d_type == DT_DIR || de->d_type == DT_UNKNOWN;
}

static void search_dir(struct container_search *s, int parent,
		       const char *name, int depth);

static void search_children(struct container_search *s, DIR *dir, int depth)
{
	struct dirent *de;

	while ((de = readdir(dir)))
		if (maybe_dir(de))
			search_dir(s, dirfd(dir), de->d_name, depth + 1);
}

/* Visit directory name below parent, then what it holds. */
static void search_dir(struct container_search *s, int parent,
		       const char *name, int depth)
{
	size_t len = strlen(s->path);
	struct stat st;
	DIR *dir;
	int fd;

	/* O_NOFOLLOW: a symlink could lead out of the hierarchy, or loop */
	fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
		    O_CLOEXEC);
	if (fd < 0)
		return;		/* a symlink, a file, gone, or unreadable */
	dir = fdopendir(fd);
	if (!dir) {
		close(fd);
		return;
	}
	if (fstat(fd, &st) || st.st_dev != s->dev ||
	    path_append(s->path, sizeof(s->path), len, name))
		goto out;
	consider(s, fd, name, depth);
	if (depth < CONTAINER_MAX_DEPTH)
		search_children(s, dir, depth);
out:
	s->path[len] = '\0';
	closedir(dir);
}

static int search_root(struct container_search *s, const char *root)
{
	struct stat st;
	DIR *dir;
	int ret = 0;

	dir = opendir(root);
	if (!dir)
		return -errno;
	if (fstat(dirfd(dir), &st)) {
		ret = -errno;
		goto out;
	}
	s->dev = st.st_dev;
	search_children(s, dir, 0);
out:
	closedir(dir);
	return ret;
}

static int ambiguous(struct resolve *r, struct container_search *s)
{
	char list[CONTAINER_SHOWN * (CONTAINER_ID_LEN + 2) + sizeof(" and more")];
	size_t len = 0;
	int i;

	for (i = 0; i < s->nids; i++)
		len += snprintf(list + len, sizeof(list) - len, "%s%s",
				i ? ", " : "", s->ids[i]);
	snprintf(list + len, sizeof(list) - len, "%s",
		 s->more ? " and more" : "");
	return na_cg_fail(r, -ENOTUNIQ, "ambiguous, matches %s (give more characters)",
		    list);
}

int na_cg_resolve_container(struct resolve *r, const char *prefix)
{
	struct container_search s = {
		.prefix = prefix,
		.prefix_len = strlen(prefix),
		.best_depth = INT_MAX,
	};
	char candidate[PATH_MAX];
	int ret;

	if (!s.prefix_len || s.prefix_len > CONTAINER_ID_LEN ||
	    !is_hex_string(prefix, s.prefix_len))
		return na_cg_fail(r, -EINVAL,
			    "invalid container id (expected the full id or a unique prefix of it: up to %d lowercase hex digits)",
			    CONTAINER_ID_LEN);
	ret = search_root(&s, r->root);
	if (ret)
		return na_cg_fail(r, ret, "cannot search %s: %s", r->root,
			    na_cg_errdesc(-ret));
	if (!s.nids)
		return na_cg_fail(r, -ENOENT,
			    "no such container (looked below %s, %d levels deep, for docker-<id>.scope, cri-containerd-<id>.scope, crio-<id>.scope, libpod-<id>.scope and directories named by the full id)",
			    r->root, CONTAINER_MAX_DEPTH);
	if (s.nids > 1)
		return ambiguous(r, &s);
	if (na_cg_join(candidate, sizeof(candidate), r->root, s.best))
		return na_cg_fail(r, -ENAMETOOLONG, "path too long");
	return na_cg_check_cgroup(r, candidate);
}
