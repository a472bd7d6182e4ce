/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * netaccel-bench: the benchmark driver. main.c holds the options, the list
 * of scenarios and the round loop, scenarios.c the tables and variants
 * each scenario builds and the bridge they run on, worker.c the client and
 * server that move the bytes (the same binary, re-executed with --worker),
 * spawn.c the processes, namespaces and bridge of a run, bpfstats.c the
 * kernel's run-time statistics of netaccel's programs, report.c the table
 * and the JSON.
 */
#ifndef NA_BENCH_H
#define NA_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "na_world.h"

/* What a worker does with its connection(s). */
enum na_bench_kind {
	NA_BENCH_RR,		/* ping-pong of size-byte messages */
	NA_BENCH_STREAM,	/* bulk: size-byte writes for some seconds */
	NA_BENCH_CRR,		/* connect, one request, close */
	NA_BENCH_CONNS,		/* many connections, each a ping-pong, at once */
};

/* Untimed writes a stream client makes before its clock starts. */
#define NA_BENCH_STREAM_WARMUP 64

/* One worker's job, passed on its command line. */
struct na_bench_job {
	enum na_bench_kind kind;
	char family[8];		/* "inet", "inet6" or "unix" */
	char addr[64];		/* address to listen on / connect to */
	unsigned port;		/* client: the server's port */
	size_t size;		/* bytes per message / per write */
	size_t reply;		/* crr: bytes of the reply (size if 0) */
	/* stream: where the reader's buffer starts, in bytes past a page
	 * boundary; -1: where calloc() puts it (16 bytes past one here) */
	long rdoff;
	/* stream: 1 when the server first serves an untimed stream of the
	 * same writes on another connection (a port that has carried such
	 * streams before) */
	int served;
	int conns;		/* conns: connections at once */
	long count;		/* timed operations (rr, crr, conns: over all) */
	long warmup;		/* untimed operations first */
	double seconds;		/* stream: how long to send */
	/* Not passed to workers: the proxy between client and server
	 * (NULL: none): "copy", "splice", "kernel" (netaccel-proxy --mode)
	 * or "haproxy". */
	const char *proxy;
};

/* What one variant measured in one round. */
struct na_bench_result {
	long ops;		/* timed operations */
	double p50_us, p99_us, mean_us;	/* per operation */
	double ops_per_s;
	double mb_per_s;	/* payload bytes (one direction) per second */
	double cpu_us_per_op;	/* user + system of both ends */
};

/* Worker entry: argv after "--worker". Returns the exit code. */
int na_bench_worker(int argc, char **argv);

/* The command line that runs job as role ("server"/"client"). */
int na_bench_job_argv(const struct na_bench_job *job, const char *role,
		      char **argv, size_t max, char *buf, size_t buflen);

/* ---- spawn.c ------------------------------------------------------------ */

/* Where a worker runs. */
struct na_bench_place {
	const char *cgroup;	/* absolute cgroup path */
	pid_t netns;		/* holder of the network namespace; 0: ours */
	bool under_run;		/* exec through `netaccel-ctl run --` */
};

struct na_bench_env {
	struct na_world *world;
	const char *self;	/* this binary */
	const char *proxy;	/* netaccel-proxy (NULL: not found) */
	const char *haproxy;	/* haproxy (NULL: not installed) */
	int verbose;
};

/*
 * Run one client/server measurement: the server at srv, the client at cli.
 * Returns 0 and fills r, or a negative errno with a one-line reason in
 * why.
 */
int na_bench_measure(const struct na_bench_env *env, struct na_bench_job *job,
		     const struct na_bench_place *srv,
		     const struct na_bench_place *cli,
		     struct na_bench_result *r, char *why, size_t whylen);

/* A process that holds a new network namespace (loopback up) until the
 * driver exits. Returns its pid. */
pid_t na_bench_netns_new(struct na_world *w);

/* Run argv (PATH lookup) inside netns holder ns (0: ours); the exit code,
 * or a negative errno. Output goes to stderr when verbose, else nowhere. */
int na_bench_run_in(pid_t ns, char *const argv[], int verbose);

/* netaccel-ctl with the world's state directory, inside netns ns: the
 * exit code; the first line of its stderr in why when it fails. */
int na_bench_ctl_in(struct na_world *w, pid_t ns, char *why, size_t whylen,
		    ...) __attribute__((sentinel));

/* ---- bpfstats.c --------------------------------------------------------- */

#define NA_BENCH_MAX_PROGS 16

/* Cumulative run time and count of the programs pinned in a state dir. */
struct na_bench_progs {
	int n;
	char name[NA_BENCH_MAX_PROGS][16];
	uint32_t id[NA_BENCH_MAX_PROGS];
	uint64_t run_ns[NA_BENCH_MAX_PROGS];
	uint64_t runs[NA_BENCH_MAX_PROGS];
};

/* Turn on the kernel's BPF run-time statistics for as long as the driver
 * lives (BPF_ENABLE_STATS). Returns 0 or a negative errno. */
int na_bench_bpfstats_enable(void);

/* Snapshot every program pinned in dir (and one level below). */
int na_bench_bpfstats_read(const char *dir, struct na_bench_progs *out);

/* acc += after - before, program by program (matched by id). */
void na_bench_bpfstats_add(struct na_bench_progs *acc,
			   const struct na_bench_progs *before,
			   const struct na_bench_progs *after);


/* ---- main.c / report.c: what a table holds ------------------------------ */

#define NA_BENCH_MAX_VARIANTS 5
#define NA_BENCH_MAX_ROUNDS 64

struct na_bench_table;

/* One way of running a scenario (a row of its table). */
struct na_bench_variant {
	const char *key;	/* JSON name: "plain", "bypass", ... */
	const char *label;	/* table row */
	struct na_bench_place srv, cli;
	const char *family;	/* "inet" or "unix" */
	const char *addr;	/* where the client connects */
	const char *proxy;	/* the proxy in between (the job's), or NULL */
	/* Run before / after each round of this variant (may be NULL); a
	 * non-zero return from before marks the variant unavailable with the
	 * reason left in why. */
	int (*before)(struct na_bench_table *t, char *why, size_t whylen);
	void (*after)(struct na_bench_table *t);
	char unavailable[256];	/* why it could not run, "" when it ran */
	struct na_bench_result res[NA_BENCH_MAX_ROUNDS];
	bool ok[NA_BENCH_MAX_ROUNDS];
	struct na_bench_progs progs;	/* BPF run time while this variant ran */
	long bpf_ops;			/* operations over which progs was summed */
};

/* One scenario at one message size: its variants, interleaved per round.
 * Variant 0 is the baseline every ratio is taken against. */
struct na_bench_table {
	const char *scenario;
	const char *title;
	enum na_bench_kind kind;
	size_t size;
	size_t reply;			/* crr: reply bytes (size if 0) */
	long rdoff;			/* stream: the reader's buffer (see the job's) */
	int served;			/* stream: see the job's */
	int conns;			/* conns: connections at once */
	int nvar;
	struct na_bench_variant v[NA_BENCH_MAX_VARIANTS];
	int extra_num, extra_den;	/* another ratio to show (-1: none) */
	int rounds;
	struct na_stats counters;	/* fast-path counters while it ran */
	bool have_counters;
	struct na_veth_stats veth;	/* veth redirect counters, summed over rounds */
	bool have_veth;
	void *ctx;			/* the driver's, for before/after */
};

/* Median over rounds of a variant's metric, or of its ratio to another
 * variant taken round by round; NAN when no round has it. */
enum na_bench_metric {
	NA_BM_P50, NA_BM_P99, NA_BM_MEAN, NA_BM_OPS, NA_BM_MBPS, NA_BM_CPU,
	NA_BM_COUNT
};
double na_bench_median(const struct na_bench_table *t, int var, int metric);
double na_bench_ratio(const struct na_bench_table *t, int num, int den, int metric);

void na_bench_print_table(FILE *f, const struct na_bench_table *t, bool bpfstats);
/* Append t to a JSON array (a json_object *). */
void na_bench_json_table(void *array, const struct na_bench_table *t,
			 bool bpfstats);

/* ---- main.c / scenarios.c: the driver ---------------------------------- */

#define PROG "netaccel-bench"
#define MAX_TABLES 40
#define NA_BENCH_MAX_SIZES 4		/* --size given this often at most */
#define NA_BENCH_MAX_SIZE (16 << 20)

/* How much each measurement does: a full run, and --quick. */
struct preset {
	int rounds;
	long rr_count, rr_warmup;	/* round trips per rr run */
	long crr_count, crr_warmup;	/* connections per crr run */
	double seconds;			/* per stream run */
};

struct bench {
	struct na_world world;
	struct na_bench_env env;
	struct na_cgroup plain, accel, optin;
	/* The container scenarios: each container's processes in a cgroup of
	 * its own, one not enrolled and one enrolled in mode all. */
	struct na_cgroup ct_a, ct_b, ct_a_on, ct_b_on;
	pid_t ns_host, ns_a, ns_b;
	char bridge_err[256];	/* why the bridge layout is missing */
	int run_ok;		/* `netaccel-ctl run` works: 1, no: 0, unknown: -1 */
	char run_err[256];
	char unix_name[64];

	struct preset run;
	size_t sizes[NA_BENCH_MAX_SIZES];	/* --size: container-rr's messages */
	int nsizes;
	bool json, quick, bpfstats;
};

/* Build the two namespaces on a bridge; the reason in bridge_err if not. */
void build_bridge(struct bench *b);

/* Make the containers' cgroups and enroll the ones that take the bypass;
 * 0 or a negative errno, with the reason on stderr. */
int container_cgroups(struct bench *b);

/* Fill up to max tables of one scenario at t; returns how many. */
int build_local_rr(struct bench *b, struct na_bench_table *t, int max);
int build_local_stream(struct bench *b, struct na_bench_table *t, int max);
int build_local_crr(struct bench *b, struct na_bench_table *t, int max);
int build_local_http(struct bench *b, struct na_bench_table *t, int max);
int build_veth_rr(struct bench *b, struct na_bench_table *t, int max);
int build_veth_stream(struct bench *b, struct na_bench_table *t, int max);
int build_passthrough(struct bench *b, struct na_bench_table *t, int max);
int build_opt_in(struct bench *b, struct na_bench_table *t, int max);
int build_container_rr(struct bench *b, struct na_bench_table *t, int max);
int build_container_stream(struct bench *b, struct na_bench_table *t, int max);
int build_container_crr(struct bench *b, struct na_bench_table *t, int max);
int build_proxy_rr(struct bench *b, struct na_bench_table *t, int max);
int build_proxy_stream(struct bench *b, struct na_bench_table *t, int max);
int build_proxy_conns(struct bench *b, struct na_bench_table *t, int max);

#endif /* NA_BENCH_H */
