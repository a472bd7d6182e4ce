/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * cgroup v2 discovery and resolution.
 *
 * Every function works on paths the caller gives (the mountinfo file, the
 * cgroup root, the proc directory), so that the unit tests can point it at
 * fixture trees. There is no global state: buffers are the caller's or on
 * the stack, and nothing here is unsafe to call from several threads.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "na_cgroup.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Container ids (docker, containerd, CRI-O, podman) are 64 hex digits. */
#define CONTAINER_ID_LEN	64
/* How far below the root a container search looks. */
#define CONTAINER_MAX_DEPTH	12
/* How many ids an "ambiguous" message lists before "and more". */
#define CONTAINER_SHOWN		4

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

/* ---- small helpers ---- */

static const char *errdesc(int err)
{
	const char *s = strerrordesc_np(err);

	return s ? s : "Unknown error";
}

static int copy_str(char *out, size_t outlen, const char *src)
{
	size_t n = strlen(src);

	if (!out || n >= outlen)
		return -ENAMETOOLONG;
	memcpy(out, src, n + 1);
	return 0;
}

/* Length of path without trailing slashes ("/" counts as 0). */
static size_t trimmed_len(const char *path)
{
	size_t n = strlen(path);

	while (n > 0 && path[n - 1] == '/')
		n--;
	return n;
}

/*
 * When path is root or lies below it (comparing strings, not the file
 * system), the part of path after root without leading slashes ("" for
 * root itself); otherwise NULL.
 */
static const char *path_below(const char *path, const char *root)
{
	size_t n = trimmed_len(root);

	if (strncmp(path, root, n) || (path[n] != '/' && path[n] != '\0'))
		return NULL;
	while (path[n] == '/')
		n++;
	return path + n;
}

/* out = root/rel without doubled slashes; rel "" or "/" gives root. */
static int join(char *out, size_t outlen, const char *root, const char *rel)
{
	size_t n = trimmed_len(root);
	int len;

	while (*rel == '/')
		rel++;
	if (*rel)
		len = snprintf(out, outlen, "%.*s/%s", (int)n, root, rel);
	else if (n)
		len = snprintf(out, outlen, "%.*s", (int)n, root);
	else
		len = snprintf(out, outlen, "/");
	if (len < 0 || (size_t)len >= outlen)
		return -ENAMETOOLONG;
	return 0;
}

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

/* A directory is a cgroup when it holds a regular file cgroup.procs. */
static bool has_procs(int dirfd, const char *dir)
{
	char file[PATH_MAX];
	struct stat st;

	if (join(file, sizeof(file), dir, "cgroup.procs"))
		return false;
	return !fstatat(dirfd, file, &st, AT_SYMLINK_NOFOLLOW) &&
	       S_ISREG(st.st_mode);
}

/* Replace control characters so that a message stays on one line. */
static void one_line(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '?';
}

/* Write "<spec>: <message>" to the caller's buffer and return ret. */
__attribute__((format(printf, 3, 4)))
static int fail(const struct resolve *r, int ret, const char *fmt, ...)
{
	size_t len = 0;
	va_list ap;
	int n;

	if (!r->err || !r->errlen)
		return ret;
	if (*r->spec) {
		n = snprintf(r->err, r->errlen, "%s: ", r->spec);
		len = n < 0 ? 0 : (size_t)n;
	}
	if (len < r->errlen) {
		va_start(ap, fmt);
		vsnprintf(r->err + len, r->errlen - len, fmt, ap);
		va_end(ap);
	}
	one_line(r->err);
	return ret;
}

/* ---- mountinfo ---- */

struct mount_entry {
	const char *root;	/* field 4: root of the mount in its fs */
	char *point;		/* field 5: mount point, still escaped */
	const char *fstype;	/* first field after the " - " separator */
};

/*
 * Split one line of mountinfo (proc(5)) in place:
 *   id parent major:minor root point options [optional...] - fstype source super
 */
static int parse_mount_line(char *line, struct mount_entry *m)
{
	char *field[6];
	char *p = line;
	char *tok;
	size_t i;

	line[strcspn(line, "\n")] = '\0';
	for (i = 0; i < ARRAY_SIZE(field); i++) {
		field[i] = strsep(&p, " ");
		if (!field[i] || !*field[i])
			return -EINVAL;
	}
	do {
		tok = strsep(&p, " ");
		if (!tok)
			return -EINVAL;
	} while (strcmp(tok, "-"));
	tok = strsep(&p, " ");
	if (!tok || !*tok || field[4][0] != '/')
		return -EINVAL;
	m->root = field[3];
	m->point = field[4];
	m->fstype = tok;
	return 0;
}

static bool is_octal(char c)
{
	return c >= '0' && c <= '7';
}

/* Decode in place the \ooo escapes the kernel writes for " \t\n\\". */
static void unescape_octal(char *s)
{
	char *w = s;
	int v;

	while (*s) {
		if (s[0] == '\\' && is_octal(s[1]) && is_octal(s[2]) &&
		    is_octal(s[3])) {
			v = (s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0');
			if (v > 0 && v < 256) {
				*w++ = (char)v;
				s += 4;
				continue;
			}
		}
		*w++ = *s++;
	}
	*w = '\0';
}

static int mount_point(struct mount_entry *m, char *out, size_t outlen)
{
	unescape_octal(m->point);
	return copy_str(out, outlen, m->point);
}

/*
 * The first cgroup2 mount of the whole hierarchy (root "/") wins. A mount
 * of a subtree (a bind mount, or one made inside a cgroup namespace and
 * seen from outside) is used only when no mount of the whole exists.
 */
int na_cgroup_find_mount(const char *mountinfo, char *out, size_t outlen)
{
	struct mount_entry m;
	char *line = NULL;
	size_t cap = 0;
	int ret = -ENOENT;
	FILE *f;

	f = fopen(mountinfo ? mountinfo : "/proc/self/mountinfo", "re");
	if (!f)
		return -errno;
	errno = 0;
	while (getline(&line, &cap, f) >= 0) {
		if (parse_mount_line(line, &m) || strcmp(m.fstype, "cgroup2"))
			continue;
		if (!strcmp(m.root, "/")) {
			ret = mount_point(&m, out, outlen);
			goto out;
		}
		if (ret == -ENOENT)
			ret = mount_point(&m, out, outlen);
	}
	if (ferror(f))
		ret = errno ? -errno : -EIO;
out:
	free(line);
	fclose(f);
	return ret;
}

/* ---- cgroup directories ---- */

int na_cgroup_from_path(const char *root, const char *path,
			struct na_cgroup *out)
{
	char croot[PATH_MAX];
	char cpath[PATH_MAX];
	const char *rel;
	struct stat st;

	if (!realpath(root, croot) || !realpath(path, cpath))
		return -errno;
	rel = path_below(cpath, croot);
	if (!rel)
		return -EXDEV;
	if (stat(cpath, &st))
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	if (copy_str(out->path, sizeof(out->path), cpath) ||
	    copy_str(out->rel, sizeof(out->rel), rel))
		return -ENAMETOOLONG;
	out->id = st.st_ino;
	return 0;
}

/*
 * The last step of every form: candidate must exist, lie inside the root
 * once symlinks and ".." are resolved, and be a cgroup directory.
 */
static int check_cgroup(struct resolve *r, const char *candidate)
{
	char canon[PATH_MAX];
	struct stat st;
	int ret;

	if (!realpath(candidate, canon)) {
		ret = errno;
		if (ret == ENOENT)
			return fail(r, -ENOENT, "no such cgroup (looked for %s)",
				    candidate);
		return fail(r, -ret, "cannot resolve %s: %s", candidate,
			    errdesc(ret));
	}
	if (!path_below(canon, r->root))
		return fail(r, -EXDEV,
			    "%s is not inside the cgroup v2 hierarchy mounted at %s",
			    canon, r->root);
	if (stat(canon, &st)) {
		ret = errno;
		return fail(r, -ret, "cannot stat %s: %s", canon, errdesc(ret));
	}
	if (!S_ISDIR(st.st_mode))
		return fail(r, -ENOTDIR, "not a cgroup (%s is not a directory)",
			    canon);
	if (!has_procs(AT_FDCWD, canon))
		return fail(r, -ENOTDIR, "not a cgroup (no cgroup.procs in %s)",
			    canon);
	ret = na_cgroup_from_path(r->root, canon, r->out);
	if (ret)
		return fail(r, ret, "cannot use %s: %s", canon, errdesc(-ret));
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
	    (path_below(spec, r->root) || path_below(spec, r->given_root)))
		return check_cgroup(r, spec);
	if (join(candidate, sizeof(candidate), r->root, spec))
		return fail(r, -ENAMETOOLONG, "path too long");
	if (spec[0] == '/' && lstat(candidate, &st) && errno == ENOENT &&
	    !lstat(spec, &st))
		return fail(r, -EXDEV,
			    "not inside the cgroup v2 hierarchy mounted at %s (and %s does not exist)",
			    r->root, candidate);
	return check_cgroup(r, candidate);
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
		ret = join(out, outlen, root, line + 3);
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
		return fail(r, -EINVAL, "process id out of range");
	if (ret)
		return fail(r, -EINVAL,
			    "invalid process id (expected pid:<PID>, a positive decimal number)");
	ret = na_cgroup_of_pid(r->root, r->proc, pid, path, sizeof(path));
	if (ret == -ESRCH)
		return fail(r, ret, "no such process (no %s/%ld/cgroup)",
			    r->proc, pid);
	if (ret == -ENODATA)
		return fail(r, ret,
			    "process is in no cgroup v2 (no \"0::\" line in %s/%ld/cgroup)",
			    r->proc, pid);
	if (ret)
		return fail(r, ret, "cannot read %s/%ld/cgroup: %s", r->proc,
			    pid, errdesc(-ret));
	return check_cgroup(r, path);
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
 * "<runtime>-<id>.scope" (the systemd cgroup driver; scope set) or the bare
 * id (the cgroupfs driver: docker/<id>, kubepods/.../pod<uid>/<id>). The
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
		if (len != n + CONTAINER_ID_LEN + strlen(suffix) ||
		    strncmp(name, scope_prefixes[i], n) ||
		    !is_hex_string(name + n, CONTAINER_ID_LEN) ||
		    strcmp(name + n + CONTAINER_ID_LEN, suffix))
			continue;
		*scope = true;
		return name + n;
	}
	return NULL;
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
	if (id && !strncmp(id, s->prefix, s->prefix_len) && has_procs(fd, "."))
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
	return fail(r, -ENOTUNIQ, "ambiguous, matches %s (give more characters)",
		    list);
}

static int resolve_container(struct resolve *r, const char *prefix)
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
		return fail(r, -EINVAL,
			    "invalid container id (expected the full id or a unique prefix of it: up to %d lowercase hex digits)",
			    CONTAINER_ID_LEN);
	ret = search_root(&s, r->root);
	if (ret)
		return fail(r, ret, "cannot search %s: %s", r->root,
			    errdesc(-ret));
	if (!s.nids)
		return fail(r, -ENOENT,
			    "no such container (looked below %s, %d levels deep, for docker-<id>.scope, cri-containerd-<id>.scope, crio-<id>.scope, libpod-<id>.scope and directories named by the full id)",
			    r->root, CONTAINER_MAX_DEPTH);
	if (s.nids > 1)
		return ambiguous(r, &s);
	if (join(candidate, sizeof(candidate), r->root, s.best))
		return fail(r, -ENAMETOOLONG, "path too long");
	return check_cgroup(r, candidate);
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
		return fail(&r, -EINVAL,
			    "empty cgroup name (expected a path, pid:<PID> or container:<ID>)");
	if (!root || !out)
		return fail(&r, -EINVAL, "no cgroup root or result given");
	if (!realpath(root, r.root)) {
		ret = errno;
		return fail(&r, -ret, "cannot use cgroup v2 root %s: %s", root,
			    errdesc(ret));
	}
	if (!strncmp(r.spec, "pid:", 4))
		return resolve_pid(&r, r.spec + 4);
	if (!strncmp(r.spec, "container:", 10))
		return resolve_container(&r, r.spec + 10);
	return resolve_path(&r);
}

int na_cgroup_enter(const char *path, long pid)
{
	char file[PATH_MAX];
	char buf[24];
	ssize_t n;
	int len;
	int ret;
	int fd;

	if (pid < 0 || pid > INT_MAX)
		return -EINVAL;
	ret = join(file, sizeof(file), path, "cgroup.procs");
	if (ret)
		return ret;
	/* "0" is the writer itself, which is what pid 0 means here too */
	len = snprintf(buf, sizeof(buf), "%ld", pid);
	fd = open(file, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = write(fd, buf, len);
	if (n < 0)
		ret = -errno;
	else if (n != len)
		ret = -EIO;
	close(fd);
	return ret;
}

/*
 * cgroup v2 directories can be opened by a file handle that holds their
 * 64-bit id (kernfs handle type 0xfe): the kernel answers ESTALE once the
 * cgroup is gone, even when a new one was made under the same path.
 */
#define NA_KERNFS_HANDLE 0xfe

int na_cgroup_id_exists(const char *root, uint64_t id)
{
	union {
		struct file_handle fh;
		char buf[sizeof(struct file_handle) + sizeof(uint64_t)];
	} h;
	int mfd, fd, err;

	mfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (mfd < 0)
		return -errno;
	h.fh.handle_bytes = sizeof(id);
	h.fh.handle_type = NA_KERNFS_HANDLE;
	memcpy(h.fh.f_handle, &id, sizeof(id));
	fd = open_by_handle_at(mfd, &h.fh, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	err = fd >= 0 ? 1 : errno == ESTALE || errno == ENOENT ? 0 : -errno;
	if (fd >= 0)
		close(fd);
	close(mfd);
	return err;
}
