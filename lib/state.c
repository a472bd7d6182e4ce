// SPDX-License-Identifier: GPL-2.0-only
/*
 * The state directory: one bpffs directory holding every program, map and
 * link netaccel put in the kernel, so that acceleration outlives the CLI
 * and the next run (or `cleanup`) finds all of it.
 *
 *   prog_create prog_sockops prog_msg       programs
 *   prog_setsockopt prog_getsockopt
 *   prog_rxwatch                            the receive watch (tp_btf), where
 *                                           this kernel has it
 *   na_cgroups na_cgslot na_stats ...       maps (pinned by libbpf, by name)
 *   link_rxwatch                            its link (global)
 *   cg<ID>_create cg<ID>_sockops            links of the cgroup with id ID
 *
 * Creation pins maps first, then programs, then attaches; removal goes the
 * other way. A run killed half-way therefore leaves a prefix of the state,
 * which the next na_state_open(NA_STATE_CREATE) completes.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include <netaccel/state.h>

#include "config.h"
#include "bypass.skel.h"
#include "internal.h"

#ifndef BPF_FS_MAGIC
#define BPF_FS_MAGIC 0xcafe4a11
#endif

static const char *const prog_pins[] = {
	"prog_create", "prog_sockops", "prog_msg", "prog_setsockopt",
	"prog_getsockopt",
};
#define NA_NUM_PROGS (sizeof(prog_pins) / sizeof(prog_pins[0]))

/*
 * The protections that need tracing programs, global rather than per
 * cgroup. Each is loaded only where the kernel has the function it attaches
 * to (and, for those that make up for a kernel's gap, lacks the fix);
 * status says which are active. On a kernel that refuses one, the later
 * ones in this table are left out first.
 */
static const struct na_guard {
	const char *prog_pin, *link_pin;
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
	{ "prog_rxwatch", "link_rxwatch", "btf_trace_tcp_rcv_space_adjust", BTF_KIND_TYPEDEF,
	  NULL, NULL, false,
	  "redirected bytes only go to sockets seen reading with recv(), in processes that never spliced",
	  " (no tp_btf on this kernel: nothing is redirected, every connection stays on TCP)" },
	{ "prog_fionread", "link_fionread", "tcp_ioctl", BTF_KIND_FUNC,
	  "sk_psock", "msg_tot_len", true,
	  "no redirected bytes go to sockets seen asking FIONREAD, nor to their listener's "
	  "next connections (this kernel's FIONREAD does not count them)",
	  " (this kernel refuses fentry programs: FIONREAD on a fast-path socket may say 0 "
	  "while redirected bytes wait)" },
};
#define NA_NUM_GUARDS (sizeof(guards) / sizeof(guards[0]))

static struct bpf_program *guard_prog(struct na_bypass *skel, size_t i)
{
	struct bpf_program *p[] = {
		skel->progs.na_rx_watch,
		skel->progs.na_inq_watch,
	};

	return p[i];
}

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

const char *na_state_dir(const char *opt)
{
	const char *env;

	if (opt && *opt)
		return opt;
	env = getenv(NA_STATE_DIR_ENV);
	if (env && *env)
		return env;
	return NA_DEFAULT_STATE_DIR;
}

static void state_init(struct na_state *st)
{
	memset(st, 0, sizeof(*st));
	st->dir_fd = -1;
	st->map_cgroups = st->map_cgslot = st->map_stats = -1;
	st->map_sockhash = st->map_sk_state = -1;
	st->prog_create = st->prog_sockops = st->prog_msg = -1;
	st->prog_setsockopt = st->prog_getsockopt = -1;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void close_pins(struct na_state *st)
{
	close_fd(&st->map_cgroups);
	close_fd(&st->map_cgslot);
	close_fd(&st->map_stats);
	close_fd(&st->map_sockhash);
	close_fd(&st->map_sk_state);
	close_fd(&st->prog_create);
	close_fd(&st->prog_sockops);
	close_fd(&st->prog_msg);
	close_fd(&st->prog_setsockopt);
	close_fd(&st->prog_getsockopt);
}

void na_state_close(struct na_state *st)
{
	close_pins(st);
	close_fd(&st->dir_fd);	/* drops the lock */
}

int na_state_pin_path(const struct na_state *st, const char *name, char *out,
		      size_t outlen)
{
	int n = snprintf(out, outlen, "%s/%s", st->dir, name);

	return n < 0 || (size_t)n >= outlen ? -ENAMETOOLONG : 0;
}

int na_state_get_pin(const struct na_state *st, const char *name)
{
	char path[PATH_MAX];
	int fd, err;

	err = na_state_pin_path(st, name, path, sizeof(path));
	if (err)
		return err;
	fd = bpf_obj_get(path);
	return fd < 0 ? -errno : fd;
}

static bool on_bpffs(const char *path)
{
	struct statfs sfs;

	return statfs(path, &sfs) == 0 && (unsigned long)sfs.f_type == BPF_FS_MAGIC;
}

/*
 * The state directory must sit on a bpffs. Its parent is mounted when it
 * is the usual /sys/fs/bpf and nothing is mounted there yet; anywhere else
 * we say what is wrong rather than mount over a directory we do not own.
 */
int na_state_ensure_bpffs(const char *dir, struct na_reason *why)
{
	char parent[PATH_MAX];
	struct stat sb;
	char *slash;

	if (snprintf(parent, sizeof(parent), "%s", dir) >= (int)sizeof(parent))
		return na_reason_set(why, -ENAMETOOLONG, "state directory %s: name too long", dir);
	slash = strrchr(parent, '/');
	if (dir[0] != '/' || !slash || slash == parent || !slash[1])
		return na_reason_set(why, -EINVAL,
				     "state directory %s: must be an absolute path inside a bpffs mount, such as /sys/fs/bpf/netaccel",
				     dir);
	*slash = '\0';
	if (on_bpffs(parent))
		return 0;
	if (strcmp(parent, "/sys/fs/bpf") != 0) {
		if (stat(parent, &sb))
			return na_reason_set(why, -ENOTSUP, "state directory %s: %s does not exist",
					     dir, parent);
		return na_reason_set(why, -ENOTSUP,
				     "state directory %s: %s is not on a bpffs mount (choose a directory under /sys/fs/bpf)",
				     dir, parent);
	}
	if (mkdir(parent, 0755) && errno != EEXIST)
		return na_reason_set(why, -errno, "cannot create %s: %s", parent, strerror(errno));
	if (mount("bpf", parent, "bpf", 0, "mode=0700")) {
		int err = -errno;

		return na_reason_set(why, err, "cannot mount bpffs on %s: %s%s", parent,
				     strerror(-err), err == -EPERM ? " (needs CAP_SYS_ADMIN)" : "");
	}
	na_lib_log(NA_LOG_INFO, "mounted bpffs on %s", parent);
	return 0;
}

/* Whether dir holds any pin of the local bypass (subdirectories are other
 * datapaths' state). */
static bool has_bypass_pins(const char *dir)
{
	struct dirent *de;
	bool any = false;
	DIR *d = opendir(dir);

	if (!d)
		return false;
	while (!any && (de = readdir(d)))
		any = de->d_name[0] != '.' && de->d_type != DT_DIR;
	closedir(d);
	return any;
}

static int lock_dir(struct na_state *st, bool create, struct na_reason *why)
{
	const char *base = strrchr(st->dir, '/');

	if (create && mkdir(st->dir, 0700) && errno != EEXIST) {
		int err = -errno;

		/* bpffs refuses names with a dot (they are kept for its own
		 * files) with EPERM, which reads like a privilege problem. */
		if (err == -EPERM && base && strchr(base, '.'))
			return na_reason_set(why, err,
					     "cannot create state directory %s: bpffs does not allow '.' in names",
					     st->dir);
		return na_reason_set(why, err, "cannot create state directory %s: %s", st->dir,
				     strerror(-err));
	}
	st->dir_fd = open(st->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (st->dir_fd < 0)
		return -errno;
	if (!on_bpffs(st->dir))
		return na_reason_set(why, -ENOTSUP,
				     "state directory %s is not on a bpffs mount (choose a directory under /sys/fs/bpf)",
				     st->dir);
	/* One writer at a time: commands are read-modify-write on the maps. */
	if (flock(st->dir_fd, LOCK_EX))
		return -errno;
	return 0;
}

/* Open every pinned object; -ENOENT when any is missing. */
static int open_pins(struct na_state *st)
{
	struct {
		const char *name;
		int *fd;
	} pins[] = {
		{ "na_cgroups", &st->map_cgroups },
		{ "na_cgslot", &st->map_cgslot },
		{ "na_stats", &st->map_stats },
		{ "na_sockhash", &st->map_sockhash },
		{ "na_sk_state", &st->map_sk_state },
		{ "prog_create", &st->prog_create },
		{ "prog_sockops", &st->prog_sockops },
		{ "prog_msg", &st->prog_msg },
		{ "prog_setsockopt", &st->prog_setsockopt },
		{ "prog_getsockopt", &st->prog_getsockopt },
	};
	size_t i;

	for (i = 0; i < sizeof(pins) / sizeof(pins[0]); i++) {
		*pins[i].fd = na_state_get_pin(st, pins[i].name);
		if (*pins[i].fd < 0)
			return *pins[i].fd;
	}
	return 0;
}

/*
 * Load the programs and create or reuse the maps, then pin what is not
 * pinned yet. libbpf reuses a pinned map of the same name and shape, and
 * refuses one of another shape (state left by another version).
 */
static int load_and_pin(struct na_state *st, struct na_reason *why)
{
	struct bpf_program *progs[NA_NUM_PROGS];
	long page = sysconf(_SC_PAGESIZE);
	struct na_bypass *skel = NULL;
	struct btf *vmlinux;
	bool want[NA_NUM_GUARDS];
	char path[PATH_MAX];
	int err = -EINVAL;
	size_t i;
	int tries;

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
		struct bpf_map *map;

		skel = na_bypass__open();
		if (!skel) {
			err = -errno;
			return na_reason_set(why, err, "cannot open the BPF object: %s",
					     strerror(-err));
		}
		if (page > 0)
			skel->rodata->na_page_size = page;
		for (i = 0; i < NA_NUM_GUARDS; i++)
			bpf_program__set_autoload(guard_prog(skel, i), want[i]);
		bpf_object__for_each_map(map, skel->obj) {
			if (bpf_map__is_internal(map))
				continue;
			err = na_state_pin_path(st, bpf_map__name(map), path, sizeof(path));
			if (err || (err = bpf_map__set_pin_path(map, path)))
				goto out;
		}
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
			   guards[i].prog_pin, strerror(-err));
		want[i] = false;
	}
	if (err) {
		struct na_feature f[NA_MAX_FEATURES];
		size_t k, n = na_probe_features(f, NA_MAX_FEATURES);

		/* The first feature the bypass cannot load without. */
		for (k = 0; k < n; k++)
			if (!f[k].ok && f[k].required && !strcmp(f[k].datapath, "bypass"))
				break;
		if (err != -EPERM && k < n)
			na_reason_set_kind(why, NA_WHY_KERNEL_LACKS, err,
					   "cannot load the BPF programs: this kernel lacks %s",
					   f[k].name);
		else if (err == -EPERM)
			na_reason_set(why, err,
				      "cannot load the BPF programs into the kernel: %s (needs CAP_BPF, CAP_NET_ADMIN and CAP_PERFMON)",
				      strerror(-err));
		else
			na_reason_set_kind(why, NA_WHY_LOAD_FAILED, err,
					   "cannot load the BPF programs into the kernel: %s",
					   strerror(-err));
		goto out;
	}

	progs[0] = skel->progs.na_sock_create;
	progs[1] = skel->progs.na_sockops;
	progs[2] = skel->progs.na_msg;
	progs[3] = skel->progs.na_setsockopt;
	progs[4] = skel->progs.na_getsockopt;
	for (i = 0; i < NA_NUM_PROGS; i++) {
		err = na_state_pin_path(st, prog_pins[i], path, sizeof(path));
		if (err)
			goto out;
		err = na_pin_prog_once(progs[i], path, why);
		if (err)
			goto out;
	}
	for (i = 0; i < NA_NUM_GUARDS; i++) {
		if (!want[i])
			continue;
		err = na_state_pin_path(st, guards[i].prog_pin, path, sizeof(path));
		if (err || (err = na_pin_prog_once(guard_prog(skel, i), path, why)))
			goto out;
	}
	err = 0;
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
		int prog, link;

		err = na_state_pin_path(st, guards[i].link_pin, path, sizeof(path));
		if (err || access(path, F_OK) == 0)
			continue;
		prog = na_state_get_pin(st, guards[i].prog_pin);
		if (prog == -ENOENT)
			continue;	/* this kernel cannot have it */
		if (prog < 0)
			return prog;
		link = bpf_raw_tracepoint_open(NULL, prog);
		if (link < 0 && guards[i].optional) {
			/* status says it is not active */
			na_lib_log(NA_LOG_DEBUG, "cannot attach %s to %s: %s", guards[i].prog_pin,
				   guards[i].target, strerror(errno));
		} else if (link < 0) {
			err = na_reason_set(why, -errno, "cannot attach %s to %s: %s",
					    guards[i].prog_pin, guards[i].target, strerror(errno));
		} else if (bpf_obj_pin(link, path)) {
			err = na_reason_set(why, -errno, "cannot pin %s: %s", path, strerror(errno));
		}
		if (link >= 0)
			close(link);
		close(prog);
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
		/* Making up for a gap this kernel does not have: not listed. */
		if (kernel_fixed(vmlinux, &guards[i])) {
			n--;
			continue;
		}
		p[n].name = guards[i].prog_pin + strlen("prog_");
		p[n].what = guards[i].what;
		p[n].if_missing = guards[i].if_missing;
		p[n].active = na_state_pin_path(st, guards[i].link_pin, path, sizeof(path)) == 0 &&
			      access(path, F_OK) == 0;
	}
	btf__free(vmlinux);
	return n;
}

int na_pin_prog_once(struct bpf_program *prog, const char *path, struct na_reason *why)
{
	int err;

	if (access(path, F_OK) == 0)
		return 0;
	err = bpf_program__pin(prog, path);
	if (err)
		na_reason_set(why, err, "cannot pin %s: %s", path, strerror(-err));
	return err;
}

int na_percpu_zero(int fd, const void *key, size_t value_size, uint64_t flags)
{
	int ncpu = libbpf_num_possible_cpus();
	void *zero;
	int err = 0;

	if (ncpu <= 0)
		return -EINVAL;
	zero = calloc(ncpu, value_size);
	if (!zero)
		return -ENOMEM;
	if (bpf_map_update_elem(fd, key, zero, flags) &&
	    !(flags == BPF_NOEXIST && errno == EEXIST))
		err = -errno;
	free(zero);
	return err;
}

/* Whether prog uses the map map_fd. */
static int prog_uses(int prog, int map_fd)
{
	struct bpf_map_info minfo = {};
	struct bpf_prog_info info = {};
	__u32 len = sizeof(minfo), ids[16], n;

	if (bpf_obj_get_info_by_fd(map_fd, &minfo, &len))
		return -errno;
	len = sizeof(info);
	info.nr_map_ids = 16;
	info.map_ids = (__u64)(unsigned long)ids;
	if (bpf_obj_get_info_by_fd(prog, &info, &len))
		return -errno;
	n = info.nr_map_ids < 16 ? info.nr_map_ids : 16;
	for (__u32 j = 0; j < n; j++)
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

/* Whether the state directory holds nothing but subdirectories (the
 * portmap/ state), i.e. no pin of the bypass at all. */
static bool only_subdirs(const struct na_state *st)
{
	bool any = false, pins = false;
	struct dirent *de;
	DIR *d;

	d = opendir(st->dir);
	if (!d)
		return false;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		any = true;
		if (de->d_type != DT_DIR)
			pins = true;
	}
	closedir(d);
	return any && !pins;
}

int na_state_lock(struct na_state *st, const char *dir, unsigned int flags,
		  struct na_reason *why)
{
	int err;

	state_init(st);
	if (snprintf(st->dir, sizeof(st->dir), "%s", dir) >= (int)sizeof(st->dir))
		return na_reason_set(why, -ENAMETOOLONG, "state directory %s: name too long", dir);
	if ((flags & NA_STATE_CREATE) && (err = na_state_ensure_bpffs(st->dir, why)))
		return err;
	err = lock_dir(st, flags & NA_STATE_CREATE, why);
	if (err) {
		na_reason_set(why, err, "cannot open netaccel state in %s: %s", st->dir,
			      strerror(-err));
		na_state_close(st);
	}
	return err;
}

int na_state_open(struct na_state *st, const char *dir, unsigned int flags,
		  struct na_reason *why)
{
	bool create = flags & NA_STATE_CREATE;
	int err;

	state_init(st);
	na_reason_clear(why);
	if (snprintf(st->dir, sizeof(st->dir), "%s", dir) >= (int)sizeof(st->dir))
		return na_reason_set(why, -ENAMETOOLONG, "state directory %s: name too long", dir);
	if (create && (err = na_state_ensure_bpffs(st->dir, why)))
		return err;
	err = lock_dir(st, create, why);
	if (err)
		goto fail;

	err = open_pins(st);
	if (err == -ENOENT) {
		close_pins(st);
		if (create) {
			err = load_and_pin(st, why);
			if (!err)
				err = open_pins(st);
		} else if (only_subdirs(st)) {
			/* Only other datapaths' state (portmap/): the bypass
			 * is not loaded. */
			err = -ENOENT;
		} else {
			/* The directory is there but not all of it: an
			 * interrupted run. enroll completes it, cleanup
			 * removes it. With none of it, only other datapaths
			 * use the directory. */
			err = has_bypass_pins(st->dir) ? -ENODATA : -ENOENT;
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

int na_percpu_sum(int fd, const void *key, uint64_t *out, size_t n)
{
	int ncpu = libbpf_num_possible_cpus();
	uint64_t *percpu;
	int cpu, err = 0;
	size_t i;

	memset(out, 0, n * sizeof(*out));
	if (ncpu <= 0)
		return ncpu ? ncpu : -EINVAL;
	percpu = calloc((size_t)ncpu, n * sizeof(*percpu));
	if (!percpu)
		return -ENOMEM;
	if (bpf_map_lookup_elem(fd, key, percpu))
		err = -errno;
	for (cpu = 0; cpu < ncpu && !err; cpu++)
		for (i = 0; i < n; i++)
			out[i] += percpu[(size_t)cpu * n + i];
	free(percpu);
	return err;
}

int na_state_read_slot(const struct na_state *st, uint32_t slot,
		       struct na_stats *out)
{
	_Static_assert(sizeof(*out) == NA_NUM_COUNTERS * sizeof(uint64_t),
		       "struct na_stats is its counters");
	return na_percpu_sum(st->map_stats, &slot, (uint64_t *)out, NA_NUM_COUNTERS);
}

int na_state_get_slot(const struct na_state *st, uint32_t slot,
		      struct na_cgroup_cfg *cfg)
{
	return bpf_map_lookup_elem(st->map_cgroups, &slot, cfg) ? -errno : 0;
}

int na_state_find_slot(const struct na_state *st, uint64_t cgid,
		       struct na_cgroup_cfg *cfg)
{
	uint32_t slot;

	for (slot = 0; slot < NA_MAX_CGROUPS; slot++) {
		if (na_state_get_slot(st, slot, cfg))
			continue;
		if (cfg->state != NA_SLOT_FREE && cfg->cgid == cgid)
			return (int)slot;
	}
	return -ENOENT;
}

void na_stats_add(struct na_stats *sum, const struct na_stats *add)
{
	__u64 *d = (__u64 *)sum;
	const __u64 *s = (const __u64 *)add;
	size_t i;

	for (i = 0; i < NA_NUM_COUNTERS; i++)
		d[i] += s[i];
}

int na_state_read_total(const struct na_state *st, struct na_stats *out)
{
	struct na_stats one;
	uint32_t slot;
	int err;

	memset(out, 0, sizeof(*out));
	for (slot = 0; slot < NA_STATS_SLOTS; slot++) {
		err = na_state_read_slot(st, slot, &one);
		if (err)
			return err;
		na_stats_add(out, &one);
	}
	return 0;
}

long na_state_sockhash_fill(const struct na_state *st)
{
	struct na_sock_key key, next;
	void *prev = NULL;
	long n = 0;

	while (bpf_map_get_next_key(st->map_sockhash, prev, &next) == 0) {
		key = next;
		prev = &key;
		if (++n > NA_SOCKHASH_MAX)	/* the map changed under us */
			break;
	}
	return n;
}

int na_stats_read(const char *dir, uint64_t cgid, struct na_stats *out)
{
	struct na_cgroup_cfg cfg;
	struct na_state st;
	int err, slot;

	err = na_state_open(&st, dir, 0, NULL);
	if (err)
		return err;
	if (!cgid) {
		err = na_state_read_total(&st, out);
	} else {
		slot = na_state_find_slot(&st, cgid, &cfg);
		err = slot < 0 ? slot : na_state_read_slot(&st, slot, out);
	}
	na_state_close(&st);
	return err;
}
