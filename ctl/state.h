/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * netaccel's kernel state: the bpffs directory that holds every pinned
 * program, map and link, and the operations on it that commands share.
 */
#ifndef NA_STATE_H
#define NA_STATE_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "netaccel_abi.h"

#define NA_STATE_DIR_ENV "NETACCEL_STATE_DIR"

struct na_state {
	char dir[PATH_MAX];
	int dir_fd;		/* holds the lock while open */
	int map_cgroups;	/* na_cgroups: slot -> struct na_cgroup_cfg */
	int map_cgslot;		/* na_cgslot: cgroup id -> slot (active only) */
	int map_stats;		/* na_stats: per-CPU struct na_stats per slot */
	int map_sockhash;	/* na_sockhash: struct na_sock_key -> socket */
	int map_sk_state;	/* na_sk_state: SK_STORAGE struct na_sk_state */
	int prog_create;	/* cgroup/sock_create */
	int prog_sockops;	/* sockops */
	int prog_msg;		/* sk_msg, attached to na_sockhash */
	int prog_setsockopt;	/* cgroup/setsockopt: netaccel's option level */
	int prog_getsockopt;	/* cgroup/getsockopt: the same, for queries */
};

/* The state directory in force: opt if set, else $NETACCEL_STATE_DIR, else
 * the default. */
const char *na_state_dir(const char *opt);

enum {
	NA_STATE_CREATE = 1 << 0,	/* mount bpffs, load and pin what is missing */
	NA_STATE_QUIET = 1 << 1,	/* the caller explains the errors below */
};

/*
 * Open the state under dir and take its lock. With NA_STATE_CREATE, mount
 * bpffs if needed, and load and pin whatever is missing (completing a
 * half-made state). Without it: -ENOENT when there is no state directory,
 * -ENODATA when it is incomplete. -EUCLEAN when pinned programs and maps do
 * not belong together. Errors are printed, -ENOENT never, and with
 * NA_STATE_QUIET none of these three.
 */
int na_state_open(struct na_state *st, const char *dir, unsigned int flags);
void na_state_close(struct na_state *st);
/*
 * Only take the lock of the state directory (made, on a mounted bpffs, with
 * NA_STATE_CREATE), for datapaths that keep their pins in a subdirectory.
 * -ENOENT when there is no directory (not printed). Close with
 * na_state_close.
 */
int na_state_lock(struct na_state *st, const char *dir, unsigned int flags);

/* Mount bpffs where the state directory dir needs it (the usual
 * /sys/fs/bpf); prints what is wrong otherwise. For other datapaths that
 * keep their pins in a subdirectory. */
int na_state_ensure_bpffs(const char *dir);

/* Path of the pin called name in the state directory. */
int na_state_pin_path(const struct na_state *st, const char *name, char *out,
		      size_t outlen);
/* A new fd for the pin called name; negative errno (-ENOENT: not pinned). */
int na_state_get_pin(const struct na_state *st, const char *name);

/* The enrollment in a slot; the slot enrolling cgid (-ENOENT: none). */
int na_state_get_slot(const struct na_state *st, uint32_t slot,
		      struct na_cgroup_cfg *cfg);
int na_state_find_slot(const struct na_state *st, uint64_t cgid,
		       struct na_cgroup_cfg *cfg);

/* Sockets on the fast path now (entries in the sockhash). */
long na_state_sockhash_fill(const struct na_state *st);

struct btf;

/* A kernel feature a datapath uses, and whether this kernel has it. */
struct na_feature {
	const char *datapath;	/* bypass, portmap, veth */
	const char *name;
	const char *if_missing;	/* optional: what the datapath does without */
	bool required;		/* without it the datapath cannot load */
	bool ok;
};
#define NA_MAX_FEATURES 32
/* Probe the running kernel (features.c); fills at most max, returns how
 * many. */
size_t na_probe_features(struct na_feature *f, size_t max);
/* The running kernel's BTF (btf__free it), NULL if it has none. */
struct btf *na_kernel_btf(void);
/* Whether btf has the struct, union or enum name (of kind) with member
 * or value part. */
bool na_btf_has_part(const struct btf *btf, const char *name, int kind, const char *part);
/* The running kernel's version; Debian's package version where the
 * release string has only the ABI. 0 or negative errno. */
int na_kernel_version(unsigned int *major, unsigned int *minor, unsigned int *patch);

/* A protection of the local bypass that needs a tracing program. */
struct na_protection {
	const char *name;	/* blocking, rxwatch, fionread */
	const char *what;	/* what it does, one line */
	const char *if_missing;	/* what follows when it is not active */
	bool active;		/* its link is pinned (attached) */
};
#define NA_MAX_PROTECTIONS 8
/* Fills p with each protection and whether it is attached; returns how
 * many. */
size_t na_state_protections(const struct na_state *st, struct na_protection *p);

/* Set key of the per-CPU map fd to zeros (value_size bytes per CPU);
 * flags as for bpf_map_update_elem, an existing key is fine with
 * BPF_NOEXIST. 0 or negative errno. */
int na_percpu_zero(int fd, const void *key, size_t value_size, uint64_t flags);

/* Sum over the CPUs of key's value in the per-CPU map fd, a value being n
 * 64-bit counters, into out[0..n). 0 or negative errno (out zeroed then). */
int na_percpu_sum(int fd, const void *key, uint64_t *out, size_t n);

/* Pin prog at path unless something is pinned there already (a state
 * being completed keeps its programs). Prints the error. */
struct bpf_program;
int na_pin_prog_once(struct bpf_program *prog, const char *path);

/* Sum of the per-CPU counters of one slot, and of all slots. */
int na_state_read_total(const struct na_state *st, struct na_stats *out);
void na_stats_add(struct na_stats *sum, const struct na_stats *add);
int na_state_read_slot(const struct na_state *st, uint32_t slot,
		       struct na_stats *out);

/*
 * Counters of the enrolled (or still draining) cgroup with id cgid, or the
 * total over all slots when cgid is 0. For tests and tools: opens the state
 * read-only, without printing. -ENOENT when there is no state or no slot
 * for cgid.
 */
int na_stats_read(const char *dir, uint64_t cgid, struct na_stats *out);

#endif /* NA_STATE_H */
