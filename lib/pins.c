// SPDX-License-Identifier: GPL-2.0-only
/* Pins on bpffs that every datapath's state directory holds alike. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <netaccel/state.h>

#include "internal.h"
#include "na_cgroup.h"

int na_unpin_dir(const char *dir, const char *const *order, size_t n, int *first)
{
	struct dirent *de;
	int err = 0;
	size_t i;
	DIR *d;

	if (first)
		*first = 0;
	for (i = 0; i < n; i++) {
		d = opendir(dir);
		if (!d)
			return errno == ENOENT ? 0 : -errno;
		while ((de = readdir(d))) {
			if (de->d_name[0] == '.' || strncmp(de->d_name, order[i], strlen(order[i])))
				continue;
			if (unlinkat(dirfd(d), de->d_name, 0) && errno != ENOENT)
				err = -errno;
			else if (i == 0 && first)
				(*first)++;
		}
		closedir(d);
	}
	if (!err && rmdir(dir) && errno != ENOENT)
		err = -errno;
	return err;
}

bool na_dir_has_pins(const char *dir, bool subdirs)
{
	struct dirent *de;
	bool any = false;
	DIR *d = opendir(dir);

	if (!d)
		return false;
	while (!any && (de = readdir(d)))
		any = de->d_name[0] != '.' && (subdirs || de->d_type != DT_DIR);
	closedir(d);
	return any;
}

int na_sweep_cgroup_links(const char *dir, bool (*in_use)(uint64_t id, void *arg), void *arg)
{
	unsigned long long id;
	struct dirent *de;
	int n = 0;
	DIR *d;

	d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d))) {
		char kind[16];

		if (sscanf(de->d_name, "cg%llu_%15s", &id, kind) != 2 || in_use(id, arg))
			continue;
		if (unlinkat(dirfd(d), de->d_name, 0) == 0) {
			na_lib_log(NA_LOG_INFO, "removed stale link %s", de->d_name);
			n++;
		}
	}
	closedir(d);
	return n;
}

int na_link_pin(int prog, int target, enum bpf_attach_type type, const char *path,
		struct na_reason *why)
{
	int lfd, err;

	if (access(path, F_OK) == 0)
		return 0;
	lfd = bpf_link_create(prog, target, type, NULL);
	if (lfd < 0)
		return na_reason_set_kind(why, NA_WHY_ATTACH_FAILED, -errno, "%s",
					  strerror(errno));
	if (bpf_obj_pin(lfd, path)) {
		err = na_reason_set(why, -errno, "cannot pin %s: %s", path, strerror(errno));
		close(lfd);	/* the only reference: detaches it */
		return err;
	}
	close(lfd);
	return 1;
}

int na_open_cgroup(const struct na_cgroup *cg, struct na_reason *why)
{
	int fd = open(cg->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return na_reason_set(why, -errno, "cannot open cgroup %s: %s", cg->path,
				     strerror(errno));
	return fd;
}

int na_link_pin_cgroup(int prog, const struct na_cgroup *cg, int cgfd, enum bpf_attach_type type,
		       const char *hook, const char *path, const struct na_attach_needs *needs,
		       struct na_reason *why)
{
	struct na_reason r = { 0 };
	int err;

	err = na_link_pin(prog, cgfd, type, path, &r);
	if (err < 0 && r.kind == NA_WHY_ATTACH_FAILED)
		na_reason_set_kind(why, NA_WHY_ATTACH_FAILED, err, "cannot attach %s to %s: %s%s",
				   hook, cg->path, strerror(-err),
				   err == -EPERM ? needs->perm :
				   err == -EINVAL || err == -EOPNOTSUPP ? needs->kernel : "");
	else if (err < 0)
		na_reason_set(why, err, "%s", r.msg);
	return err;
}
