// SPDX-License-Identifier: GPL-2.0-only
/*
 * What each scenario measures: the bridge layout of the veth, passthrough
 * and container scenarios, the containers' cgroups, and the checks and
 * hooks run around their rounds, and the tables (one per message size)
 * with their variants that each scenario builds. main.c lists the
 * scenarios and runs the tables.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "bench.h"
#include <netaccel/state.h>
#include <netaccel/veth.h>

#define BRIDGE "br0"
#define ADDR_A "198.18.0.1"
#define ADDR_B "198.18.0.2"

/* ---- the world ---------------------------------------------------------- */

/* `ip args...` inside netns ns; on failure the reason goes to bridge_err. */
static int ip_in(struct bench *b, pid_t ns, ...)
{
	char *argv[16] = { (char *)"ip" }, cmd[160] = "ip";
	size_t k = 1, len = 2;
	va_list ap;
	int rc;

	va_start(ap, ns);
	while (k < 15 && (argv[k] = va_arg(ap, char *)))
		len += (size_t)snprintf(cmd + len, len < sizeof(cmd) ? sizeof(cmd) - len : 0,
					" %s", argv[k++]);
	va_end(ap);
	argv[k] = NULL;
	rc = na_bench_run_in(ns, argv, b->env.verbose);
	if (rc && !b->bridge_err[0])
		snprintf(b->bridge_err, sizeof(b->bridge_err),
			 "cannot build the bridge layout: `%s` exited with %d", cmd, rc);
	return rc;
}

/*
 * Two "containers" (network namespaces a and b, 198.18.0.1 and .2 on eth0)
 * on a bridge in a third namespace that plays the host, as a container
 * runtime lays them out. Everything lives in namespaces held by our own
 * processes, so it goes away with us.
 */
void build_bridge(struct bench *b)
{
	const struct { pid_t *ns; const char *port, *addr; } ct[] = {
		{ &b->ns_a, "veth-a", ADDR_A "/24" }, { &b->ns_b, "veth-b", ADDR_B "/24" },
	};
	pid_t *all[] = { &b->ns_host, &b->ns_a, &b->ns_b };
	char pid[16];

	for (int i = 0; i < 3; i++) {
		*all[i] = na_bench_netns_new(&b->world);
		if (*all[i] < 0) {
			snprintf(b->bridge_err, sizeof(b->bridge_err),
				 "cannot make a network namespace: %s", strerror((int)-*all[i]));
			return;
		}
	}
	if (ip_in(b, b->ns_host, "link", "add", BRIDGE, "type", "bridge", NULL) ||
	    ip_in(b, b->ns_host, "link", "set", BRIDGE, "up", NULL))
		return;
	for (int i = 0; i < 2; i++) {
		snprintf(pid, sizeof(pid), "%d", (int)*ct[i].ns);
		/* The container end goes straight into its namespace. */
		if (ip_in(b, b->ns_host, "link", "add", ct[i].port, "type", "veth", "peer",
			  "name", "eth0", "netns", pid, NULL))
			return;
		if (ip_in(b, b->ns_host, "link", "set", ct[i].port, "master", BRIDGE, "up", NULL) ||
		    ip_in(b, *ct[i].ns, "addr", "add", ct[i].addr, "dev", "eth0", NULL) ||
		    ip_in(b, *ct[i].ns, "link", "set", "eth0", "up", NULL))
			return;
	}
}

/*
 * Each container's processes run in a cgroup of their own, below the
 * driver's scratch cgroup. A container has two: one that is not enrolled,
 * for the variants that must stay off the bypass whatever netaccel knows
 * of the namespaces, and one enrolled in mode all.
 */
int container_cgroups(struct bench *b)
{
	const struct { const char *name; struct na_cgroup *cg; bool enroll; } ct[] = {
		{ "container-a", &b->ct_a, false },
		{ "container-b", &b->ct_b, false },
		{ "container-a-enrolled", &b->ct_a_on, true },
		{ "container-b-enrolled", &b->ct_b_on, true },
	};
	int err;

	for (size_t i = 0; i < sizeof(ct) / sizeof(ct[0]); i++) {
		err = na_world_cgroup(&b->world, ct[i].name, ct[i].cg);
		if (err) {
			fprintf(stderr, PROG ": cannot make the scratch cgroup %s/%s: %s\n",
				b->world.base, ct[i].name, strerror(-err));
			return err;
		}
		if (ct[i].enroll && na_world_enroll(&b->world, ct[i].cg->path, "all")) {
			fprintf(stderr, PROG ": cannot enroll %s (netaccel-ctl enroll failed, see above)\n",
				ct[i].cg->path);
			return -EIO;
		}
	}
	return 0;
}

static int veth_attach(struct na_bench_table *t, char *why, size_t whylen)
{
	struct bench *b = t->ctx;
	char err[256] = "";

	if (b->bridge_err[0]) {
		snprintf(why, whylen, "%s", b->bridge_err);
		return -1;
	}
	if (na_bench_ctl_in(&b->world, b->ns_host, err, sizeof(err), "veth", "attach",
			    "--bridge", BRIDGE, NULL)) {
		snprintf(why, whylen, "netaccel-ctl veth attach --bridge: %s", err);
		return -1;
	}
	return 0;
}

/* Add what the veth redirect counted in this round (its state goes with
 * the detach) to the table's totals. */
static void veth_count(struct bench *b, struct na_bench_table *t)
{
	struct na_veth_stats round;

	if (!na_veth_read_totals(b->world.state_dir, &round)) {
		uint64_t *sum = (uint64_t *)&t->veth;

		for (size_t k = 0; k < NA_VETH_NUM_COUNTERS; k++)
			sum[k] += ((const uint64_t *)&round)[k];
		t->have_veth = true;
	}
}

static void veth_detach(struct na_bench_table *t)
{
	struct bench *b = t->ctx;
	char err[256] = "";

	veth_count(b, t);

	if (na_bench_ctl_in(&b->world, b->ns_host, err, sizeof(err), "veth", "detach",
			    "--bridge", BRIDGE, NULL))
		fprintf(stderr, PROG ": netaccel-ctl veth detach --bridge %s: %s\n", BRIDGE, err);
}

static int bridge_ready(struct na_bench_table *t, char *why, size_t whylen)
{
	struct bench *b = t->ctx;

	if (!b->bridge_err[0])
		return 0;
	snprintf(why, whylen, "%s", b->bridge_err);
	return -1;
}

/*
 * Let the bypass pair sockets across the containers' namespaces: learn
 * which namespaces reach each other over the bridge and write the tables
 * the bypass pairs them with (`netaccel-ctl networks sync`, in the
 * namespace that holds the bridge). Both containers' enrolled cgroups are
 * in place already.
 */
static int xns_bypass_sync(struct bench *b, char *why, size_t whylen)
{
	char err[256] = "";

	if (na_bench_ctl_in(&b->world, b->ns_host, err, sizeof(err), "networks", "sync", NULL)) {
		snprintf(why, whylen, "netaccel-ctl networks sync: %s", err);
		return -1;
	}
	return 0;
}

static int xns_bypass_ready(struct na_bench_table *t, char *why, size_t whylen)
{
	struct bench *b = t->ctx;

	if (bridge_ready(t, why, whylen))
		return -1;
	return xns_bypass_sync(b, why, whylen);
}

/* The bypass across the namespaces with the veth redirect attached too:
 * what a host that enrolls its containers and attaches the redirect to
 * their bridge runs. */
static int xns_veth_ready(struct na_bench_table *t, char *why, size_t whylen)
{
	struct bench *b = t->ctx;

	if (veth_attach(t, why, whylen))
		return -1;
	if (xns_bypass_sync(b, why, whylen)) {
		veth_detach(t);
		return -1;
	}
	return 0;
}

/* `netaccel-ctl run` exists and works here (asked once). */
static int run_ready(struct na_bench_table *t, char *why, size_t whylen)
{
	struct bench *b = t->ctx;

	if (b->run_ok < 0) {
		char err[256] = "";

		b->run_ok = na_bench_ctl_in(&b->world, 0, err, sizeof(err), "run", "--",
					    "true", NULL) == 0;
		snprintf(b->run_err, sizeof(b->run_err), "netaccel-ctl run: %s", err);
	}
	if (b->run_ok)
		return 0;
	snprintf(why, whylen, "%s", b->run_err);
	return -1;
}

/* ---- scenarios ---------------------------------------------------------- */

static struct na_bench_variant *add_variant(struct na_bench_table *t, const char *key,
					    const char *label, const struct na_cgroup *srv,
					    const struct na_cgroup *cli)
{
	struct na_bench_variant *v = &t->v[t->nvar++];

	v->key = key;
	v->label = label;
	v->family = "inet";
	v->addr = "127.0.0.1";
	v->srv.cgroup = srv->path;
	v->cli.cgroup = cli->path;
	return v;
}

static struct na_bench_table *new_table(struct bench *b, struct na_bench_table *t,
					const char *scenario, enum na_bench_kind kind,
					size_t size, const char *what)
{
	static char titles[MAX_TABLES][128];
	static int nt;
	char *title = titles[nt++ % MAX_TABLES];

	memset(t, 0, sizeof(*t));
	t->scenario = scenario;
	t->kind = kind;
	t->size = size;
	t->extra_num = t->extra_den = -1;
	t->rdoff = -1;
	t->ctx = b;
	if (size >= 1024 && size % 1024 == 0)
		snprintf(title, 128, "%s: %s %zu KiB", scenario, what, size / 1024);
	else
		snprintf(title, 128, "%s: %s %zu B", scenario, what, size);
	t->title = title;
	return t;
}

/* The three variants of the local scenarios. */
static void local_variants(struct bench *b, struct na_bench_table *t)
{
	struct na_bench_variant *u;

	add_variant(t, "plain", "plain loopback TCP", &b->plain, &b->plain);
	add_variant(t, "bypass", "netaccel bypass (enrolled)", &b->accel, &b->accel);
	u = add_variant(t, "unix", "AF_UNIX stream socket", &b->plain, &b->plain);
	u->family = "unix";
	u->addr = b->unix_name;
}

int build_local_rr(struct bench *b, struct na_bench_table *t, int max)
{
	static const size_t sizes[] = { 64, 1024, 16384 };
	int n = 0;

	for (size_t i = 0; i < 3 && n < max; i++, n++) {
		new_table(b, &t[n], "local-rr", NA_BENCH_RR, sizes[i], "TCP ping-pong on one host, messages of");
		local_variants(b, &t[n]);
		t[n].extra_num = 1;	/* bypass / AF_UNIX */
		t[n].extra_den = 2;
	}
	return n;
}

/* Add suffix to t's title (kept in a ring of titles, as new_table's). */
static void retitle(struct na_bench_table *t, const char *suffix)
{
	static char titles[MAX_TABLES][160];
	static int nt;
	char *title = titles[nt++ % MAX_TABLES];

	snprintf(title, 160, "%s, %s", t->title, suffix);
	t->title = title;
}

/* A stream table whose reader's buffer starts at a page boundary, not
 * where calloc() put it: on CPUs whose kernel copies with `rep movsb`,
 * how the buffer lines up with the data's place in the kernel's pages
 * changes the copy's speed several times over, and the fast path keeps
 * the data of large writes page-aligned (docs/performance.md). */
static void reader_aligned(struct na_bench_table *t)
{
	t->rdoff = 0;
	retitle(t, "reader's buffer page-aligned");
}

/* A stream table whose server first serves an untimed stream of the same
 * writes on another connection: a port that has carried such streams
 * before, which netaccel judges by its earlier connections (a reader it
 * copies to slowly keeps the port's next connections on TCP). */
static void port_served(struct na_bench_table *t)
{
	t->served = 1;
	retitle(t, "the port's second stream");
}

int build_local_stream(struct bench *b, struct na_bench_table *t, int max)
{
	static const size_t sizes[] = { 16384, 131072, 131072, 131072 };
	int n = 0;

	for (size_t i = 0; i < 4 && n < max; i++, n++) {
		new_table(b, &t[n], "local-stream", NA_BENCH_STREAM, sizes[i],
			  "bulk transfer on one host, writes of");
		if (i == 2)
			reader_aligned(&t[n]);
		if (i == 3)
			port_served(&t[n]);
		local_variants(b, &t[n]);
	}
	return n;
}

int build_local_crr(struct bench *b, struct na_bench_table *t, int max)
{
	new_table(b, t, "local-crr", NA_BENCH_CRR, 64, "connect, request and reply, close; messages of");
	add_variant(t, "plain", "plain loopback TCP", &b->plain, &b->plain);
	add_variant(t, "enrolled", "both ends enrolled", &b->accel, &b->accel);
	return 1;
}

/* A connection per request: the workload that must not get slower. */
int build_local_http(struct bench *b, struct na_bench_table *t, int max)
{
	new_table(b, t, "local-http", NA_BENCH_CRR, 128,
		  "a connection per request (4 KiB reply, close); requests of");
	t->reply = 4096;
	add_variant(t, "plain", "plain loopback TCP", &b->plain, &b->plain);
	add_variant(t, "enrolled", "both ends enrolled", &b->accel, &b->accel);
	return 1;
}

static void veth_variants(struct bench *b, struct na_bench_table *t)
{
	struct na_bench_variant *v;

	for (int i = 0; i < 2; i++) {
		v = add_variant(t, i ? "redirect" : "bridge",
				i ? "veth redirect (veth attach)" : "through the bridge",
				&b->plain, &b->plain);
		v->addr = ADDR_B;
		v->srv.netns = b->ns_b;
		v->cli.netns = b->ns_a;
		v->before = i ? veth_attach : bridge_ready;
		v->after = i ? veth_detach : NULL;
	}
	add_variant(t, "loopback", "two processes on host loopback", &b->plain, &b->plain);
}

int build_veth_rr(struct bench *b, struct na_bench_table *t, int max)
{
	new_table(b, t, "veth-rr", NA_BENCH_RR, 64, "ping-pong between containers on a bridge, messages of");
	veth_variants(b, t);
	return 1;
}

int build_veth_stream(struct bench *b, struct na_bench_table *t, int max)
{
	new_table(b, t, "veth-stream", NA_BENCH_STREAM, 131072,
		  "bulk between containers on a bridge, writes of");
	veth_variants(b, t);
	return 1;
}

int build_passthrough(struct bench *b, struct na_bench_table *t, int max)
{
	int n = 0;

	for (int k = 0; k < 2 && n < max; k++, n++) {
		struct na_bench_table *x = &t[n];

		if (k == 0)
			new_table(b, x, "passthrough", NA_BENCH_RR, 1024,
				  "ping-pong with one end outside, messages of");
		else
			new_table(b, x, "passthrough", NA_BENCH_STREAM, 131072,
				  "bulk with one end outside, writes of");
		add_variant(x, "plain", "neither end enrolled", &b->plain, &b->plain);
		add_variant(x, "client", "client enrolled, server not", &b->plain, &b->accel);
		add_variant(x, "server", "server enrolled, client not", &b->accel, &b->plain);
	}
	/* A peer on another host: here, in another namespace over the bridge. */
	if (n < max) {
		struct na_bench_table *x = &t[n++];

		new_table(b, x, "passthrough", NA_BENCH_RR, 64,
			  "ping-pong to a peer in another namespace, messages of");
		for (int k = 0; k < 2; k++) {
			struct na_bench_variant *v =
				add_variant(x, k ? "client" : "plain",
					    k ? "client enrolled" : "not enrolled",
					    &b->plain, k ? &b->accel : &b->plain);

			v->addr = ADDR_B;
			v->srv.netns = b->ns_b;
			v->cli.netns = b->ns_a;
			v->before = bridge_ready;
		}
	}
	return n;
}

int build_opt_in(struct bench *b, struct na_bench_table *t, int max)
{
	struct na_bench_variant *v;

	new_table(b, t, "opt-in", NA_BENCH_RR, 1024, "ping-pong in an opt-in cgroup, messages of");
	add_variant(t, "noshim", "opt-in cgroup, no shim", &b->optin, &b->optin);
	v = add_variant(t, "run", "under netaccel-ctl run", &b->optin, &b->optin);
	v->srv.under_run = v->cli.under_run = true;
	v->before = run_ready;
	return 1;
}

/*
 * Two containers on a bridge, the traffic container runtimes make: through
 * the bridge (the baseline), with the veth redirect, with the bypass across
 * the two namespaces, and the bypass inside one container over its
 * loopback (what the cross-namespace bypass can reach at best).
 */
static void container_variants(struct bench *b, struct na_bench_table *t)
{
	struct na_bench_variant *v;

	v = add_variant(t, "bridge", "through the bridge", &b->ct_b, &b->ct_a);
	v->before = bridge_ready;
	v = add_variant(t, "veth", "veth redirect (veth attach)", &b->ct_b, &b->ct_a);
	v->before = veth_attach;
	v->after = veth_detach;
	v = add_variant(t, "bypass-xns", "bypass across the namespaces", &b->ct_b_on, &b->ct_a_on);
	v->before = xns_bypass_ready;
	v = add_variant(t, "bypass-veth", "bypass across the namespaces, veth redirect attached",
			&b->ct_b_on, &b->ct_a_on);
	v->before = xns_veth_ready;
	v->after = veth_detach;
	for (int i = 0; i < 4; i++) {
		t->v[i].addr = ADDR_B;
		t->v[i].srv.netns = b->ns_b;
		t->v[i].cli.netns = b->ns_a;
	}
	v = add_variant(t, "bypass-local", "bypass in one namespace",
			&b->ct_b_on, &b->ct_b_on);
	v->srv.netns = v->cli.netns = b->ns_b;
	v->before = bridge_ready;	/* the namespace is the bridge's */
	t->extra_num = 2;		/* bypass-xns / bypass-local */
	t->extra_den = 4;
}

int build_container_rr(struct bench *b, struct na_bench_table *t, int max)
{
	static const size_t one_kib = 1024;
	const size_t *sizes = b->nsizes ? b->sizes : &one_kib;
	int nsizes = b->nsizes ? b->nsizes : 1, n;

	for (n = 0; n < nsizes && n < max; n++) {
		new_table(b, &t[n], "container-rr", NA_BENCH_RR, sizes[n],
			  "ping-pong between two containers, messages of");
		container_variants(b, &t[n]);
	}
	return n;
}

int build_container_stream(struct bench *b, struct na_bench_table *t, int max)
{
	int n;

	for (n = 0; n < 3 && n < max; n++) {
		new_table(b, &t[n], "container-stream", NA_BENCH_STREAM, 131072,
			  "bulk between two containers, writes of");
		if (n == 1)
			reader_aligned(&t[n]);
		if (n == 2)
			port_served(&t[n]);
		container_variants(b, &t[n]);
	}
	return n;
}

int build_container_crr(struct bench *b, struct na_bench_table *t, int max)
{
	if (max < 1)
		return 0;
	new_table(b, t, "container-crr", NA_BENCH_CRR, 64,
		  "connect, request and reply, close, between two containers; messages of");
	container_variants(b, t);
	return 1;
}

/* ---- a TCP proxy between client and server ------------------------------ */

/*
 * The proxy scenarios: client and server on loopback, not enrolled, and a
 * proxy between them: netaccel-proxy in each of its modes (a copy loop,
 * splice(2), the kernel's splice, and auto: what the library chooses),
 * and HAProxy in TCP mode. CPU per
 * operation is the whole machine's here: the kernel path works in
 * softirqs and kernel threads that no process is charged for.
 */
static void proxy_variants(struct bench *b, struct na_bench_table *t)
{
	static const struct { const char *key, *label, *proxy; } pv[] = {
		{ "copy", "netaccel-proxy --mode copy (read/write loop)", "copy" },
		{ "splice", "netaccel-proxy --mode splice (splice(2))", "splice" },
		{ "kernel", "netaccel-proxy --mode kernel (sockmap)", "kernel" },
		{ "haproxy", "HAProxy, mode tcp, 1 thread", "haproxy" },
		{ "auto", "netaccel-proxy (mode auto, its default)", "auto" },
	};

	for (size_t i = 0; i < sizeof(pv) / sizeof(pv[0]); i++)
		add_variant(t, pv[i].key, pv[i].label, &b->plain, &b->plain)->proxy = pv[i].proxy;
	t->extra_num = 4;	/* auto / HAProxy */
	t->extra_den = 3;
}

int build_proxy_rr(struct bench *b, struct na_bench_table *t, int max)
{
	static const size_t sizes[] = { 64, 1024, 16384 };
	int n = 0;

	for (size_t i = 0; i < 3 && n < max; i++, n++) {
		new_table(b, &t[n], "proxy-rr", NA_BENCH_RR, sizes[i],
			  "ping-pong through a TCP proxy, messages of");
		proxy_variants(b, &t[n]);
	}
	return n;
}

int build_proxy_stream(struct bench *b, struct na_bench_table *t, int max)
{
	static const size_t sizes[] = { 16384, 131072 };
	int n = 0;

	for (size_t i = 0; i < 2 && n < max; i++, n++) {
		new_table(b, &t[n], "proxy-stream", NA_BENCH_STREAM, sizes[i],
			  "bulk transfer through a TCP proxy, writes of");
		proxy_variants(b, &t[n]);
	}
	return n;
}

int build_proxy_conns(struct bench *b, struct na_bench_table *t, int max)
{
	static const int conns[] = { 100, 1000 };
	int n = 0;

	for (size_t i = 0; i < 2 && n < max; i++, n++) {
		new_table(b, &t[n], "proxy-conns", NA_BENCH_CONNS, 1024,
			  "many connections at once through a TCP proxy, each a ping-pong of");
		t[n].conns = conns[i];
		retitle(&t[n], conns[i] == 100 ? "100 connections" : "1000 connections");
		proxy_variants(b, &t[n]);
	}
	return n;
}
