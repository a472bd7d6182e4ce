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
 *
 * This file holds the fixture, the helpers and the table of tests; the
 * tests are in datapath_sockets.c and datapath_scope.c.
 */
#include <stdlib.h>
#include <string.h>

#include "test_datapath.h"

struct na_world world;

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

void make_cgroup(const char *rel, struct na_cgroup *cg)
{
	int err = na_world_cgroup(&world, rel, cg);

	if (err)
		fail_msg("cannot create cgroup %s: %s", rel, strerror(-err));
}

void enroll(const struct na_cgroup *cg)
{
	if (na_world_enroll(&world, cg->path, "all") != 0)
		fail_msg("netaccel-ctl enroll %s failed", cg->path);
}

void enter(const struct na_cgroup *cg)
{
	NA_ASSERT_OK(na_world_enter(&world, cg->path));
}

void stats(uint64_t cgid, struct na_stats *s)
{
	NA_STATS(&world, cgid, s);
}

void delta(const struct na_stats *before, uint64_t cgid,
	   struct na_stats *d)
{
	struct na_stats after;

	stats(cgid, &after);
	na_test_stats_delta(before, &after, d);
}

/* Both directions of one connection: len bytes each, EOF at the end. */
void transfer(int cfd, int sfd, uint64_t seed, size_t len0, size_t len1,
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
int listen_nb(const char *host, uint16_t port, int flags)
{
	int lfd;

	NA_ASSERT_FD(lfd, na_test_listen(host, port, flags | NA_TEST_NONBLOCK));
	return lfd;
}

/* An event-driven pair to lfd through host, warmed up: every byte sent
 * from now on can take the fast path. */
void event_pair(int lfd, const char *host, int *cfd, int *sfd)
{
	NA_ASSERT_OK(na_test_pair_ex(lfd, host, NA_TEST_PAIR_EVENT, cfd, sfd));
}

void expect_not_redirected(const struct na_stats *d, const char *what)
{
	if (d->bytes_redirected || d->msgs_redirected) {
		na_test_stats_print(what, d);
		fail_msg("%s: %llu bytes went through the redirect; none should have",
			 what, (unsigned long long)d->bytes_redirected);
	}
}

void expect_redirected(const struct na_stats *d, uint64_t bytes,
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
void transfer_redirected(int cfd, int sfd, uint64_t id, uint64_t seed, size_t len0,
			 size_t len1, const char *what)
{
	struct na_stats s0, d;

	stats(id, &s0);
	transfer(cfd, sfd, seed, len0, len1, what);
	delta(&s0, id, &d);
	expect_redirected(&d, len0 + len1, what);
}

/* The listener (and so the accepted end) in srv_cg, the client in cli_cg;
 * an event-driven pair, warmed up. */
void pair_across(const struct na_cgroup *srv_cg,
		 const struct na_cgroup *cli_cg, int *lfd, int *cfd,
		 int *sfd)
{
	enter(srv_cg);
	*lfd = listen_nb("127.0.0.1", 0, 0);
	enter(cli_cg);
	event_pair(*lfd, "127.0.0.1", cfd, sfd);
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

	NA_TEST_MAIN_BEGIN();
	return cmocka_run_group_tests_name("datapath", tests, group_setup,
					   group_teardown);
}
