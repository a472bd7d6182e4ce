/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * netaccel-agent as a daemon (daemon.c): apply the policy, then follow the
 * host. Cgroups coming and going (inotify on the cgroup tree), links and
 * addresses (netlink) and a periodic pass keep the state in step; a
 * change to the policy file, or SIGHUP, reads it again and logs what
 * changed; SIGTERM stops the loop and
 * leaves every program, map and link pinned, so that acceleration goes on
 * and the next start adopts it. Serves the metrics over HTTP, tells
 * systemd it is ready and alive (sd_notify), and after its first pass
 * keeps only the capabilities it needs, under a seccomp allow-list.
 */
#ifndef NA_DAEMON_H
#define NA_DAEMON_H

#include "policy.h"

struct na_daemon_cfg {
	const char *config;		/* the policy file, read again on SIGHUP */
	const char *state_dir;
	const char *root;		/* the cgroup v2 hierarchy */
	const char *metrics_address;	/* NULL: no HTTP endpoint */
	unsigned int resync_s;		/* a full pass at least this often */
	void (*log)(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
};

/* Run until SIGTERM or SIGINT (exit status 0) or a failure at start-up
 * (1); policy is the one loaded already, taken over and freed. */
int na_daemon_run(const struct na_daemon_cfg *cfg, struct na_policy *policy);

#endif /* NA_DAEMON_H */
