/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Which connections take the fast path, and which must not: a peer outside
 * any enrolled cgroup, sockets that existed before enrollment, the same
 * addresses and ports in two network namespaces, a process in a child of
 * an enrolled cgroup, two different enrolled cgroups. Each test checks the
 * bytes and the counters; each starts from no state (`cleanup --force`
 * after every test).
 *
 * The connections are event-driven (non-blocking listener and sockets),
 * which is what the fast path serves, so that eligibility is the only
 * question; where bytes must be redirected, the pair is warmed up first
 * (na_test_warmup) and the counters are read from then on. Each listener
 * is primed (na_test_prime: a throwaway event-driven connection) before
 * the counters it is judged by are read.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>


#include <netaccel/state.h>

#include "na_check.h"

#define MiB (1024 * 1024)

static struct na_world world;

static int group_setup(void **state)
{
	int err = na_world_init(&world, "datapath");

	if (err)
		na_world_bail("cannot build the test world: %s", strerror(-err));
	return 0;
}

static int group_teardown(void **state)
{
	na_world_teardown(&world);
	return 0;
}

static int test_setup(void **state)
{
	na_world_test_begin(&world, 60);
	return 0;
}

/* Back to the original cgroup, fds closed, and no netaccel state left. */
static int test_teardown(void **state)
{
	na_world_test_end(&world);
	if (na_world_ctl_ok(&world, "cleanup", "--force", NULL) != 0)
		return -1;
	return 0;
}

/* ---- helpers ------------------------------------------------------------ */

static void make_cgroup(const char *rel, struct na_cgroup *cg)
{
	int err = na_world_cgroup(&world, rel, cg);

	if (err)
		fail_msg("cannot create cgroup %s: %s", rel, strerror(-err));
}

static void enroll(const struct na_cgroup *cg)
{
	if (na_world_enroll(&world, cg->path, "all") != 0)
		fail_msg("netaccel-ctl enroll %s failed", cg->path);
}

static void enter(const struct na_cgroup *cg)
{
	NA_ASSERT_OK(na_world_enter(&world, cg->path));
}

static void stats(uint64_t cgid, struct na_stats *s)
{
	NA_STATS(&world, cgid, s);
}

static void delta(const struct na_stats *before, uint64_t cgid,
		  struct na_stats *d)
{
	struct na_stats after;

	stats(cgid, &after);
	na_test_stats_delta(before, &after, d);
}

/* Both directions of one connection: len bytes each, EOF at the end. */
static void transfer(int cfd, int sfd, uint64_t seed, size_t len0, size_t len1,
		     const char *what)
{
	struct na_test_run_opts o = { .io = NA_TEST_IO_POLL, .timeout_ms = 30000 };
	struct na_test_conn c = { .fd = { cfd, sfd } };
	int err;

	na_test_dir_init(&c.dir[0], seed, len0, 0, true);
	na_test_dir_init(&c.dir[1], seed + 1, len1, 0, true);
	err = na_test_run(&c, 1, &o);
	NA_ASSERT_DELIVERED(&c, 1, err, what);
}

/* An event-driven listener on host (port 0: any). */
static int listen_nb(const char *host, uint16_t port, int flags)
{
	int lfd;

	NA_ASSERT_FD(lfd, na_test_listen(host, port, flags | NA_TEST_NONBLOCK));
	return lfd;
}

/* An event-driven pair to lfd through host, warmed up: every byte sent
 * from now on can take the fast path. */
static void event_pair(int lfd, const char *host, int *cfd, int *sfd)
{
	NA_ASSERT_OK(na_test_pair_ex(lfd, host, NA_TEST_PAIR_EVENT, cfd, sfd));
}

static void expect_not_redirected(const struct na_stats *d, const char *what)
{
	if (d->bytes_redirected || d->msgs_redirected) {
		na_test_stats_print(what, d);
		fail_msg("%s: %llu bytes went through the redirect; none should have",
			 what, (unsigned long long)d->bytes_redirected);
	}
}

static void expect_redirected(const struct na_stats *d, uint64_t bytes,
			      const char *what)
{
	if (d->bytes_redirected != bytes || d->bytes_passed) {
		na_test_stats_print(what, d);
		fail_msg("%s: %llu bytes sent, %llu redirected, %llu on TCP", what,
			 (unsigned long long)bytes,
			 (unsigned long long)d->bytes_redirected,
			 (unsigned long long)d->bytes_passed);
	}
}

/* transfer(), and every byte of it redirected, by the counters of cgroup id. */
static void transfer_redirected(int cfd, int sfd, uint64_t id, uint64_t seed, size_t len0,
				size_t len1, const char *what)
{
	struct na_stats s0, d;

	stats(id, &s0);
	transfer(cfd, sfd, seed, len0, len1, what);
	delta(&s0, id, &d);
	expect_redirected(&d, len0 + len1, what);
}

/* ---- one end not enrolled ------------------------------------------------ */

/* The listener (and so the accepted end) in srv_cg, the client in cli_cg;
 * an event-driven pair, warmed up. */
static void pair_across(const struct na_cgroup *srv_cg,
			const struct na_cgroup *cli_cg, int *lfd, int *cfd,
			int *sfd)
{
	enter(srv_cg);
	*lfd = listen_nb("127.0.0.1", 0, 0);
	enter(cli_cg);
	event_pair(*lfd, "127.0.0.1", cfd, sfd);
}

static void test_one_end_not_enrolled(void **state)
{
	struct na_cgroup on, off;
	struct na_stats on0, all0, d_on, d_all;
	int lfd, cfd, sfd;

	make_cgroup("unenrolled-peer-on", &on);
	make_cgroup("unenrolled-peer-off", &off);
	enroll(&on);

	/* Server enrolled, client not: the client did not join, so the
	 * server does not either (it would pay for the fast path on every
	 * send for nothing), and every byte takes TCP. */
	stats(on.id, &on0);
	stats(0, &all0);
	pair_across(&on, &off, &lfd, &cfd, &sfd);
	transfer(cfd, sfd, 0xdead00, 1 * MiB, 1 * MiB, "enrolled server, plain client");
	delta(&on0, on.id, &d_on);
	delta(&all0, 0, &d_all);
	expect_not_redirected(&d_all, "enrolled server, plain client");
	if (d_on.sockets_skipped < 1 || d_on.sockets_joined) {
		na_test_stats_print("enrolled cgroup", &d_on);
		fail_msg("the enrolled server's connection to a plain client joined "
			 "the fast path, or was not counted as skipped");
	}
	close(cfd);
	close(sfd);
	close(lfd);

	/* Client enrolled, server not: no enrolled cgroup listens on the
	 * server's port, so the client does not join either. */
	stats(on.id, &on0);
	stats(0, &all0);
	pair_across(&off, &on, &lfd, &cfd, &sfd);
	transfer(cfd, sfd, 0xdead10, 1 * MiB, 1 * MiB, "plain server, enrolled client");
	delta(&on0, on.id, &d_on);
	delta(&all0, 0, &d_all);
	expect_not_redirected(&d_all, "plain server, enrolled client");
	if (d_on.sockets_skipped < 1 || d_on.sockets_joined) {
		na_test_stats_print("enrolled cgroup", &d_on);
		fail_msg("the enrolled client's connection to a plain server joined "
			 "the fast path, or was not counted as skipped");
	}
	close(cfd);
	close(sfd);
	close(lfd);
}

/*
 * A connecting socket joins only when a listener of an enrolled cgroup has
 * its destination port. Once that listener has closed, a plain listener on
 * the same port gets connections that stay on TCP at both ends; while it
 * listened, the same client joined.
 */
static void test_listener_gone(void **state)
{
	struct na_cgroup on, off;
	struct na_stats on0, d_on;
	int lfd, cfd, sfd, port;

	make_cgroup("listener-gone-on", &on);
	make_cgroup("listener-gone-off", &off);
	enroll(&on);

	enter(&on);
	lfd = listen_nb("127.0.0.1", 0, 0);
	port = na_test_local_port(lfd);
	event_pair(lfd, "127.0.0.1", &cfd, &sfd);
	stats(on.id, &on0);
	transfer(cfd, sfd, 0x1150, 64 * 1024, 64 * 1024, "enrolled listener");
	delta(&on0, on.id, &d_on);
	expect_redirected(&d_on, 128 * 1024, "enrolled listener");
	close(cfd);
	close(sfd);
	close(lfd);

	enter(&off);
	lfd = listen_nb("127.0.0.1", (uint16_t)port, 0);
	enter(&on);
	NA_ASSERT_OK(na_test_prime(lfd, "127.0.0.1"));
	stats(on.id, &on0);
	event_pair(lfd, "127.0.0.1", &cfd, &sfd);
	transfer(cfd, sfd, 0x1152, 64 * 1024, 64 * 1024, "plain listener on the same port");
	delta(&on0, on.id, &d_on);
	if (d_on.sockets_joined || d_on.sockets_skipped != 1 || d_on.bytes_redirected) {
		na_test_stats_print("enrolled cgroup", &d_on);
		fail_msg("an enrolled client of a plain listener on a port an enrolled "
			 "listener had used joined the fast path");
	}
	close(cfd);
	close(sfd);
	close(lfd);
}

/* ---- what a closed listener leaves behind -------------------------------- */

/* Entries in the state's na_rxstate map (how sockets and listeners read). */
static int rxstate_entries(void)
{
	struct na_reason why = { 0 };
	struct na_state st;
	long n;

	if (na_state_open(&st, world.state_dir, 0, &why))
		fail_msg("%s", why.msg);
	n = na_state_map_count(&st, "na_rxstate");
	na_state_close(&st);
	if (n < 0)
		fail_msg("cannot count na_rxstate in %s: %s", world.state_dir, strerror((int)-n));
	return (int)n;
}

/* Wait (2 s at most) for na_rxstate to hold want entries; the count. */
static int rxstate_settle(int want)
{
	int n = rxstate_entries();

	for (int i = 0; i < 200 && n != want; i++) {
		usleep(10000);
		n = rxstate_entries();
	}
	return n;
}

/*
 * socat without fork closes its listener once it has accepted, then reads
 * the connection blocking. What the connection shows of its listener must
 * go with the listener: the kernel gives the listener's memory to its next
 * socket, and an entry left at that address would keep a later listener's
 * connections on TCP, or draw them onto the fast path, by what an old one
 * did.
 */
static void test_listener_closed_first(void **state)
{
	struct na_cgroup on;
	int lfd, cfd, sfd, n;
	char buf[1000];

	make_cgroup("listener-closed-first", &on);
	enroll(&on);
	enter(&on);
	lfd = na_test_listen("127.0.0.1", 0, 0);
	if (lfd < 0)
		fail_msg("listen: %s", strerror(-lfd));
	n = rxstate_settle(1);
	if (n != 1)
		fail_msg("an enrolled listener has %d entries in na_rxstate, expected 1", n);
	NA_ASSERT_OK(na_test_pair(lfd, "127.0.0.1", &cfd, &sfd));
	close(lfd);
	n = rxstate_settle(0);
	if (n != 0)
		fail_msg("a closed listener left %d entries in na_rxstate", n);

	/* Blocking reads and writes on the accepted socket, after its
	 * listener is gone: each is what a listener's next sockets are
	 * judged by. */
	memset(buf, 'x', sizeof(buf));
	NA_ASSERT_OK(na_test_write_full(cfd, buf, sizeof(buf)));
	NA_ASSERT_OK(na_test_read_full(sfd, buf, sizeof(buf)));
	NA_ASSERT_OK(na_test_write_full(sfd, buf, sizeof(buf)));
	NA_ASSERT_OK(na_test_read_full(cfd, buf, sizeof(buf)));
	close(cfd);
	close(sfd);
	n = rxstate_settle(0);
	if (n != 0)
		fail_msg("a connection that read after its listener closed left %d "
			 "entries in na_rxstate", n);
}

/* ---- sockets that existed before enrollment ------------------------------ */

static void test_sockets_before_enrollment(void **state)
{
	struct na_cgroup late;
	struct na_stats s0, all0, d, d_all;
	int old_lfd, old_c, old_s, cfd, sfd, new_lfd, early;

	make_cgroup("before-enrollment", &late);
	enter(&late);
	old_lfd = listen_nb("127.0.0.1", 0, 0);
	event_pair(old_lfd, "127.0.0.1", &old_c, &old_s);
	NA_ASSERT_FD(early, socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
	enroll(&late);

	stats(late.id, &s0);
	stats(0, &all0);
	/* A connection established before enrollment keeps working. */
	transfer(old_c, old_s, 0xbef0, 1 * MiB, 1 * MiB, "connection from before enrollment");
	/* A listener from before: a new (eligible) client, but the accepted
	 * end inherits the listener's ineligibility. */
	event_pair(old_lfd, "127.0.0.1", &cfd, &sfd);
	transfer(cfd, sfd, 0xbef2, 1 * MiB, 1 * MiB, "listener from before enrollment");
	delta(&s0, late.id, &d);
	delta(&all0, 0, &d_all);
	expect_not_redirected(&d_all, "sockets from before enrollment");
	close(cfd);
	close(sfd);

	/* Control: in the same cgroup, sockets made now are redirected. */
	new_lfd = listen_nb("127.0.0.1", 0, 0);
	event_pair(new_lfd, "127.0.0.1", &cfd, &sfd);
	transfer_redirected(cfd, sfd, late.id, 0xbef4, 1 * MiB, 1 * MiB,
			    "sockets made after enrollment");
	close(cfd);
	close(sfd);

	/* A socket made before enrollment and connected after joins: what
	 * counts is the cgroup it was made in, looked up when its connection
	 * is established. */
	{
		struct sockaddr_in sin = { .sin_family = AF_INET,
					   .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
					   .sin_port = htons((uint16_t)na_test_local_port(new_lfd)) };
		int so = 0;
		socklen_t len = sizeof(so);

		if (connect(early, (struct sockaddr *)&sin, sizeof(sin)) < 0 && errno != EINPROGRESS)
			fail_msg("connect: %s", strerror(errno));
		NA_ASSERT_OK(na_test_wait_fd(early, POLLOUT, NA_TEST_TIMEOUT_MS));
		if (getsockopt(early, SOL_SOCKET, SO_ERROR, &so, &len) < 0 || so)
			fail_msg("connect: %s", strerror(so ? so : errno));
		NA_ASSERT_FD(sfd, na_test_accept4(new_lfd, SOCK_NONBLOCK, NA_TEST_TIMEOUT_MS));
		NA_ASSERT_OK(na_test_warmup(early, sfd));
		transfer_redirected(early, sfd, late.id, 0xbef6, 1 * MiB, 1 * MiB,
				    "socket made before, connected after enrollment");
		close(early);
		close(sfd);
	}
	close(new_lfd);
	close(old_c);
	close(old_s);
	close(old_lfd);
}

/* ---- two network namespaces, same addresses and ports -------------------- */

#define NS_SERVER_PORT 40001
#define NS_CLIENT_PORT 40002
#define NS_LEN (2 * MiB)

struct ns_result {
	int stage;		/* how far the child got */
	int err;		/* negative errno of that stage */
	struct na_test_conn conn;	/* its transfer, for the report */
};

struct ns_job {
	int index;
	int ready[2];		/* child -> parent: "connected" */
	int go[2];		/* parent -> child: "send now" */
	struct ns_result *res;	/* shared memory */
};

static uint64_t ns_seed(int index, int dir)
{
	return 0x6e5000 + 16 * (uint64_t)index + (uint64_t)dir;
}

/* In a fresh network namespace: 127.0.0.1:40002 -> 127.0.0.1:40001, the
 * same four-tuple as the other namespace, each direction with a stream that
 * names this namespace. */
static int ns_child(void *arg)
{
	struct ns_job *j = arg;
	struct ns_result *r = j->res;
	struct na_test_run_opts o = { .io = NA_TEST_IO_POLL, .timeout_ms = 30000 };
	int lfd, err;
	char c = 0;

	r->stage = 1;
	if (unshare(CLONE_NEWNET) < 0)
		return r->err = -errno, 1;
	r->stage = 2;
	if ((err = na_test_lo_up()))
		return r->err = err, 1;
	r->stage = 3;
	lfd = na_test_listen("127.0.0.1", NS_SERVER_PORT, NA_TEST_NONBLOCK);
	if (lfd < 0)
		return r->err = lfd, 1;
	if ((err = na_test_prime(lfd, "127.0.0.1")))
		return r->err = err, 1;
	r->conn.fd[0] = na_test_connect_ex("127.0.0.1", NS_SERVER_PORT, "127.0.0.1",
					   NS_CLIENT_PORT, NA_TEST_CONNECT_NONBLOCK,
					   NA_TEST_TIMEOUT_MS);
	if (r->conn.fd[0] < 0)
		return r->err = r->conn.fd[0], 1;
	r->conn.fd[1] = na_test_accept4(lfd, SOCK_NONBLOCK, NA_TEST_TIMEOUT_MS);
	if (r->conn.fd[1] < 0)
		return r->err = r->conn.fd[1], 1;
	/* A warm-up byte each way: a wrong one means the namespaces' bytes
	 * met already. */
	if ((err = na_test_warmup(r->conn.fd[0], r->conn.fd[1])))
		return r->err = err, 1;

	/* Both namespaces connected (joined and warmed up) before either
	 * sends. */
	r->stage = 4;
	if (write(j->ready[1], "r", 1) != 1)
		return r->err = -errno, 1;
	if ((err = na_test_wait_fd(j->go[0], POLLIN, 20000)) ||
	    read(j->go[0], &c, 1) != 1)
		return r->err = err ? err : -EPIPE, 1;

	r->stage = 5;
	na_test_dir_init(&r->conn.dir[0], ns_seed(j->index, 0), NS_LEN, 0, true);
	na_test_dir_init(&r->conn.dir[1], ns_seed(j->index, 1), NS_LEN, 0, true);
	r->err = na_test_run(&r->conn, 1, &o);
	r->stage = 6;
	return r->err ? 1 : 0;
}

static void test_netns_same_addresses(void **state)
{
	struct na_cgroup cg;
	struct na_stats s0, d;
	struct ns_job jobs[2];
	struct ns_result *res;
	pid_t pid[2];
	int rc[2];

	make_cgroup("netns", &cg);
	enroll(&cg);
	enter(&cg);	/* the children are created here: all four ends eligible */

	res = mmap(NULL, 2 * sizeof(*res), PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	assert_true(res != MAP_FAILED);
	memset(res, 0, 2 * sizeof(*res));
	for (int i = 0; i < 2; i++) {
		jobs[i] = (struct ns_job){ .index = i, .res = &res[i] };
		assert_int_equal(pipe2(jobs[i].ready, O_CLOEXEC), 0);
		assert_int_equal(pipe2(jobs[i].go, O_CLOEXEC), 0);
		pid[i] = na_world_fork(&world, ns_child, &jobs[i]);
		assert_true(pid[i] > 0);
	}
	for (int i = 0; i < 2; i++) {
		char c;

		if (na_test_wait_fd(jobs[i].ready[0], POLLIN, 20000) ||
		    read(jobs[i].ready[0], &c, 1) != 1)
			fail_msg("namespace %d did not get connected (stage %d: %s)", i,
				 res[i].stage, strerror(-res[i].err));
	}
	stats(cg.id, &s0);
	for (int i = 0; i < 2; i++)
		assert_int_equal(write(jobs[i].go[1], "g", 1), 1);
	for (int i = 0; i < 2; i++)
		rc[i] = na_world_wait(&world, pid[i], 60000);
	delta(&s0, cg.id, &d);

	for (int i = 0; i < 2; i++) {
		if (rc[i] == 0)
			continue;
		na_test_report(&res[i].conn, 1);
		fail_msg("namespace %d: exit %d at stage %d: %s (a wrong byte at offset 0 "
			 "means it got the other namespace's stream)", i, rc[i],
			 res[i].stage, strerror(-res[i].err));
	}
	expect_redirected(&d, 4 * (uint64_t)NS_LEN, "both namespaces");
	munmap(res, 2 * sizeof(*res));
}

/* ---- an enrolled parent covers its children ------------------------------ */

static void test_parent_covers_child(void **state)
{
	struct na_cgroup parent, child;
	struct na_stats s0, d, unused;
	int lfd, cfd, sfd, err;

	make_cgroup("parent", &parent);
	make_cgroup("parent/child", &child);
	enroll(&parent);
	enter(&child);
	lfd = listen_nb("::1", 0, NA_TEST_V6ONLY);
	event_pair(lfd, "::1", &cfd, &sfd);
	stats(parent.id, &s0);
	transfer(cfd, sfd, 0xc41d, 1 * MiB + 1, 3 * MiB + 7, "process in a child cgroup");
	delta(&s0, parent.id, &d);
	expect_redirected(&d, 4 * MiB + 8, "counters of the enrolled parent");
	/* The child has no slot of its own. */
	err = na_world_stats(&world, child.id, &unused);
	if (err != -ENOENT)
		fail_msg("counters for the (not enrolled) child cgroup: %s, expected ENOENT",
			 err ? strerror(-err) : "found");
	close(cfd);
	close(sfd);
	close(lfd);
}

/* Parent and child both enrolled: the programs run once for each, and the
 * connection must still join once, counted on the child (the deepest). */
static void test_parent_and_child_enrolled(void **state)
{
	struct na_cgroup parent, child;
	struct na_stats p0, c0, dp, dc;
	int lfd, cfd, sfd;

	make_cgroup("nested", &parent);
	make_cgroup("nested/child", &child);
	enroll(&parent);
	enroll(&child);
	enter(&child);
	lfd = listen_nb("127.0.0.1", 0, 0);
	event_pair(lfd, "127.0.0.1", &cfd, &sfd);
	stats(parent.id, &p0);
	stats(child.id, &c0);
	transfer(cfd, sfd, 0x4e57, 2 * MiB + 5, 1 * MiB + 3, "process in an enrolled child of an enrolled parent");
	delta(&c0, child.id, &dc);
	delta(&p0, parent.id, &dp);
	expect_redirected(&dc, 3 * MiB + 8, "counters of the enrolled child");
	if (dp.bytes_redirected || dp.sockets_joined)
		fail_msg("the parent counted %llu bytes and %llu sockets of its enrolled child",
			 (unsigned long long)dp.bytes_redirected,
			 (unsigned long long)dp.sockets_joined);
	if (dc.join_failed)
		fail_msg("%llu sockets failed to join: the second program run undid the first",
			 (unsigned long long)dc.join_failed);
	close(cfd);
	close(sfd);
	close(lfd);
}

/* ---- two enrolled cgroups ------------------------------------------------ */

static void test_two_enrolled_cgroups(void **state)
{
	struct na_cgroup a, b;
	struct na_stats a0, b0, all0, da, db, dall;
	const size_t a_len = 1 * MiB + 1, b_len = 2 * MiB + 3;
	int lfd, cfd, sfd;

	make_cgroup("two-a", &a);
	make_cgroup("two-b", &b);
	enroll(&a);
	enroll(&b);
	/* Server (listener) in B, client in A. */
	pair_across(&b, &a, &lfd, &cfd, &sfd);
	stats(a.id, &a0);
	stats(b.id, &b0);
	stats(0, &all0);
	transfer(cfd, sfd, 0x2c60, a_len, b_len, "client in A, server in B");
	delta(&a0, a.id, &da);
	delta(&b0, b.id, &db);
	delta(&all0, 0, &dall);
	/* Each cgroup counts what its own sockets sent. */
	expect_redirected(&da, a_len, "counters of A (the client's cgroup)");
	expect_redirected(&db, b_len, "counters of B (the server's cgroup)");
	expect_redirected(&dall, a_len + b_len, "total counters");
	close(cfd);
	close(sfd);
	close(lfd);
}

#define T(name, fn) { name, fn, test_setup, test_teardown, NULL }

int main(void)
{
	const struct CMUnitTest tests[] = {
		T("one end outside enrolled cgroups: works, no redirect, neither end joins",
		  test_one_end_not_enrolled),
		T("a port whose enrolled listener closed draws no client onto the fast path",
		  test_listener_gone),
		T("a listener closed before its connection reads leaves nothing behind",
		  test_listener_closed_first),
		T("from before enrollment: a connection and a listener work, not redirected; a socket connected after is",
		  test_sockets_before_enrollment),
		T("two netns with the same 127.0.0.1 ports: each gets its own bytes, redirected",
		  test_netns_same_addresses),
		T("an enrolled parent covers a child cgroup, counted on the parent",
		  test_parent_covers_child),
		T("parent and child both enrolled: one join, counted on the child",
		  test_parent_and_child_enrolled),
		T("two enrolled cgroups talk accelerated, each counts its own bytes",
		  test_two_enrolled_cgroups),
	};

	na_world_require();
	/* NETACCEL_TEST_FILTER: run only the tests whose names match (cmocka's
	 * * and ? wildcards). */
	if (getenv("NETACCEL_TEST_FILTER"))
		cmocka_set_test_filter(getenv("NETACCEL_TEST_FILTER"));
	return cmocka_run_group_tests_name("datapath", tests, group_setup,
					   group_teardown);
}
