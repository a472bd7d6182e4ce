// SPDX-License-Identifier: GPL-2.0-only
/*
 * veth attach|add|del|list|detach|watch: the veth redirect, which hands a
 * frame from one container straight to another on the same bridge.
 *
 * Its pins live in <state-dir>/veth/, apart from the local bypass:
 *
 *   prog_ingress                    the TC program (na_veth_ingress)
 *   na_veth_eps na_veth_ports ...   maps (pinned by libbpf, by name)
 *   tcx_<ifindex>                   the tcx link on one host-side veth
 *
 * A device on a kernel without tcx gets a clsact filter with netaccel's own
 * handle and priority instead; na_veth_ports records which hook each device
 * has. Adding goes maps, program, hook, port entry, endpoints; removing goes
 * the other way round, starting with the port entry, which stops redirects
 * to the device at once.
 *
 * Endpoints are learned from netlink only: the veth ports of a bridge
 * (IFLA_MASTER), their peers (IFLA_LINK in IFLA_LINK_NETNSID) and the
 * peers' addresses (RTM_GETADDR with IFA_TARGET_NETNSID). Every command
 * that changes something first drops ports whose device is gone or no
 * longer the one we attached to, since a new device can get the ifindex of
 * a deleted one.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <libmnl/libmnl.h>
#include <linux/if_bridge.h>
#include <linux/netlink.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <seccomp.h>

#include "ctl.h"
#include "log.h"
#include <netaccel/state.h>
#include "netlink.h"
#include "veth.h"
#include "veth.skel.h"

#ifndef BPF_FS_MAGIC
#define BPF_FS_MAGIC 0xcafe4a11
#endif

/* uapi values from Linux 6.6 (linux/bpf.h); the headers we build against
 * may predate them, and libbpf 1.1 has no tcx wrapper, so the link is made
 * with bpf_link_create and these numbers. */
#define NA_BPF_TCX_INGRESS 46
#define NA_BPF_LINK_TYPE_TCX 11

/* struct bpf_link_info up to its tcx member (the union is 8-aligned). */
struct na_tcx_link_info {
	__u32 type;
	__u32 id;
	__u32 prog_id;
	__u32 _pad;
	__u32 ifindex;		/* 0 once the device is gone */
	__u32 attach_type;
};

#define PROG_PIN "prog_ingress"
#define PROG_NAME "na_veth_ingress"
#define MAX_BRIDGES 16

enum hook_pref { HOOK_AUTO = 0, HOOK_TCX = NA_VETH_HOOK_TCX, HOOK_TC = NA_VETH_HOOK_TC };

struct vstate {
	char top[PATH_MAX];	/* the state directory */
	char dir[PATH_MAX];	/* <top>/veth */
	int top_fd;		/* locked while changing things */
	int prog, eps, epstats, ports, stats, meta;
	__u32 prog_id;
	struct mnl_socket *nl;
	enum hook_pref hook;
	bool watch;		/* log every endpoint change on stdout */
	bool foreign;		/* made in another network namespace (reading) */
	int ncpu;
};

/* A peer network namespace, as seen through its netns id. */
struct peer_ns {
	int nsid;
	int err;
	struct na_nl_links links;
	struct na_nl_addrs addrs;
};

/* What netlink says now: our devices and the peers' namespaces. */
struct snap {
	struct na_nl_links links;
	struct peer_ns *ns;
	size_t nns;
};

/* An endpoint as it should be. */
struct want {
	struct na_veth_key key;
	struct na_veth_ep ep;
	bool dup;		/* two ports claim the address: leave it alone */
};

/* ---- small helpers ---- */

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static const char *addr_str(int family, const __u32 *addr, char *buf, size_t len)
{
	if (!inet_ntop(family, addr, buf, len))
		snprintf(buf, len, "?");
	return buf;
}

static const char *mac_str(const __u8 *m, char *buf, size_t len)
{
	snprintf(buf, len, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3],
		 m[4], m[5]);
	return buf;
}

static const char *ifname(const struct snap *s, int ifindex, char *buf)
{
	const struct na_nl_link *l = s ? na_nl_find(&s->links, ifindex) : NULL;

	if (l)
		return l->name;
	if (if_indextoname((unsigned int)ifindex, buf))
		return buf;
	snprintf(buf, IF_NAMESIZE, "#%d", ifindex);
	return buf;
}

/* Parse an IPv4 or IPv6 address into an endpoint key (bridge left 0). */
static int parse_addr(const char *s, struct na_veth_key *k)
{
	memset(k, 0, sizeof(*k));
	if (inet_pton(AF_INET, s, k->addr) == 1)
		k->family = AF_INET;
	else if (inet_pton(AF_INET6, s, k->addr) == 1)
		k->family = AF_INET6;
	else
		return -EINVAL;
	return 0;
}

/* Addresses no container can be reached at by unicast. */
static bool addr_usable(int family, const __u32 *a)
{
	const __u8 *b = (const __u8 *)a;

	if (family == AF_INET)
		return a[0] != 0 && b[0] < 224;
	if (b[0] == 0xff)
		return false;
	return a[0] || a[1] || a[2] || a[3];
}

/* ---- the snapshot ---- */

static void snap_free(struct snap *s)
{
	size_t i;

	free(s->links.v);
	for (i = 0; i < s->nns; i++) {
		free(s->ns[i].links.v);
		free(s->ns[i].addrs.v);
	}
	free(s->ns);
	memset(s, 0, sizeof(*s));
}

static struct peer_ns *snap_ns(const struct snap *s, int nsid)
{
	size_t i;

	for (i = 0; i < s->nns; i++)
		if (s->ns[i].nsid == nsid)
			return &s->ns[i];
	return NULL;
}

static int snap_take(struct vstate *vs, struct snap *s)
{
	struct peer_ns *p;
	size_t i;
	int err;

	memset(s, 0, sizeof(*s));
	err = na_nl_links(vs->nl, -1, &s->links);
	if (err) {
		na_err("cannot list network devices: %s", strerror(-err));
		return err;
	}
	for (i = 0; i < s->links.n; i++) {
		const struct na_nl_link *l = &s->links.v[i];

		if (strcmp(l->kind, "veth") || l->link_nsid < 0 || snap_ns(s, l->link_nsid))
			continue;
		p = realloc(s->ns, (s->nns + 1) * sizeof(*s->ns));
		if (!p) {
			snap_free(s);
			return -ENOMEM;
		}
		s->ns = p;
		p = &s->ns[s->nns++];
		memset(p, 0, sizeof(*p));
		p->nsid = l->link_nsid;
		/* A namespace that vanished under us is just one without
		 * devices; its veths are about to go too. */
		p->err = na_nl_links(vs->nl, p->nsid, &p->links);
		if (!p->err)
			p->err = na_nl_addrs(vs->nl, p->nsid, &p->addrs);
		if (p->err == -EPERM || p->err == -EACCES) {
			na_err("cannot read the devices of network namespace id %d: %s (needs CAP_NET_ADMIN there)",
			       p->nsid, strerror(-p->err));
			snap_free(s);
			return -EPERM;
		}
	}
	return 0;
}

/* Why l cannot be a redirect port (NULL when it can); its bridge and peer. */
static const char *port_problem(const struct snap *s, const struct na_nl_link *l,
				const struct na_nl_link **br,
				const struct na_nl_link **peer)
{
	const struct peer_ns *p;

	*br = *peer = NULL;
	if (strcmp(l->kind, "veth"))
		return "not a veth";
	if (!l->master)
		return "not a port of a bridge";
	*br = na_nl_find(&s->links, l->master);
	if (!*br || strcmp((*br)->kind, "bridge"))
		return "its master is not a bridge";
	if ((*br)->vlan_filtering)
		return "its bridge filters VLANs, which the redirect does not follow";
	if (l->link_nsid < 0)
		return "its peer is in this network namespace (the redirect hands frames to a peer in another one)";
	p = snap_ns(s, l->link_nsid);
	*peer = p && !p->err ? na_nl_find(&p->links, l->link) : NULL;
	if (!*peer)
		return "its peer cannot be found";
	if (l->isolated)
		return "it is an isolated bridge port";
	if (l->port_state >= 0 && l->port_state != BR_STATE_FORWARDING)
		return "the bridge does not forward on it (down or blocked)";
	return NULL;
}

/* ---- the state ---- */

static void vs_init(struct vstate *vs)
{
	memset(vs, 0, sizeof(*vs));
	vs->top_fd = vs->prog = vs->eps = vs->epstats = -1;
	vs->ports = vs->stats = vs->meta = -1;
}

static void vs_close(struct vstate *vs)
{
	close_fd(&vs->prog);
	close_fd(&vs->eps);
	close_fd(&vs->epstats);
	close_fd(&vs->ports);
	close_fd(&vs->stats);
	close_fd(&vs->meta);
	close_fd(&vs->top_fd);
	na_nl_close(vs->nl);
	vs->nl = NULL;
}

static int pin_path(const struct vstate *vs, const char *name, char *out)
{
	int n = snprintf(out, PATH_MAX, "%s/%s", vs->dir, name);

	return n < 0 || n >= PATH_MAX ? -ENAMETOOLONG : 0;
}

static int get_pin(const struct vstate *vs, const char *name)
{
	char path[PATH_MAX];
	int fd;

	if (pin_path(vs, name, path))
		return -ENAMETOOLONG;
	fd = bpf_obj_get(path);
	return fd < 0 ? -errno : fd;
}

static int open_pins(struct vstate *vs)
{
	struct {
		const char *name;
		int *fd;
	} pins[] = {
		{ "na_veth_eps", &vs->eps },
		{ "na_veth_epstats", &vs->epstats },
		{ "na_veth_ports", &vs->ports },
		{ "na_veth_stats", &vs->stats },
		{ "na_veth_meta", &vs->meta },
		{ PROG_PIN, &vs->prog },
	};
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);
	size_t i;

	for (i = 0; i < sizeof(pins) / sizeof(pins[0]); i++) {
		*pins[i].fd = get_pin(vs, pins[i].name);
		if (*pins[i].fd < 0)
			return *pins[i].fd;
	}
	if (bpf_obj_get_info_by_fd(vs->prog, &info, &len))
		return -errno;
	vs->prog_id = info.id;
	return 0;
}

/* Load the program, reusing maps that are pinned already, and pin it. */
static int load_and_pin(struct vstate *vs)
{
	struct na_reason why = { 0 };
	char path[PATH_MAX];
	struct na_veth *skel;
	struct bpf_map *map;
	int err;

	skel = na_veth__open();
	if (!skel) {
		err = -errno;
		na_err("cannot open the veth BPF object: %s", strerror(-err));
		return err;
	}
	bpf_object__for_each_map(map, skel->obj) {
		if (bpf_map__is_internal(map))
			continue;
		err = pin_path(vs, bpf_map__name(map), path);
		if (err || (err = bpf_map__set_pin_path(map, path)))
			goto out;
	}
	err = na_veth__load(skel);
	if (err) {
		na_err("cannot load the veth redirect program: %s (%s)", strerror(-err),
		       err == -EPERM ? "needs CAP_BPF and CAP_NET_ADMIN" :
				       "needs Linux >= 5.10 for bpf_redirect_peer; -vv shows the verifier log");
		goto out;
	}
	err = pin_path(vs, PROG_PIN, path);
	if (err)
		goto out;
	err = na_pin_prog_once(skel->progs.na_veth_ingress, path, &why);
	if (err)
		na_err_why(&why, err);
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

/* The state records the network namespace it was made in; ifindexes
 * mean nothing in another one. */
static int check_netns(struct vstate *vs, bool create, bool reading)
{
	struct na_veth_meta m = {}, here = {};
	__u32 zero = 0;
	int err;

	err = netns_id(&here.netns_dev, &here.netns_ino);
	if (err)
		return err;
	if (bpf_map_lookup_elem(vs->meta, &zero, &m))
		return -errno;
	if (!m.netns_ino) {
		if (!create)
			return 0;
		return bpf_map_update_elem(vs->meta, &zero, &here, BPF_ANY) ? -errno : 0;
	}
	if (m.netns_ino != here.netns_ino || m.netns_dev != here.netns_dev) {
		vs->foreign = true;
		if (reading)
			return 0;
		na_err("veth state in %s belongs to another network namespace (net:[%llu]): run in that one (--netns), or use another --state-dir",
		       vs->dir, (unsigned long long)m.netns_ino);
		return -EXDEV;
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
 * namespace stays). Otherwise say what to do rather than mount a private
 * bpffs.
 */
static int check_mount_ns(const char *top)
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
		na_dbg("%s is on bpffs in the mount namespace of our parent: using that one", parent);
		return 0;
	}
	if (fd >= 0)
		close(fd);
	na_err("%s is not on a bpffs in this mount namespace (ip netns exec hides /sys/fs/bpf): use netaccel-ctl veth --netns <name>, or nsenter --net=/run/netns/<name>",
	       parent);
	return -ENOTSUP;
}

enum { VS_CREATE = 1, VS_LOCK = 2, VS_QUIET = 4 };

/*
 * Open the veth state. VS_CREATE: mount bpffs if needed, make the
 * directories, load and pin what is missing. VS_LOCK: take the state
 * directory's lock (commands that change something). -ENOENT: no veth
 * state; -ENODATA: an incomplete one (not printed with VS_QUIET).
 */
static int vs_open(struct vstate *vs, const char *top, unsigned int flags)
{
	bool create = flags & VS_CREATE;
	int err;

	vs_init(vs);
	if (snprintf(vs->top, sizeof(vs->top), "%s", top) >= (int)sizeof(vs->top) ||
	    snprintf(vs->dir, sizeof(vs->dir), "%s/veth", top) >= (int)sizeof(vs->dir))
		return -ENAMETOOLONG;
	err = check_mount_ns(vs->top);
	if (err)
		goto fail;
	if (create) {
		struct na_reason why = { 0 };

		err = na_state_ensure_bpffs(vs->top, &why);
		if (err) {
			na_err_why(&why, err);
			goto fail;
		}
		if (mkdir(vs->top, 0700) && errno != EEXIST) {
			err = -errno;
			na_err("cannot create state directory %s: %s", vs->top, strerror(-err));
			goto fail;
		}
	}
	vs->top_fd = open(vs->top, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (vs->top_fd < 0) {
		err = -errno;
		goto fail;
	}
	if (!on_bpffs(vs->top)) {
		na_err("state directory %s is not on a bpffs mount (choose a directory under /sys/fs/bpf)",
		       vs->top);
		err = -ENOTSUP;
		goto fail;
	}
	if ((flags & VS_LOCK) && flock(vs->top_fd, LOCK_EX)) {
		err = -errno;
		goto fail;
	}
	if (create && mkdirat(vs->top_fd, "veth", 0700) && errno != EEXIST) {
		err = -errno;
		na_err("cannot create %s: %s", vs->dir, strerror(-err));
		goto fail;
	}
	if (faccessat(vs->top_fd, "veth", F_OK, 0)) {
		err = -ENOENT;
		goto fail;
	}
	err = open_pins(vs);
	if (err == -ENOENT) {
		vs_close(vs);
		vs->top_fd = open(vs->top, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (vs->top_fd < 0 || ((flags & VS_LOCK) && flock(vs->top_fd, LOCK_EX))) {
			err = -errno;
			goto fail;
		}
		if (!create) {
			err = -ENODATA;
			goto fail;
		}
		err = load_and_pin(vs);
		if (!err)
			err = open_pins(vs);
	}
	if (err)
		goto fail;
	/* Reading works from anywhere (names are looked up over there). */
	err = check_netns(vs, create, !(flags & (VS_CREATE | VS_LOCK)));
	if (err)
		goto fail;
	err = na_nl_open(&vs->nl);
	if (err) {
		na_err("cannot open a netlink socket: %s", strerror(-err));
		goto fail;
	}
	vs->ncpu = libbpf_num_possible_cpus();
	if (vs->ncpu <= 0) {
		err = -EINVAL;
		goto fail;
	}
	return 0;
fail:
	if (!(flags & VS_QUIET) && !na_err_reported() && err != -ENOENT) {
		if (err == -ENODATA)
			na_err("veth state in %s is incomplete (an interrupted run): veth attach completes it, cleanup removes it",
			       vs->dir);
		else
			na_err("cannot open veth state in %s: %s%s", vs->dir, strerror(-err),
			       err == -EPERM || err == -EACCES ? " (needs CAP_BPF and CAP_NET_ADMIN)" : "");
	}
	vs_close(vs);
	return err;
}

/* ---- hooks on one device ---- */

static int tcx_pin(const struct vstate *vs, int ifindex, char *out)
{
	char name[32];

	snprintf(name, sizeof(name), "tcx_%d", ifindex);
	return pin_path(vs, name, out);
}

/* Our tcx link on ifindex: 1 live (with our program), 0 none. A pin whose
 * link lost its device (deleted, so the ifindex may be another device's
 * now) is removed. */
static int tcx_state(const struct vstate *vs, int ifindex, bool fix)
{
	struct na_tcx_link_info info = {};
	__u32 len = sizeof(info);
	char path[PATH_MAX];
	int fd, live = 0;

	if (tcx_pin(vs, ifindex, path))
		return 0;
	fd = bpf_obj_get(path);
	if (fd < 0)
		return 0;
	if (!bpf_obj_get_info_by_fd(fd, &info, &len) &&
	    info.type == NA_BPF_LINK_TYPE_TCX && info.ifindex == (__u32)ifindex) {
		live = 1;
		/* A link left by an older program: swap the program in place. */
		if (fix && info.prog_id != vs->prog_id && bpf_link_update(fd, vs->prog, NULL))
			live = 0;
	}
	close(fd);
	if (!live && fix)
		unlink(path);
	return live;
}

static int tcx_attach(const struct vstate *vs, int ifindex)
{
	struct na_reason why = { 0 };
	char path[PATH_MAX];
	int err;

	err = tcx_pin(vs, ifindex, path);
	if (err)
		return err;
	err = na_link_pin(vs->prog, ifindex, (enum bpf_attach_type)NA_BPF_TCX_INGRESS, path, &why);
	if (err < 0 && why.kind != NA_WHY_ATTACH_FAILED)
		na_err_why(&why, err);
	return err < 0 ? err : 0;
}

static void tcx_detach(const struct vstate *vs, int ifindex)
{
	char path[PATH_MAX];
	int fd;

	if (tcx_pin(vs, ifindex, path))
		return;
	fd = bpf_obj_get(path);
	if (fd >= 0) {
		bpf_link_detach(fd);
		close(fd);
	}
	unlink(path);
}

/* Whether program id is a netaccel veth program (of any version). Needs
 * CAP_SYS_ADMIN; compare with vs->prog_id first where that is enough. */
static bool prog_is_ours(__u32 id)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);
	int fd = bpf_prog_get_fd_by_id(id);
	bool ours;

	if (fd < 0)
		return false;
	ours = !bpf_obj_get_info_by_fd(fd, &info, &len) && !strcmp(info.name, PROG_NAME);
	close(fd);
	return ours;
}

/* The program id of netaccel's clsact filter on ifindex, 0 when none. */
static __u32 tc_query(int ifindex)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
			    .attach_point = BPF_TC_INGRESS);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .handle = NA_VETH_TC_HANDLE,
			    .priority = NA_VETH_TC_PRIO);

	return bpf_tc_query(&hook, &opts) ? 0 : opts.prog_id;
}

static int tc_attach(const struct vstate *vs, int ifindex, bool *made_qdisc)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
			    .attach_point = BPF_TC_INGRESS);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .handle = NA_VETH_TC_HANDLE,
			    .priority = NA_VETH_TC_PRIO, .prog_fd = vs->prog,
			    .flags = BPF_TC_F_REPLACE);
	int err;

	*made_qdisc = false;
	err = bpf_tc_hook_create(&hook);
	if (err && err != -EEXIST)
		return err;
	*made_qdisc = !err;
	err = bpf_tc_attach(&hook, &opts);
	if (err && *made_qdisc) {
		hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
		bpf_tc_hook_destroy(&hook);
		*made_qdisc = false;
	}
	return err;
}

/* Remove our filter; the clsact qdisc too when we made it and nobody else
 * put a filter on it since. */
static void tc_detach(const struct vstate *vs, int ifindex, bool made_qdisc)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
			    .attach_point = BPF_TC_INGRESS);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .handle = NA_VETH_TC_HANDLE,
			    .priority = NA_VETH_TC_PRIO);
	__u32 id = tc_query(ifindex);

	if (!id || (id != vs->prog_id && !prog_is_ours(id)))
		return;
	bpf_tc_detach(&hook, &opts);
	if (!made_qdisc || !vs->nl)
		return;
	if (na_nl_count_filters(vs->nl, ifindex, TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_INGRESS)) == 0 &&
	    na_nl_count_filters(vs->nl, ifindex, TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_EGRESS)) == 0) {
		hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
		bpf_tc_hook_destroy(&hook);
	}
}

/* Whether the hook a port entry records is still in place on its device. */
static bool hook_present(const struct vstate *vs, int ifindex,
			 const struct na_veth_port *p)
{
	__u32 id;

	if (p->hook == NA_VETH_HOOK_TCX)
		return tcx_state(vs, ifindex, true) == 1;
	id = tc_query(ifindex);
	return id && (id == vs->prog_id || prog_is_ours(id));
}

static const char *hook_name(__u8 hook)
{
	return hook == NA_VETH_HOOK_TCX ? "tcx" : hook == NA_VETH_HOOK_TC ? "tc" : "?";
}

/* Attach to ifindex (a port of bridge) unless attached already; record
 * the port. Returns 1 when it attached now, 0 when it was in place. */
static int attach_port(struct vstate *vs, int ifindex, int bridge, const char *name)
{
	struct na_veth_port p = {}, old;
	bool made_qdisc = false;
	int err = -EINVAL;

	if (!bpf_map_lookup_elem(vs->ports, &ifindex, &old) && old.bridge == (__u32)bridge &&
	    hook_present(vs, ifindex, &old))
		return 0;
	p.bridge = (__u32)bridge;
	/* Repeated attaches find what is there and never stack. */
	if (vs->hook != HOOK_TC && tcx_state(vs, ifindex, true) == 1) {
		p.hook = NA_VETH_HOOK_TCX;
		goto record;
	}
	if (vs->hook != HOOK_TCX && tc_query(ifindex) == vs->prog_id) {
		p.hook = NA_VETH_HOOK_TC;
		if (!bpf_map_lookup_elem(vs->ports, &ifindex, &old))
			p.flags = old.flags & NA_VETH_PORT_QDISC;
		goto record;
	}
	if (vs->hook != HOOK_TC) {
		err = tcx_attach(vs, ifindex);
		if (!err) {
			p.hook = NA_VETH_HOOK_TCX;
			goto record;
		}
		if (vs->hook == HOOK_TCX || (err != -EINVAL && err != -EOPNOTSUPP &&
					     err != -ENOTSUP)) {
			if (!na_err_reported())
				na_err("cannot attach a tcx link to %s: %s%s", name, strerror(-err),
				       err == -EINVAL ? " (tcx needs Linux >= 6.6; --hook tc uses clsact)" :
				       err == -EPERM ? " (needs CAP_BPF and CAP_NET_ADMIN)" : "");
			return err;
		}
		na_dbg("no tcx on this kernel (%s): using a clsact filter on %s",
		       strerror(-err), name);
	}
	err = tc_attach(vs, ifindex, &made_qdisc);
	if (err) {
		na_err("cannot attach a clsact filter to %s: %s", name, strerror(-err));
		return err;
	}
	p.hook = NA_VETH_HOOK_TC;
	p.flags = made_qdisc ? NA_VETH_PORT_QDISC : 0;
record:
	if (bpf_map_update_elem(vs->ports, &ifindex, &p, BPF_ANY)) {
		err = -errno;
		na_err("cannot record port %s: %s", name, strerror(-err));
		if (p.hook == NA_VETH_HOOK_TCX)
			tcx_detach(vs, ifindex);
		else
			tc_detach(vs, ifindex, made_qdisc);
		return err;
	}
	return 1;
}

/* ---- endpoints ---- */

struct ep_entry {
	struct na_veth_key key;
	struct na_veth_ep ep;
};

/* Every endpoint in the map; *n of them, in a malloc'd array. */
static int list_eps(const struct vstate *vs, struct ep_entry **out, size_t *n)
{
	struct na_veth_key k, next;
	struct ep_entry *v = NULL, *p;
	size_t cap = 0;
	void *prev = NULL;

	*n = 0;
	while (bpf_map_get_next_key(vs->eps, prev, &next) == 0) {
		k = next;
		prev = &k;
		if (*n == cap) {
			cap = cap ? cap * 2 : 64;
			p = realloc(v, cap * sizeof(*v));
			if (!p) {
				free(v);
				return -ENOMEM;
			}
			v = p;
		}
		if (bpf_map_lookup_elem(vs->eps, &k, &v[*n].ep))
			continue;
		v[*n].key = k;
		if (++*n > NA_VETH_MAX_EPS)	/* the map changed under us */
			break;
	}
	*out = v;
	return 0;
}

static void ep_counters(const struct vstate *vs, const struct na_veth_key *k,
			struct na_veth_epstat *sum)
{
	_Static_assert(sizeof(*sum) == 2 * sizeof(uint64_t), "an endpoint's counters");
	na_percpu_sum(vs->epstats, k, (uint64_t *)sum, 2);
}

static void log_ep(const struct vstate *vs, const struct snap *s, const char *what,
		   const struct na_veth_key *k, const struct na_veth_ep *ep)
{
	char a[INET6_ADDRSTRLEN], m[18], b1[IF_NAMESIZE], b2[IF_NAMESIZE];

	addr_str((int)k->family, k->addr, a, sizeof(a));
	if (ep && vs->watch)
		printf("%s endpoint %s on %s: %s, peer %s, mtu %u\n", what, a,
		       ifname(s, (int)k->bridge, b1), ifname(s, (int)ep->ifindex, b2),
		       mac_str(ep->mac, m, sizeof(m)), ep->mtu);
	else if (vs->watch)
		printf("%s endpoint %s on %s\n", what, a, ifname(s, (int)k->bridge, b1));
	else
		na_info("%s endpoint %s on %s", what, a, ifname(s, (int)k->bridge, b1));
	if (vs->watch)
		fflush(stdout);
}

/* Put an endpoint in place; its counters start at zero when it is new or
 * moved to another device. Returns 1 when something changed. */
static int set_ep(const struct vstate *vs, const struct snap *s,
		  const struct na_veth_key *k, const struct na_veth_ep *ep)
{
	struct na_veth_epstat *zero;
	struct na_veth_ep old;
	bool had = !bpf_map_lookup_elem(vs->eps, k, &old);
	int err = 0;

	if (had && !memcmp(&old, ep, sizeof(old)))
		return 0;
	if (!had || old.ifindex != ep->ifindex) {
		zero = calloc(vs->ncpu, sizeof(*zero));
		if (!zero)
			return -ENOMEM;
		if (bpf_map_update_elem(vs->epstats, k, zero, BPF_ANY))
			err = -errno;
		free(zero);
		if (err)
			return err;
	}
	if (bpf_map_update_elem(vs->eps, k, ep, BPF_ANY))
		return -errno;
	log_ep(vs, s, had ? "changed" : "added", k, ep);
	return 1;
}

static void del_ep(const struct vstate *vs, const struct snap *s,
		   const struct na_veth_key *k, bool log)
{
	bpf_map_delete_elem(vs->eps, k);
	bpf_map_delete_elem(vs->epstats, k);
	if (log)
		log_ep(vs, s, "removed", k, NULL);
}

/* Take a port out: no redirect to it from now on, then its endpoints,
 * then its hook. */
static void remove_port(const struct vstate *vs, const struct snap *s, int ifindex,
			bool log)
{
	struct na_veth_port p = {};
	struct ep_entry *eps = NULL;
	bool had = !bpf_map_lookup_elem(vs->ports, &ifindex, &p);
	size_t i, n = 0;

	bpf_map_delete_elem(vs->ports, &ifindex);
	if (!list_eps(vs, &eps, &n))
		for (i = 0; i < n; i++)
			if (eps[i].ep.ifindex == (__u32)ifindex)
				del_ep(vs, s, &eps[i].key, log);
	free(eps);
	tcx_detach(vs, ifindex);
	if (!had || p.hook == NA_VETH_HOOK_TC)
		tc_detach(vs, ifindex, p.flags & NA_VETH_PORT_QDISC);
}

/* Ports whose device is gone, changed, or lost our hook (a deleted device
 * takes its links and filters with it; its ifindex may be reused). */
static int drop_stale_ports(const struct vstate *vs, const struct snap *s)
{
	const struct na_nl_link *l, *br, *peer;
	struct na_veth_port p;
	__u32 k, next, *prev = NULL;
	int stale[NA_VETH_MAX_PORTS];
	size_t i, n = 0;
	char b[IF_NAMESIZE];

	while (bpf_map_get_next_key(vs->ports, prev, &next) == 0 && n < NA_VETH_MAX_PORTS) {
		k = next;
		prev = &k;
		if (bpf_map_lookup_elem(vs->ports, &k, &p))
			continue;
		l = na_nl_find(&s->links, (int)k);
		if (!l || l->master != (int)p.bridge || port_problem(s, l, &br, &peer) ||
		    !hook_present(vs, (int)k, &p))
			stale[n++] = (int)k;
	}
	for (i = 0; i < n; i++) {
		l = na_nl_find(&s->links, stale[i]);
		if (vs->watch)
			printf("removed port %s\n", l ? l->name : ifname(NULL, stale[i], b));
		else
			na_info("removed stale port %s", l ? l->name : ifname(NULL, stale[i], b));
		remove_port(vs, s, stale[i], true);
	}
	return (int)n;
}

static int ep_cmp_key(const void *a, const void *b)
{
	return memcmp(&((const struct want *)a)->key, &((const struct want *)b)->key,
		      sizeof(struct na_veth_key));
}

/*
 * Bring the ports in the list (ifindexes, all ports of our bridges when
 * the list comes from a bridge) and their endpoints to what netlink says.
 * Endpoints of other ports are left alone, and so are manual ones as long
 * as their port stays.
 */
static int sync_ports(struct vstate *vs, const struct snap *s, const int *ports,
		      size_t nports, int *attached, int *neps)
{
	struct want *w = NULL;
	struct ep_entry *cur = NULL;
	size_t nw = 0, cap = 0, ncur = 0, i, j;
	const struct na_nl_link *l, *br, *peer;
	const struct peer_ns *pns;
	struct na_veth_port pv;
	int err = 0, r;

	*attached = 0;
	for (i = 0; i < nports; i++) {
		l = na_nl_find(&s->links, ports[i]);
		if (!l || port_problem(s, l, &br, &peer))
			continue;
		r = attach_port(vs, l->ifindex, l->master, l->name);
		if (r < 0)
			return r;
		if (r > 0) {
			(*attached)++;
			if (vs->watch)
				printf("attached to %s (bridge %s)\n", l->name, br->name);
		}
		pns = snap_ns(s, l->link_nsid);
		for (j = 0; j < pns->addrs.n; j++) {
			const struct na_nl_addr *a = &pns->addrs.v[j];

			if (a->ifindex != peer->ifindex || !addr_usable(a->family, a->addr))
				continue;
			if (nw == cap) {
				void *p = realloc(w, (cap = cap ? cap * 2 : 64) * sizeof(*w));

				if (!p) {
					err = -ENOMEM;
					goto out;
				}
				w = p;
			}
			memset(&w[nw], 0, sizeof(w[nw]));
			w[nw].key.bridge = (__u32)l->master;
			w[nw].key.family = (__u32)a->family;
			memcpy(w[nw].key.addr, a->addr, sizeof(a->addr));
			w[nw].ep.ifindex = (__u32)l->ifindex;
			w[nw].ep.mtu = peer->mtu;
			memcpy(w[nw].ep.mac, peer->mac, 6);
			nw++;
		}
	}
	/* An address claimed by two ports of one bridge is a conflict the
	 * bridge resolves by MAC; we stay out of it. */
	qsort(w, nw, sizeof(*w), ep_cmp_key);
	for (i = 1; i < nw; i++)
		if (!ep_cmp_key(&w[i - 1], &w[i]) && w[i - 1].ep.ifindex != w[i].ep.ifindex)
			w[i - 1].dup = w[i].dup = true;

	err = list_eps(vs, &cur, &ncur);
	if (err)
		goto out;
	for (i = 0; i < ncur; i++) {
		struct want k = { .key = cur[i].key };
		struct want *hit;
		bool managed = false;

		if (bpf_map_lookup_elem(vs->ports, &cur[i].ep.ifindex, &pv)) {
			del_ep(vs, s, &cur[i].key, true);	/* its port is gone */
			continue;
		}
		for (j = 0; j < nports && !managed; j++)
			managed = ports[j] == (int)cur[i].ep.ifindex;
		if (!managed)
			continue;
		hit = nw ? bsearch(&k, w, nw, sizeof(*w), ep_cmp_key) : NULL;
		if (cur[i].ep.flags & NA_VETH_EP_MANUAL) {
			/* Keep it, with the peer's MAC and MTU of now. */
			l = na_nl_find(&s->links, (int)cur[i].ep.ifindex);
			if (l && !port_problem(s, l, &br, &peer)) {
				struct na_veth_ep ep = cur[i].ep;

				ep.mtu = peer->mtu;
				memcpy(ep.mac, peer->mac, 6);
				set_ep(vs, s, &cur[i].key, &ep);
			}
			continue;
		}
		if (!hit || hit->dup)
			del_ep(vs, s, &cur[i].key, true);
	}
	for (i = 0; i < nw; i++) {
		if (w[i].dup) {
			if (i == 0 || ep_cmp_key(&w[i - 1], &w[i])) {
				char a[INET6_ADDRSTRLEN];

				na_warn("%s is on two ports of one bridge: not accelerated",
					addr_str((int)w[i].key.family, w[i].key.addr, a, sizeof(a)));
			}
			continue;
		}
		r = set_ep(vs, s, &w[i].key, &w[i].ep);
		if (r < 0) {
			err = r;
			if (r == -E2BIG || r == -ENOSPC)
				na_err("cannot add endpoint: the endpoint map is full (%d)", NA_VETH_MAX_EPS);
			goto out;
		}
	}
	if (neps) {
		for (i = 0, *neps = 0; i < nw; i++)
			*neps += !w[i].dup;
	}
out:
	free(w);
	free(cur);
	return err;
}

/* The veth ports of a bridge that can take the redirect. */
static size_t bridge_ports(const struct snap *s, int bridge, int *out, size_t max)
{
	const struct na_nl_link *br, *peer;
	size_t i, n = 0;

	for (i = 0; i < s->links.n && n < max; i++)
		if (s->links.v[i].master == bridge &&
		    !port_problem(s, &s->links.v[i], &br, &peer))
			out[n++] = s->links.v[i].ifindex;
	return n;
}

/* ---- removing everything ---- */

static bool dir_has_pins(const char *dir)
{
	struct dirent *de;
	bool any = false;
	DIR *d = opendir(dir);

	if (!d)
		return false;
	while (!any && (de = readdir(d)))
		any = de->d_name[0] != '.';
	closedir(d);
	return any;
}

/* Every port, link and pin; the directory last. Returns ports detached. */
static int remove_all(struct vstate *vs)
{
	static const char *const order[] = { "tcx_", "prog_", "" };
	__u32 k, next, *prev = NULL;
	int ports[NA_VETH_MAX_PORTS];
	int detached = 0, links, err;
	size_t i, n = 0;

	if (vs->ports >= 0) {
		while (bpf_map_get_next_key(vs->ports, prev, &next) == 0 && n < NA_VETH_MAX_PORTS) {
			k = next;
			prev = &k;
			ports[n++] = (int)k;
		}
		for (i = 0; i < n; i++)
			remove_port(vs, NULL, ports[i], false);
		detached = (int)n;
	}
	/* Links, then the program, then maps. */
	err = na_unpin_dir(vs->dir, order, sizeof(order) / sizeof(order[0]), &links);
	if (n == 0)
		detached += links;
	/* The state directory goes too when nothing else is in it. */
	if (!err && !dir_has_pins(vs->top))
		rmdir(vs->top);
	return err ? err : detached;
}

/* Enter the network namespace the state was made in (by its inode), so
 * that clsact filters there can be removed; returns the fd of ours to
 * come back to, or -1 when no switch was made. */
static int enter_state_netns(const struct vstate *vs)
{
	struct na_veth_meta m = {};
	__u64 dev = 0, ino = 0;
	__u32 zero = 0;
	char path[PATH_MAX];
	struct dirent *de;
	struct stat sb;
	int self, fd = -1;
	DIR *d;

	if (vs->meta < 0 || bpf_map_lookup_elem(vs->meta, &zero, &m) || !m.netns_ino ||
	    netns_id(&dev, &ino) || (ino == m.netns_ino && dev == m.netns_dev))
		return -1;
	d = opendir("/proc");
	while (d && fd < 0 && (de = readdir(d))) {
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/ns/net", de->d_name);
		if (!stat(path, &sb) && sb.st_ino == m.netns_ino && sb.st_dev == m.netns_dev)
			fd = open(path, O_RDONLY | O_CLOEXEC);
	}
	if (d)
		closedir(d);
	d = opendir("/run/netns");
	while (d && fd < 0 && (de = readdir(d))) {
		snprintf(path, sizeof(path), "/run/netns/%s", de->d_name);
		if (!stat(path, &sb) && sb.st_ino == m.netns_ino && sb.st_dev == m.netns_dev)
			fd = open(path, O_RDONLY | O_CLOEXEC);
	}
	if (d)
		closedir(d);
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

int na_veth_cleanup(const char *state_dir)
{
	struct vstate vs;
	int back, n;

	/* Whatever state the directory is in (complete, half-made, of
	 * another network namespace), take it down pin by pin. */
	vs_init(&vs);
	if (snprintf(vs.top, sizeof(vs.top), "%s", state_dir) >= (int)sizeof(vs.top) ||
	    snprintf(vs.dir, sizeof(vs.dir), "%s/veth", state_dir) >= (int)sizeof(vs.dir))
		return -ENAMETOOLONG;
	if (access(vs.dir, F_OK))
		return 0;
	vs.top_fd = open(vs.top, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (vs.top_fd >= 0)
		flock(vs.top_fd, LOCK_EX);
	vs.ports = get_pin(&vs, "na_veth_ports");
	vs.eps = get_pin(&vs, "na_veth_eps");
	vs.epstats = get_pin(&vs, "na_veth_epstats");
	vs.meta = get_pin(&vs, "na_veth_meta");
	vs.ncpu = libbpf_num_possible_cpus();
	back = enter_state_netns(&vs);
	na_nl_open(&vs.nl);
	n = remove_all(&vs);
	if (back >= 0) {
		setns(back, CLONE_NEWNET);
		close(back);
	}
	vs_close(&vs);
	if (n < 0) {
		na_err("cannot remove %s/veth: %s", state_dir, strerror(-n));
		return n;
	}
	printf("removed the veth redirect (%d device%s)\n", n, n == 1 ? "" : "s");
	return 1;
}

/* ---- commands ---- */

static int enter_netns(const char *name)
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
		na_err("cannot open network namespace %s: %s", path, strerror(-err));
		return err;
	}
	if (setns(fd, CLONE_NEWNET)) {
		err = -errno;
		na_err("cannot enter network namespace %s: %s", path, strerror(-err));
	}
	close(fd);
	return err;
}

struct vopts {
	const char *bridges[MAX_BRIDGES];
	size_t nbridges;
	enum hook_pref hook;
	bool json;
};

static const struct na_cmd *veth_cmd(void)
{
	return na_find_cmd("veth");
}

/* Options of a subcommand; allowed lists which ones it takes. */
static int parse_opts(struct na_ctl *ctl, const char *sub, const char *allowed,
		      int argc, char **argv, struct vopts *o)
{
	static const struct option opts[] = {
		{ "bridge", required_argument, NULL, 'b' },
		{ "json", no_argument, NULL, 'j' },
		{ "hook", required_argument, NULL, 'H' },
		{ "netns", required_argument, NULL, 'n' },
		{ 0 }
	};
	const struct na_cmd *cmd = veth_cmd();
	const char *netns = NULL;
	int c;

	memset(o, 0, sizeof(*o));
	while ((c = na_getopt(ctl, cmd, argc, argv, "b:jn:", opts)) != -1) {
		if (c == 'h')
			return 'h';
		if (c == '?')
			return '?';
		if (!strchr(allowed, c)) {
			na_usage_error(cmd, "veth %s takes no option '%s'", sub, argv[optind - 1]);
			return '?';
		}
		switch (c) {
		case 'b':
			if (!*optarg || strlen(optarg) >= IF_NAMESIZE) {
				na_usage_error(cmd, "bad bridge name '%s'", optarg);
				return '?';
			}
			if (o->nbridges == MAX_BRIDGES) {
				na_usage_error(cmd, "at most %d bridges", MAX_BRIDGES);
				return '?';
			}
			o->bridges[o->nbridges++] = optarg;
			break;
		case 'j':
			o->json = true;
			break;
		case 'H':
			if (!strcmp(optarg, "tcx"))
				o->hook = HOOK_TCX;
			else if (!strcmp(optarg, "tc"))
				o->hook = HOOK_TC;
			else if (!strcmp(optarg, "auto"))
				o->hook = HOOK_AUTO;
			else {
				na_usage_error(cmd, "unknown hook '%s' (use auto, tcx or tc)", optarg);
				return '?';
			}
			break;
		case 'n':
			netns = optarg;
			break;
		}
	}
	if (netns && enter_netns(netns))
		return 'x';
	return 0;
}

/* Resolve --bridge names to bridges; one error line for a bad one. */
static int find_bridges(const struct snap *s, const struct vopts *o, int *out)
{
	const struct na_nl_link *br;
	size_t i;

	for (i = 0; i < o->nbridges; i++) {
		br = na_nl_find_name(&s->links, o->bridges[i]);
		if (!br) {
			na_err("no such device: %s", o->bridges[i]);
			return -ENODEV;
		}
		if (strcmp(br->kind, "bridge")) {
			na_err("%s is not a bridge", o->bridges[i]);
			return -EINVAL;
		}
		if (br->vlan_filtering) {
			na_err("%s filters VLANs, which the veth redirect does not follow", o->bridges[i]);
			return -EOPNOTSUPP;
		}
		out[i] = br->ifindex;
	}
	return 0;
}

/* The devices named on the command line, each one a redirect port. */
static int find_ports(const struct snap *s, char **names, int n, int *out)
{
	const struct na_nl_link *l, *br, *peer;
	const char *why;
	int i;

	for (i = 0; i < n; i++) {
		l = na_nl_find_name(&s->links, names[i]);
		if (!l) {
			na_err("no such device: %s", names[i]);
			return -ENODEV;
		}
		why = port_problem(s, l, &br, &peer);
		if (why) {
			na_err("cannot use %s: %s", names[i], why);
			return -EINVAL;
		}
		out[i] = l->ifindex;
	}
	return 0;
}

/* Run a change under the lock: open (creating), snapshot, drop stale. */
static int begin_change(struct na_ctl *ctl, struct vstate *vs, struct snap *s,
			enum hook_pref hook)
{
	int err;

	err = vs_open(vs, na_state_dir(ctl->state_dir), VS_CREATE | VS_LOCK);
	if (err)
		return err;
	vs->hook = hook;
	err = snap_take(vs, s);
	if (err) {
		vs_close(vs);
		return err;
	}
	drop_stale_ports(vs, s);
	return 0;
}

/* Validate against netlink before anything is created, so that bad
 * input changes nothing. */
static int precheck(const struct vopts *o, char **names, int n, int *bridges,
		    int *ports, bool need_ports)
{
	struct vstate probe;
	struct snap s;
	int err, cnt, buf[NA_VETH_MAX_PORTS];
	size_t b;

	vs_init(&probe);
	err = na_nl_open(&probe.nl);
	if (err) {
		na_err("cannot open a netlink socket: %s", strerror(-err));
		return err;
	}
	err = snap_take(&probe, &s);
	if (err)
		goto out;
	err = find_bridges(&s, o, bridges);
	if (!err)
		err = find_ports(&s, names, n, ports);
	for (b = 0; !err && need_ports && b < o->nbridges; b++) {
		cnt = (int)bridge_ports(&s, bridges[b], buf, NA_VETH_MAX_PORTS);
		if (!cnt) {
			na_err("bridge %s has no container veth ports to attach to", o->bridges[b]);
			err = -ENOENT;
		}
	}
	snap_free(&s);
out:
	vs_close(&probe);
	return err;
}

static int sub_attach(struct na_ctl *ctl, int argc, char **argv)
{
	const struct na_cmd *cmd = veth_cmd();
	int bridges[MAX_BRIDGES], *ports = NULL, n, attached = 0, neps = 0, a, e;
	size_t nports = 0, b;
	struct vopts o;
	struct vstate vs;
	struct snap s;
	int err, c;

	c = parse_opts(ctl, "attach", "bHn", argc, argv, &o);
	if (c)
		return c == 'h' ? NA_EXIT_OK : c == 'x' ? NA_EXIT_FAIL : NA_EXIT_USAGE;
	n = argc - optind;
	if (!n && !o.nbridges)
		return na_usage_error(cmd, "veth attach needs --bridge <bridge> or <ifname>...");
	if (n && o.nbridges)
		return na_usage_error(cmd, "veth attach takes --bridge or interface names, not both");
	if (na_caps_require("veth attach", true))
		return NA_EXIT_FAIL;
	ports = calloc(NA_VETH_MAX_PORTS, sizeof(*ports));
	if (!ports)
		return NA_EXIT_FAIL;
	if (n > NA_VETH_MAX_PORTS)
		n = NA_VETH_MAX_PORTS;
	err = precheck(&o, argv + optind, n, bridges, ports, true);
	if (err)
		goto out_free;
	err = begin_change(ctl, &vs, &s, o.hook);
	if (err)
		goto out_free;
	if (o.nbridges) {
		for (b = 0; b < o.nbridges; b++)
			nports += bridge_ports(&s, bridges[b], ports + nports,
					       NA_VETH_MAX_PORTS - nports);
	} else {
		nports = (size_t)n;	/* validated above */
	}
	err = sync_ports(&vs, &s, ports, nports, &attached, &neps);
	if (!err) {
		a = attached;
		e = neps;
		printf("attached to %zu veth%s (%d new), %d endpoint%s\n", nports,
		       nports == 1 ? "" : "s", a, e, e == 1 ? "" : "s");
	}
	snap_free(&s);
	vs_close(&vs);
out_free:
	free(ports);
	return err ? NA_EXIT_FAIL : NA_EXIT_OK;
}

static int sub_detach(struct na_ctl *ctl, int argc, char **argv)
{
	const struct na_cmd *cmd = veth_cmd();
	int bridges[MAX_BRIDGES] = { 0 }, ports[64], n, i, removed = 0;
	struct na_veth_port p;
	__u32 k, next, *prev = NULL;
	int list[NA_VETH_MAX_PORTS];
	size_t nl = 0, b, j;
	struct vopts o;
	struct vstate vs;
	struct snap s;
	int err, c;

	c = parse_opts(ctl, "detach", "bn", argc, argv, &o);
	if (c)
		return c == 'h' ? NA_EXIT_OK : c == 'x' ? NA_EXIT_FAIL : NA_EXIT_USAGE;
	n = argc - optind;
	if (!n && !o.nbridges)
		return na_usage_error(cmd, "veth detach needs --bridge <bridge> or <ifname>...");
	if (n && o.nbridges)
		return na_usage_error(cmd, "veth detach takes --bridge or interface names, not both");
	if (n > 64)
		return na_usage_error(cmd, "at most 64 interfaces at once");
	if (na_caps_require("veth detach", true))
		return NA_EXIT_FAIL;

	err = vs_open(&vs, na_state_dir(ctl->state_dir), VS_LOCK | VS_QUIET);
	if (err == -ENOENT || err == -ENODATA) {
		vs_init(&vs);
		err = na_nl_open(&vs.nl);
		if (!err && !(err = snap_take(&vs, &s))) {
			err = find_bridges(&s, &o, bridges);
			for (i = 0; !err && i < n; i++)
				if (!na_nl_find_name(&s.links, argv[optind + i])) {
					na_err("no such device: %s", argv[optind + i]);
					err = -ENODEV;
				}
			snap_free(&s);
		}
		vs_close(&vs);
		if (!err)
			printf("nothing is attached\n");
		return err ? NA_EXIT_FAIL : NA_EXIT_OK;
	}
	if (err) {
		if (!na_err_reported())
			na_err("cannot open veth state in %s/veth: %s", na_state_dir(ctl->state_dir),
			       strerror(-err));
		return NA_EXIT_FAIL;
	}
	err = snap_take(&vs, &s);
	if (err)
		goto out;
	err = find_bridges(&s, &o, bridges);
	for (i = 0; !err && i < n; i++) {
		const struct na_nl_link *l = na_nl_find_name(&s.links, argv[optind + i]);

		if (!l) {
			na_err("no such device: %s", argv[optind + i]);
			err = -ENODEV;
		} else {
			ports[i] = l->ifindex;
		}
	}
	if (err)
		goto out_snap;
	drop_stale_ports(&vs, &s);
	while (bpf_map_get_next_key(vs.ports, prev, &next) == 0 && nl < NA_VETH_MAX_PORTS) {
		k = next;
		prev = &k;
		if (bpf_map_lookup_elem(vs.ports, &k, &p))
			continue;
		for (b = 0; b < o.nbridges; b++)
			if (p.bridge == (__u32)bridges[b])
				list[nl++] = (int)k;
		for (j = 0; j < (size_t)n; j++)
			if (ports[j] == (int)k)
				list[nl++] = (int)k;
	}
	for (j = 0; j < nl; j++) {
		remove_port(&vs, &s, list[j], true);
		removed++;
	}
	/* Nothing attached any more: nothing loaded either. */
	prev = NULL;
	if (bpf_map_get_next_key(vs.ports, NULL, &next)) {
		err = remove_all(&vs);
		err = err < 0 ? err : 0;
	}
	if (!err)
		printf("detached from %d veth%s\n", removed, removed == 1 ? "" : "s");
out_snap:
	snap_free(&s);
out:
	vs_close(&vs);
	return err ? NA_EXIT_FAIL : NA_EXIT_OK;
}

static int sub_add(struct na_ctl *ctl, int argc, char **argv)
{
	const struct na_cmd *cmd = veth_cmd();
	const struct na_nl_link *l, *br, *peer;
	struct na_veth_key key;
	struct na_veth_ep ep = {};
	int port, r, err, c;
	struct vopts o;
	struct vstate vs;
	struct snap s;

	c = parse_opts(ctl, "add", "Hn", argc, argv, &o);
	if (c)
		return c == 'h' ? NA_EXIT_OK : c == 'x' ? NA_EXIT_FAIL : NA_EXIT_USAGE;
	if (argc - optind != 2)
		return na_usage_error(cmd, "veth add needs <address> <ifname>");
	if (parse_addr(argv[optind], &key))
		return na_usage_error(cmd, "bad address '%s' (an IPv4 or IPv6 address)", argv[optind]);
	if (!addr_usable((int)key.family, key.addr))
		return na_usage_error(cmd, "%s is not a unicast address", argv[optind]);
	if (na_caps_require("veth add", true))
		return NA_EXIT_FAIL;
	err = precheck(&o, argv + optind + 1, 1, NULL, &port, false);
	if (err)
		return NA_EXIT_FAIL;
	err = begin_change(ctl, &vs, &s, o.hook);
	if (err)
		return NA_EXIT_FAIL;
	l = na_nl_find(&s.links, port);
	if (!l || port_problem(&s, l, &br, &peer)) {
		na_err("%s changed while netaccel-ctl ran; try again", argv[optind + 1]);
		err = -EAGAIN;
		goto out;
	}
	r = attach_port(&vs, port, l->master, l->name);
	if (r < 0) {
		err = r;
		goto out;
	}
	key.bridge = (__u32)l->master;
	ep.ifindex = (__u32)port;
	ep.mtu = peer->mtu;
	ep.flags = NA_VETH_EP_MANUAL;
	memcpy(ep.mac, peer->mac, 6);
	r = set_ep(&vs, &s, &key, &ep);
	if (r < 0) {
		err = r;
		na_err("cannot add endpoint %s: %s", argv[optind], strerror(-err));
		goto out;
	}
	printf("%s endpoint %s -> %s on %s\n", r ? "added" : "kept", argv[optind], l->name,
	       br->name);
out:
	snap_free(&s);
	vs_close(&vs);
	return err ? NA_EXIT_FAIL : NA_EXIT_OK;
}

static int sub_del(struct na_ctl *ctl, int argc, char **argv)
{
	const struct na_cmd *cmd = veth_cmd();
	struct na_veth_key key;
	struct ep_entry *eps = NULL;
	size_t i, n = 0;
	int err, c, removed = 0;
	struct vopts o;
	struct vstate vs;

	c = parse_opts(ctl, "del", "n", argc, argv, &o);
	if (c)
		return c == 'h' ? NA_EXIT_OK : c == 'x' ? NA_EXIT_FAIL : NA_EXIT_USAGE;
	if (argc - optind != 1)
		return na_usage_error(cmd, "veth del needs one <address>");
	if (parse_addr(argv[optind], &key))
		return na_usage_error(cmd, "bad address '%s' (an IPv4 or IPv6 address)", argv[optind]);
	if (na_caps_require("veth del", true))
		return NA_EXIT_FAIL;
	err = vs_open(&vs, na_state_dir(ctl->state_dir), VS_LOCK);
	if (err == -ENOENT) {
		printf("%s is not an endpoint\n", argv[optind]);
		return NA_EXIT_OK;
	}
	if (err)
		return NA_EXIT_FAIL;
	err = list_eps(&vs, &eps, &n);
	for (i = 0; !err && i < n; i++) {
		if (eps[i].key.family != key.family ||
		    memcmp(eps[i].key.addr, key.addr, sizeof(key.addr)))
			continue;
		del_ep(&vs, NULL, &eps[i].key, false);
		removed++;
	}
	free(eps);
	vs_close(&vs);
	if (err) {
		na_err("cannot read the endpoints: %s", strerror(-err));
		return NA_EXIT_FAIL;
	}
	if (removed)
		printf("removed endpoint %s\n", argv[optind]);
	else
		printf("%s is not an endpoint\n", argv[optind]);
	return NA_EXIT_OK;
}

/* ---- list, status, stats ---- */

static void read_totals(const struct vstate *vs, struct na_veth_stats *out)
{
	__u32 zero = 0;

	_Static_assert(sizeof(*out) == NA_VETH_NUM_COUNTERS * sizeof(uint64_t),
		       "struct na_veth_stats is its counters");
	na_percpu_sum(vs->stats, &zero, (uint64_t *)out, NA_VETH_NUM_COUNTERS);
}

static const char *const veth_counter_names[] = { NA_VETH_COUNTER_NAMES };
_Static_assert(sizeof(veth_counter_names) / sizeof(veth_counter_names[0]) == NA_VETH_NUM_COUNTERS,
	       "every veth counter needs a name");

static json_object *totals_json(const struct na_veth_stats *t)
{
	json_object *o = json_object_new_object();
	size_t i;

	for (i = 0; i < NA_VETH_NUM_COUNTERS; i++)
		json_object_object_add(o, veth_counter_names[i],
				       json_object_new_int64((int64_t)((const __u64 *)t)[i]));
	return o;
}

static size_t count_ports(const struct vstate *vs, size_t *tcx)
{
	__u32 k, next, *prev = NULL;
	struct na_veth_port p;
	size_t n = 0;

	*tcx = 0;
	while (bpf_map_get_next_key(vs->ports, prev, &next) == 0 && n < NA_VETH_MAX_PORTS) {
		k = next;
		prev = &k;
		n++;
		if (!bpf_map_lookup_elem(vs->ports, &k, &p) && p.hook == NA_VETH_HOOK_TCX)
			(*tcx)++;
	}
	return n;
}

/* Endpoints and ports as JSON or text (list), or endpoint counters (stats). */
static void describe(const struct vstate *vs, json_object *jo, bool with_ports)
{
	char a[INET6_ADDRSTRLEN], m[18], b1[IF_NAMESIZE], b2[IF_NAMESIZE];
	struct na_veth_epstat es;
	struct na_veth_stats t;
	struct ep_entry *eps = NULL;
	struct na_veth_port p;
	__u32 k, next, *prev = NULL;
	json_object *ja = NULL, *jp = NULL, *e;
	size_t i, n = 0;
	/* Device names are those of the namespace the state belongs to. */
	int back = vs->foreign ? enter_state_netns(vs) : -1;

	list_eps(vs, &eps, &n);
	read_totals(vs, &t);
	if (jo) {
		ja = json_object_new_array();
		json_object_object_add(jo, "endpoints", ja);
	} else {
		printf("%-39s %-15s %-17s %-15s %5s %12s %14s\n", "ADDRESS", "VETH", "PEER MAC",
		       "BRIDGE", "MTU", "PACKETS", "BYTES");
	}
	for (i = 0; i < n; i++) {
		ep_counters(vs, &eps[i].key, &es);
		addr_str((int)eps[i].key.family, eps[i].key.addr, a, sizeof(a));
		mac_str(eps[i].ep.mac, m, sizeof(m));
		ifname(NULL, (int)eps[i].ep.ifindex, b1);
		ifname(NULL, (int)eps[i].key.bridge, b2);
		if (jo) {
			e = json_object_new_object();
			json_object_object_add(e, "address", json_object_new_string(a));
			json_object_object_add(e, "veth", json_object_new_string(b1));
			json_object_object_add(e, "ifindex", json_object_new_int((int)eps[i].ep.ifindex));
			json_object_object_add(e, "peer_mac", json_object_new_string(m));
			json_object_object_add(e, "bridge", json_object_new_string(b2));
			json_object_object_add(e, "mtu", json_object_new_int((int)eps[i].ep.mtu));
			json_object_object_add(e, "manual", json_object_new_boolean(eps[i].ep.flags & NA_VETH_EP_MANUAL));
			json_object_object_add(e, "packets", json_object_new_int64((int64_t)es.packets));
			json_object_object_add(e, "bytes", json_object_new_int64((int64_t)es.bytes));
			json_object_array_add(ja, e);
		} else {
			printf("%-39s %-15s %-17s %-15s %5u %12llu %14llu%s\n", a, b1, m, b2,
			       eps[i].ep.mtu, (unsigned long long)es.packets,
			       (unsigned long long)es.bytes,
			       eps[i].ep.flags & NA_VETH_EP_MANUAL ? "  (manual)" : "");
		}
	}
	free(eps);
	if (with_ports) {
		if (jo) {
			jp = json_object_new_array();
			json_object_object_add(jo, "ports", jp);
		} else {
			printf("\n%-15s %-15s %s\n", "PORT", "BRIDGE", "HOOK");
		}
		while (bpf_map_get_next_key(vs->ports, prev, &next) == 0) {
			k = next;
			prev = &k;
			if (bpf_map_lookup_elem(vs->ports, &k, &p))
				continue;
			ifname(NULL, (int)k, b1);
			ifname(NULL, (int)p.bridge, b2);
			if (jo) {
				e = json_object_new_object();
				json_object_object_add(e, "veth", json_object_new_string(b1));
				json_object_object_add(e, "ifindex", json_object_new_int((int)k));
				json_object_object_add(e, "bridge", json_object_new_string(b2));
				json_object_object_add(e, "hook", json_object_new_string(hook_name(p.hook)));
				json_object_array_add(jp, e);
			} else {
				printf("%-15s %-15s %s\n", b1, b2, hook_name(p.hook));
			}
		}
	}
	if (back >= 0) {
		setns(back, CLONE_NEWNET);
		close(back);
	}
	if (jo) {
		json_object_object_add(jo, "total", totals_json(&t));
	} else {
		printf("\ntotal: %llu frames (%llu bytes) redirected, %llu passed:",
		       (unsigned long long)t.redirected, (unsigned long long)t.bytes_redirected,
		       (unsigned long long)t.passed);
		for (i = 3; i < NA_VETH_NUM_COUNTERS; i++)
			printf(" %s %llu", veth_counter_names[i],
			       (unsigned long long)((const __u64 *)&t)[i]);
		printf("\n");
	}
}

static int sub_list(struct na_ctl *ctl, int argc, char **argv)
{
	const struct na_cmd *cmd = veth_cmd();
	json_object *jo = NULL;
	struct vopts o;
	struct vstate vs;
	int err, c;

	c = parse_opts(ctl, "list", "jn", argc, argv, &o);
	if (c)
		return c == 'h' ? NA_EXIT_OK : c == 'x' ? NA_EXIT_FAIL : NA_EXIT_USAGE;
	if (optind < argc)
		return na_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
	if (na_caps_require("veth list", false))
		return NA_EXIT_FAIL;
	err = vs_open(&vs, na_state_dir(ctl->state_dir), 0);
	if (err == -ENOENT) {
		if (o.json) {
			jo = json_object_new_object();
			json_object_object_add(jo, "endpoints", json_object_new_array());
			json_object_object_add(jo, "ports", json_object_new_array());
			na_print_json(jo);
		} else {
			printf("nothing is attached\n");
		}
		return NA_EXIT_OK;
	}
	if (err)
		return NA_EXIT_FAIL;
	if (o.json)
		jo = json_object_new_object();
	describe(&vs, jo, true);
	if (jo)
		na_print_json(jo);
	vs_close(&vs);
	return NA_EXIT_OK;
}

void na_veth_status(const char *state_dir, json_object *jo)
{
	struct na_veth_stats t;
	struct ep_entry *eps = NULL;
	size_t n = 0, ports, tcx;
	struct vstate vs;
	json_object *v;

	if (vs_open(&vs, state_dir, VS_QUIET)) {
		if (jo)
			json_object_object_add(jo, "veth", NULL);
		return;
	}
	list_eps(&vs, &eps, &n);
	free(eps);
	ports = count_ports(&vs, &tcx);
	read_totals(&vs, &t);
	if (jo) {
		v = json_object_new_object();
		json_object_object_add(v, "ports", json_object_new_int64((int64_t)ports));
		json_object_object_add(v, "tcx_ports", json_object_new_int64((int64_t)tcx));
		json_object_object_add(v, "endpoints", json_object_new_int64((int64_t)n));
		json_object_object_add(v, "redirected", json_object_new_int64((int64_t)t.redirected));
		json_object_object_add(jo, "veth", v);
	} else {
		printf("veth redirect: %zu veth%s (%zu tcx, %zu clsact), %zu endpoint%s, %llu frames redirected (netaccel-ctl veth list)\n",
		       ports, ports == 1 ? "" : "s", tcx, ports - tcx, n, n == 1 ? "" : "s",
		       (unsigned long long)t.redirected);
	}
	vs_close(&vs);
}

void na_veth_stats(const char *state_dir, json_object *jo)
{
	struct vstate vs;
	json_object *v;

	if (vs_open(&vs, state_dir, VS_QUIET))
		return;
	if (jo) {
		v = json_object_new_object();
		describe(&vs, v, false);
		json_object_object_add(jo, "veth", v);
	} else {
		printf("veth redirect\n");
		describe(&vs, NULL, false);
	}
	vs_close(&vs);
}

/* ---- watch ---- */

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
	stop_signal = sig;
}

/* After setup the agent needs only to read netlink, update maps and make
 * links: keep CAP_BPF and CAP_NET_ADMIN (CAP_SYS_ADMIN where CAP_BPF does
 * not exist), drop the rest, also from the bounding set. */
static int drop_caps(void)
{
	cap_value_t keep[2] = { CAP_NET_ADMIN, CAP_IS_SUPPORTED(CAP_BPF) ? CAP_BPF : CAP_SYS_ADMIN };
	cap_value_t c;
	cap_t caps;
	int err = 0;

	for (c = 0; c <= CAP_LAST_CAP; c++)
		if (c != keep[0] && c != keep[1] && CAP_IS_SUPPORTED(c) && cap_drop_bound(c) &&
		    errno != EINVAL)
			return -errno;
	caps = cap_init();
	if (!caps)
		return -errno;
	if (cap_set_flag(caps, CAP_PERMITTED, 2, keep, CAP_SET) ||
	    cap_set_flag(caps, CAP_EFFECTIVE, 2, keep, CAP_SET) || cap_set_proc(caps))
		err = -errno;
	cap_free(caps);
	return err;
}

/* The system calls the agent's loop makes; anything else fails with
 * EPERM (rather than killing the agent half-way through an update). */
static int install_seccomp(void)
{
	static const char *const allow[] = {
		"bpf", "poll", "ppoll", "recvfrom", "recvmsg", "sendto", "sendmsg",
		"socket", "bind", "getsockname", "setsockopt", "getsockopt", "close",
		"read", "write", "writev", "flock", "unlink", "unlinkat", "access",
		"faccessat", "faccessat2", "openat", "open", "getdents64", "fstat",
		"newfstatat", "statx", "lseek", "ioctl", "brk", "mmap", "munmap",
		"mremap", "madvise", "futex", "clock_gettime", "clock_nanosleep",
		"nanosleep", "gettimeofday", "getpid", "gettid", "rt_sigaction",
		"rt_sigprocmask", "rt_sigreturn", "restart_syscall", "exit",
		"exit_group", "fcntl", "uname", "getrandom", "readlink", "readlinkat",
	};
	scmp_filter_ctx ctx;
	size_t i;
	int err, nr;

	ctx = seccomp_init(SCMP_ACT_ERRNO(EPERM));
	if (!ctx)
		return -ENOMEM;
	for (i = 0; i < sizeof(allow) / sizeof(allow[0]); i++) {
		nr = seccomp_syscall_resolve_name(allow[i]);
		if (nr == __NR_SCMP_ERROR)
			continue;	/* not on this architecture */
		err = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
		if (err)
			goto out;
	}
	err = seccomp_load(ctx);
out:
	seccomp_release(ctx);
	return err;
}

/* One pass: bring every port of the bridges, and their endpoints, to what
 * netlink says now. */
static int watch_sync(struct vstate *vs, const struct vopts *o)
{
	int bridges[MAX_BRIDGES], *ports = NULL, attached, err;
	size_t n = 0, b;
	struct snap s;

	if (faccessat(vs->top_fd, "veth/" PROG_PIN, F_OK, 0))
		return -ENOENT;		/* removed by cleanup or detach */
	if (flock(vs->top_fd, LOCK_EX))
		return -errno;
	err = snap_take(vs, &s);
	if (err)
		goto out;
	err = find_bridges(&s, o, bridges);
	if (err) {
		snap_free(&s);
		goto out;
	}
	drop_stale_ports(vs, &s);
	ports = calloc(NA_VETH_MAX_PORTS, sizeof(*ports));
	if (!ports) {
		err = -ENOMEM;
		snap_free(&s);
		goto out;
	}
	for (b = 0; b < o->nbridges; b++)
		n += bridge_ports(&s, bridges[b], ports + n, NA_VETH_MAX_PORTS - n);
	err = sync_ports(vs, &s, ports, n, &attached, NULL);
	free(ports);
	snap_free(&s);
out:
	flock(vs->top_fd, LOCK_UN);
	return err;
}

/* Events from our namespace and, with NETLINK_LISTEN_ALL_NSID, from every
 * namespace we have an id for: the containers' address changes. */
static struct mnl_socket *watch_socket(void)
{
	unsigned int groups[] = { RTNLGRP_LINK, RTNLGRP_IPV4_IFADDR, RTNLGRP_IPV6_IFADDR };
	struct mnl_socket *ev;
	int one = 1;
	size_t i;

	ev = mnl_socket_open(NETLINK_ROUTE);
	if (!ev)
		return NULL;
	if (mnl_socket_bind(ev, 0, MNL_SOCKET_AUTOPID) < 0)
		goto fail;
	for (i = 0; i < sizeof(groups) / sizeof(groups[0]); i++)
		if (mnl_socket_setsockopt(ev, NETLINK_ADD_MEMBERSHIP, &groups[i], sizeof(groups[i])))
			goto fail;
	if (mnl_socket_setsockopt(ev, NETLINK_LISTEN_ALL_NSID, &one, sizeof(one)))
		na_warn("cannot follow address changes inside containers (%s); rechecking every 2 seconds",
			strerror(errno));
	return ev;
fail:
	mnl_socket_close(ev);
	return NULL;
}

static int sub_watch(struct na_ctl *ctl, int argc, char **argv)
{
	const struct na_cmd *cmd = veth_cmd();
	int bridges[MAX_BRIDGES], err, c, n;
	struct mnl_socket *ev = NULL;
	struct sigaction sa = { 0 };
	char buf[65536];
	struct pollfd pfd;
	struct vopts o;
	struct vstate vs;
	int last_err = 0;
	time_t last;

	c = parse_opts(ctl, "watch", "bHn", argc, argv, &o);
	if (c)
		return c == 'h' ? NA_EXIT_OK : c == 'x' ? NA_EXIT_FAIL : NA_EXIT_USAGE;
	if (optind < argc)
		return na_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
	if (!o.nbridges)
		return na_usage_error(cmd, "veth watch needs --bridge <bridge>");
	if (na_caps_require("veth watch", true))
		return NA_EXIT_FAIL;
	if (precheck(&o, NULL, 0, bridges, NULL, false))
		return NA_EXIT_FAIL;

	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	/* Subscribe before the first pass, so no change falls in between. */
	ev = watch_socket();
	if (!ev) {
		na_err("cannot listen to netlink: %s", strerror(errno));
		return NA_EXIT_FAIL;
	}
	err = vs_open(&vs, na_state_dir(ctl->state_dir), VS_CREATE | VS_LOCK);
	if (err) {
		mnl_socket_close(ev);
		return NA_EXIT_FAIL;
	}
	vs.hook = o.hook;
	vs.watch = true;
	flock(vs.top_fd, LOCK_UN);
	err = watch_sync(&vs, &o);
	if (err)
		goto out;
	err = drop_caps();
	if (err) {
		na_err("cannot drop capabilities: %s", strerror(-err));
		goto out;
	}
	err = install_seccomp();
	if (err) {
		na_err("cannot install the seccomp filter: %s", strerror(-err));
		goto out;
	}
	printf("watching %s%s%s (SIGTERM or SIGINT stops; the redirect stays in place)\n",
	       o.bridges[0], o.nbridges > 1 ? " and " : "", o.nbridges > 1 ? "more" : "");
	fflush(stdout);

	pfd.fd = mnl_socket_get_fd(ev);
	pfd.events = POLLIN;
	last = time(NULL);
	while (!stop_signal) {
		bool dirty = false;

		/* A change comes in bursts (a container's veth, then its
		 * addresses): take all of it, then sync once. */
		n = poll(&pfd, 1, 2000);
		if (n < 0 && errno != EINTR) {
			err = -errno;
			break;
		}
		while (n > 0 && !stop_signal) {
			ssize_t r = recv(pfd.fd, buf, sizeof(buf), MSG_DONTWAIT);

			if (r < 0 && errno == ENOBUFS) {
				dirty = true;	/* events lost: the sync reads it all */
				continue;
			}
			if (r <= 0)
				break;
			dirty = true;
			if (poll(&pfd, 1, 50) <= 0)
				break;
		}
		if (stop_signal)
			break;
		if (!dirty && time(NULL) - last < 2)
			continue;
		last = time(NULL);
		err = watch_sync(&vs, &o);
		if (err == -ENOENT) {
			printf("the veth state was removed (cleanup or detach); watch stops\n");
			err = 0;
			break;
		}
		/* Say it once, not every two seconds while it lasts. */
		if (err && err != last_err)
			na_warn("sync failed: %s; retrying", strerror(-err));
		else if (!err && last_err)
			printf("in sync again\n");
		last_err = err;
		err = 0;
	}
	if (stop_signal)
		printf("stopped by %s; the redirect stays in place (veth detach or cleanup removes it)\n",
		       stop_signal == SIGTERM ? "SIGTERM" : "SIGINT");
out:
	fflush(stdout);
	mnl_socket_close(ev);
	vs_close(&vs);
	return err ? NA_EXIT_FAIL : NA_EXIT_OK;
}

int cmd_veth(struct na_ctl *ctl, int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*run)(struct na_ctl *, int, char **);
	} subs[] = {
		{ "attach", sub_attach }, { "detach", sub_detach }, { "add", sub_add },
		{ "del", sub_del }, { "list", sub_list }, { "watch", sub_watch },
	};
	static const char *const with_value[] = {
		"-n", "--netns", "-b", "--bridge", "--hook", "-S", "--state-dir",
	};
	const struct na_cmd *cmd = veth_cmd();
	char *sub;
	size_t i, j;
	int at;

	/* Options may come before the subcommand (veth --netns X list): the
	 * subcommand is the first word that is neither an option nor the
	 * value of one. It moves to argv[0] for the subcommand's getopt. */
	for (at = 1; at < argc; at++) {
		if (!strcmp(argv[at], "--") || argv[at][0] != '-')
			break;
		if (!strcmp(argv[at], "-h") || !strcmp(argv[at], "--help")) {
			na_cmd_help(cmd);
			return NA_EXIT_OK;
		}
		for (j = 0; j < sizeof(with_value) / sizeof(with_value[0]); j++)
			if (!strcmp(argv[at], with_value[j]))
				at++;
	}
	if (at < argc && !strcmp(argv[at], "--"))
		at++;
	if (at >= argc)
		return na_usage_error(cmd, "missing subcommand (attach, add, del, list, detach or watch)");
	sub = argv[at];
	memmove(&argv[2], &argv[1], (size_t)(at - 1) * sizeof(*argv));
	argv[1] = sub;
	for (i = 0; i < sizeof(subs) / sizeof(subs[0]); i++)
		if (!strcmp(sub, subs[i].name))
			return subs[i].run(ctl, argc - 1, argv + 1);
	return na_usage_error(cmd, "unknown subcommand '%s'", sub);
}
