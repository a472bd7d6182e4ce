// SPDX-License-Identifier: GPL-2.0-only
/*
 * The local bypass's pins, directly in the state directory:
 *
 *   prog_create prog_sockops prog_msg       programs (prog_<last word of
 *   prog_setsockopt prog_getsockopt         the program's name>)
 *   prog_rxwatch                            the receive watch (tp_btf), where
 *                                           this kernel has it
 *   na_cgroups na_cgslot na_stats ...       maps (pinned by libbpf, by name)
 *   link_rxwatch                            its link (global)
 *   cg<ID>_create cg<ID>_sockops            links of the cgroup with id ID
 *
 * Which maps and programs there are comes from the skeleton (objset.h).
 * Creation pins maps first, then programs, then attaches; removal goes the
 * other way. A run killed half-way therefore leaves a prefix of the state,
 * which the next na_state_open(NA_STATE_CREATE) completes.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include <netaccel/state.h>

#include "bypass.skel.h"
#include "internal.h"
#include "objset.h"

/*
 * The protections that need tracing programs, global rather than per
 * cgroup. Each is loaded only where the kernel has the function it attaches
 * to (and, for those that make up for a kernel's gap, lacks the fix);
 * status says which are active. On a kernel that refuses one, the later
 * ones in this table are left out first. Their programs are declared
 * SEC("?...") so that nothing loads them unless this table says so.
 */
static const struct na_guard {
	const char *prog;	/* its program; pinned as prog_<last word>, its link as link_<last word> */
	const char *target;	/* kernel function, or tracepoint's BTF typedef */
	int kind;		/* BTF_KIND_FUNC or BTF_KIND_TYPEDEF */
	/* Not needed where this struct has this member. */
	const char *fixed_struct, *fixed_member;
	/* Without it the bypass still works (a kernel that refuses the
	 * attachment gets a status line, not an error). */
	bool optional;
	const char *what;	/* for status */
	const char *if_missing;
} guards[] = {
	{ "na_rxwatch", "btf_trace_tcp_rcv_space_adjust", BTF_KIND_TYPEDEF,
	  NULL, NULL, false,
	  "redirected bytes only go to sockets seen reading with recv(), in processes that never spliced",
	  " (no tp_btf on this kernel: nothing is redirected, every connection stays on TCP)" },
	{ "na_fionread", "tcp_ioctl", BTF_KIND_FUNC,
	  "sk_psock", "msg_tot_len", true,
	  "no redirected bytes go to sockets seen asking FIONREAD, nor to their listener's "
	  "next connections (this kernel's FIONREAD does not count them)",
	  " (this kernel refuses fentry programs: FIONREAD on a fast-path socket may say 0 "
	  "while redirected bytes wait)" },
};
#define NA_NUM_GUARDS (sizeof(guards) / sizeof(guards[0]))

/* Whether the running kernel has the fix that g makes up for (never, for
 * a guard that makes up for nothing). */
static bool kernel_fixed(const struct btf *vmlinux, const struct na_guard *g)
{
	return g->fixed_struct && vmlinux &&
	       na_btf_has_part(vmlinux, g->fixed_struct, BTF_KIND_STRUCT, g->fixed_member);
}

/* Whether the running kernel has the place a tracing program attaches to,
 * and needs what it does. */
static bool kernel_wants(const struct btf *vmlinux, const struct na_guard *g)
{
	return vmlinux && btf__find_by_name_kind(vmlinux, g->target, g->kind) > 0 &&
	       !kernel_fixed(vmlinux, g);
}

/* The bypass's pins, as its object describes them. */
static int describe(const struct na_state *st, struct na_objset *os)
{
	return NA_OBJSET_DESCRIBE(os, st->dir, na_bypass);
}

/* Open every pinned object; -ENOENT when any is missing. */
static int open_pins(struct na_state *st)
{
	struct na_objset os;
	int err;

	err = describe(st, &os);
	if (!err)
		err = na_objset_open(&os);
	if (!err) {
		st->map_cgroups = na_objset_take(&os, "na_cgroups");
		st->map_cgslot = na_objset_take(&os, "na_cgslot");
		st->map_stats = na_objset_take(&os, "na_stats");
		st->map_sockhash = na_objset_take(&os, "na_sockhash");
		st->map_sk_state = na_objset_take(&os, "na_sk_state");
		st->prog_create = na_objset_take(&os, "na_sock_create");
		st->prog_sockops = na_objset_take(&os, "na_sockops");
		st->prog_msg = na_objset_take(&os, "na_msg");
		st->prog_setsockopt = na_objset_take(&os, "na_setsockopt");
		st->prog_getsockopt = na_objset_take(&os, "na_getsockopt");
	}
	na_objset_close(&os);
	return err;
}

/* Say why the bypass's programs did not load: the first kernel feature
 * it cannot do without, or what the kernel said. */
static int load_failed(int err, struct na_reason *why)
{
	struct na_feature f[NA_MAX_FEATURES];
	size_t k, n = na_probe_features(f, NA_MAX_FEATURES);

	for (k = 0; k < n; k++)
		if (!f[k].ok && f[k].required && !strcmp(f[k].datapath, "bypass"))
			break;
	if (err != -EPERM && k < n)
		return na_reason_set_kind(why, NA_WHY_KERNEL_LACKS, err,
					  "cannot load the BPF programs: this kernel lacks %s",
					  f[k].name);
	if (err == -EPERM)
		return na_reason_set(why, err,
				     "cannot load the BPF programs into the kernel: %s (needs CAP_BPF, CAP_NET_ADMIN and CAP_PERFMON)",
				     strerror(-err));
	return na_reason_set_kind(why, NA_WHY_LOAD_FAILED, err,
				  "cannot load the BPF programs into the kernel: %s",
				  strerror(-err));
}

/*
 * Load the programs and create or reuse the maps, then pin what is not
 * pinned yet. libbpf reuses a pinned map of the same name and shape, and
 * refuses one of another shape (state left by another version).
 */
static int load_and_pin(struct na_state *st, struct na_reason *why)
{
	long page = sysconf(_SC_PAGESIZE);
	struct na_bypass *skel = NULL;
	bool want[NA_NUM_GUARDS];
	struct na_objset os;
	struct btf *vmlinux;
	int err = -EINVAL, copy_slow;
	size_t i;
	int tries;

	copy_slow = na_copy_misaligned_slow();
	if (copy_slow == 1)
		na_lib_log(NA_LOG_INFO, "this CPU copies slowly to buffers off a 32-byte boundary: "
			   "a port whose large writes go to a reader with such a buffer "
			   "keeps its next connections on TCP (kept_slowcopy)");
	else if (copy_slow < 0)
		na_lib_log(NA_LOG_DEBUG, "cannot measure how this CPU copies to unaligned buffers");
	vmlinux = na_kernel_btf();
	if (!vmlinux)
		na_lib_log(NA_LOG_DEBUG, "no kernel BTF: the tracing protections are not loaded");
	for (i = 0; i < NA_NUM_GUARDS; i++)
		want[i] = kernel_wants(vmlinux, &guards[i]);
	btf__free(vmlinux);

	/* A kernel that cannot load a tracing program (no trampolines on
	 * this architecture, or a kernel that refuses them) still gets the
	 * datapath: each further try leaves out one more of them, and status
	 * says what is missing. */
	for (tries = 0; tries <= (int)NA_NUM_GUARDS; tries++) {
		skel = na_bypass__open();
		if (!skel) {
			err = -errno;
			return na_reason_set(why, err, "cannot open the BPF object: %s",
					     strerror(-err));
		}
		if (page > 0)
			skel->rodata->na_page_size = page;
		skel->rodata->na_copy_slow = copy_slow == 1;
		err = na_objset_init(&os, st->dir, skel->obj);
		if (err)
			goto out;
		for (i = 0; i < NA_NUM_GUARDS; i++)
			bpf_program__set_autoload(bpf_object__find_program_by_name(skel->obj,
										 guards[i].prog),
						  want[i]);
		err = na_bypass__load(skel);
		if (!err)
			break;
		na_bypass__destroy(skel);
		skel = NULL;
		for (i = NA_NUM_GUARDS; i > 0 && !want[i - 1]; i--)
			;
		if (i == 0)
			break;	/* the datapath itself failed */
		i--;
		na_lib_log(NA_LOG_DEBUG, "cannot load %s (%s): going on without it",
			   guards[i].prog, strerror(-err));
		want[i] = false;
	}
	if (err)
		load_failed(err, why);
	else
		err = na_objset_pin(&os, skel->obj, why);
out:
	na_bypass__destroy(skel);
	return err;
}

/* Attach each pinned tracing program whose link is not pinned yet (a new
 * state, or one an interrupted run left without it). */
static int attach_guards(struct na_state *st, struct na_reason *why)
{
	char path[PATH_MAX];
	int err = 0;
	size_t i;

	for (i = 0; i < NA_NUM_GUARDS && !err; i++) {
		char prog_pin[NA_PIN_NAME_MAX], link_pin[NA_PIN_NAME_MAX];
		int prog, link;

		if ((err = na_prog_pin_name(guards[i].prog, prog_pin, sizeof(prog_pin))) ||
		    (err = na_link_pin_name(guards[i].prog, link_pin, sizeof(link_pin))))
			break;
		err = na_state_pin_path(st, link_pin, path, sizeof(path));
		if (err || access(path, F_OK) == 0)
			continue;
		prog = na_state_get_pin(st, prog_pin);
		if (prog == -ENOENT)
			continue;	/* this kernel cannot have it */
		if (prog < 0)
			return prog;
		link = bpf_raw_tracepoint_open(NULL, prog);
		if (link < 0 && guards[i].optional) {
			/* status says it is not active */
			na_lib_log(NA_LOG_DEBUG, "cannot attach %s to %s: %s", prog_pin,
				   guards[i].target, strerror(errno));
		} else if (link < 0) {
			err = na_reason_set(why, -errno, "cannot attach %s to %s: %s",
					    prog_pin, guards[i].target, strerror(errno));
		} else if (bpf_obj_pin(link, path)) {
			err = na_reason_set(why, -errno, "cannot pin %s: %s", path, strerror(errno));
		}
		if (link >= 0)
			close(link);
		close(prog);
	}
	return err;
}

/* The ids of the maps prog uses, at most max of them: how many, or a
 * negative errno. */
static int prog_map_ids(int prog, __u32 *ids, __u32 max)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);

	info.nr_map_ids = max;
	info.map_ids = (__u64)(unsigned long)ids;
	if (bpf_obj_get_info_by_fd(prog, &info, &len))
		return -errno;
	return (int)(info.nr_map_ids < max ? info.nr_map_ids : max);
}

/* Whether the loaded programs act on slow copies to unaligned buffers
 * (their na_copy_slow, in the object's read-only data): 1 or 0, negative
 * errno when it cannot be read. */
static int loaded_copy_slow(const struct na_state *st)
{
	__u32 ids[16];
	int n = prog_map_ids(st->prog_msg, ids, 16), err = -ENOENT;

	if (n < 0)
		return n;
	for (int j = 0; j < n && err == -ENOENT; j++) {
		struct bpf_map_info minfo = {};
		__u32 mlen = sizeof(minfo), key = 0;
		struct na_bypass__rodata *ro;
		int fd = bpf_map_get_fd_by_id(ids[j]);
		const char *dot;

		if (fd < 0)
			return -errno;
		dot = bpf_obj_get_info_by_fd(fd, &minfo, &mlen) ? NULL : strrchr(minfo.name, '.');
		if (dot && !strcmp(dot, ".rodata") && minfo.value_size >= sizeof(*ro)) {
			ro = calloc(1, minfo.value_size);
			err = !ro ? -ENOMEM : bpf_map_lookup_elem(fd, &key, ro) ? -errno :
									   ro->na_copy_slow != 0;
			free(ro);
		}
		close(fd);
	}
	return err;
}

size_t na_state_protections(const struct na_state *st, struct na_protection *p)
{
	struct btf *vmlinux = na_kernel_btf();
	char path[PATH_MAX];
	size_t i, n = 0;

	/* In the datapath itself: always there. */
	p[n++] = (struct na_protection){ "blocking",
		"blocking sockets and sockets with SO_RCVLOWAT above 1 stay on TCP", "", true };
	for (i = 0; i < NA_NUM_GUARDS; i++, n++) {
		char link_pin[NA_PIN_NAME_MAX];

		/* Making up for a gap this kernel does not have: not listed. */
		if (kernel_fixed(vmlinux, &guards[i])) {
			n--;
			continue;
		}
		p[n].name = strrchr(guards[i].prog, '_') + 1;
		p[n].what = guards[i].what;
		p[n].if_missing = guards[i].if_missing;
		p[n].active = na_link_pin_name(guards[i].prog, link_pin, sizeof(link_pin)) == 0 &&
			      na_state_pin_path(st, link_pin, path, sizeof(path)) == 0 &&
			      access(path, F_OK) == 0;
	}
	btf__free(vmlinux);
	/* Listed only where it acts: on a CPU found to copy slowly. */
	if (loaded_copy_slow(st) == 1)
		p[n++] = (struct na_protection){ "slowcopy",
			"a port whose large writes went to a reader this CPU copies to slowly "
			"(a buffer off a 32-byte boundary) keeps its next connections on TCP",
			"", true };
	return n;
}

static int prog_uses(int prog, int map_fd)
{
	struct bpf_map_info minfo = {};
	__u32 len = sizeof(minfo), ids[16];
	int n;

	if (bpf_obj_get_info_by_fd(map_fd, &minfo, &len))
		return -errno;
	n = prog_map_ids(prog, ids, 16);
	if (n < 0)
		return n;
	for (int j = 0; j < n; j++)
		if (ids[j] == minfo.id)
			return 1;
	return 0;
}

/* The pinned programs must use the pinned maps; a mix left by an
 * interrupted cleanup or another version would split the datapath. Every
 * program but sock_create keeps per-socket state; sock_create counts. */
static int check_consistent(struct na_state *st)
{
	int progs[] = { st->prog_sockops, st->prog_msg, st->prog_setsockopt,
			st->prog_getsockopt };
	int r = prog_uses(st->prog_create, st->map_stats);

	for (size_t i = 0; r > 0 && i < sizeof(progs) / sizeof(progs[0]); i++)
		r = prog_uses(progs[i], st->map_sk_state);
	return r < 0 ? r : r ? 0 : -EUCLEAN;
}

int na_state_open(struct na_state *st, const char *dir, unsigned int flags,
		  struct na_reason *why)
{
	bool create = flags & NA_STATE_CREATE;
	int err;

	na_reason_clear(why);
	err = na_state_begin(st, dir, create, why);
	if (err == -ENAMETOOLONG)
		return err;
	if (err)
		goto fail;

	err = open_pins(st);
	if (err == -ENOENT) {
		if (create) {
			err = load_and_pin(st, why);
			if (!err)
				err = open_pins(st);
		} else {
			/* Some pins but not all: an interrupted run (enroll
			 * completes it, cleanup removes it). None, or only
			 * other datapaths' subdirectories: not loaded. */
			err = na_dir_has_pins(st->dir, false) ? -ENODATA : -ENOENT;
		}
	}
	if (err)
		goto fail;
	err = check_consistent(st);
	if (err)
		goto fail;
	if (create) {
		/* Idempotent: attaching the same program again is a no-op. */
		if (bpf_prog_attach(st->prog_msg, st->map_sockhash,
				    BPF_SK_MSG_VERDICT, 0)) {
			err = na_reason_set(why, -errno, "cannot attach sk_msg to %s/na_sockhash: %s",
					    st->dir, strerror(errno));
			goto fail;
		}
		err = attach_guards(st, why);
		if (err)
			goto fail;
	}
	return 0;
fail:
	if (err == -ENOENT)
		na_reason_set(why, err, "no netaccel state in %s", st->dir);
	else if (err == -ENODATA)
		na_reason_set_kind(why, NA_WHY_STATE_INCOMPLETE, err,
				   "netaccel state in %s is incomplete (an interrupted run)", st->dir);
	else if (err == -EUCLEAN)
		na_reason_set_kind(why, NA_WHY_STATE_INCONSISTENT, err,
				   "netaccel state in %s is inconsistent (its programs use other maps)",
				   st->dir);
	else if (err == -EACCES || err == -EPERM)
		na_reason_set(why, err,
			      "cannot open netaccel state in %s: %s (needs CAP_BPF and CAP_NET_ADMIN)",
			      st->dir, strerror(-err));
	else
		na_reason_set(why, err, "cannot open netaccel state in %s: %s", st->dir,
			      strerror(-err));
	na_state_close(st);
	return err;
}
