/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A receiver the fast path cannot serve, in a forked helper: one that
 * turns blocking on the fast path, and comes back once it is non-blocking
 * again.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "test_transparency.h"

/* ---- receivers the fast path cannot serve ---------------------------------- */

/*
 * A client process whose receiver on the fast path turns blocking. This
 * program is the server (sfd); the client end cfd lives in a forked helper
 * (turn_client), so that its blocking reads happen in another process than
 * the other tests' (what netaccel learns about a process must not leak into
 * them). Step bytes on a unix socketpair keep the two in order; the
 * counters are read here between steps, while the helper waits.
 */
#define TURN_FIRST (64 * KiB)
#define TURN_REPLY (100 * KiB)
#define TURN_UP (16 * KiB)
#define TURN_AFTER (64 * KiB)
#define TURN_ROUNDS 2

struct turn_job {
	int cfd, ctl;
	uint64_t up, down;	/* seeds: client to server, server to client */
};

static int turn_client(void *arg)
{
	const struct turn_job *j = arg;
	const size_t reply_off = 1 + TURN_FIRST;
	char *buf = malloc(TURN_REPLY);
	size_t got = 0, off;
	int64_t t0;

	HELPER_CHECK(buf, "turn_client: out of memory");
	/* Warm-up, this side's half: the first byte each way. */
	HELPER_OK(na_test_send_pattern(j->cfd, j->up, 0, 1));
	HELPER_OK(na_test_recv_pattern(j->cfd, j->down, 0, 1));
	HELPER_OK(na_test_wait_acked(j->cfd, NA_TEST_TIMEOUT_MS));
	/* 1: both directions on the fast path, this side event-driven. */
	HELPER_OK(step_wait(j->ctl, '1', 20000));
	HELPER_OK(na_test_send_pattern(j->cfd, j->up, 1, TURN_FIRST));
	HELPER_OK(na_test_recv_pattern(j->cfd, j->down, 1, TURN_FIRST));
	HELPER_OK(step_send(j->ctl, '2'));

	/* 3: turn blocking and wait in recv() for the reply. */
	HELPER_OK(step_wait(j->ctl, '3', 20000));
	HELPER_OK(na_test_set_nonblock(j->cfd, false));
	HELPER_OK(na_test_set_timeouts(j->cfd, 10000));
	HELPER_OK(step_send(j->ctl, 'b'));
	t0 = na_test_now_ms();
	while (got < TURN_REPLY) {
		ssize_t n = recv(j->cfd, buf + got, TURN_REPLY - got, 0);

		if (n < 0 && errno == EINTR)
			continue;
		HELPER_CHECK(n > 0, "a blocking recv() of the reply returned %zd (%s) after "
			     "%zu of %d bytes, %lld ms", n, n < 0 ? strerror(errno) : "EOF",
			     got, TURN_REPLY, (long long)(na_test_now_ms() - t0));
		got += (size_t)n;
	}
	HELPER_CHECK(na_test_pattern_check(j->down, reply_off, buf, TURN_REPLY) < 0,
		     "the blocking reader got wrong bytes");
	/* The other direction still takes the fast path. */
	HELPER_OK(na_test_send_pattern(j->cfd, j->up, 1 + TURN_FIRST, TURN_UP));
	HELPER_OK(step_send(j->ctl, '4'));

	/* 5: non-blocking again; every exchange after it. */
	HELPER_OK(step_wait(j->ctl, '5', 20000));
	HELPER_OK(na_test_set_nonblock(j->cfd, true));
	off = reply_off + TURN_REPLY;
	for (int round = 0; round < TURN_ROUNDS; round++) {
		HELPER_OK(step_send(j->ctl, 'n'));
		HELPER_OK(na_test_recv_pattern(j->cfd, j->down, off, TURN_AFTER));
		off += TURN_AFTER;
	}
	HELPER_OK(step_send(j->ctl, 'e'));
	free(buf);
	return 0;
}

/* The next step byte from the helper, or the test fails with its exit. */
static void turn_step(int ctl, char want, pid_t pid, const struct family *f,
		      const char *what)
{
	int err = step_wait(ctl, want, 20000), rc;

	if (!err)
		return;
	rc = na_world_wait(&world, pid, 5000);
	fail_msg("%s: the client process did not get to %s (%s; its exit code %d)",
		 f->name, what, strerror(-err), rc);
}

/*
 * A receiver on the fast path turns blocking (fcntl) and reads: its sender
 * moves to TCP (peer_unfit), the blocking recv() of a reply gets every
 * byte, and the other direction stays fast. Non-blocking again, and
 * everything read, the sender comes back to the fast path
 * (deferred_joined), every byte in order. (A blocking recv() on such a
 * socket that is woken without data can still end with EAGAIN:
 * docs/limitations.md, "What remains"; the reply here is queued by TCP,
 * which that recv() waits for correctly.)
 */
void test_receiver_turns_blocking(void **state)
{
	const struct family *f = *state;
	const size_t k = family_index(f);
	struct turn_job j = { .up = 0xb10c00 + 2 * k, .down = 0xb10c01 + 2 * k };
	const size_t reply_off = 1 + TURN_FIRST;
	struct na_stats before, d;
	size_t off;
	bool asleep;
	int lfd = listen_on(f), cfd, sfd, ctl[2], rc;
	pid_t pid;

	make_cold_pair(lfd, f, &cfd, &sfd);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ctl), 0);
	j.cfd = cfd;
	j.ctl = ctl[1];
	pid = na_world_fork(&world, turn_client, &j);
	assert_true(pid > 0);
	close(cfd);
	close(ctl[1]);

	/* Warm-up, this side's half. */
	NA_ASSERT_OK(na_test_recv_pattern(sfd, j.up, 0, 1));
	NA_ASSERT_OK(na_test_send_pattern(sfd, j.down, 0, 1));
	NA_ASSERT_OK(na_test_wait_acked(sfd, NA_TEST_TIMEOUT_MS));

	stats_now(&before);
	NA_ASSERT_OK(step_send(ctl[0], '1'));
	NA_ASSERT_OK(na_test_recv_pattern(sfd, j.up, 1, TURN_FIRST));
	NA_ASSERT_OK(na_test_send_pattern(sfd, j.down, 1, TURN_FIRST));
	turn_step(ctl[0], '2', pid, f, "the end of the first exchange");
	assert_all_redirected(&before, 2 * TURN_FIRST, 2, f->name);

	/* The client turns blocking and waits for the reply in recv(). */
	stats_now(&before);
	NA_ASSERT_OK(step_send(ctl[0], '3'));
	turn_step(ctl[0], 'b', pid, f, "its blocking recv()");
	asleep = wait_proc_sleeps(pid, 5000);
	NA_ASSERT_OK(na_test_send_pattern(sfd, j.down, reply_off, TURN_REPLY));
	NA_ASSERT_OK(na_test_recv_pattern(sfd, j.up, 1 + TURN_FIRST, TURN_UP));
	turn_step(ctl[0], '4', pid, f, "the end of the blocking recv() of the reply");
	if (!asleep)
		na_test_diag("%s: the client was not seen asleep before the reply", f->name);
	ASSERT_DELTAS(&before, d,
		      d.peer_unfit < 1 || d.bytes_passed != TURN_REPLY ||
		      d.bytes_redirected != TURN_UP,
		      "%s: expected the reply to a receiver turned blocking on TCP "
		      "(peer_unfit >= 1, %d bytes passed) and the other direction "
		      "still redirected (%d bytes)", f->name, TURN_REPLY, TURN_UP);

	/* Non-blocking again, everything read and acknowledged: the sender
	 * comes back to the fast path. */
	NA_ASSERT_OK(step_send(ctl[0], '5'));
	off = reply_off + TURN_REPLY;
	for (int round = 0; round < TURN_ROUNDS; round++) {
		turn_step(ctl[0], 'n', pid, f, "non-blocking reads");
		NA_ASSERT_OK(na_test_wait_acked(sfd, NA_TEST_TIMEOUT_MS));
		if (round == 0)
			stats_now(&before);
		NA_ASSERT_OK(na_test_send_pattern(sfd, j.down, off, TURN_AFTER));
		off += TURN_AFTER;
	}
	turn_step(ctl[0], 'e', pid, f, "its last non-blocking read");
	rc = na_world_wait(&world, pid, 10000);
	if (rc)
		fail_msg("%s: the client process ended with %d", f->name, rc);
	ASSERT_DELTAS(&before, d,
		      d.deferred_joined < 1 || d.bytes_redirected < TURN_AFTER ||
		      d.bytes_redirected + d.bytes_passed != TURN_ROUNDS * TURN_AFTER,
		      "%s: expected a receiver non-blocking again to get its bytes "
		      "on the fast path again (deferred_joined >= 1, at least %d of "
		      "%d bytes redirected)", f->name, TURN_AFTER,
		      TURN_ROUNDS * TURN_AFTER);
	close(ctl[0]);
	close(sfd);
	close(lfd);
}
