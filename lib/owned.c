// SPDX-License-Identifier: GPL-2.0-only
/*
 * The node agent's record of what it made (owned.h): a hash map pinned as
 * agent/owned in the state directory. The agent is its only writer; the
 * flock on agent/ keeps it so, and tells cleanup that an agent would apply
 * its policy again behind it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include <netaccel/owned.h>

#include "internal.h"

/* Entries at most: enrollments, rules and bridges of one host. */
#define OWNED_MAX 16384

static int sub_path(const char *dir, const char *name, char *out, size_t len)
{
	if (snprintf(out, len, "%s/agent%s%s", dir, *name ? "/" : "", name) >= (int)len)
		return -ENAMETOOLONG;
	return 0;
}

static int make_map(const char *pin, struct na_reason *why)
{
	LIBBPF_OPTS(bpf_map_create_opts, opts);
	int fd;

	fd = bpf_map_create(BPF_MAP_TYPE_HASH, "na_owned", sizeof(struct na_owned), sizeof(uint32_t),
			    OWNED_MAX, &opts);
	if (fd < 0)
		return na_reason_set(why, -errno, "cannot make the agent's record %s: %s", pin,
				     strerror(errno));
	if (bpf_obj_pin(fd, pin) && errno != EEXIST) {
		int err = -errno;

		close(fd);
		return na_reason_set(why, err, "cannot pin %s: %s", pin, strerror(-err));
	}
	close(fd);
	return 0;
}

int na_owned_open(struct na_owned_map *m, const char *dir, unsigned int flags,
		  struct na_reason *why)
{
	char sub[PATH_MAX], pin[PATH_MAX];
	int err;

	m->fd = m->dir_fd = -1;
	if (sub_path(dir, "", sub, sizeof(sub)) || sub_path(dir, "owned", pin, sizeof(pin)))
		return na_reason_set(why, -ENAMETOOLONG, "state directory %s: name too long", dir);
	if (flags & NA_OWNED_CREATE) {
		err = na_state_ensure_bpffs(dir, why);
		if (err)
			return err;
		if ((mkdir(dir, 0700) && errno != EEXIST) || (mkdir(sub, 0700) && errno != EEXIST))
			return na_reason_set(why, -errno, "cannot make %s: %s", sub,
					     strerror(errno));
	}
	m->dir_fd = open(sub, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (m->dir_fd < 0) {
		if (errno == ENOENT && !(flags & NA_OWNED_CREATE))
			return 0;	/* no agent ever ran: nothing is owned */
		return na_reason_set(why, -errno, "cannot open %s: %s", sub, strerror(errno));
	}
	if ((flags & NA_OWNED_LOCK) && flock(m->dir_fd, LOCK_EX | LOCK_NB)) {
		if (errno == EWOULDBLOCK)
			return na_reason_set(why, -EBUSY, "another netaccel-agent runs on %s", dir);
		return na_reason_set(why, -errno, "cannot lock %s: %s", sub, strerror(errno));
	}
	if ((flags & NA_OWNED_CREATE) && (err = make_map(pin, why)))
		return err;
	m->fd = bpf_obj_get(pin);
	if (m->fd < 0) {
		err = -errno;
		m->fd = -1;
		if (err == -ENOENT && !(flags & NA_OWNED_CREATE))
			return 0;
		return na_reason_set(why, err, "cannot open %s: %s", pin, strerror(-err));
	}
	return 0;
}

void na_owned_close(struct na_owned_map *m)
{
	if (m->fd >= 0)
		close(m->fd);
	if (m->dir_fd >= 0)
		close(m->dir_fd);	/* drops the lock */
	m->fd = m->dir_fd = -1;
}

int na_owned_add(const struct na_owned_map *m, const struct na_owned *o)
{
	uint32_t one = 1;

	if (m->fd < 0)
		return -ENOENT;
	return bpf_map_update_elem(m->fd, o, &one, BPF_ANY) ? -errno : 0;
}

int na_owned_del(const struct na_owned_map *m, const struct na_owned *o)
{
	if (m->fd < 0)
		return -ENOENT;
	return bpf_map_delete_elem(m->fd, o) ? -errno : 0;
}

bool na_owned_has(const struct na_owned_map *m, const struct na_owned *o)
{
	uint32_t v;

	return m->fd >= 0 && !bpf_map_lookup_elem(m->fd, o, &v);
}

size_t na_owned_list(const struct na_owned_map *m, struct na_owned *out, size_t max)
{
	struct na_owned key, next;
	size_t n = 0;
	void *prev = NULL;

	if (m->fd < 0)
		return 0;
	while (n < max && !bpf_map_get_next_key(m->fd, prev, &next)) {
		out[n++] = next;
		key = next;
		prev = &key;
	}
	return n;
}

bool na_owned_busy(const char *dir)
{
	char sub[PATH_MAX];
	bool busy = false;
	int fd;

	if (sub_path(dir, "", sub, sizeof(sub)))
		return false;
	fd = open(sub, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return false;
	if (flock(fd, LOCK_EX | LOCK_NB))
		busy = errno == EWOULDBLOCK;
	close(fd);
	return busy;
}

int na_owned_remove(const char *dir, struct na_reason *why)
{
	static const char *const order[] = { "" };
	char sub[PATH_MAX];
	int err;

	if (sub_path(dir, "", sub, sizeof(sub)))
		return na_reason_set(why, -ENAMETOOLONG, "state directory %s: name too long", dir);
	if (access(sub, F_OK))
		return 0;
	if (na_owned_busy(dir))
		return na_reason_set(why, -EBUSY,
				     "netaccel-agent runs on %s and would apply its policy again: stop it first",
				     dir);
	err = na_unpin_dir(sub, order, 1, NULL);
	if (err)
		return na_reason_set(why, err, "cannot remove %s: %s", sub, strerror(-err));
	return 1;
}
