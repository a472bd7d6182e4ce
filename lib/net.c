// SPDX-License-Identifier: GPL-2.0-only
/*
 * Networks of containers for the local bypass: which network namespaces
 * reach each other over a bridge, and by which addresses, so that the
 * programs can pair a socket with its peer in another namespace
 * (bpf/bypass/join.bpf.h, peer_netns).
 *
 * Netlink gives the bridges of our namespace, their veth ports and the
 * ids our namespace gives the namespaces at the other end of each veth
 * (IFLA_LINK_NETNSID), and those namespaces' addresses (RTM_GETADDR with
 * IFA_TARGET_NETNSID): no namespace is entered. The programs know a
 * namespace by the inode number of its nsfs file, which an id is matched
 * to through the files that name namespaces (/run/netns, Docker's
 * /run/docker/netns, /proc/<pid>/ns/net) and RTM_GETNSID.
 *
 * A network id is our namespace's inode number and the bridge's index, so
 * that a sync from one namespace never touches another's networks. A
 * namespace with veths on two bridges, or none that we can name, does not
 * pair; an address that two namespaces of one network claim pairs
 * neither. A network whose traffic netfilter may see (filter.c) is left
 * out unless allowed, and so is a namespace with a firewall of its own
 * (INPUT and OUTPUT hooks: looked at from inside it, the one time a
 * namespace is entered) or one that cannot be entered to look.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <libmnl/libmnl.h>
#include <net/if.h>

#include <netaccel/bypass.h>
#include <netaccel/filter.h>

#include "internal.h"
#include "netlink.h"
#include "veth_internal.h"

/* Namespaces looked at, at most. */
#define NS_FILES_MAX 4096

/* A namespace file found, and the id our namespace gives it. */
struct ns_file {
	uint32_t inum;
	int nsid;
	char name[64];
	char path[80];		/* to enter it, for its own firewall */
};

struct ns_files {
	struct ns_file *v;
	size_t n;
};

static struct ns_file *find_inum(struct ns_files *f, uint32_t inum)
{
	size_t i;

	for (i = 0; i < f->n; i++)
		if (f->v[i].inum == inum)
			return &f->v[i];
	return NULL;
}

static struct ns_file *find_nsid(struct ns_files *f, int nsid)
{
	size_t i;

	for (i = 0; i < f->n; i++)
		if (f->v[i].nsid == nsid)
			return &f->v[i];
	return NULL;
}

/* Look at the namespace file path; name it so when it is new. */
static void look_at(struct mnl_socket *nl, struct ns_files *f, const char *path, const char *name)
{
	struct ns_file *x;
	struct stat sb;
	int fd, nsid;

	if (f->n >= NS_FILES_MAX || stat(path, &sb) || find_inum(f, (uint32_t)sb.st_ino))
		return;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	nsid = na_nl_nsid_of(nl, fd);
	close(fd);
	if (nsid < 0)
		return;	/* no veth of ours leads there */
	x = reallocarray(f->v, f->n + 1, sizeof(*x));
	if (!x)
		return;
	f->v = x;
	x = &x[f->n++];
	x->inum = (uint32_t)sb.st_ino;
	x->nsid = nsid;
	snprintf(x->name, sizeof(x->name), "%s", name);
	snprintf(x->path, sizeof(x->path), "%s", path);
}

static void look_in_dir(struct mnl_socket *nl, struct ns_files *f, const char *dir)
{
	char path[80];
	struct dirent *de;
	DIR *d = opendir(dir);

	if (!d)
		return;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >= (int)sizeof(path))
			continue;
		look_at(nl, f, path, de->d_name);
	}
	closedir(d);
}

/* Named namespaces first (their names are what people know), then any
 * process's, where we may look. */
static void find_ns_files(struct mnl_socket *nl, struct ns_files *f)
{
	char path[64], name[32];
	struct dirent *de;
	DIR *d;

	look_in_dir(nl, f, "/run/netns");
	look_in_dir(nl, f, "/run/docker/netns");
	d = opendir("/proc");
	if (!d)
		return;
	while ((de = readdir(d))) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9' || strlen(de->d_name) > 10)
			continue;
		snprintf(path, sizeof(path), "/proc/%.10s/ns/net", de->d_name);
		snprintf(name, sizeof(name), "pid %.10s", de->d_name);
		look_at(nl, f, path, name);
	}
	closedir(d);
}

static bool addr_usable(int family, const uint32_t *a)
{
	const uint8_t *b = (const uint8_t *)a;

	/* IPv6 link-local addresses are per link: they name no namespace. */
	if (family == AF_INET6 && b[0] == 0xfe && (b[1] & 0xc0) == 0x80)
		return false;
	return na_veth_addr_usable(family, a);
}

static void ns_addrs(const struct na_veth_snap *s, const struct na_nl_link *port,
		     struct na_net_ns *ns)
{
	const struct na_veth_peer_ns *p = na_veth_snap_ns(s, port->link_nsid);
	size_t i;

	if (!p || p->err) {
		snprintf(ns->problem, sizeof(ns->problem), "its devices cannot be read");
		return;
	}
	for (i = 0; i < p->addrs.n && ns->naddrs < NA_NET_ADDRS; i++) {
		const struct na_nl_addr *a = &p->addrs.v[i];

		if (a->ifindex != port->link || !addr_usable(a->family, a->addr))
			continue;
		ns->addr[ns->naddrs].family = a->family;
		memcpy(ns->addr[ns->naddrs].addr, a->addr, sizeof(a->addr));
		ns->naddrs++;
	}
	if (!ns->naddrs)
		snprintf(ns->problem, sizeof(ns->problem), "no address on %s's peer", port->name);
}

/* How many veth ports, of any bridge, lead to the namespace nsid. */
static int ports_to(const struct na_veth_snap *s, int nsid)
{
	int n = 0;
	size_t i;

	for (i = 0; i < s->links.n; i++)
		n += !strcmp(s->links.v[i].kind, "veth") && s->links.v[i].master &&
		     s->links.v[i].link_nsid == nsid;
	return n;
}

static bool same_addr(const struct na_net_ns *a, int i, const struct na_net_ns *b, int j)
{
	return a->addr[i].family == b->addr[j].family &&
	       !memcmp(a->addr[i].addr, b->addr[j].addr, sizeof(a->addr[i].addr));
}

/* An address two namespaces of n claim pairs neither of them. */
static void mark_conflicts(struct na_net *n)
{
	size_t x, y;
	int i, j;

	for (x = 0; x < n->nns; x++)
		for (y = x + 1; y < n->nns; y++)
			for (i = 0; i < n->ns[x].naddrs; i++)
				for (j = 0; j < n->ns[y].naddrs; j++)
					if (same_addr(&n->ns[x], i, &n->ns[y], j)) {
						snprintf(n->ns[x].problem, sizeof(n->ns[x].problem),
							 "an address of it is also %s's", n->ns[y].name);
						snprintf(n->ns[y].problem, sizeof(n->ns[y].problem),
							 "an address of it is also %s's", n->ns[x].name);
					}
}

/*
 * A firewall inside the namespace of f (its INPUT and OUTPUT hooks) would
 * be skipped too: look, from inside it, and come back to ours (home). A
 * namespace we may not enter (CAP_SYS_ADMIN) cannot be vouched for. A
 * failure to come back is the caller's to report: nothing else may run in
 * the wrong namespace.
 */
static int own_firewall(const struct ns_file *f, int home, struct na_net_ns *ns)
{
	struct na_filter_verdict v;
	struct na_reason why = { 0 };
	int fd, err;

	fd = open(f->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || setns(fd, CLONE_NEWNET)) {
		snprintf(ns->problem, sizeof(ns->problem),
			 "its own firewall cannot be checked (entering it: %s)", strerror(errno));
		if (fd >= 0)
			close(fd);
		return 0;
	}
	close(fd);
	err = na_filter_check_ns(&v, &why);
	if (setns(home, CLONE_NEWNET))
		return -errno;
	if (err)
		snprintf(ns->problem, sizeof(ns->problem), "its own firewall cannot be read: %.60s",
			 why.msg[0] ? why.msg : strerror(-err));
	else if (v.filtered)
		snprintf(ns->problem, sizeof(ns->problem), "%.95s", v.why);
	return 0;
}

static int add_bridge(const struct na_veth_snap *s, struct ns_files *files, uint32_t own,
		      int home, const struct na_nl_link *br, struct na_net_view *out,
		      struct na_reason *why)
{
	struct na_filter_verdict verdict;
	struct na_net *n;
	size_t i;
	int err;

	n = reallocarray(out->v, out->n + 1, sizeof(*n));
	if (!n)
		return -ENOMEM;
	out->v = n;
	n = &n[out->n++];
	memset(n, 0, sizeof(*n));
	n->id = (uint64_t)own << 32 | (uint32_t)br->ifindex;
	snprintf(n->bridge, sizeof(n->bridge), "%s", br->name);
	err = na_filter_check(br->name, &verdict, why);
	if (err)
		return err;
	n->filtered = verdict.filtered;
	snprintf(n->filter_why, sizeof(n->filter_why), "%s", verdict.why);
	for (i = 0; i < s->links.n; i++) {
		const struct na_nl_link *l = &s->links.v[i];
		const struct ns_file *f;
		struct na_net_ns *ns;

		if (l->master != br->ifindex || strcmp(l->kind, "veth") || l->link_nsid < 0)
			continue;
		ns = reallocarray(n->ns, n->nns + 1, sizeof(*ns));
		if (!ns)
			return -ENOMEM;
		n->ns = ns;
		ns = &ns[n->nns++];
		memset(ns, 0, sizeof(*ns));
		ns->nsid = l->link_nsid;
		snprintf(ns->port, sizeof(ns->port), "%s", l->name);
		f = find_nsid(files, l->link_nsid);
		if (f) {
			ns->inum = f->inum;
			snprintf(ns->name, sizeof(ns->name), "%s", f->name);
		} else {
			snprintf(ns->name, sizeof(ns->name), "nsid %d", l->link_nsid);
			snprintf(ns->problem, sizeof(ns->problem),
				 "no file names it (/run/netns, /run/docker/netns, /proc)");
		}
		ns_addrs(s, l, ns);
		if (ports_to(s, l->link_nsid) > 1)
			snprintf(ns->problem, sizeof(ns->problem), "it has more than one veth on bridges");
		if (f && !ns->problem[0]) {
			err = own_firewall(f, home, ns);
			if (err)
				return na_reason_set(why, err,
						     "cannot come back to our network namespace: %s",
						     strerror(-err));
		}
	}
	mark_conflicts(n);
	return 0;
}

void na_net_view_free(struct na_net_view *v)
{
	size_t i;

	for (i = 0; v->v && i < v->n; i++)
		free(v->v[i].ns);
	free(v->v);
	memset(v, 0, sizeof(*v));
}

int na_net_scan(struct na_net_view *out, struct na_reason *why)
{
	struct ns_files files = { 0 };
	struct na_veth_snap snap;
	struct mnl_socket *nl;
	struct stat sb;
	int home;
	size_t i;
	int err;

	memset(out, 0, sizeof(*out));
	home = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (home < 0 || fstat(home, &sb)) {
		err = -errno;
		if (home >= 0)
			close(home);
		return na_reason_set(why, err, "cannot read our network namespace: %s",
				     strerror(-err));
	}
	err = na_nl_open(&nl);
	if (err) {
		close(home);
		return na_reason_set(why, err, "cannot open netlink: %s", strerror(-err));
	}
	err = na_veth_snap_take(nl, &snap, why);
	if (!err) {
		find_ns_files(nl, &files);
		for (i = 0; !err && i < snap.links.n; i++)
			if (!strcmp(snap.links.v[i].kind, "bridge"))
				err = add_bridge(&snap, &files, (uint32_t)sb.st_ino, home,
						 &snap.links.v[i], out, why);
		na_veth_snap_free(&snap);
	}
	free(files.v);
	na_nl_close(nl);
	close(home);
	if (err)
		na_net_view_free(out);
	return err;
}

/* ---- the tables ---- */

struct tables {
	int nets, endpoints, allow;
};

static int open_tables(const struct na_state *st, struct tables *t, struct na_reason *why)
{
	t->nets = na_state_get_pin(st, "na_nets");
	t->endpoints = na_state_get_pin(st, "na_endpoints");
	t->allow = na_state_get_pin(st, "na_net_allow");
	if (t->nets >= 0 && t->endpoints >= 0 && t->allow >= 0)
		return 0;
	if (t->nets >= 0)
		close(t->nets);
	if (t->endpoints >= 0)
		close(t->endpoints);
	if (t->allow >= 0)
		close(t->allow);
	return na_reason_set(why, -ENOENT,
			     "the bypass in %s has no tables for networks (loaded by an earlier version: run cleanup, then enroll)",
			     st->dir);
}

static void close_tables(struct tables *t)
{
	close(t->nets);
	close(t->endpoints);
	close(t->allow);
}

/* Whether id is one of the networks written now (keep[0..n)). */
static bool kept(const uint64_t *keep, size_t n, uint64_t id)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (keep[i] == id)
			return true;
	return false;
}

/* Whether the view holds ek as an address that pairs (a container that
 * left, or lost the address, leaves an entry behind otherwise). */
static bool has_endpoint(const struct na_net_view *v, const struct na_endpoint_key *ek)
{
	size_t i, j;
	int k;

	for (i = 0; i < v->n; i++) {
		if (v->v[i].id != ek->net)
			continue;
		for (j = 0; j < v->v[i].nns; j++) {
			const struct na_net_ns *ns = &v->v[i].ns[j];

			for (k = 0; !ns->problem[0] && ns->inum && k < ns->naddrs; k++)
				if ((uint32_t)ns->addr[k].family == ek->family &&
				    !memcmp(ns->addr[k].addr, ek->addr, sizeof(ek->addr)))
					return true;
		}
	}
	return false;
}

/* Remove entries of our namespace's networks (id >> 32 == own) not in
 * keep, and addresses no namespace of a kept network has any more:
 * namespaces first, so that no namespace points at a network without
 * endpoints. */
static void sweep(const struct tables *t, uint32_t own, const uint64_t *keep, size_t n,
		  const struct na_net_view *v)
{
	struct na_endpoint_key ek, next_ek;
	struct na_net_member m;
	uint32_t inum, next;
	void *prev = NULL;
	size_t i, j;

	while (!bpf_map_get_next_key(t->nets, prev, &next)) {
		bool want = false;

		inum = next;
		prev = &inum;
		if (bpf_map_lookup_elem(t->nets, &inum, &m) || m.net >> 32 != own)
			continue;
		for (i = 0; i < v->n && !want; i++)
			for (j = 0; j < v->v[i].nns; j++)
				want |= v->v[i].id == m.net && v->v[i].ns[j].inum == inum &&
					kept(keep, n, m.net) && !v->v[i].ns[j].problem[0];
		if (!want)
			bpf_map_delete_elem(t->nets, &inum);
	}
	prev = NULL;
	while (!bpf_map_get_next_key(t->endpoints, prev, &next_ek)) {
		ek = next_ek;
		prev = &ek;
		if (ek.net >> 32 == own && (!kept(keep, n, ek.net) || !has_endpoint(v, &ek)))
			bpf_map_delete_elem(t->endpoints, &ek);
	}
}

static int write_net(const struct tables *t, const struct na_net *n, struct na_net_summary *sum)
{
	struct na_net_member m = { .net = n->id };
	struct na_endpoint_key ek;
	size_t i;
	int k;

	/* Addresses first: a namespace found on the network finds its
	 * peers' addresses there. */
	for (i = 0; i < n->nns; i++) {
		const struct na_net_ns *ns = &n->ns[i];

		for (k = 0; k < ns->naddrs; k++) {
			memset(&ek, 0, sizeof(ek));
			ek.net = n->id;
			ek.family = (uint32_t)ns->addr[k].family;
			memcpy(ek.addr, ns->addr[k].addr, sizeof(ek.addr));
			if (ns->problem[0] || !ns->inum) {
				bpf_map_delete_elem(t->endpoints, &ek);
				continue;
			}
			if (bpf_map_update_elem(t->endpoints, &ek, &ns->inum, BPF_ANY))
				return -errno;
			sum->endpoints++;
		}
	}
	for (i = 0; i < n->nns; i++) {
		if (n->ns[i].problem[0] || !n->ns[i].inum)
			continue;
		if (bpf_map_update_elem(t->nets, &n->ns[i].inum, &m, BPF_ANY))
			return -errno;
		sum->namespaces++;
	}
	sum->networks++;
	return 0;
}

int na_net_sync(const struct na_state *st, struct na_net_summary *sum, struct na_reason *why)
{
	struct na_net_view v;
	struct tables t;
	uint64_t *keep;
	size_t i, nkeep = 0;
	uint32_t one;
	struct stat sb;
	int err;

	memset(sum, 0, sizeof(*sum));
	err = open_tables(st, &t, why);
	if (err)
		return err;
	err = na_net_scan(&v, why);
	if (err) {
		close_tables(&t);
		return err;
	}
	keep = calloc(v.n + 1, sizeof(*keep));
	if (!keep || stat("/proc/thread-self/ns/net", &sb)) {
		err = keep ? -errno : -ENOMEM;
		goto out;
	}
	for (i = 0; i < v.n && !err; i++) {
		struct na_net *n = &v.v[i];

		n->allowed = !bpf_map_lookup_elem(t.allow, &n->id, &one);
		if (n->filtered && !n->allowed) {
			sum->filtered++;
			continue;
		}
		keep[nkeep++] = n->id;
		err = write_net(&t, n, sum);
		if (err)
			na_reason_set(why, err, "cannot write the network of %s: %s", n->bridge,
				      strerror(-err));
	}
	if (!err)
		sweep(&t, (uint32_t)sb.st_ino, keep, nkeep, &v);
out:
	free(keep);
	na_net_view_free(&v);
	close_tables(&t);
	return err;
}

bool na_net_written(const struct na_state *st, uint64_t id)
{
	struct na_endpoint_key ek, next;
	void *prev = NULL;
	bool found = false;
	int fd = na_state_get_pin(st, "na_endpoints");

	if (fd < 0)
		return false;
	while (!found && !bpf_map_get_next_key(fd, prev, &next)) {
		ek = next;
		prev = &ek;
		found = ek.net == id;
	}
	close(fd);
	return found;
}

bool na_net_allowed(const struct na_state *st, uint64_t id)
{
	int fd = na_state_get_pin(st, "na_net_allow");
	uint32_t one;
	bool yes;

	if (fd < 0)
		return false;
	yes = !bpf_map_lookup_elem(fd, &id, &one);
	close(fd);
	return yes;
}

int na_net_allow(const struct na_state *st, const char *bridge, bool allow, struct na_reason *why)
{
	unsigned int ifindex = if_nametoindex(bridge);
	struct tables t;
	uint32_t one = 1;
	uint64_t id;
	struct stat sb;
	int err;

	if (!ifindex)
		return na_reason_set(why, -ENODEV, "no bridge %s in this network namespace", bridge);
	if (stat("/proc/thread-self/ns/net", &sb))
		return na_reason_set(why, -errno, "cannot read our network namespace: %s",
				     strerror(errno));
	err = open_tables(st, &t, why);
	if (err)
		return err;
	id = (uint64_t)(uint32_t)sb.st_ino << 32 | ifindex;
	if (allow)
		err = bpf_map_update_elem(t.allow, &id, &one, BPF_ANY) ? -errno : 0;
	else
		err = bpf_map_delete_elem(t.allow, &id) && errno != ENOENT ? -errno : 0;
	if (err)
		na_reason_set(why, err, "cannot change what %s allows: %s", bridge, strerror(-err));
	close_tables(&t);
	return err;
}
