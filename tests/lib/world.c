/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The test world: its set-up (scratch cgroups, a private state directory),
 * forked helper processes, and the per-test bracket. The teardown that
 * runs on every way out is in teardown.c, the CLI runner in ctl.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "na_test.h"
#include "na_world.h"
#include "internal.h"

/* ---- set-up ------------------------------------------------------------- */

void na_world_skip(const char *why)
{
	const char *out = getenv("CMOCKA_MESSAGE_OUTPUT");

	/* meson's TAP protocol reads a non-zero exit as an error, so a TAP
	 * run says "skip" in TAP; anything else gets the automake code. */
	if (out && !strcasecmp(out, "TAP")) {
		printf("1..0 # SKIP %s\n", why);
		exit(0);
	}
	fprintf(stderr, "SKIP: %s\n", why);
	exit(77);
}

void na_world_require(void)
{
	char root[PATH_MAX];
	const char *ctl = getenv("NETACCEL_CTL");

	if (geteuid() != 0)
		na_world_skip("needs root (cgroups, BPF, network namespaces)");
	if (!ctl || access(ctl, X_OK) != 0)
		na_world_skip("NETACCEL_CTL does not name the built netaccel-ctl");
	if (na_cgroup_find_mount(NULL, root, sizeof(root)) != 0)
		na_world_skip("no cgroup v2 hierarchy is mounted");
}

void na_world_bail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	na_tl_vprint_line("Bail out! ", fmt, ap);
	va_end(ap);
	exit(1);
}

int na_world_init(struct na_world *w, const char *name)
{
	int err;

	memset(w, 0, sizeof(*w));
	snprintf(w->name, sizeof(w->name), "%s", name);
	w->owner = getpid();
	w->ctl = getenv("NETACCEL_CTL");
	err = na_cgroup_find_mount(NULL, w->cgroot, sizeof(w->cgroot));
	if (err)
		return err;
	err = na_cgroup_of_pid(w->cgroot, NULL, getpid(), w->orig_cg,
			       sizeof(w->orig_cg));
	if (err)
		return err;
	na_tl_sweep_stale(w->ctl, w->cgroot);

	if ((size_t)snprintf(w->base, sizeof(w->base), "%s/" WORLD_PREFIX "%s-%d",
			     w->cgroot, w->name, (int)w->owner) >= sizeof(w->base))
		return -ENAMETOOLONG;
	snprintf(w->state_dir, sizeof(w->state_dir), BPFFS "/" WORLD_PREFIX "%s-%d",
		 w->name, (int)w->owner);
	na_tl_arm_teardown(w);
	if (mkdir(w->base, 0755) < 0 && errno != EEXIST)
		return -errno;
	snprintf(w->cgroups[0], sizeof(w->cgroups[0]), "%s", w->base);
	w->ncgroups = 1;
	return 0;
}

int na_world_cgroup(struct na_world *w, const char *rel, struct na_cgroup *out)
{
	char path[PATH_MAX];
	bool created = false;

	if (snprintf(path, sizeof(path), "%s/%s", w->base, rel) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	if (mkdir(path, 0755) == 0)
		created = true;
	else if (errno != EEXIST)
		return -errno;
	if (created) {
		if (w->ncgroups >= NA_WORLD_MAX_CGROUPS) {
			rmdir(path);
			return -ENOSPC;
		}
		snprintf(w->cgroups[w->ncgroups], PATH_MAX, "%s", path);
		w->ncgroups++;
	}
	return na_cgroup_from_path(w->cgroot, path, out);
}

int na_world_enter(struct na_world *w, const char *path)
{
	return na_cgroup_enter(path, 0);
}

int na_world_leave(struct na_world *w)
{
	return na_cgroup_enter(w->orig_cg, 0);
}

/* ---- helper processes --------------------------------------------------- */

pid_t na_world_fork(struct na_world *w, int (*fn)(void *), void *arg)
{
	pid_t pid;

	if (w->nkids >= NA_WORLD_MAX_KIDS)
		return -ENOSPC;
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		int rc;

		na_tl_reset_signals_in_child();
		rc = fn(arg);
		fflush(NULL);
		_exit(rc & 0xff);
	}
	w->kids[w->nkids++] = pid;
	return pid;
}

int na_world_wait(struct na_world *w, pid_t pid, int timeout_ms)
{
	for (int i = 0; i < w->nkids; i++)
		if (w->kids[i] == pid) {
			w->kids[i] = w->kids[--w->nkids];
			break;
		}
	return na_test_reap_bounded(pid, timeout_ms);
}

/* ---- per-test bracket --------------------------------------------------- */

#define MAX_TRACKED_FD (int)(sizeof(((struct na_world *)0)->fds_at_start) * 8)

void na_world_test_begin(struct na_world *w, unsigned watchdog_s)
{
	alarm(watchdog_s);
	memset(w->fds_at_start, 0, sizeof(w->fds_at_start));
	for (int fd = 0; fd < MAX_TRACKED_FD; fd++)
		if (fcntl(fd, F_GETFD) >= 0)
			w->fds_at_start[fd / 8] |= (unsigned char)(1 << (fd % 8));
}

void na_world_test_end(struct na_world *w)
{
	alarm(0);
	for (int i = 0; i < w->nkids; i++) {
		kill(w->kids[i], SIGKILL);
		na_test_reap_bounded(w->kids[i], 1000);
	}
	w->nkids = 0;
	for (int fd = 0; fd < MAX_TRACKED_FD; fd++)
		if (!(w->fds_at_start[fd / 8] & (1 << (fd % 8))))
			close(fd);
	if (na_world_leave(w))
		na_test_diag("cannot move back to %s", w->orig_cg);
}
