/* SPDX-License-Identifier: GPL-2.0-only */
/* What the modules of libnetaccel share and do not export. */
#ifndef NA_LIB_INTERNAL_H
#define NA_LIB_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <netaccel/reason.h>
#include <netaccel/state.h>

/* Hand detail to the caller's log function, if any. */
__attribute__((format(printf, 2, 3)))
void na_lib_log(enum na_log_level level, const char *fmt, ...);

/* Whether dir holds anything (pins, and with subdirs other datapaths'
 * subdirectories). */
bool na_dir_has_pins(const char *dir, bool subdirs);

/* An fd of the state directory dir, which must be on a bpffs, holding its
 * lock when lock; negative errno. */
int na_state_open_dir(const char *dir, bool lock, struct na_reason *why);

/* Open and lock the state directory dir for st (made, with bpffs mounted
 * where needed, when create); why says what is wrong. The caller closes st
 * with na_state_close, also on failure. */
struct na_state;
int na_state_begin(struct na_state *st, const char *dir, bool create, struct na_reason *why);

/* The directory of cg, open for attaching to: its fd, or a negative
 * errno with why said. */
struct na_cgroup;
int na_open_cgroup(const struct na_cgroup *cg, struct na_reason *why);

/* What a datapath's refused cgroup attachment says after the kernel's
 * cause: perm after EPERM, kernel after EINVAL or EOPNOTSUPP (a hook
 * this kernel does not have). */
struct na_attach_needs {
	const char *perm;
	const char *kernel;
};

/*
 * na_link_pin for the hook of a cgroup (cg, open as cgfd) that people
 * know as hook: a refused attachment is said as "cannot attach <hook> to
 * <cgroup>: <cause>" and what it needs, with kind NA_WHY_ATTACH_FAILED.
 */
enum bpf_attach_type;
int na_link_pin_cgroup(int prog, const struct na_cgroup *cg, int cgfd, enum bpf_attach_type type,
		       const char *hook, const char *path, const struct na_attach_needs *needs,
		       struct na_reason *why);

/* ---- the core's own calls, for the datapath modules ---- */

struct btf;

/*
 * Only take the lock of the state directory (made, on a mounted bpffs, with
 * NA_STATE_CREATE), for datapaths that keep their pins in a subdirectory.
 * -ENOENT when there is no directory. Close with na_state_close.
 */
int na_state_lock(struct na_state *st, const char *dir, unsigned int flags,
		  struct na_reason *why);

/*
 * Remove the pins directly in dir, by name prefix in the order given
 * (links before programs before maps: "" takes what is left), so that a
 * run killed half-way leaves maps a later run reuses, never programs
 * without their maps; then dir itself. A missing dir is nothing to do.
 * first, if set, counts the pins removed under order[0]. 0 or the last
 * negative errno.
 */
int na_unpin_dir(const char *dir, const char *const *order, size_t n, int *first);

/*
 * Remove the cgroup links pinned in dir as "cg<ID>_<kind>" whose cgroup
 * the caller no longer uses (in_use false), each said at NA_LOG_INFO.
 * How many went, or a negative errno.
 */
int na_sweep_cgroup_links(const char *dir, bool (*in_use)(uint64_t id, void *arg), void *arg);

/*
 * Attach prog to target (a cgroup's fd, an interface's index) with a BPF
 * link of type pinned at path, unless something is pinned there already:
 * 1 when it attached, 0 when the pin was there, a negative errno
 * otherwise. A link that cannot be pinned is closed, which detaches it. A
 * refused attachment fills why with kind NA_WHY_ATTACH_FAILED.
 */
enum bpf_attach_type;
int na_link_pin(int prog, int target, enum bpf_attach_type type, const char *path,
		struct na_reason *why);

/* Path of the pin called name in the state directory. */
int na_state_pin_path(const struct na_state *st, const char *name, char *out,
		      size_t outlen);
/* A new fd for the pin called name; negative errno (-ENOENT: not pinned). */
int na_state_get_pin(const struct na_state *st, const char *name);

/* Whether this CPU's kernel copy to user space is several times slower into
 * a buffer off the source's 32-byte alignment (copyprobe.c): 1 or 0, or -1
 * when it could not be measured. NA_COPY_SLOW_ENV set to 0 or 1 answers
 * instead of the measurement. */
#define NA_COPY_SLOW_ENV "NETACCEL_COPY_SLOW"
int na_copy_misaligned_slow(void);

/* The running kernel's BTF (btf__free it), NULL if it has none. */
struct btf *na_kernel_btf(void);
/* Whether btf has the struct, union or enum name (of kind) with member
 * or value part. */
bool na_btf_has_part(const struct btf *btf, const char *name, int kind, const char *part);

/* The maps of the proxy splice, pinned under a directory (splice_state.c)
 * or loaded by a process (splice.c). */
struct na_splice_maps {
	int socks, dirs, resume, stats;
};
/* Open the maps pinned in dir (its splice subdirectory): all, or none
 * and a negative errno (that of the first that failed). */
int na_splice_open_maps(const char *dir, struct na_splice_maps *m);
void na_splice_close_maps(struct na_splice_maps *m);

/* Set key of the per-CPU map fd to zeros (value_size bytes per CPU);
 * flags as for bpf_map_update_elem, an existing key is fine with
 * BPF_NOEXIST. 0 or negative errno. */
int na_percpu_zero(int fd, const void *key, size_t value_size, uint64_t flags);

/* Sum over the CPUs of key's value in the per-CPU map fd, a value being n
 * 64-bit counters, into out[0..n). 0 or negative errno (out zeroed then). */
int na_percpu_sum(int fd, const void *key, uint64_t *out, size_t n);

/* What na_bypass_reconcile does with an enrolled slot in state (enum
 * na_slot_state) whose cgroup may be gone and whose sockets may all have
 * left the fast path: NA_RECONCILE_* bits. */
enum { NA_RECONCILE_DRAIN = 1 << 0, NA_RECONCILE_FREE = 1 << 1 };
unsigned int na_bypass_reconcile_slot(uint32_t state, bool cgroup_gone, bool drained);

/* Entries in the map fd (at most max + 1 are walked); negative errno. */
long na_map_count(int fd, long max);

#endif /* NA_LIB_INTERNAL_H */
