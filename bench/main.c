// SPDX-License-Identifier: GPL-2.0-only
/*
 * netaccel-bench: every speed claim of netaccel, measured side by side on
 * this host. It builds its own world (scratch cgroups, a private state
 * directory, network namespaces on a bridge), runs the variants of each
 * scenario interleaved round by round, prints a table per scenario and
 * removes everything it made.
 *
 * This file holds the options, the list of scenarios, the setup of the
 * world and the round loop; scenarios.c builds each scenario's tables.
 */
#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>


#include "bench.h"
#include "output.h"
#include <netaccel/state.h>

/* How much each measurement does: a full run, and --quick. */
static const struct preset presets[2] = {
	{ .rounds = 7, .rr_count = 20000, .rr_warmup = 1000,
	  .crr_count = 3000, .crr_warmup = 200, .seconds = 2 },
	{ .rounds = 3, .rr_count = 2000, .rr_warmup = 200,
	  .crr_count = 300, .crr_warmup = 30, .seconds = 0.25 },
};

static const char *const usage_text =
	"Usage: " PROG " [--quick] [--rounds N] [--size BYTES]... [--json] [--bpf-stats] [-v]\n"
	"       [scenario...]\n";

static const char *const help_text =
	"Measures netaccel against the same traffic without it, on this host. Each\n"
	"scenario's variants run interleaved (A B C A B C ...) for a number of\n"
	"rounds; the table shows medians over the rounds and each variant's ratio\n"
	"to the first (baseline) row, computed round by round. Needs root: it makes\n"
	"scratch cgroups, network namespaces and its own netaccel state, and\n"
	"removes them when it ends.\n"
	"\n"
	"Scenarios (default: all):\n"
	"  local-rr      TCP ping-pong on loopback, 64 B, 1 KiB, 16 KiB messages:\n"
	"                plain TCP, netaccel bypass, AF_UNIX stream socket\n"
	"  local-stream  bulk transfer with 16 KiB and 128 KiB writes, 128 KiB\n"
	"                writes to a reader whose buffer is page-aligned, and the\n"
	"                port's second stream of 128 KiB writes: same variants\n"
	"  local-crr     connect, one 64 B request and reply, close: plain, enrolled\n"
	"  local-http    a connection per request, as HTTP/1.0 clients and ab do:\n"
	"                128 B request, 4 KiB reply, close: plain, enrolled\n"
	"  veth-rr       64 B ping-pong between two network namespaces on a bridge:\n"
	"                through the bridge, veth redirect, host loopback\n"
	"  veth-stream   128 KiB writes between the namespaces: same variants\n"
	"  passthrough   1 KiB ping-pong and 128 KiB writes to a peer outside any\n"
	"                enrolled cgroup: not enrolled, enrolled client, enrolled server;\n"
	"                64 B ping-pong to a peer in another namespace\n"
	"  opt-in        1 KiB ping-pong in an opt-in cgroup: without and with\n"
	"                netaccel-ctl run (the LD_PRELOAD shim)\n"
	"  container-rr  1 KiB ping-pong between two containers (namespaces on a\n"
	"                bridge, each in its own cgroup): through the bridge, veth\n"
	"                redirect, bypass across the namespaces, the same with the\n"
	"                veth redirect attached too, bypass inside one namespace\n"
	"                (the limit)\n"
	"  container-stream\n"
	"                128 KiB writes between the containers, to a reader's\n"
	"                buffer from calloc(), to a page-aligned one, and the\n"
	"                port's second stream: same variants\n"
	"  container-crr connect, one 64 B request and reply, close, between the\n"
	"                containers: same variants\n"
	"  proxy-rr      ping-pong through a TCP proxy on loopback, 64 B, 1 KiB,\n"
	"                16 KiB: netaccel-proxy --mode copy, splice and kernel,\n"
	"                HAProxy (mode tcp, one thread), and netaccel-proxy in its\n"
	"                default mode auto; CPU is the whole machine's\n"
	"  proxy-stream  16 KiB and 128 KiB writes through the proxy: same variants\n"
	"  proxy-conns   100 and 1000 connections at once, each a 1 KiB ping-pong,\n"
	"                through the proxy: same variants\n"
	"\n"
	"Options:\n"
	"  -q, --quick       a short run (under a minute): 3 rounds, fewer operations\n"
	"  -r, --rounds N    rounds per scenario (default 7)\n"
	"  -s, --size BYTES  message size of container-rr (default 1024); given more\n"
	"                    than once, a table per size, as local-rr has\n"
	"  -j, --json        write the results as JSON to stdout instead of tables\n"
	"  -b, --bpf-stats   also report the kernel's run time of netaccel's BPF\n"
	"                    programs (BPF_ENABLE_STATS): runs and ns per operation\n"
	"  -v, --verbose     show the commands that build the world\n"
	"  -h, --help        this help\n"
	"\n"
	"netaccel-ctl is taken from $NETACCEL_CTL, the build directory this program\n"
	"is in, or PATH; netaccel-proxy likewise ($NETACCEL_PROXY), haproxy from\n"
	"PATH. Variants whose feature is missing print \"unavailable\" with the\n"
	"reason.\n";

__attribute__((format(printf, 1, 2)))
static int usage_error(const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, PROG ": %s (see " PROG " --help)\n", msg);
	return 2;
}

/* ---- the world ---------------------------------------------------------- */

static bool executable(const char *path)
{
	return access(path, X_OK) == 0;
}

/* A program: $env_var if set, else next to this binary in a build tree
 * (../<subdir>/name, with subdir) or an install (the same directory,
 * ../sbin, ../bin), else on PATH or in the usual bin and sbin
 * directories. NULL when nowhere. */
static const char *find_tool(const char *self, const char *env_var, const char *subdir,
			     const char *name)
{
	static const char *const near[] = { "", "../sbin/", "../bin/" };
	static const char *const sys[] = { "/usr/local/sbin", "/usr/local/bin", "/usr/sbin",
					   "/usr/bin", "/sbin", "/bin" };
	static char found[4][PATH_MAX];
	static int nf;
	const char *env = env_var ? getenv(env_var) : NULL, *path = getenv("PATH");
	char dir[PATH_MAX], cand[PATH_MAX + 64];
	char *slash;
	bool ok = false;

	if (env && *env)
		return executable(env) ? env : NULL;
	snprintf(dir, sizeof(dir), "%s", self);
	slash = strrchr(dir, '/');
	if (slash)
		*slash = 0;
	if (subdir) {
		snprintf(cand, sizeof(cand), "%s/../%s/%s", dir, subdir, name);
		ok = executable(cand);
		for (size_t i = 0; !ok && i < sizeof(near) / sizeof(near[0]); i++) {
			snprintf(cand, sizeof(cand), "%s/%s%s", dir, near[i], name);
			ok = executable(cand);
		}
	}
	for (const char *p = path; !ok && p && *p;) {
		size_t n = strcspn(p, ":");

		snprintf(cand, sizeof(cand), "%.*s/%s", (int)n, p, name);
		ok = executable(cand);
		p += n + (p[n] == ':');
	}
	for (size_t i = 0; !ok && i < sizeof(sys) / sizeof(sys[0]); i++) {
		snprintf(cand, sizeof(cand), "%s/%s", sys[i], name);
		ok = executable(cand);
	}
	if (!ok || nf == 4 || !realpath(cand, found[nf]))
		return NULL;
	return found[nf++];
}

/* netaccel-ctl, which the world runs as $NETACCEL_CTL. */
static int find_ctl(const char *self)
{
	const char *ctl = find_tool(self, "NETACCEL_CTL", "ctl", "netaccel-ctl");

	if (!ctl)
		return -ENOENT;
	if (ctl == getenv("NETACCEL_CTL"))
		return 0;
	return setenv("NETACCEL_CTL", ctl, 1) ? -errno : 0;
}

/* ---- scenarios ---------------------------------------------------------- */

static const struct scenario {
	const char *name;
	int (*build)(struct bench *b, struct na_bench_table *t, int max);
	bool bridge;
	bool optin;
	bool containers;	/* the containers' own cgroups */
} scenarios[] = {
	{ "local-rr", build_local_rr },
	{ "local-stream", build_local_stream },
	{ "local-crr", build_local_crr },
	{ "local-http", build_local_http },
	{ "veth-rr", build_veth_rr, .bridge = true },
	{ "veth-stream", build_veth_stream, .bridge = true },
	{ "passthrough", build_passthrough, .bridge = true },
	{ "opt-in", build_opt_in, .optin = true },
	{ "container-rr", build_container_rr, .bridge = true, .containers = true },
	{ "container-stream", build_container_stream, .bridge = true, .containers = true },
	{ "container-crr", build_container_crr, .bridge = true, .containers = true },
	{ "proxy-rr", build_proxy_rr },
	{ "proxy-stream", build_proxy_stream },
	{ "proxy-conns", build_proxy_conns },
};
#define NSCENARIOS (int)(sizeof(scenarios) / sizeof(scenarios[0]))

/* ---- running ------------------------------------------------------------ */

static void job_of(const struct bench *b, const struct na_bench_table *t,
		   const struct na_bench_variant *v, struct na_bench_job *j)
{
	memset(j, 0, sizeof(*j));
	j->kind = t->kind;
	snprintf(j->family, sizeof(j->family), "%s", v->family);
	snprintf(j->addr, sizeof(j->addr), "%s", v->addr);
	j->size = t->size;
	j->reply = t->reply;
	j->rdoff = t->rdoff;
	j->served = t->served;
	j->proxy = v->proxy;
	if (t->kind == NA_BENCH_RR) {
		j->count = b->run.rr_count;
		j->warmup = b->run.rr_warmup;
	} else if (t->kind == NA_BENCH_CRR) {
		j->count = b->run.crr_count;
		j->warmup = b->run.crr_warmup;
	} else if (t->kind == NA_BENCH_CONNS) {
		j->conns = t->conns;
		j->count = b->run.rr_count * 2;
		/* Each connection's first round trips are its setup: the
		 * proxy's connect and splice call, and in mode auto the move
		 * to the kernel path after a few turns. */
		j->warmup = b->run.rr_warmup * 2 > t->conns * 4 ? b->run.rr_warmup * 2 : t->conns * 4;
	} else {
		j->seconds = b->run.seconds;
	}
}

static void run_variant(struct bench *b, struct na_bench_table *t, int i, int round)
{
	struct na_bench_variant *v = &t->v[i];
	struct na_bench_progs p0, p1;
	struct na_bench_job job;
	char why[256] = "";
	int err;

	if (v->unavailable[0])
		return;
	if (v->before && v->before(t, why, sizeof(why))) {
		snprintf(v->unavailable, sizeof(v->unavailable), "%s", why);
		return;
	}
	job_of(b, t, v, &job);
	if (b->bpfstats)
		na_bench_bpfstats_read(b->world.state_dir, &p0);
	err = na_bench_measure(&b->env, &job, &v->srv, &v->cli, &v->res[round], why,
			       sizeof(why));
	if (b->bpfstats && !err) {
		na_bench_bpfstats_read(b->world.state_dir, &p1);
		na_bench_bpfstats_add(&v->progs, &p0, &p1);
		/* The programs also ran for the untimed warm-up. */
		v->bpf_ops += v->res[round].ops +
			      (t->kind == NA_BENCH_STREAM ? NA_BENCH_STREAM_WARMUP : job.warmup);
	}
	if (v->after)
		v->after(t);
	v->ok[round] = err == 0;
	if (err)
		fprintf(stderr, PROG ": %s, %s, round %d: %s\n", t->title, v->label,
			round + 1, why);
	if (err && round == 0)
		snprintf(v->unavailable, sizeof(v->unavailable), "failed: %s", why);
}

static void run_table(struct bench *b, struct na_bench_table *t)
{
	struct na_stats s0, s1;
	bool counted;

	t->rounds = b->run.rounds;
	snprintf(b->unix_name, sizeof(b->unix_name), "netaccel-bench-%d", (int)getpid());
	if (!b->json)
		fprintf(stderr, "running %s...\n", t->title);
	counted = na_world_stats(&b->world, 0, &s0) == 0;
	for (int r = 0; r < b->run.rounds; r++)
		for (int i = 0; i < t->nvar; i++)
			run_variant(b, t, i, r);
	if (counted && na_world_stats(&b->world, 0, &s1) == 0) {
		const uint64_t *x0 = (const uint64_t *)&s0, *x1 = (const uint64_t *)&s1;
		uint64_t *d = (uint64_t *)&t->counters;

		for (size_t k = 0; k < NA_NUM_COUNTERS; k++)
			d[k] = x1[k] - x0[k];
		t->have_counters = true;
	}
}

static int setup(struct bench *b, const bool *want)
{
	bool bridge = false, optin = false, containers = false;
	int err;

	err = na_world_init(&b->world, "bench");
	if (!err)
		err = na_world_cgroup(&b->world, "plain", &b->plain);
	if (!err)
		err = na_world_cgroup(&b->world, "accel", &b->accel);
	if (!err)
		err = na_world_cgroup(&b->world, "optin", &b->optin);
	if (err) {
		fprintf(stderr, PROG ": cannot make the scratch cgroups: %s\n", strerror(-err));
		return err;
	}
	if (na_world_enroll(&b->world, b->accel.path, "all")) {
		fprintf(stderr, PROG ": cannot enroll %s (netaccel-ctl enroll failed, see above)\n",
			b->accel.path);
		return -EIO;
	}
	for (int i = 0; i < NSCENARIOS; i++) {
		bridge |= want[i] && scenarios[i].bridge;
		optin |= want[i] && scenarios[i].optin;
		containers |= want[i] && scenarios[i].containers;
	}
	if (optin && na_world_enroll(&b->world, b->optin.path, "opt-in")) {
		fprintf(stderr, PROG ": cannot enroll %s in opt-in mode\n", b->optin.path);
		return -EIO;
	}
	if (containers && (err = container_cgroups(b)))
		return err;
	if (bridge)
		build_bridge(b);
	return 0;
}

static int parse(struct bench *b, int argc, char **argv, bool *want)
{
	static const struct option lo[] = {
		{ "quick", no_argument, NULL, 'q' },
		{ "rounds", required_argument, NULL, 'r' },
		{ "size", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "bpf-stats", no_argument, NULL, 'b' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	bool any = false;
	long rounds = 0, size;
	char *end;
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "qr:s:jbvh", lo, NULL)) != -1) {
		switch (c) {
		case 'q':
			b->quick = true;
			break;
		case 'r':
			errno = 0;
			rounds = strtol(optarg, &end, 10);
			if (*end || errno || rounds < 1 || rounds > NA_BENCH_MAX_ROUNDS)
				return usage_error("--rounds wants a number from 1 to 64, not '%s'", optarg);
			break;
		case 's':
			errno = 0;
			size = strtol(optarg, &end, 10);
			if (*end || errno || size < 1 || size > NA_BENCH_MAX_SIZE)
				return usage_error("--size wants a number of bytes from 1 to %d, not '%s'",
						   NA_BENCH_MAX_SIZE, optarg);
			if (b->nsizes == NA_BENCH_MAX_SIZES)
				return usage_error("--size at most %d times", NA_BENCH_MAX_SIZES);
			b->sizes[b->nsizes++] = (size_t)size;
			break;
		case 'j':
			b->json = true;
			break;
		case 'b':
			b->bpfstats = true;
			break;
		case 'v':
			b->env.verbose++;
			break;
		case 'h':
			printf("%s\n%s", usage_text, help_text);
			exit(0);
		default:
			if (optopt == 'r' || optopt == 's')
				return usage_error("%s needs a number", optopt == 'r' ? "--rounds" : "--size");
			return usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	for (int i = optind; i < argc; i++) {
		int k;

		for (k = 0; k < NSCENARIOS && strcmp(argv[i], scenarios[k].name); k++)
			;
		if (k == NSCENARIOS)
			return usage_error("unknown scenario '%s'", argv[i]);
		want[k] = any = true;
	}
	if (!any)
		for (int k = 0; k < NSCENARIOS; k++)
			want[k] = true;
	b->run = presets[b->quick];
	if (rounds)
		b->run.rounds = (int)rounds;
	return 0;
}

int main(int argc, char **argv)
{
	static struct bench b = { .run_ok = -1 };
	static struct na_bench_table tables[MAX_TABLES];
	bool want[NSCENARIOS] = { 0 };
	char self[PATH_MAX];
	json_object *top = NULL, *arr = NULL;
	FILE *out;
	int nt = 0, err;

	if (argc > 1 && !strcmp(argv[1], "--worker"))
		return na_bench_worker(argc - 2, argv + 2);
	err = parse(&b, argc, argv, want);
	if (err)
		return err;
	if (geteuid() != 0) {
		fprintf(stderr, PROG ": needs root (it makes cgroups and network namespaces and loads BPF programs)\n");
		return 1;
	}
	if (!realpath("/proc/self/exe", self)) {
		fprintf(stderr, PROG ": cannot find its own binary: %s\n", strerror(errno));
		return 1;
	}
	if (find_ctl(self)) {
		fprintf(stderr, PROG ": cannot find netaccel-ctl (set NETACCEL_CTL, or put it on PATH)\n");
		return 1;
	}
	/* Results go to what stdout is now; everything else that would
	 * write to stdout (the world's diagnostics, verbose commands) goes
	 * to stderr, so that --json output stays pure JSON. */
	fflush(stdout);
	out = fdopen(dup(1), "w");
	if (!out || dup2(2, 1) < 0) {
		fprintf(stderr, PROG ": cannot set up its output: %s\n", strerror(errno));
		return 1;
	}
	b.env.world = &b.world;
	b.env.self = self;
	b.env.proxy = find_tool(self, "NETACCEL_PROXY", "proxy", "netaccel-proxy");
	b.env.haproxy = find_tool(self, NULL, NULL, "haproxy");
	if (b.bpfstats && (err = na_bench_bpfstats_enable())) {
		fprintf(stderr, PROG ": cannot enable BPF run-time statistics: %s\n", strerror(-err));
		return 1;
	}
	if (setup(&b, want))
		return 1;	/* the world's teardown runs at exit */

	for (int k = 0; k < NSCENARIOS; k++)
		if (want[k])
			nt += scenarios[k].build(&b, tables + nt, MAX_TABLES - nt);
	if (b.json) {
		top = json_object_new_object();
		arr = json_object_new_array();
		json_object_object_add(top, "version", json_object_new_string(NA_VERSION));
		json_object_object_add(top, "quick", json_object_new_boolean(b.quick));
		json_object_object_add(top, "rounds", json_object_new_int(b.run.rounds));
		json_object_object_add(top, "tables", arr);
	}
	for (int i = 0; i < nt; i++) {
		run_table(&b, &tables[i]);
		if (b.json)
			na_bench_json_table(arr, &tables[i], b.bpfstats);
		else
			na_bench_print_table(out, &tables[i], b.bpfstats);
		fflush(out);
	}
	if (b.json) {
		na_json_write(out, top);	/* and releases it */
	}
	return fclose(out) ? 1 : 0;
}
