/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Stopping acceleration under load loses nothing: while several connections
 * stream seeded data both ways, `unenroll` (and `cleanup`) run; every byte
 * still arrives in order, the live connections stay on the fast path to
 * their end, new connections take TCP, and once the traffic is over
 * `cleanup` removes every pin.
 *
 * The connections are event-driven (non-blocking listener and sockets) and
 * warmed up (na_test_warmup) before their counters matter: that is what
 * the fast path serves from the first byte on.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <json-c/json.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "na_check.h"

#define KiB 1024
#define MiB (1024 * 1024)
#define STREAMS 4
#define PROGRESS_TIMEOUT_MS 20000

static struct na_world world;

/* ---- background traffic --------------------------------------------------- */

/*
 * STREAMS connections, each direction an unbounded seeded stream, driven
 * by the poll engine in a thread until stop is raised. Static, so that a
 * failed test's teardown can still stop and join it.
 */
static struct background {
	struct na_test_conn c[STREAMS];
	int lfd;
	int stop;
	int err;
	bool running;
	pthread_t th;
} bg = { .lfd = -1 };

static const size_t stream_chunks[STREAMS] = { 64 * KiB, 1500, 16 * KiB, 256 * KiB };

static void *bg_main(void *arg)
{
	struct na_test_run_opts o = {
		.io = NA_TEST_IO_POLL, .timeout_ms = 90000, .stop = &bg.stop,
	};

	bg.err = na_test_run(bg.c, STREAMS, &o);
	return NULL;
}

static int bg_start(void)
{
	int err;

	/* A dual-stack listener: the streams alternate IPv4 and IPv6. */
	bg.lfd = na_test_listen("::", 0, NA_TEST_DUALSTACK | NA_TEST_NONBLOCK);
	if (bg.lfd < 0)
		return bg.lfd;
	for (size_t i = 0; i < STREAMS; i++) {
		err = na_test_pair_ex(bg.lfd, i % 2 ? "::1" : "127.0.0.1",
				      NA_TEST_PAIR_EVENT, &bg.c[i].fd[0], &bg.c[i].fd[1]);
		if (err)
			return err;
		na_test_dir_init(&bg.c[i].dir[0], 0x11fe00 + 2 * i, NA_TEST_UNBOUNDED,
				 stream_chunks[i], true);
		na_test_dir_init(&bg.c[i].dir[1], 0x11fe01 + 2 * i, NA_TEST_UNBOUNDED,
				 stream_chunks[(i + 1) % STREAMS], true);
	}
	bg.stop = 0;
	bg.err = 0;
	err = pthread_create(&bg.th, NULL, bg_main, NULL);
	if (err)
		return -err;
	bg.running = true;
	return 0;
}

/* Raise stop and wait for every stream to end (bounded by the engine). */
static int bg_stop(void)
{
	if (!bg.running)
		return bg.err;
	__atomic_store_n(&bg.stop, 1, __ATOMIC_SEQ_CST);
	pthread_join(bg.th, NULL);
	bg.running = false;
	return bg.err;
}

static void bg_close(void)
{
	bg_stop();
	na_test_close_conns(bg.c, STREAMS);
	if (bg.lfd >= 0)
		close(bg.lfd);
	bg.lfd = -1;
}

/* The smallest count of bytes received over the directions. */
static size_t bg_min_rcvd(void)
{
	size_t min = SIZE_MAX;

	for (size_t i = 0; i < STREAMS; i++)
		for (int d = 0; d < 2; d++) {
			size_t r = __atomic_load_n(&bg.c[i].dir[d].rcvd, __ATOMIC_SEQ_CST);

			if (r < min)
				min = r;
		}
	return min;
}

/*
 * Wait until every direction has received more than `more` bytes beyond
 * where the slowest stood at the call. The engine has no event to wait
 * on, so this looks every 5 ms, bounded.
 */
static int bg_wait_progress(size_t more)
{
	size_t target = bg_min_rcvd() + more;
	int64_t deadline = na_test_now_ms() + PROGRESS_TIMEOUT_MS;

	while (bg_min_rcvd() < target) {
		if (na_test_now_ms() > deadline || !bg.running) {
			for (size_t i = 0; i < STREAMS; i++)
				for (int d = 0; d < 2; d++)
					na_test_diag("stream %zu direction %d: sent %zu, received %zu",
						     i, d,
						     __atomic_load_n(&bg.c[i].dir[d].sent, __ATOMIC_SEQ_CST),
						     __atomic_load_n(&bg.c[i].dir[d].rcvd, __ATOMIC_SEQ_CST));
			return -ETIMEDOUT;
		}
		usleep(5000);
	}
	return 0;
}

/* ---- fixture --------------------------------------------------------------- */

static int group_setup(void **state)
{
	int err = na_world_init(&world, "lifecycle");

	if (err)
		na_world_bail("cannot build the test world: %s", strerror(-err));
	return 0;
}

static int group_teardown(void **state)
{
	bg_close();
	na_world_teardown(&world);
	return 0;
}

static int test_setup(void **state)
{
	na_world_test_begin(&world, 120);
	return 0;
}

static int test_teardown(void **state)
{
	bg_close();
	na_world_test_end(&world);
	if (na_world_ctl_ok(&world, "cleanup", "--force", NULL) != 0)
		return -1;
	return 0;
}

/* ---- helpers ------------------------------------------------------------- */

static void stats(uint64_t cgid, struct na_stats *s)
{
	NA_STATS(&world, cgid, s);
}

static void start_traffic(const struct na_cgroup *cg)
{
	int err;

	NA_ASSERT_OK(na_world_enter(&world, cg->path));
	err = bg_start();
	if (err)
		fail_msg("cannot start the background streams: %s", strerror(-err));
	err = bg_wait_progress(1 * MiB);
	if (err)
		fail_msg("the background streams do not flow");
}

static void stop_traffic(const char *what)
{
	int err = bg_stop();
	size_t bytes = na_test_bytes_sent(bg.c, STREAMS);

	NA_ASSERT_DELIVERED(bg.c, STREAMS, err, what);
	na_test_diag("%s: %zu MiB streamed, all of it intact", what, bytes / MiB);
}

#define NEW_CONNS 2
#define NEW_CONN_BYTES (2 * 2 * MiB)	/* both directions of each */

/*
 * NEW_CONNS event-driven connections made now, in the current cgroup, each
 * warmed up and then carrying 2 MiB both ways, to a new listener (primed
 * first); *d is how the counters of cgid moved meanwhile (from before the
 * connections' sockets were created), *dx how they moved from after the
 * warm-ups (may be NULL).
 */
static void new_connections(uint64_t cgid, struct na_stats *d, struct na_stats *dx,
			    const char *what)
{
	struct na_test_run_opts o = { .io = NA_TEST_IO_POLL, .timeout_ms = 30000 };
	struct na_test_conn c[NEW_CONNS];
	struct na_stats s0, sx, s1;
	int lfd, err;

	NA_ASSERT_FD(lfd, na_test_listen("127.0.0.1", 0, NA_TEST_NONBLOCK));
	NA_ASSERT_OK(na_test_prime(lfd, "127.0.0.1"));
	stats(cgid, &s0);
	for (size_t i = 0; i < NEW_CONNS; i++) {
		NA_ASSERT_OK(na_test_pair_ex(lfd, "127.0.0.1", NA_TEST_PAIR_EVENT,
					     &c[i].fd[0], &c[i].fd[1]));
		na_test_dir_init(&c[i].dir[0], 0x9e00 + 2 * i, 2 * MiB, 0, true);
		na_test_dir_init(&c[i].dir[1], 0x9e01 + 2 * i, 2 * MiB, 0, true);
	}
	stats(cgid, &sx);
	err = na_test_run(c, NEW_CONNS, &o);
	NA_ASSERT_DELIVERED(c, NEW_CONNS, err, what);
	stats(cgid, &s1);
	na_test_stats_delta(&s0, &s1, d);
	if (dx)
		na_test_stats_delta(&sx, &s1, dx);
	na_test_close_conns(c, NEW_CONNS);
	close(lfd);
}

/* New connections that must stay off the fast path. */
static void assert_new_connections_slow(uint64_t cgid, const char *after)
{
	struct na_stats d;

	new_connections(cgid, &d, NULL, after);
	if (d.bytes_redirected || d.sockets_joined) {
		na_test_stats_print(after, &d);
		fail_msg("connections made after %s joined the fast path (%llu sockets, "
			 "%llu bytes redirected)", after,
			 (unsigned long long)d.sockets_joined,
			 (unsigned long long)d.bytes_redirected);
	}
}

/*
 * The live connections keep the fast path to their end: while the streams
 * move on by 16 MiB, the redirect counter of cgid grows and no connection
 * leaves the fast path (other than for a while, to let a reader catch up).
 */
static void assert_still_fast(uint64_t cgid, const char *after)
{
	struct na_stats s0, s1, d;
	int err;

	stats(cgid, &s0);
	err = bg_wait_progress(16 * MiB);
	if (err)
		fail_msg("after %s, the streams stalled", after);
	stats(cgid, &s1);
	na_test_stats_delta(&s0, &s1, &d);
	/* Bytes on TCP are allowed only while a reader falls behind by more
	 * than the backlog limit (backlog_limited); a connection that left
	 * the fast path for any other reason would count a miss or a
	 * fallback. */
	if (d.bytes_redirected == 0 || d.misses || d.fallbacks) {
		na_test_stats_print(after, &d);
		fail_msg("after %s, live connections redirected %llu bytes and sent %llu "
			 "on TCP (%llu misses, %llu fallbacks); they should stay on the "
			 "fast path", after,
			 (unsigned long long)d.bytes_redirected,
			 (unsigned long long)d.bytes_passed,
			 (unsigned long long)d.misses,
			 (unsigned long long)d.fallbacks);
	}
}

/*
 * `status --json` while connections drain: the cgroup is listed as
 * draining. Only the state is asserted; the layout of the rest is the
 * CLI's business, and a missing field is reported, not failed.
 */
static void check_status_draining(const struct na_cgroup *cg)
{
	struct na_ctl_result *r = malloc(sizeof(*r));
	json_object *root, *cgs;
	bool found = false;

	assert_non_null(r);
	NA_ASSERT_OK(na_world_ctl(&world, r, "status", "--json", NULL));
	if (r->status != 0)
		fail_msg("status --json exited %d: %s", r->status, r->err);
	root = json_tokener_parse(r->out);
	if (!root || !json_object_object_get_ex(root, "cgroups", &cgs) ||
	    !json_object_is_type(cgs, json_type_array)) {
		na_test_diag("status --json has no \"cgroups\" array; not checked");
		goto out;
	}
	for (size_t i = 0; i < json_object_array_length(cgs); i++) {
		json_object *e = json_object_array_get_idx(cgs, i), *v;
		const char *st = "?";
		int64_t live = -1;

		if (!json_object_object_get_ex(e, "id", &v) ||
		    (uint64_t)json_object_get_int64(v) != cg->id)
			continue;
		found = true;
		if (json_object_object_get_ex(e, "state", &v))
			st = json_object_get_string(v);
		if (json_object_object_get_ex(e, "live_sockets", &v))
			live = json_object_get_int64(v);
		na_test_diag("status --json: %s is %s with %lld live sockets", cg->rel, st,
			     (long long)live);
		if (strcmp(st, "draining") != 0) {
			json_object_put(root);
			free(r);
			fail_msg("status --json shows %s as \"%s\" while its connections live; "
				 "expected \"draining\"", cg->rel, st);
		}
		if (live == 0)
			na_test_diag("status --json counts no live socket while %d connections "
				     "stream", STREAMS);
	}
	if (!found) {
		json_object_put(root);
		free(r);
		fail_msg("status --json does not list %s while its connections drain",
			 cg->rel);
	}
out:
	if (root)
		json_object_put(root);
	free(r);
}

/* A scratch cgroup rel, enrolled, with traffic started in it, then
 * unenrolled while that traffic streams. */
static void unenroll_under_load(const char *rel, struct na_cgroup *cg)
{
	NA_ASSERT_OK(na_world_cgroup(&world, rel, cg));
	if (na_world_enroll(&world, cg->path, "all") != 0)
		fail_msg("enroll failed");
	start_traffic(cg);
	if (na_world_unenroll(&world, cg->path) != 0)
		fail_msg("unenroll under load failed");
}

/* ---- unenroll under load --------------------------------------------------- */

static void test_unenroll_under_load(void **state)
{
	struct na_cgroup cg;

	unenroll_under_load("unenroll", &cg);

	assert_still_fast(cg.id, "unenroll");
	check_status_draining(&cg);
	stop_traffic("streams across unenroll");

	/* New connections (the old ones still open) take TCP: nothing in
	 * the draining cgroup's counters, nothing in the total. */
	assert_new_connections_slow(cg.id, "unenroll");
	assert_new_connections_slow(0, "unenroll");
	bg_close();
}

/* ---- enroll again while draining ------------------------------------------ */

static void test_reenroll_while_draining(void **state)
{
	struct na_cgroup cg;
	struct na_stats d, dx;

	unenroll_under_load("reenroll", &cg);
	assert_still_fast(0, "unenroll");
	/* Enrolled again while the old connections drain: they go on as
	 * they were, and new ones join again. */
	if (na_world_enroll(&world, cg.path, "all") != 0)
		fail_msg("enroll while the old enrollment drains failed");
	assert_still_fast(0, "enrolling again");
	stop_traffic("streams across unenroll and enroll");

	new_connections(0, &d, &dx, "connections made after enrolling again");
	/* Every socket joined; every byte after the warm-ups redirected. */
	if (dx.bytes_redirected != NEW_CONNS * (uint64_t)NEW_CONN_BYTES ||
	    dx.bytes_passed || d.sockets_joined != 2 * NEW_CONNS) {
		na_test_stats_print("new connections, from before their sockets", &d);
		na_test_stats_print("new connections, after the warm-ups", &dx);
		fail_msg("after enrolling again, %d new connections joined with %llu sockets "
			 "and redirected %llu of the %llu bytes sent after their warm-ups",
			 NEW_CONNS, (unsigned long long)d.sockets_joined,
			 (unsigned long long)dx.bytes_redirected,
			 (unsigned long long)NEW_CONNS * NEW_CONN_BYTES);
	}
	bg_close();
}

/* ---- cleanup under load ---------------------------------------------------- */

static void test_cleanup_under_load(void **state)
{
	struct na_ctl_result *r;
	struct na_cgroup cg;
	int64_t deadline;
	int runs = 0;

	NA_ASSERT_OK(na_world_cgroup(&world, "cleanup", &cg));
	if (na_world_enroll(&world, cg.path, "all") != 0)
		fail_msg("enroll failed");
	start_traffic(&cg);

	r = malloc(sizeof(*r));
	assert_non_null(r);
	NA_ASSERT_OK(na_world_ctl(&world, r, "cleanup", NULL));
	na_test_diag("cleanup with live connections: exit %d: %s%s", r->status,
		     strtok(r->out, "\n") ? r->out : "", strtok(r->err, "\n") ? r->err : "");
	if (!na_world_state_exists(&world))
		fail_msg("cleanup removed the state while accelerated connections live");
	assert_still_fast(0, "cleanup");
	check_status_draining(&cg);
	stop_traffic("streams across cleanup");

	/* No new connection joins any more. */
	assert_new_connections_slow(0, "cleanup");

	/* Once the connections have closed, cleanup removes everything. */
	bg_close();
	deadline = na_test_now_ms() + 5000;
	do {
		NA_ASSERT_OK(na_world_ctl(&world, r, "cleanup", NULL));
		runs++;
		if (!na_world_state_exists(&world))
			break;
		usleep(50000);
	} while (na_test_now_ms() < deadline);
	if (na_world_state_exists(&world))
		fail_msg("cleanup after the last connection closed left %s (exit %d: %s)",
			 world.state_dir, r->status, r->err);
	if (r->status != 0)
		fail_msg("cleanup removed the state but exited %d: %s", r->status, r->err);
	if (runs > 1)
		na_test_diag("cleanup needed %d runs after the connections closed", runs);
	free(r);
}

#define T(name, fn) { name, fn, test_setup, test_teardown, NULL }

int main(void)
{
	const struct CMUnitTest tests[] = {
		T("unenroll under load: nothing lost, live stay fast, new ones take TCP",
		  test_unenroll_under_load),
		T("enroll again while the old enrollment drains: old intact, new fast",
		  test_reenroll_while_draining),
		T("cleanup under load: nothing lost, and cleanup afterwards removes all pins",
		  test_cleanup_under_load),
	};

	NA_TEST_MAIN_BEGIN();
	return cmocka_run_group_tests_name("lifecycle", tests, group_setup,
					   group_teardown);
}
