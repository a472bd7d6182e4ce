// SPDX-License-Identifier: GPL-2.0-only
/*
 * The processes of a measurement: workers started in a cgroup, a network
 * namespace or under `netaccel-ctl run`; processes that hold the network
 * namespaces of the bridge scenarios (they die with the driver, and the
 * namespaces with them, so nothing is left behind even after SIGKILL); and
 * commands (ip, netaccel-ctl) run inside one of those namespaces.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"
#include "na_test.h"

#define START_TIMEOUT_MS 15000
#define WORKER_GRACE_MS 60000
#define MAX_ARGS 24

static int enter_netns(pid_t ns)
{
	char path[64];
	int fd, err = 0;

	if (!ns)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)ns);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (setns(fd, CLONE_NEWNET) < 0)
		err = -errno;
	close(fd);
	return err;
}

struct start {
	const struct na_bench_place *place;
	char **argv;
	int out;		/* becomes the worker's stdout */
};

static int start_child(void *arg)
{
	struct start *s = arg;
	int err;

	dup2(s->out, 1);
	err = s->place->cgroup ? na_cgroup_enter(s->place->cgroup, 0) : 0;
	if (!err)
		err = enter_netns(s->place->netns);
	if (err) {
		fprintf(stderr, "netaccel-bench: cannot place a worker in %s: %s\n",
			s->place->cgroup ? s->place->cgroup : "its namespace", strerror(-err));
		return 126;
	}
	execv(s->argv[0], s->argv);
	fprintf(stderr, "netaccel-bench: cannot run %s: %s\n", s->argv[0], strerror(errno));
	return 127;
}

/* Start role of job at place; *out reads its stdout. Returns the pid. */
static pid_t start_worker(const struct na_bench_env *env, const struct na_bench_job *job,
			  const char *role, const struct na_bench_place *place, int *out)
{
	char *argv[MAX_ARGS], buf[512];
	int p[2], k = 0, n;
	struct start s;
	pid_t pid;

	if (place->under_run) {
		argv[k++] = (char *)env->world->ctl;
		argv[k++] = (char *)"--state-dir";
		argv[k++] = env->world->state_dir;
		argv[k++] = (char *)"run";
		argv[k++] = (char *)"--";
	}
	argv[k++] = (char *)env->self;
	n = na_bench_job_argv(job, role, argv + k, MAX_ARGS - k, buf, sizeof(buf));
	if (n < 0)
		return n;
	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	s = (struct start){ .place = place, .argv = argv, .out = p[1] };
	pid = na_world_fork(env->world, start_child, &s);
	close(p[1]);
	if (pid < 0) {
		close(p[0]);
		return pid;
	}
	*out = p[0];
	return pid;
}

/* ---- a proxy between client and server ------------------------------- */

struct proxy_start {
	const struct na_bench_place *place;
	char **argv;
	int verbose;
};

static int proxy_child(void *arg)
{
	struct proxy_start *s = arg;
	int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
	int err = s->place->cgroup ? na_cgroup_enter(s->place->cgroup, 0) : 0;

	if (!err)
		err = enter_netns(s->place->netns);
	if (err) {
		fprintf(stderr, "netaccel-bench: cannot place a proxy: %s\n", strerror(-err));
		return 126;
	}
	if (null >= 0) {
		dup2(null, 1);
		if (!s->verbose)
			dup2(null, 2);
	}
	execv(s->argv[0], s->argv);
	fprintf(stderr, "netaccel-bench: cannot run %s: %s\n", s->argv[0], strerror(errno));
	return 127;
}

/* A loopback port nobody listens on now. */
static int free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), port = -EIO;

	if (fd < 0)
		return -errno;
	if (!bind(fd, (struct sockaddr *)&a, len) && !getsockname(fd, (struct sockaddr *)&a, &len))
		port = ntohs(a.sin_port);
	close(fd);
	return port;
}

/* Whether something listens on TCP port in the namespace of ns (0: ours). */
static bool listening(pid_t ns, int port)
{
	char path[64], line[256];
	bool found = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/net/tcp", ns ? (int)ns : (int)getpid());
	f = fopen(path, "r");
	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		unsigned lport, st;

		if (sscanf(line, " %*d: %*8[0-9A-Fa-f]:%x %*8[0-9A-Fa-f]:%*x %x", &lport, &st) == 2)
			found = (int)lport == port && st == 0x0A;
	}
	fclose(f);
	return found;
}

/* The HAProxy configuration of a TCP proxy from port to backend. */
static int haproxy_conf(char *path, size_t len, int port, unsigned backend)
{
	int fd;
	FILE *f;

	snprintf(path, len, "/tmp/netaccel-bench-haproxy-XXXXXX");
	fd = mkstemp(path);
	if (fd < 0)
		return -errno;
	f = fdopen(fd, "w");
	if (!f) {
		close(fd);
		unlink(path);
		return -errno;
	}
	/* One thread, as netaccel-proxy has; TCP mode, no logging. */
	fprintf(f, "global\n    maxconn 8000\n    nbthread 1\n"
		   "defaults\n    mode tcp\n    timeout connect 5s\n"
		   "    timeout client 120s\n    timeout server 120s\n"
		   "listen bench\n    bind 127.0.0.1:%d\n    server s1 127.0.0.1:%u\n",
		port, backend);
	return fclose(f) ? -errno : 0;
}

/*
 * Start the proxy job->proxy at place, from a free port to the server's
 * port, and wait until it listens. *conf is a file to remove afterwards
 * ("" if none). The pid, or a negative errno with why said.
 */
static pid_t start_proxy(const struct na_bench_env *env, const struct na_bench_job *job,
			 const struct na_bench_place *place, int *port, char *conf,
			 size_t conflen, char *why, size_t whylen)
{
	char listen_arg[64], backend_arg[64], mode_arg[32];
	char *argv[12];
	struct proxy_start s = { .place = place, .argv = argv, .verbose = env->verbose };
	int64_t deadline;
	pid_t pid;
	int k = 0, err;

	conf[0] = 0;
	*port = free_port();
	if (*port < 0) {
		snprintf(why, whylen, "no free port for the proxy: %s", strerror(-*port));
		return *port;
	}
	if (!strcmp(job->proxy, "haproxy")) {
		if (!env->haproxy) {
			snprintf(why, whylen, "haproxy is not installed");
			return -ENOENT;
		}
		err = haproxy_conf(conf, conflen, *port, job->port);
		if (err) {
			snprintf(why, whylen, "cannot write HAProxy's configuration: %s",
				 strerror(-err));
			return err;
		}
		argv[k++] = (char *)env->haproxy;
		argv[k++] = (char *)"-db";
		argv[k++] = (char *)"-f";
		argv[k++] = conf;
	} else {
		if (!env->proxy) {
			snprintf(why, whylen, "netaccel-proxy was not found");
			return -ENOENT;
		}
		snprintf(listen_arg, sizeof(listen_arg), "127.0.0.1:%d", *port);
		snprintf(backend_arg, sizeof(backend_arg), "127.0.0.1:%u", job->port);
		snprintf(mode_arg, sizeof(mode_arg), "%s", job->proxy);
		argv[k++] = (char *)env->proxy;
		argv[k++] = (char *)"--listen";
		argv[k++] = listen_arg;
		argv[k++] = (char *)"--backend";
		argv[k++] = backend_arg;
		argv[k++] = (char *)"--mode";
		argv[k++] = mode_arg;
		/* The bench's own state, never the machine's: a splice that
		 * an administrator enabled there would be shared, and each
		 * proxy ends by SIGKILL with its pairs' entries left in it. */
		argv[k++] = (char *)"--state-dir";
		argv[k++] = (char *)env->world->state_dir;
	}
	argv[k] = NULL;
	pid = na_world_fork(env->world, proxy_child, &s);
	if (pid < 0) {
		snprintf(why, whylen, "cannot start the proxy: %s", strerror((int)-pid));
		return pid;
	}
	for (deadline = na_test_now_ms() + START_TIMEOUT_MS; na_test_now_ms() < deadline;) {
		if (listening(place->netns, *port))
			return pid;
		if (waitpid(pid, NULL, WNOHANG) == pid) {
			snprintf(why, whylen, "the proxy (%s) exited at start", job->proxy);
			return -EPROTO;
		}
		usleep(2000);
	}
	kill(pid, SIGKILL);
	na_world_wait(env->world, pid, START_TIMEOUT_MS);
	snprintf(why, whylen, "the proxy (%s) did not listen", job->proxy);
	return -ETIMEDOUT;
}

/* CPU time the whole machine spent busy so far, in microseconds (the
 * kernel path of a proxy works in softirqs and kernel threads, which no
 * process's own CPU time shows). */
static double machine_busy_us(void)
{
	unsigned long long v[8] = { 0 };
	FILE *f = fopen("/proc/stat", "r");
	long hz = sysconf(_SC_CLK_TCK);

	if (!f)
		return 0;
	if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2],
		   &v[3], &v[4], &v[5], &v[6], &v[7]) != 8)
		v[0] = v[1] = v[2] = v[5] = v[6] = 0;
	fclose(f);
	/* user, nice, system, irq, softirq (not idle, iowait, steal) */
	return (double)(v[0] + v[1] + v[2] + v[5] + v[6]) * 1e6 / (double)(hz > 0 ? hz : 100);
}

/* One line of a worker's output that starts with key, within timeout_ms. */
static int read_line(int fd, const char *key, char *line, size_t len, int timeout_ms)
{
	int64_t deadline = na_test_now_ms() + timeout_ms;
	size_t n = 0;

	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int64_t left = deadline - na_test_now_ms();
		ssize_t r;

		if (left <= 0)
			return -ETIMEDOUT;
		if (poll(&p, 1, (int)left) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (!p.revents)
			continue;
		r = read(fd, line + n, 1);
		if (r <= 0)
			return -EPIPE;	/* the worker ended without saying it */
		if (line[n] != '\n') {
			if (n + 2 < len)
				n++;
			continue;
		}
		line[n] = 0;
		if (!strncmp(line, key, strlen(key)))
			return 0;
		n = 0;
	}
}

int na_bench_measure(const struct na_bench_env *env, struct na_bench_job *job,
		     const struct na_bench_place *srv,
		     const struct na_bench_place *cli,
		     struct na_bench_result *r, char *why, size_t whylen)
{
	int sout = -1, cout = -1, err, rc, pport;
	int run_ms = (int)(job->seconds * 1000) + WORKER_GRACE_MS;
	double p50, p99, mean, elapsed, ccpu, scpu, busy0 = 0;
	pid_t spid = -1, cpid = -1, ppid = -1;
	char line[256], conf[64] = "";
	unsigned port;
	long ops;

	memset(r, 0, sizeof(*r));
	job->port = 0;
	spid = start_worker(env, job, "server", srv, &sout);
	if (spid < 0) {
		err = (int)spid;
		snprintf(why, whylen, "cannot start the server: %s", strerror(-err));
		goto out;
	}
	err = read_line(sout, "listen ", line, sizeof(line), START_TIMEOUT_MS);
	if (err || sscanf(line, "listen %u", &port) != 1) {
		snprintf(why, whylen, "the server did not start (%s)",
			 err ? strerror(-err) : line);
		err = err ? err : -EPROTO;
		goto out;
	}
	job->port = port;
	if (job->proxy) {
		ppid = start_proxy(env, job, srv, &pport, conf, sizeof(conf), why, whylen);
		if (ppid < 0) {
			err = (int)ppid;
			goto out;
		}
		job->port = (unsigned)pport;
		busy0 = machine_busy_us();
	}
	cpid = start_worker(env, job, "client", cli, &cout);
	if (cpid < 0) {
		err = (int)cpid;
		snprintf(why, whylen, "cannot start the client: %s", strerror(-err));
		goto out;
	}
	err = read_line(cout, "result ", line, sizeof(line), run_ms);
	if (err || sscanf(line, "result ops=%ld p50=%lf p99=%lf mean=%lf elapsed=%lf cpu=%lf",
			  &ops, &p50, &p99, &mean, &elapsed, &ccpu) != 6) {
		snprintf(why, whylen, "the client failed (%s)", err ? strerror(-err) : line);
		err = err ? err : -EPROTO;
		goto out;
	}
	err = read_line(sout, "cpu ", line, sizeof(line), START_TIMEOUT_MS);
	if (err || sscanf(line, "cpu %lf", &scpu) != 1) {
		snprintf(why, whylen, "the server failed (%s)", err ? strerror(-err) : line);
		err = err ? err : -EPROTO;
		goto out;
	}
	r->ops = ops;
	r->p50_us = p50;
	r->p99_us = p99;
	r->mean_us = mean;
	r->ops_per_s = ops / (elapsed / 1e6);
	r->mb_per_s = (double)ops * job->size / elapsed;	/* bytes/us = MB/s */
	r->cpu_us_per_op = (ccpu + scpu) / ops;
	/* The machine's CPU over the whole run, the untimed warm-up's
	 * operations (of the same kind) included in the count. */
	if (job->proxy)
		r->cpu_us_per_op = (machine_busy_us() - busy0) /
				   (double)(ops + (job->kind == NA_BENCH_STREAM ?
						   NA_BENCH_STREAM_WARMUP : job->warmup));
out:
	if (ppid > 0) {
		kill(ppid, SIGKILL);
		na_world_wait(env->world, ppid, START_TIMEOUT_MS);
	}
	if (conf[0])
		unlink(conf);
	for (int i = 0; i < 2; i++) {
		pid_t pid = i ? spid : cpid;

		if (pid <= 0)
			continue;
		if (err)
			kill(pid, SIGKILL);
		rc = na_world_wait(env->world, pid, START_TIMEOUT_MS);
		if (!err && rc) {
			snprintf(why, whylen, "a worker exited with %d", rc);
			err = -EPROTO;
		}
	}
	if (sout >= 0)
		close(sout);
	if (cout >= 0)
		close(cout);
	return err;
}

/* ---- network namespaces ------------------------------------------------- */

struct holder {
	int ready;		/* write end: one byte once the namespace exists */
	pid_t parent;
};

static int hold_netns(void *arg)
{
	struct holder *h = arg;
	char ok = 1;

	/* The namespace lives as long as this process, and this process as
	 * long as the driver. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != h->parent)
		return 1;
	if (unshare(CLONE_NEWNET) < 0 || na_test_lo_up() < 0)
		ok = 0;
	if (write(h->ready, &ok, 1) != 1 || !ok)
		return 1;
	close(h->ready);
	for (;;)
		pause();
}

pid_t na_bench_netns_new(struct na_world *w)
{
	struct holder h = { .parent = getpid() };
	int p[2];
	char ok = 0;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	h.ready = p[1];
	pid = na_world_fork(w, hold_netns, &h);
	close(p[1]);
	if (pid > 0 && (read(p[0], &ok, 1) != 1 || !ok)) {
		na_world_wait(w, pid, 1000);
		pid = -EPERM;
	}
	close(p[0]);
	return pid;
}

int na_bench_run_in(pid_t ns, char *const argv[], int verbose)
{
	int status, err;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY | O_CLOEXEC);

		if (!verbose && null >= 0) {
			dup2(null, 1);
			dup2(null, 2);
		}
		if (enter_netns(ns))
			_exit(126);
		execvp(argv[0], argv);
		_exit(127);
	}
	while ((err = waitpid(pid, &status, 0)) < 0 && errno == EINTR)
		;
	if (err < 0)
		return -errno;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int na_bench_ctl_in(struct na_world *w, pid_t ns, char *why, size_t whylen, ...)
{
	const char *a[8] = { 0 };
	struct na_ctl_result *r = malloc(sizeof(*r));
	int self = -1, err;
	va_list ap;

	if (!r)
		return -ENOMEM;
	va_start(ap, whylen);
	for (int i = 0; i < 7 && (a[i] = va_arg(ap, const char *)); i++)
		;
	va_end(ap);
	/* The CLI forked below starts in the namespace this thread is in. */
	if (ns) {
		self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
		err = self < 0 ? -errno : enter_netns(ns);
		if (err)
			goto out;
	}
	err = na_world_ctl(w, r, a[0], a[1], a[2], a[3], a[4], a[5], a[6], NULL);
	if (!err)
		err = r->status;
	if (err && why) {
		char *nl = strchr(r->err, '\n');

		if (nl)
			*nl = 0;
		snprintf(why, whylen, "%s", r->err[0] ? r->err : strerror(err < 0 ? -err : EIO));
	}
out:
	if (self >= 0) {
		if (setns(self, CLONE_NEWNET) < 0)
			err = -errno;
		close(self);
	}
	free(r);
	return err;
}
