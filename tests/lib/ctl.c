/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * netaccel-ctl run against a test world's state directory: exit code,
 * stdout and stderr captured, every run bounded, and the commands and
 * counters the tests use.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "na_test.h"
#include "na_world.h"
#include <netaccel/state.h>
#include "internal.h"

/* ---- the CLI ------------------------------------------------------------ */

#define CTL_MAX_ARGS 32

static int ctl_run(struct na_world *w, struct na_ctl_result *r,
		   const char *const *args, size_t nargs)
{
	const char *argv[CTL_MAX_ARGS + 4];
	int out[2] = { -1, -1 }, errp[2] = { -1, -1 };
	size_t olen = 0, elen = 0;
	int64_t deadline;
	pid_t pid;
	int err = 0;

	memset(r, 0, sizeof(*r));
	r->status = -1;
	if (nargs > CTL_MAX_ARGS)
		return -E2BIG;
	argv[0] = w->ctl;
	argv[1] = "--state-dir";
	argv[2] = w->state_dir;
	for (size_t i = 0; i < nargs; i++)
		argv[3 + i] = args[i];
	argv[3 + nargs] = NULL;

	if (pipe2(out, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0) {
		err = -errno;
		goto out;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		err = -errno;
		goto out;
	}
	if (pid == 0) {
		na_tl_reset_signals_in_child();
		dup2(out[1], 1);
		dup2(errp[1], 2);
		syscall(SYS_close_range, 3, ~0U, 0);
		execv(w->ctl, (char *const *)argv);
		_exit(127);
	}
	close(out[1]);
	close(errp[1]);
	out[1] = errp[1] = -1;

	deadline = na_test_now_ms() + NA_WORLD_CTL_TIMEOUT_MS;
	while (out[0] >= 0 || errp[0] >= 0) {
		struct pollfd p[2] = { { .fd = out[0], .events = POLLIN },
				       { .fd = errp[0], .events = POLLIN } };
		int64_t left = deadline - na_test_now_ms();

		if (left <= 0) {
			err = -ETIMEDOUT;
			break;
		}
		if (poll(p, 2, (int)left) < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			break;
		}
		for (int k = 0; k < 2; k++) {
			int *fd = k ? &errp[0] : &out[0];
			char *buf = k ? r->err : r->out;
			size_t size = k ? sizeof(r->err) : sizeof(r->out);
			size_t *len = k ? &elen : &olen;
			char sink[4096];
			ssize_t n;

			if (*fd < 0 || !p[k].revents)
				continue;
			if (*len + 1 < size)
				n = read(*fd, buf + *len, size - 1 - *len);
			else
				n = read(*fd, sink, sizeof(sink));	/* truncated */
			if (n <= 0) {
				close(*fd);
				*fd = -1;
			} else if (*len + 1 < size) {
				*len += (size_t)n;
			}
		}
	}
	r->status = na_test_reap_bounded(pid, err == -ETIMEDOUT ? 0 : NA_WORLD_CTL_TIMEOUT_MS);
	if (r->status < 0 && !err)
		err = r->status;
out:
	for (int k = 0; k < 2; k++) {
		if (out[k] >= 0)
			close(out[k]);
		if (errp[k] >= 0)
			close(errp[k]);
	}
	return err;
}

static size_t collect_args(va_list ap, const char **args)
{
	size_t n = 0;
	const char *a;

	while ((a = va_arg(ap, const char *)) && n < CTL_MAX_ARGS + 1)
		args[n++] = a;
	return n;
}

int na_world_ctl(struct na_world *w, struct na_ctl_result *r, ...)
{
	const char *args[CTL_MAX_ARGS + 1];
	va_list ap;
	size_t n;

	va_start(ap, r);
	n = collect_args(ap, args);
	va_end(ap);
	return ctl_run(w, r, args, n);
}

static void print_failed(const struct na_ctl_result *r, const char *const *args,
			 size_t n, int err)
{
	char cmd[512] = "";
	size_t len = 0;

	for (size_t i = 0; i < n && len < sizeof(cmd); i++)
		len += (size_t)snprintf(cmd + len, sizeof(cmd) - len, " %s", args[i]);
	if (err)
		na_test_diag("netaccel-ctl%s: %s", cmd, strerror(-err));
	else
		na_test_diag("netaccel-ctl%s: exit %d", cmd, r->status);
	for (char *line = strtok((char *)r->err, "\n"); line; line = strtok(NULL, "\n"))
		na_test_diag("  stderr: %s", line);
}

int na_world_ctl_ok(struct na_world *w, ...)
{
	const char *args[CTL_MAX_ARGS + 1];
	struct na_ctl_result *r = malloc(sizeof(*r));
	va_list ap;
	size_t n;
	int err;

	if (!r)
		return -ENOMEM;
	va_start(ap, w);
	n = collect_args(ap, args);
	va_end(ap);
	err = ctl_run(w, r, args, n);
	if (err || r->status)
		print_failed(r, args, n, err);
	if (!err)
		err = r->status;
	free(r);
	return err;
}

int na_world_enroll(struct na_world *w, const char *path, const char *mode)
{
	return na_world_ctl_ok(w, "enroll", path, "--mode", mode, NULL);
}

int na_world_unenroll(struct na_world *w, const char *path)
{
	return na_world_ctl_ok(w, "unenroll", path, NULL);
}

int na_world_stats(struct na_world *w, uint64_t cgid, struct na_stats *out)
{
	memset(out, 0, sizeof(*out));
	return na_stats_read(w->state_dir, cgid, out);
}

bool na_world_state_exists(struct na_world *w)
{
	return na_tl_exists(w->state_dir);
}
