// SPDX-License-Identifier: GPL-2.0-only
/*
 * The program's hook on one host-side veth: a tcx link pinned as
 * tcx_<ifindex>, or, on a kernel without tcx, a clsact filter with
 * netaccel's own handle and priority. na_veth_ports records which hook
 * each device has. Adding goes hook, then port entry; removing goes the
 * other way round, starting with the port entry, which stops redirects to
 * the device at once.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>

#include <netaccel/state.h>

#include "internal.h"
#include "veth_internal.h"

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

static int tcx_pin(const struct na_veth_state *v, int ifindex, char *out)
{
	int n = snprintf(out, PATH_MAX, "%s/tcx_%d", v->dir, ifindex);

	return n < 0 || n >= PATH_MAX ? -ENAMETOOLONG : 0;
}

int na_veth_tcx_state(const struct na_veth_state *v, int ifindex, bool fix)
{
	struct na_tcx_link_info info = {};
	__u32 len = sizeof(info);
	char path[PATH_MAX];
	int fd, live = 0;

	if (tcx_pin(v, ifindex, path))
		return 0;
	fd = bpf_obj_get(path);
	if (fd < 0)
		return 0;
	if (!bpf_obj_get_info_by_fd(fd, &info, &len) &&
	    info.type == NA_BPF_LINK_TYPE_TCX && info.ifindex == (__u32)ifindex) {
		live = 1;
		/* A link left by an older program: swap the program in place. */
		if (fix && info.prog_id != v->prog_id && bpf_link_update(fd, v->prog, NULL))
			live = 0;
	}
	close(fd);
	if (!live && fix)
		unlink(path);
	return live;
}

static int tcx_attach(const struct na_veth_state *v, int ifindex, struct na_reason *why)
{
	char path[PATH_MAX];
	int err;

	err = tcx_pin(v, ifindex, path);
	if (err)
		return err;
	err = na_link_pin(v->prog, ifindex, (enum bpf_attach_type)NA_BPF_TCX_INGRESS, path, why);
	return err < 0 ? err : 0;
}

void na_veth_tcx_detach(const struct na_veth_state *v, int ifindex)
{
	char path[PATH_MAX];
	int fd;

	if (tcx_pin(v, ifindex, path))
		return;
	fd = bpf_obj_get(path);
	if (fd >= 0) {
		bpf_link_detach(fd);
		close(fd);
	}
	unlink(path);
}

/* Whether program id is a netaccel veth program (of any version). Needs
 * CAP_SYS_ADMIN; compare with v->prog_id first where that is enough. */
static bool prog_is_ours(__u32 id)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);
	int fd = bpf_prog_get_fd_by_id(id);
	bool ours;

	if (fd < 0)
		return false;
	ours = !bpf_obj_get_info_by_fd(fd, &info, &len) && !strcmp(info.name, NA_VETH_PROG_NAME);
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

static int tc_attach(const struct na_veth_state *v, int ifindex, bool *made_qdisc)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
			    .attach_point = BPF_TC_INGRESS);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .handle = NA_VETH_TC_HANDLE,
			    .priority = NA_VETH_TC_PRIO, .prog_fd = v->prog,
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
void na_veth_tc_detach(const struct na_veth_state *v, int ifindex, bool made_qdisc)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
			    .attach_point = BPF_TC_INGRESS);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .handle = NA_VETH_TC_HANDLE,
			    .priority = NA_VETH_TC_PRIO);
	__u32 id = tc_query(ifindex);

	if (!id || (id != v->prog_id && !prog_is_ours(id)))
		return;
	bpf_tc_detach(&hook, &opts);
	if (!made_qdisc || !v->nl)
		return;
	if (na_nl_count_filters(v->nl, ifindex, TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_INGRESS)) == 0 &&
	    na_nl_count_filters(v->nl, ifindex, TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_EGRESS)) == 0) {
		hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
		bpf_tc_hook_destroy(&hook);
	}
}

bool na_veth_hook_present(const struct na_veth_state *v, int ifindex,
			  const struct na_veth_port *p)
{
	__u32 id;

	if (p->hook == NA_VETH_HOOK_TCX)
		return na_veth_tcx_state(v, ifindex, true) == 1;
	id = tc_query(ifindex);
	return id && (id == v->prog_id || prog_is_ours(id));
}

/* Why a tcx link was refused, when it is not to fall back to clsact. */
static int tcx_refused(const struct na_reason *tried, int err, const char *name,
		       struct na_reason *why)
{
	if (na_reason_said(tried) && tried->kind != NA_WHY_ATTACH_FAILED)
		return na_reason_set(why, err, "%s", tried->msg);	/* pinning failed */
	if (err == -EINVAL)	/* the kernel may lack tcx */
		return na_reason_set_kind(why, NA_WHY_KERNEL_LACKS, err,
					  "cannot attach a tcx link to %s: %s", name,
					  strerror(-err));
	return na_reason_set_kind(why, NA_WHY_ATTACH_FAILED, err,
				  "cannot attach a tcx link to %s: %s%s", name, strerror(-err),
				  err == -EPERM ? " (needs CAP_BPF and CAP_NET_ADMIN)" : "");
}

/* The hook a device gets now: tcx unless the kernel lacks it or clsact
 * was asked for. Sets p->hook (and p->flags for a qdisc we made). */
static int hook_up(const struct na_veth_state *v, int ifindex, const char *name,
		   struct na_veth_port *p, struct na_reason *why)
{
	struct na_reason tried = { 0 };
	bool made_qdisc = false;
	int err;

	if (v->hook != NA_VETH_HOOK_TC) {
		err = tcx_attach(v, ifindex, &tried);
		if (!err) {
			p->hook = NA_VETH_HOOK_TCX;
			return 0;
		}
		if (v->hook == NA_VETH_HOOK_TCX ||
		    (err != -EINVAL && err != -EOPNOTSUPP && err != -ENOTSUP))
			return tcx_refused(&tried, err, name, why);
		na_lib_log(NA_LOG_DEBUG, "no tcx on this kernel (%s): using a clsact filter on %s",
			   strerror(-err), name);
	}
	err = tc_attach(v, ifindex, &made_qdisc);
	if (err)
		return na_reason_set_kind(why, NA_WHY_ATTACH_FAILED, err,
					  "cannot attach a clsact filter to %s: %s", name,
					  strerror(-err));
	p->hook = NA_VETH_HOOK_TC;
	p->flags = made_qdisc ? NA_VETH_PORT_QDISC : 0;
	return 0;
}

int na_veth_attach_port(struct na_veth_state *v, int ifindex, int bridge, const char *name,
			struct na_reason *why)
{
	struct na_veth_port p = {}, old;
	bool had = !bpf_map_lookup_elem(v->ports, &ifindex, &old), made = false;
	int err;

	if (had && old.bridge == (__u32)bridge && na_veth_hook_present(v, ifindex, &old))
		return 0;
	p.bridge = (__u32)bridge;
	/* Repeated attaches find what is there and never stack. */
	if (v->hook != NA_VETH_HOOK_TC && na_veth_tcx_state(v, ifindex, true) == 1) {
		p.hook = NA_VETH_HOOK_TCX;
	} else if (v->hook != NA_VETH_HOOK_TCX && tc_query(ifindex) == v->prog_id) {
		p.hook = NA_VETH_HOOK_TC;
		if (had)
			p.flags = old.flags & NA_VETH_PORT_QDISC;
	} else {
		err = hook_up(v, ifindex, name, &p, why);
		if (err)
			return err;
		made = true;
	}
	if (bpf_map_update_elem(v->ports, &ifindex, &p, BPF_ANY)) {
		err = na_reason_set(why, -errno, "cannot record port %s: %s", name, strerror(errno));
		if (p.hook == NA_VETH_HOOK_TCX)
			na_veth_tcx_detach(v, ifindex);
		else
			na_veth_tc_detach(v, ifindex, made && (p.flags & NA_VETH_PORT_QDISC));
		return err;
	}
	return 1;
}
