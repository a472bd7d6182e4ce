/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * How far an enrollment reaches and who counts: two network namespaces
 * with the same addresses and ports, an enrolled parent and its child
 * cgroups, and two enrolled cgroups that talk to each other.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "test_datapath.h"

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

void test_netns_same_addresses(void **state)
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

void test_parent_covers_child(void **state)
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
void test_parent_and_child_enrolled(void **state)
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

void test_two_enrolled_cgroups(void **state)
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
