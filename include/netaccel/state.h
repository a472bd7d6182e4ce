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

#include <netaccel/reason.h>

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
};

/*
 * Open the state under dir and take its lock. With NA_STATE_CREATE, mount
 * bpffs if needed, and load and pin whatever is missing (completing a
 * half-made state). Without it: -ENOENT when there is no state directory
 * (or only other datapaths' state in it), -ENODATA when it is incomplete.
 * -EUCLEAN when pinned programs and maps do not belong together. Every
 * failure fills why (may be NULL).
 */
int na_state_open(struct na_state *st, const char *dir, unsigned int flags,
		  struct na_reason *why);
void na_state_close(struct na_state *st);
/* Mount bpffs where the state directory dir needs it (the usual
 * /sys/fs/bpf); why says what is wrong otherwise. For other datapaths that
 * keep their pins in a subdirectory. */
int na_state_ensure_bpffs(const char *dir, struct na_reason *why);

/* Whether the caller has the capabilities to read the state (attach
 * false) or to change it and attach programs (attach true): -EPERM with
 * why naming what is needed and what is missing. */
int na_caps_check(bool attach, struct na_reason *why);

/* The enrollment in a slot; the slot enrolling cgid (-ENOENT: none). */
int na_state_get_slot(const struct na_state *st, uint32_t slot,
		      struct na_cgroup_cfg *cfg);
int na_state_find_slot(const struct na_state *st, uint64_t cgid,
		       struct na_cgroup_cfg *cfg);

/* Sockets on the fast path now (entries in the sockhash). */
long na_state_sockhash_fill(const struct na_state *st);
/* Entries in the state's map called map; negative errno. */
long na_state_map_count(const struct na_state *st, const char *map);
/* The kernel's id of the program fd (0: not a program). */
uint32_t na_prog_id(int fd);

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
/* The running kernel's version; Debian's package version where the
 * release string has only the ABI. 0 or negative errno. */
int na_kernel_version(unsigned int *major, unsigned int *minor, unsigned int *patch);

/* A protection of the local bypass that needs a tracing program. */
struct na_protection {
	const char *name;	/* blocking, rxwatch, fionread, slowcopy */
	const char *what;	/* what it does, one line */
	const char *if_missing;	/* what follows when it is not active */
	bool active;		/* its link is pinned (attached) */
};
#define NA_MAX_PROTECTIONS 8
/* Fills p with each protection and whether it is attached; returns how
 * many. */
size_t na_state_protections(const struct na_state *st, struct na_protection *p);

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

/* The programs pinned in a state directory and its datapaths'
 * subdirectories, with the kernel's run-time statistics of each (counted
 * while they are enabled). */
struct na_prog_stat {
	char name[16];
	uint32_t id;
	uint64_t run_ns, runs;
};
/* Turn the kernel's run-time statistics on for as long as the returned fd
 * stays open (negative errno: cannot). */
int na_prog_stats_enable(void);
/* Fills at most max; returns how many. */
size_t na_prog_stats(const char *state_dir, struct na_prog_stat *out, size_t max);

#endif /* NA_STATE_H */
