/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The teardown of a test world, which runs on every way out (exit, a fatal
 * signal, the watchdog), and the sweep of the worlds of test programs that
 * were killed. The teardown path uses system calls and precomputed strings
 * only, so that it can run from a signal handler.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "na_test.h"
#include "na_world.h"
#include "internal.h"

#define TEARDOWN_CTL_MS 30000
#define RMDIR_WAIT_MS 5000

static struct na_world *g_world;

/* ---- async-signal-safe helpers ------------------------------------------ */

static void say(const char *a, const char *b)
{
	/* Diagnostics of the teardown go to stderr: stdout carries TAP. */
	if (write(2, a, strlen(a)) < 0 || (b && write(2, b, strlen(b)) < 0) ||
	    write(2, "\n", 1) < 0)
		return;
}

static void fmt_long(char *buf, long v)
{
	char tmp[24];
	int n = 0, i = 0;

	if (v < 0) {
		buf[i++] = '-';
		v = -v;
	}
	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		buf[i++] = tmp[--n];
	buf[i] = 0;
}

static int write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	int err = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, s, strlen(s)) < 0)
		err = -errno;
	close(fd);
	return err;
}

/* Concatenate into buf (bounded); returns buf. */
static char *cat3(char *buf, size_t size, const char *a, const char *b,
		  const char *c)
{
	size_t n = 0;

	for (const char *parts[3] = { a, b, c }, **p = parts; p < parts + 3; p++)
		for (const char *s = *p; s && *s && n + 1 < size; s++)
			buf[n++] = *s;
	buf[n] = 0;
	return buf;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Reap pid within timeout_ms, SIGKILL it after that. Returns the exit code,
 * 128 + signal, or a negative errno. A pidfd makes the wait a poll().
 */
int na_test_reap_bounded(pid_t pid, int timeout_ms)
{
	int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
	int status, r;

	if (pfd >= 0) {
		struct pollfd p = { .fd = pfd, .events = POLLIN };
		int64_t deadline = now_ms() + timeout_ms;

		for (;;) {
			int64_t left = deadline - now_ms();

			if (left < 0)
				left = 0;
			r = poll(&p, 1, (int)left);
			if (r >= 0 || errno != EINTR)
				break;
		}
		close(pfd);
		if (r == 0)
			kill(pid, SIGKILL);
	} else {
		kill(pid, SIGKILL);	/* no pidfd: no bounded wait either */
	}
	do {
		r = waitpid(pid, &status, 0);
	} while (r < 0 && errno == EINTR);
	if (r < 0)
		return -errno;
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + WTERMSIG(status);
}

struct linux_dirent64 {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

/*
 * Remove the directory path and what is below it. For bpffs (pins) files
 * are unlinked; for cgroupfs only sub-directories are removed (a cgroup's
 * files go with it), deepest first.
 */
static int rm_tree(const char *path, bool cgroup, int depth)
{
	char buf[4096], child[PATH_MAX];
	int fd, err = 0;
	long n;

	if (depth > 16)
		return -ELOOP;
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	while ((n = syscall(SYS_getdents64, fd, buf, sizeof(buf))) > 0) {
		for (long off = 0; off < n;) {
			struct linux_dirent64 *d = (void *)(buf + off);
			const char *nm = d->d_name;

			off += d->d_reclen;
			if (!strcmp(nm, ".") || !strcmp(nm, ".."))
				continue;
			cat3(child, sizeof(child), path, "/", nm);
			if (d->d_type == DT_DIR)
				rm_tree(child, cgroup, depth + 1);
			else if (!cgroup && unlink(child) < 0 && errno != ENOENT)
				err = -errno;
		}
	}
	close(fd);
	if (rmdir(path) < 0 && errno != ENOENT)
		err = -errno;
	return err;
}

/* Wait (poll on cgroup.events) until no process is left in cgroup path. */
static void wait_unpopulated(const char *path, int timeout_ms)
{
	char ev[PATH_MAX], buf[256];
	int64_t deadline = now_ms() + timeout_ms;
	int fd;

	fd = open(cat3(ev, sizeof(ev), path, "/cgroup.events", NULL),
		  O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	for (;;) {
		ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
		struct pollfd p = { .fd = fd, .events = POLLPRI };
		int64_t left = deadline - now_ms();

		if (n <= 0 || left <= 0)
			break;
		buf[n] = 0;
		if (strstr(buf, "populated 0"))
			break;
		poll(&p, 1, (int)(left < 100 ? left : 100));
	}
	close(fd);
}

/* cgroup.kill the tree at path (the caller is not in it), then remove it. */
static int kill_and_remove_cgroup(const char *path)
{
	char kill_path[PATH_MAX];

	write_file(cat3(kill_path, sizeof(kill_path), path, "/cgroup.kill", NULL), "1");
	wait_unpopulated(path, RMDIR_WAIT_MS);
	return rm_tree(path, true, 0);
}

/* `netaccel-ctl --state-dir dir cleanup --force`, its stdout sent to
 * stderr. Returns its exit code or a negative errno. */
static int run_force_cleanup(const char *ctl, const char *dir)
{
	char *const argv[] = { (char *)ctl, (char *)"--state-dir", (char *)dir,
			       (char *)"cleanup", (char *)"--force", NULL };
	pid_t pid;

	if (!ctl)
		return -ENOENT;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		dup2(2, 1);
		execv(ctl, argv);
		_exit(127);
	}
	return na_test_reap_bounded(pid, TEARDOWN_CTL_MS);
}

bool na_tl_exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

void na_world_teardown(struct na_world *w)
{
	char pid[24], procs[PATH_MAX];
	bool out_of_world;
	int err;

	if (!w || w->owner != getpid() ||
	    __atomic_exchange_n(&w->torn_down, 1, __ATOMIC_SEQ_CST))
		return;

	for (int i = 0; i < w->nkids; i++) {
		kill(w->kids[i], SIGKILL);
		na_test_reap_bounded(w->kids[i], 1000);
	}
	w->nkids = 0;

	/* Out of the scratch cgroups first: they are about to be killed. */
	fmt_long(pid, getpid());
	err = write_file(cat3(procs, sizeof(procs), w->orig_cg, "/cgroup.procs",
			      NULL), pid);
	out_of_world = err == 0;
	if (!out_of_world)
		say("# teardown: cannot move back to ", w->orig_cg);

	if (na_tl_exists(w->state_dir)) {
		err = run_force_cleanup(w->ctl, w->state_dir);
		if (err != 0)
			say("# teardown: `cleanup --force` failed for ", w->state_dir);
		if (na_tl_exists(w->state_dir)) {
			say("# teardown: removing the pins left in ", w->state_dir);
			rm_tree(w->state_dir, false, 0);
		}
	}

	if (out_of_world && w->ncgroups > 0)
		kill_and_remove_cgroup(w->base);
	else
		for (int i = w->ncgroups - 1; i >= 0; i--)
			rmdir(w->cgroups[i]);
	if (na_tl_exists(w->base))
		say("# teardown: cannot remove ", w->base);
	if (na_tl_exists(w->state_dir))
		say("# teardown: cannot remove ", w->state_dir);
}

static void on_exit_teardown(void)
{
	na_world_teardown(g_world);
}

static void on_fatal_signal(int sig)
{
	if (sig == SIGALRM)
		say("# netaccel test: a test outran its watchdog (a hang no bounded wait "
		    "caught); tearing the test world down", NULL);
	else
		say("# netaccel test: caught a fatal signal, tearing the test world down",
		    NULL);
	na_world_teardown(g_world);
	signal(sig, SIG_DFL);
	raise(sig);
}

static const int fatal_signals[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGALRM };

void na_tl_arm_teardown(struct na_world *w)
{
	static bool armed;
	struct sigaction sa = { .sa_handler = on_fatal_signal };

	g_world = w;
	if (armed)
		return;
	armed = true;
	atexit(on_exit_teardown);
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(fatal_signals) / sizeof(fatal_signals[0]); i++)
		sigaction(fatal_signals[i], &sa, NULL);
	/* A peer that vanishes must give EPIPE, not kill the test. */
	signal(SIGPIPE, SIG_IGN);
}

void na_tl_reset_signals_in_child(void)
{
	sigset_t none;

	for (size_t i = 0; i < sizeof(fatal_signals) / sizeof(fatal_signals[0]); i++)
		signal(fatal_signals[i], SIG_DFL);
	signal(SIGSEGV, SIG_DFL);
	signal(SIGBUS, SIG_DFL);
	signal(SIGABRT, SIG_DFL);
	alarm(0);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

/* ---- worlds left by killed test programs -------------------------------- */

static bool pid_alive(long pid)
{
	return kill((pid_t)pid, 0) == 0 || errno != ESRCH;
}

/* The pid at the end of "netaccel-test-<name>-<pid>", or -1. */
static long world_pid(const char *entry)
{
	const char *dash = strrchr(entry, '-');
	char *end;
	long pid;

	if (strncmp(entry, WORLD_PREFIX, strlen(WORLD_PREFIX)) || !dash)
		return -1;
	pid = strtol(dash + 1, &end, 10);
	return *end || pid <= 0 ? -1 : pid;
}

/* Remove the worlds of test programs that died without their teardown
 * (SIGKILL). Worlds of live processes are left alone. */
void na_tl_sweep_stale(const char *ctl, const char *cgroot)
{
	const char *dirs[] = { BPFFS, cgroot };

	for (size_t k = 0; k < 2; k++) {
		DIR *d = opendir(dirs[k]);
		struct dirent *e;

		if (!d)
			continue;
		while ((e = readdir(d))) {
			char sdir[PATH_MAX], cg[PATH_MAX];
			long pid = world_pid(e->d_name);

			if (pid < 0 || pid_alive(pid))
				continue;
			snprintf(sdir, sizeof(sdir), "%s/%s", BPFFS, e->d_name);
			snprintf(cg, sizeof(cg), "%s/%s", cgroot, e->d_name);
			na_test_diag("sweeping the world of dead test process %ld: %s",
				     pid, e->d_name);
			if (na_tl_exists(sdir)) {
				run_force_cleanup(ctl, sdir);
				rm_tree(sdir, false, 0);
			}
			if (na_tl_exists(cg))
				kill_and_remove_cgroup(cg);
		}
		closedir(d);
	}
}
