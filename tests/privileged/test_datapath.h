/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What the files of test_datapath share: the fixture's world and the
 * helpers (test_datapath.c), and each file's test functions, which the
 * table in test_datapath.c lists in its order.
 */
#ifndef NA_TEST_DATAPATH_H
#define NA_TEST_DATAPATH_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "na_check.h"

#define MiB (1024 * 1024)

extern struct na_world world;	/* this program's world (test_datapath.c) */

/* ---- helpers (test_datapath.c) ------------------------------------------ */

/* Create the scratch cgroup rel; fails the test on error. */
void make_cgroup(const char *rel, struct na_cgroup *cg);

/* Enroll cg in mode all; fails the test on error. */
void enroll(const struct na_cgroup *cg);

/* Move this process into cg. */
void enter(const struct na_cgroup *cg);

/* The counters of cgroup cgid (0: all). */
void stats(uint64_t cgid, struct na_stats *s);

/* Counter deltas of cgroup cgid since before. */
void delta(const struct na_stats *before, uint64_t cgid,
	   struct na_stats *d);

/* Both directions of one connection: len bytes each, EOF at the end. */
void transfer(int cfd, int sfd, uint64_t seed, size_t len0, size_t len1,
	      const char *what);

/* An event-driven listener on host (port 0: any). */
int listen_nb(const char *host, uint16_t port, int flags);

/* An event-driven pair to lfd through host, warmed up. */
void event_pair(int lfd, const char *host, int *cfd, int *sfd);

/* The deltas d show nothing redirected. */
void expect_not_redirected(const struct na_stats *d, const char *what);

/* The deltas d show exactly bytes redirected and none on TCP. */
void expect_redirected(const struct na_stats *d, uint64_t bytes,
		       const char *what);

/* transfer(), and every byte of it redirected, by the counters of cgroup id. */
void transfer_redirected(int cfd, int sfd, uint64_t id, uint64_t seed, size_t len0,
			 size_t len1, const char *what);

/* The listener in srv_cg, the client in cli_cg; an event-driven pair, warmed up. */
void pair_across(const struct na_cgroup *srv_cg,
		 const struct na_cgroup *cli_cg, int *lfd, int *cfd,
		 int *sfd);

/* ---- the tests, by file --------------------------------------------------- */

/* datapath_sockets.c */
void test_one_end_not_enrolled(void **state);
void test_listener_gone(void **state);
void test_listener_closed_first(void **state);
void test_sockets_before_enrollment(void **state);

/* datapath_scope.c */
void test_netns_same_addresses(void **state);
void test_parent_covers_child(void **state);
void test_parent_and_child_enrolled(void **state);
void test_two_enrolled_cgroups(void **state);

#endif /* NA_TEST_DATAPATH_H */
