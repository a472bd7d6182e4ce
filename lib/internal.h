/* SPDX-License-Identifier: GPL-2.0-only */
/* What the modules of libnetaccel share and do not export. */
#ifndef NA_LIB_INTERNAL_H
#define NA_LIB_INTERNAL_H

#include <stdbool.h>

#include <netaccel/reason.h>

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

#endif /* NA_LIB_INTERNAL_H */
