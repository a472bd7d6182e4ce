// SPDX-License-Identifier: GPL-2.0-only
/*
 * The veth redirect's state, apart from the local bypass's:
 *
 *   <state-dir>/veth/prog_ingress          the TC program (na_veth_ingress)
 *   <state-dir>/veth/na_veth_eps ...       maps (pinned by libbpf, by name)
 *   <state-dir>/veth/tcx_<ifindex>         the tcx link on one host-side veth
 *
 * Which maps and programs there are comes from the skeleton (objset.h).
 * The state records the network namespace it was made in (na_veth_meta):
 * ifindexes mean nothing in another one.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <netaccel/state.h>

#include "internal.h"
#include "objset.h"
#include "veth.skel.h"
#include "veth_internal.h"

#ifndef BPF_FS_MAGIC
#define BPF_FS_MAGIC 0xcafe4a11
#endif

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

void na_veth_init(struct na_veth_state *v)
{
	memset(v, 0, sizeof(*v));
	v->top_fd = v->prog = v->eps = v->epstats = -1;
	v->ports = v->stats = v->meta = -1;
}

void na_veth_close_fds(struct na_veth_state *v)
{
	close_fd(&v->prog);
	close_fd(&v->eps);
	close_fd(&v->epstats);
	close_fd(&v->ports);
	close_fd(&v->stats);
	close_fd(&v->meta);
}

void na_veth_close(struct na_veth_state *v)
{
	if (!v)
		return;
	na_veth_close_fds(v);
	close_fd(&v->top_fd);	/* drops the lock */
	na_nl_close(v->nl);
	free(v);
}

void na_veth_unlock(struct na_veth_state *v)
{
	flock(v->top_fd, LOCK_UN);
}

void na_veth_set_hook(struct na_veth_state *v, int hook)
{
	v->hook = hook;
}

void na_veth_on_event(struct na_veth_state *v, na_veth_event_fn fn, void *arg)
{
	v->on_event = fn;
	v->event_arg = arg;
}

bool na_veth_present(const struct na_veth_state *v)
{
	return faccessat(v->top_fd, NA_VETH_SUBDIR "/" NA_VETH_PROG_PIN, F_OK, 0) == 0;
}

/* The pins, as the object describes them. */
static int describe(const struct na_veth_state *v, struct na_objset *os)
{
	return NA_OBJSET_DESCRIBE(os, v->dir, na_veth);
}

static int take(struct na_objset *os, const char *name)
{
	int fd = na_objset_take(os, name);

	return fd < 0 ? -1 : fd;
}

int na_veth_open_pins(struct na_veth_state *v)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);
	struct na_objset os;
	int err;

	err = describe(v, &os);
	if (err)
		return err;
	err = na_objset_open(&os);
	v->eps = take(&os, "na_veth_eps");
	v->epstats = take(&os, "na_veth_epstats");
	v->ports = take(&os, "na_veth_ports");
	v->stats = take(&os, "na_veth_stats");
	v->meta = take(&os, "na_veth_meta");
	v->prog = take(&os, NA_VETH_PROG_NAME);
	na_objset_close(&os);
	if (!err && bpf_obj_get_info_by_fd(v->prog, &info, &len))
		err = -errno;
	v->prog_id = info.id;
	return err;
}

/* Load the program, reusing maps that are pinned already, and pin it. */
static int load_and_pin(struct na_veth_state *v, struct na_reason *why)
{
	struct na_objset os;
	struct na_veth *skel;
	int err;

	skel = na_veth__open();
	if (!skel) {
		err = -errno;
		return na_reason_set(why, err, "cannot open the veth BPF object: %s",
				     strerror(-err));
	}
	err = na_objset_init(&os, v->dir, skel->obj);
	if (err)
		goto out;
	err = na_veth__load(skel);
	if (err == -EPERM) {
		na_reason_set(why, err,
			      "cannot load the veth redirect program: %s (needs CAP_BPF and CAP_NET_ADMIN)",
			      strerror(-err));
		goto out;
	}
	if (err) {
		na_reason_set_kind(why, NA_WHY_LOAD_FAILED, err,
				   "cannot load the veth redirect program: %s", strerror(-err));
		goto out;
	}
	err = na_objset_pin(&os, skel->obj, why);
out:
	na_veth__destroy(skel);
	return err;
}

static int netns_id(__u64 *dev, __u64 *ino)
{
	struct stat sb;

	if (stat("/proc/self/ns/net", &sb))
		return -errno;
	*dev = sb.st_dev;
	*ino = sb.st_ino;
	return 0;
}

/* Record the network namespace in a new state; refuse a state of another
 * one unless reading. */
static int check_netns(struct na_veth_state *v, bool create, bool reading,
		       struct na_reason *why)
{
	struct na_veth_meta m = {}, here = {};
	__u32 zero = 0;
	int err;

	err = netns_id(&here.netns_dev, &here.netns_ino);
	if (err)
		return err;
	if (bpf_map_lookup_elem(v->meta, &zero, &m))
		return -errno;
	if (!m.netns_ino) {
		if (!create)
			return 0;
		return bpf_map_update_elem(v->meta, &zero, &here, BPF_ANY) ? -errno : 0;
	}
	if (m.netns_ino != here.netns_ino || m.netns_dev != here.netns_dev) {
		v->foreign = true;
		if (reading)
			return 0;
		return na_reason_set_kind(why, NA_WHY_OTHER_NAMESPACE, -EXDEV,
					  "veth state in %s belongs to another network namespace (net:[%llu])",
					  v->dir, (unsigned long long)m.netns_ino);
	}
	return 0;
}

static bool on_bpffs(const char *path)
{
	struct statfs sfs;

	return statfs(path, &sfs) == 0 && (unsigned long)sfs.f_type == BPF_FS_MAGIC;
}

/*
 * `ip netns exec` gives the command a mount namespace of its own in which
 * /sys/fs/bpf is not mounted: pins made there would vanish with the
 * command, and the links with them. ip execs the command in place, so the
 * parent process is still in the mount namespace it came from: when the
 * state directory is on a bpffs there, work in that one (the network
 * namespace stays). Otherwise say so rather than mount a private bpffs.
 */
static int check_mount_ns(const char *top, struct na_reason *why)
{
	char parent[PATH_MAX], path[64], self[64] = "", up[64] = "";
	char *slash;
	int fd;

	snprintf(parent, sizeof(parent), "%s", top);
	slash = strrchr(parent, '/');
	if (slash && slash != parent)
		*slash = '\0';
	if (on_bpffs(parent) || on_bpffs(top))
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/ns/mnt", (int)getppid());
	if (readlink("/proc/self/ns/mnt", self, sizeof(self) - 1) < 0 ||
	    readlink(path, up, sizeof(up) - 1) < 0 || !strcmp(self, up))
		return 0;	/* not a namespace of our own: ensure_bpffs decides */
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0 && setns(fd, CLONE_NEWNS) == 0 && (on_bpffs(parent) || on_bpffs(top))) {
		close(fd);
		na_lib_log(NA_LOG_DEBUG,
			   "%s is on bpffs in the mount namespace of our parent: using that one", parent);
		return 0;
	}
	if (fd >= 0)
		close(fd);
	return na_reason_set_kind(why, NA_WHY_OTHER_NAMESPACE, -ENOTSUP,
				  "%s is not on a bpffs in this mount namespace (ip netns exec hides /sys/fs/bpf)",
				  parent);
}

/* The state directory, made (with bpffs mounted) when create, and its lock. */
static int open_top(struct na_veth_state *v, unsigned int flags, struct na_reason *why)
{
	int err;

	if (flags & NA_VETH_CREATE) {
		err = na_state_ensure_bpffs(v->top, why);
		if (err)
			return err;
		if (mkdir(v->top, 0700) && errno != EEXIST) {
			err = -errno;
			return na_reason_set(why, err, "cannot create state directory %s: %s", v->top,
					     strerror(-err));
		}
	}
	v->top_fd = na_state_open_dir(v->top, flags & NA_VETH_LOCK, why);
	if (v->top_fd < 0)
		return v->top_fd;
	if ((flags & NA_VETH_CREATE) && mkdirat(v->top_fd, NA_VETH_SUBDIR, 0700) &&
	    errno != EEXIST) {
		err = -errno;
		return na_reason_set(why, err, "cannot create %s: %s", v->dir, strerror(-err));
	}
	if (faccessat(v->top_fd, NA_VETH_SUBDIR, F_OK, 0))
		return -ENOENT;
	return 0;
}

static int open_state(struct na_veth_state *v, const char *top, unsigned int flags,
		      struct na_reason *why)
{
	bool create = flags & NA_VETH_CREATE;
	int err;

	if (snprintf(v->top, sizeof(v->top), "%s", top) >= (int)sizeof(v->top) ||
	    snprintf(v->dir, sizeof(v->dir), "%s/" NA_VETH_SUBDIR, top) >= (int)sizeof(v->dir))
		return -ENAMETOOLONG;
	err = check_mount_ns(v->top, why);
	if (!err)
		err = open_top(v, flags, why);
	if (err)
		return err;
	err = na_veth_open_pins(v);
	if (err == -ENOENT) {
		na_veth_close_fds(v);
		if (!create)
			return na_reason_set_kind(why, NA_WHY_STATE_INCOMPLETE, -ENODATA,
						  "veth state in %s is incomplete (an interrupted run)",
						  v->dir);
		err = load_and_pin(v, why);
		if (!err)
			err = na_veth_open_pins(v);
	}
	if (err)
		return err;
	/* Reading works from anywhere (names are looked up over there). */
	err = check_netns(v, create, !(flags & (NA_VETH_CREATE | NA_VETH_LOCK)), why);
	if (err)
		return err;
	err = na_nl_open(&v->nl);
	if (err)
		return na_reason_set(why, err, "cannot open a netlink socket: %s", strerror(-err));
	if (libbpf_num_possible_cpus() <= 0)
		return -EINVAL;
	return 0;
}

int na_veth_open(struct na_veth_state **out, const char *state_dir, unsigned int flags,
		 struct na_reason *why)
{
	struct na_veth_state *v = malloc(sizeof(*v));
	int err;

	*out = NULL;
	if (!v)
		return -ENOMEM;
	na_veth_init(v);
	err = open_state(v, state_dir, flags, why);
	if (err) {
		na_veth_close(v);
		return err;
	}
	*out = v;
	return 0;
}

/* An fd of the network namespace with inode ino on dev, from a process
 * in it or a name under /run/netns; -1 when there is none. */
static int find_netns(__u64 dev, __u64 ino)
{
	static const char *const where[] = { "/proc", "/run/netns" };
	char path[PATH_MAX];
	struct dirent *de;
	struct stat sb;
	size_t i;
	int fd = -1;
	DIR *d;

	for (i = 0; i < 2 && fd < 0; i++) {
		d = opendir(where[i]);
		while (d && fd < 0 && (de = readdir(d))) {
			if (i == 0 && (de->d_name[0] < '0' || de->d_name[0] > '9'))
				continue;
			if (i == 0)
				snprintf(path, sizeof(path), "/proc/%s/ns/net", de->d_name);
			else
				snprintf(path, sizeof(path), "/run/netns/%s", de->d_name);
			if (!stat(path, &sb) && sb.st_ino == ino && sb.st_dev == dev)
				fd = open(path, O_RDONLY | O_CLOEXEC);
		}
		if (d)
			closedir(d);
	}
	return fd;
}

int na_veth_enter_netns(const struct na_veth_state *v)
{
	struct na_veth_meta m = {};
	__u64 dev = 0, ino = 0;
	__u32 zero = 0;
	int self, fd;

	if (v->meta < 0 || bpf_map_lookup_elem(v->meta, &zero, &m) || !m.netns_ino ||
	    netns_id(&dev, &ino) || (ino == m.netns_ino && dev == m.netns_dev))
		return -1;
	fd = find_netns(m.netns_dev, m.netns_ino);
	if (fd < 0)
		return -1;	/* gone: its devices, filters and links are gone too */
	self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (self < 0 || setns(fd, CLONE_NEWNET)) {
		if (self >= 0)
			close(self);
		close(fd);
		return -1;
	}
	close(fd);
	return self;
}

void na_veth_leave_netns(int back)
{
	if (back < 0)
		return;
	setns(back, CLONE_NEWNET);
	close(back);
}

int na_netns_enter(const char *name, struct na_reason *why)
{
	char path[PATH_MAX];
	int fd, err = 0;

	if (strchr(name, '/'))
		snprintf(path, sizeof(path), "%s", name);
	else
		snprintf(path, sizeof(path), "/run/netns/%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		return na_reason_set(why, err, "cannot open network namespace %s: %s", path,
				     strerror(-err));
	}
	if (setns(fd, CLONE_NEWNET)) {
		err = -errno;
		na_reason_set(why, err, "cannot enter network namespace %s: %s", path,
			      strerror(-err));
	}
	close(fd);
	return err;
}
