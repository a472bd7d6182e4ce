/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Which sockets of an enrolled cgroup take the fast path: not with a peer
 * outside enrolled cgroups, not to a port whose listener closed, nothing
 * left behind by a listener closed first, and not the sockets that
 * existed before enrollment.
 */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <netaccel/state.h>

#include "test_datapath.h"

/* ---- one end not enrolled ------------------------------------------------ */

/*
 * A connection between a server in srv_cg and a client in cli_cg, of which
 * only on (one of the two) is enrolled: every byte takes TCP, and the
 * enrolled end is counted as skipped, not joined.
 */
static void one_end_enrolled(const struct na_cgroup *on, const struct na_cgroup *srv_cg,
			     const struct na_cgroup *cli_cg, uint64_t seed,
			     const char *what)
{
	const bool server_on = on == srv_cg;
	struct na_stats on0, all0, d_on, d_all;
	int lfd, cfd, sfd;

	stats(on->id, &on0);
	stats(0, &all0);
	pair_across(srv_cg, cli_cg, &lfd, &cfd, &sfd);
	transfer(cfd, sfd, seed, 1 * MiB, 1 * MiB, what);
	delta(&on0, on->id, &d_on);
	delta(&all0, 0, &d_all);
	expect_not_redirected(&d_all, what);
	if (d_on.sockets_skipped < 1 || d_on.sockets_joined) {
		na_test_stats_print("enrolled cgroup", &d_on);
		fail_msg("the enrolled %s's connection to a plain %s joined "
			 "the fast path, or was not counted as skipped",
			 server_on ? "server" : "client", server_on ? "client" : "server");
	}
	close(cfd);
	close(sfd);
	close(lfd);
}

void test_one_end_not_enrolled(void **state)
{
	struct na_cgroup on, off;

	make_cgroup("unenrolled-peer-on", &on);
	make_cgroup("unenrolled-peer-off", &off);
	enroll(&on);

	/* Server enrolled, client not: the client did not join, so the
	 * server does not either (it would pay for the fast path on every
	 * send for nothing), and every byte takes TCP. */
	one_end_enrolled(&on, &on, &off, 0xdead00, "enrolled server, plain client");

	/* Client enrolled, server not: no enrolled cgroup listens on the
	 * server's port, so the client does not join either. */
	one_end_enrolled(&on, &off, &on, 0xdead10, "plain server, enrolled client");
}

/*
 * A connecting socket joins only when a listener of an enrolled cgroup has
 * its destination port. Once that listener has closed, a plain listener on
 * the same port gets connections that stay on TCP at both ends; while it
 * listened, the same client joined.
 */
void test_listener_gone(void **state)
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
void test_listener_closed_first(void **state)
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

void test_sockets_before_enrollment(void **state)
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
