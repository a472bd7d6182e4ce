/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Helpers shared by netaccel's privileged tests: a seeded byte stream that a
 * receiver can regenerate to prove bytes arrived intact and in order,
 * loopback socket set-up, and a traffic engine that drives many connections
 * in both directions at once with a chosen reader style.
 *
 * Every function returns a negative errno on failure and never blocks
 * without a bound: each wait has a timeout in milliseconds.
 */
#ifndef NA_TEST_H
#define NA_TEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

/* ---- seeded stream (pattern.c) ----------------------------------------- */

/*
 * Byte i of stream seed is a pure function of (seed, i), so any window of
 * the stream can be produced or checked without the bytes before it.
 */
void na_test_pattern_fill(uint64_t seed, uint64_t off, void *buf, size_t len);

/* Offset inside buf of the first byte that differs from the stream, or -1. */
ssize_t na_test_pattern_check(uint64_t seed, uint64_t off, const void *buf,
			      size_t len);

/* ---- sockets (sock.c; pairs: pair.c; reads and writes: io.c) ------------ */

#define NA_TEST_TIMEOUT_MS 10000	/* default bound of a single wait */

/* Parse a numeric IPv4 or IPv6 address and a port into ss. */
int na_test_sockaddr(const char *host, uint16_t port,
		     struct sockaddr_storage *ss, socklen_t *len);

enum na_test_listen_flags {
	NA_TEST_DUALSTACK = 1 << 0,	/* IPV6_V6ONLY off: also accept IPv4 */
	NA_TEST_V6ONLY = 1 << 1,
	NA_TEST_NONBLOCK = 1 << 2,	/* an O_NONBLOCK listener, as an
					 * event-driven server has */
};

/* A listening TCP socket on host:port (port 0: any). Returns the fd. */
int na_test_listen(const char *host, uint16_t port, int flags);

/* The local port of a bound socket, or a negative errno. */
int na_test_local_port(int fd);

/*
 * A connected TCP socket to host:port, optionally bound first to
 * bind_host:bind_port (bind_host NULL: no bind). The socket family follows
 * host ("::ffff:127.0.0.1" gives an AF_INET6 socket). Returns the fd.
 */
int na_test_connect(const char *host, uint16_t port, const char *bind_host,
		    uint16_t bind_port, int timeout_ms);

/* na_test_connect with flags: how the socket connects and how it is left
 * (0: what na_test_connect does, a non-blocking connect, then blocking). */
enum na_test_connect_flags {
	/* Non-blocking throughout: an event-driven client. */
	NA_TEST_CONNECT_NONBLOCK = 1 << 0,
	/* A blocking connect() call (bounded by SO_SNDTIMEO = timeout_ms,
	 * then reset), as a plain blocking client makes it. */
	NA_TEST_CONNECT_BLOCKING = 1 << 1,
};

int na_test_connect_ex(const char *host, uint16_t port, const char *bind_host,
		       uint16_t bind_port, int flags, int timeout_ms);

/* accept4() bounded by timeout_ms. Returns the new fd. */
int na_test_accept(int lfd, int timeout_ms);

/*
 * accept4(lfd, SOCK_CLOEXEC | flags) bounded by timeout_ms; flags may hold
 * SOCK_NONBLOCK. Works on blocking and non-blocking listeners.
 */
int na_test_accept4(int lfd, int flags, int timeout_ms);

/*
 * Show netaccel that the listener lfd hands out event-driven sockets: one
 * throwaway connection through host (non-blocking at both ends), whose
 * accepted end reads a byte with recv() while non-blocking, then both ends
 * close cleanly (each sees the other's FIN, so that the counters of the
 * throwaway connection are final on return). netaccel judges an accepted
 * socket, which has no file of its own when its connection is established,
 * by what its listener's earlier accepted sockets did: a listener seen
 * handing out event-driven sockets (NBACC) gets its next ones on the fast
 * path, one never seen keeps them on TCP (kept_unseen).
 *
 * Once per listener: a listener primed before (remembered by its socket
 * cookie, in this process and its children forked later) is left alone,
 * also when its first prime failed. No connection to lfd may be waiting
 * to be accepted. The throwaway connection moves the counters of the
 * current cgroup (joins or not, one byte, closes): prime before a test's
 * counter snapshot. Every wait bounded.
 */
int na_test_prime(int lfd, const char *host);

/*
 * Connect to the listener lfd through host (its port is read from lfd) and
 * accept the connection: on return both ends exist, so a first write made
 * now finds its peer. *cfd is the client end, *sfd the accepted one. Both
 * are blocking (the client only after its non-blocking connect); netaccel
 * redirects nothing to blocking sockets, and with a blocking listener
 * neither end joins the fast path: na_test_pair_ex makes event-driven
 * pairs.
 */
int na_test_pair(int lfd, const char *host, int *cfd, int *sfd);

enum na_test_pair_flags {
	/* Both ends non-blocking from the start (connect and accept4 with
	 * SOCK_NONBLOCK): an event-driven pair. The listener should have been
	 * made with NA_TEST_NONBLOCK. The first such pair of a listener
	 * primes it first (na_test_prime), so that its accepted end can join
	 * the fast path. */
	NA_TEST_PAIR_NONBLOCK = 1 << 0,
	/* Then na_test_warmup: every later byte can take the fast path. */
	NA_TEST_PAIR_WARMUP = 1 << 1,
	/* Both NONBLOCK and WARMUP. */
	NA_TEST_PAIR_EVENT = NA_TEST_PAIR_NONBLOCK | NA_TEST_PAIR_WARMUP,
};

/* na_test_pair with flags (0: exactly na_test_pair). With
 * NA_TEST_PAIR_NONBLOCK, a listener not primed yet is primed before the
 * pair is made: take counter snapshots after this returns. */
int na_test_pair_ex(int lfd, const char *host, int flags, int *cfd, int *sfd);

/*
 * One small message each way (client first), each read with recv() by its
 * receiver, then wait until neither end has unacknowledged bytes. On
 * netaccel's fast path a sender redirects only to a peer seen reading with
 * recv(), and only once every byte it sent by TCP has been acknowledged and
 * read: after the warm-up, every byte either end sends can be redirected.
 * Works on blocking and non-blocking sockets; every wait bounded.
 */
int na_test_warmup(int cfd, int sfd);

/* Wait until every byte sent on fd is acknowledged (SIOCOUTQ 0), bounded
 * by timeout_ms. */
int na_test_wait_acked(int fd, int timeout_ms);

int na_test_set_nonblock(int fd, bool on);

/* SO_RCVTIMEO and SO_SNDTIMEO both set to ms. */
int na_test_set_timeouts(int fd, int ms);

/* Wait until fd reports one of events (poll), bounded by timeout_ms. */
int na_test_wait_fd(int fd, short events, int timeout_ms);

/*
 * write()/read() exactly len bytes. On a blocking fd each call is bounded
 * by the timeouts set on the socket; on a non-blocking fd an EAGAIN waits
 * with poll(), at most NA_TEST_TIMEOUT_MS without progress. Both give
 * -ETIMEDOUT when the bound expires; read_full returns -ENODATA on a
 * premature EOF.
 */
int na_test_write_full(int fd, const void *buf, size_t len);
int na_test_read_full(int fd, void *buf, size_t len);

/* Send len bytes of stream seed from offset off / receive and check them. */
int na_test_send_pattern(int fd, uint64_t seed, uint64_t off, size_t len);
int na_test_recv_pattern(int fd, uint64_t seed, uint64_t off, size_t len);

/*
 * Wait until read(fd) returns 0 (EOF; returns 0) or fails with an error
 * (returns it, e.g. -ECONNRESET); any bytes that arrive meanwhile are
 * counted in *extra (may be NULL) and discarded.
 */
int na_test_wait_eof(int fd, size_t *extra, int timeout_ms);

/* Bring the loopback device of the current network namespace up. */
int na_test_lo_up(void);

/* Milliseconds on CLOCK_MONOTONIC. */
/* Reap pid within timeout_ms (SIGKILL after): exit code, 128 + signal, or -errno. */
int na_test_reap_bounded(pid_t pid, int timeout_ms);

int64_t na_test_now_ms(void);

/* ---- traffic engine (traffic.c, traffic_events.c, traffic_threads.c) --- */

enum na_test_io {
	NA_TEST_IO_POLL,	/* non-blocking sockets, poll() */
	NA_TEST_IO_EPOLL_ET,	/* non-blocking sockets, edge-triggered epoll */
	NA_TEST_IO_BLOCKING,	/* blocking sockets, a thread per direction end */
	NA_TEST_IO_THREADS,	/* a thread per direction end, each fd in the
				 * mode it has: blocking calls on a blocking
				 * fd, poll() on EAGAIN on a non-blocking one */
};

/* dir.len for a stream that runs until run_opts.stop is raised. */
#define NA_TEST_UNBOUNDED SIZE_MAX

/* One direction of a connection: the stream a writer sends to a reader. */
struct na_test_dir {
	/* Set by the caller. */
	uint64_t seed;
	size_t len;		/* bytes to send, or NA_TEST_UNBOUNDED */
	size_t chunk;		/* bytes per write call; 0: 64 KiB */
	bool shut;		/* shutdown(SHUT_WR) after the last byte; the
				 * reader then expects EOF */
	/* Results (sent and rcvd may be read while the engine runs, with
	 * __atomic_load_n). */
	size_t sent;
	size_t rcvd;
	bool shut_done;		/* the writer has shut down */
	bool eof;		/* the reader saw end of file */
	bool rdhup;		/* the reader's epoll reported EPOLLRDHUP */
	int64_t bad;		/* stream offset of the first wrong byte, or -1 */
	int err;		/* first error (negative errno), or 0 */
	bool more;		/* engine-internal: writable, budget used up */
};

/* A connection: fd[0] is the client end, fd[1] the accepted end.
 * dir[0] flows from fd[0] to fd[1], dir[1] from fd[1] to fd[0]. */
struct na_test_conn {
	int fd[2];
	struct na_test_dir dir[2];
};

struct na_test_run_opts {
	enum na_test_io io;
	int timeout_ms;		/* whole run; 0: NA_TEST_TIMEOUT_MS */
	const int *stop;	/* raised (non-zero, atomically): unbounded
				 * directions end at what they have sent */
};

/*
 * Set up direction d of conn for len bytes of stream seed. Does not touch
 * the fds.
 */
void na_test_dir_init(struct na_test_dir *d, uint64_t seed, size_t len,
		      size_t chunk, bool shut);

/*
 * Drive every direction of the n connections until each has delivered its
 * stream (and EOF when shut), an error, or the timeout. Returns 0 when all
 * directions completed intact, else a negative errno (-ETIMEDOUT, the first
 * direction's error, or -EILSEQ for corrupted bytes). The POLL and EPOLL_ET
 * modes make the fds non-blocking for the run, BLOCKING makes them
 * blocking; afterwards each fd is left open in the mode it had before.
 */
int na_test_run(struct na_test_conn *conns, size_t n,
		const struct na_test_run_opts *opts);

/*
 * Print one "# ..." line per direction that did not complete intact and
 * return how many there are (0: every byte arrived, in order).
 */
size_t na_test_report(const struct na_test_conn *conns, size_t n);

/* Bytes sent over all directions. */
size_t na_test_bytes_sent(const struct na_test_conn *conns, size_t n);

/* Close both fds of each connection (ignores -1). */
void na_test_close_conns(struct na_test_conn *conns, size_t n);

/*
 * A background reader: receives len bytes of stream seed on fd (then, with
 * expect_eof, waits for end of file) in its own thread, so that the test
 * can drive the sender with a blocking call (sendfile, splice, one huge
 * write). fd may be blocking or not; bounded by NA_TEST_TIMEOUT_MS per
 * read or wait.
 */
struct na_test_rx {
	int fd;
	uint64_t seed;
	size_t len;
	bool expect_eof;
	int err;		/* result: 0, -EILSEQ (wrong bytes), -ENODATA
				 * (early EOF), -ETIMEDOUT, ... */
	size_t extra;		/* bytes after len (want 0) */
	unsigned long tid;	/* pthread_t */
};

int na_test_rx_start(struct na_test_rx *rx);
int na_test_rx_join(struct na_test_rx *rx);	/* returns rx->err */

/* Test diagnostics as TAP comments on stdout. */
void na_test_diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif /* NA_TEST_H */
