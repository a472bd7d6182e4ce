/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What the agent's long-running loops do once set up (harden.c): keep
 * only the capabilities they still need, and run under a seccomp
 * allow-list, where any other system call fails with EPERM (rather than
 * killing the process half-way through an update).
 */
#ifndef NA_HARDEN_H
#define NA_HARDEN_H

#include <stddef.h>

/* Always CAP_BPF and CAP_NET_ADMIN (reading and updating maps, making
 * links; CAP_SYS_ADMIN stands in for CAP_BPF on kernels before 5.8). */
enum {
	NA_HARDEN_LOAD = 1 << 0,	/* CAP_PERFMON: the loop may load programs again */
	NA_HARDEN_CGROUPS = 1 << 1,	/* CAP_DAC_READ_SEARCH: tell a removed cgroup
					 * by its id (open_by_handle_at) */
	NA_HARDEN_NETNS = 1 << 2,	/* CAP_SYS_ADMIN: enter a container's network
					 * namespace to look at its own firewall */
};

/* Drop every other capability, also from the bounding set. 0 or negative
 * errno. */
int na_harden_caps(unsigned int flags);

/* The system calls every loop makes (netlink, maps, pins, memory,
 * signals). */
extern const char *const na_harden_base[];
extern const size_t na_harden_nbase;

/* Allow the base list and extra[0..nextra); names this architecture does
 * not have are skipped. 0 or negative errno. */
int na_harden_seccomp(const char *const *extra, size_t nextra);

#endif /* NA_HARDEN_H */
