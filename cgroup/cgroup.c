/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * cgroup v2 discovery and resolution: the small helpers the other files
 * share, where the hierarchy is mounted (mountinfo), and what is done to a
 * cgroup directory once it is known (its id, entering it, whether an id
 * still exists). resolve.c turns what a user typed into a directory,
 * container.c searches for container:<id>.
 *
 * Every function works on paths the caller gives (the mountinfo file, the
 * cgroup root, the proc directory), so that the unit tests can point it at
 * fixture trees. There is no global state: buffers are the caller's or on
 * the stack, and nothing here is unsafe to call from several threads.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

/* ---- small helpers ---- */

const char *na_cg_errdesc(int err)
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
const char *na_cg_path_below(const char *path, const char *root)
{
	size_t n = trimmed_len(root);

	if (strncmp(path, root, n) || (path[n] != '/' && path[n] != '\0'))
		return NULL;
	while (path[n] == '/')
		n++;
	return path + n;
}

/* out = root/rel without doubled slashes; rel "" or "/" gives root. */
int na_cg_join(char *out, size_t outlen, const char *root, const char *rel)
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


/* A directory is a cgroup when it holds a regular file cgroup.procs. */
bool na_cg_has_procs(int dirfd, const char *dir)
{
	char file[PATH_MAX];
	struct stat st;

	if (na_cg_join(file, sizeof(file), dir, "cgroup.procs"))
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
int na_cg_fail(const struct resolve *r, int ret, const char *fmt, ...)
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
	rel = na_cg_path_below(cpath, croot);
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
	ret = na_cg_join(file, sizeof(file), path, "cgroup.procs");
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
