/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The node agent's HTTP endpoint (http.c): GET /metrics (the Prometheus
 * text of metrics.h) and GET /healthz (for Kubernetes probes), served by
 * libmicrohttpd in its external event loop mode, so that a single-threaded
 * daemon polls one file descriptor (na_http_fd, for POLLIN, at most
 * na_http_timeout_ms) and calls na_http_run, which never blocks.
 *
 * The listening socket is made and bound by na_http_new (so that a port
 * in use is an error at start-up that names the address); after that,
 * serving needs only the system calls in na_http_syscalls, for the
 * daemon's seccomp allow-list. Seen with strace -f -k (libmicrohttpd
 * 0.9.75, x86_64), by function:
 *
 *   na_http_run       epoll_wait, epoll_ctl, accept4, recvfrom, sendto,
 *                     sendmsg, setsockopt (TCP_NODELAY, TCP_CORK),
 *                     shutdown, close; brk, mmap, munmap (malloc and free:
 *                     a body of 128 KiB or more is mmap'd by malloc, and
 *                     unmapped when libmicrohttpd frees it)
 *   na_http_free      epoll_ctl, shutdown, close
 *   na_http_port      getsockname
 *   na_http_timeout_ms, na_http_fd: none
 *
 * and, not seen because the vDSO answers them: clock_gettime (libmicrohttpd's
 * clock), time and gettimeofday (the Date header). arm64 has epoll_pwait
 * where x86_64 has epoll_wait. na_http_new makes the rest (socket,
 * setsockopt, bind, listen, getsockname, getsockopt, fcntl,
 * epoll_create1, epoll_ctl, and the reading of /etc/localtime), before
 * the filter is installed.
 */
#ifndef NA_HTTP_H
#define NA_HTTP_H

#include <stddef.h>
#include <sys/socket.h>

#include <netaccel/reason.h>

#define NA_HTTP_DEFAULT_ADDRESS "127.0.0.1:9479"

struct na_http;

/* What a path serves: set *body (malloc'd; http.c frees it) and *len, and
 * return the HTTP status: 200, or 503 with a one-line text body. */
typedef int (*na_http_page_fn)(void *arg, char **body, size_t *len);

struct na_http_cfg {
	const char *address;		/* na_http_parse_address's forms;
					 * NULL is NA_HTTP_DEFAULT_ADDRESS */
	na_http_page_fn metrics;	/* GET /metrics; NULL: 404 */
	na_http_page_fn health;		/* GET /healthz; NULL: always 200 "ok" */
	void *arg;			/* given to both */
};

/*
 * A numeric address and port, nothing looked up:
 *
 *	127.0.0.1:9479		an IPv4 address
 *	[::1]:9479		an IPv6 address, in brackets
 *	0.0.0.0:9479		every IPv4 address
 *	[::]:9479 or :9479	every address, IPv6 and IPv4 (as with
 *				Prometheus exporters' --web.listen-address)
 *
 * Port 0 lets the kernel pick one (na_http_port says which). ":9479"
 * reads as [::]:9479. 0, or -EINVAL with a one-line reason.
 */
int na_http_parse_address(const char *text, struct sockaddr_storage *ss, socklen_t *len,
			  struct na_reason *why);

/* Bind and listen on cfg->address now, and serve from there on
 * na_http_run. 0 or negative errno ("cannot listen on 127.0.0.1:9479:
 * Address already in use"). */
int na_http_new(struct na_http **out, const struct na_http_cfg *cfg, struct na_reason *why);

/* The file descriptor to poll for POLLIN (an epoll set: every socket of
 * the endpoint is in it). */
int na_http_fd(const struct na_http *h);

/* How long the caller may wait for na_http_fd before it calls na_http_run
 * anyway, in milliseconds; -1: as long as it likes. Ask again before every
 * wait: a connection that times out, or a request read only in part, is
 * dealt with only by a call that comes in time. */
int na_http_timeout_ms(const struct na_http *h);

/* Accept, read, answer and close what is ready, without blocking. Call it
 * when na_http_fd is readable and when na_http_timeout_ms has passed.
 * 0, or -EIO when libmicrohttpd gave up. */
int na_http_run(struct na_http *h);

/* The port listened on (the kernel's pick for port 0). */
int na_http_port(const struct na_http *h);

/* Close every connection and the listening socket. NULL is allowed. */
void na_http_free(struct na_http *h);

/* What na_http_run, na_http_timeout_ms, na_http_port and na_http_free
 * make (above), by seccomp name (libseccomp's seccomp_syscall_resolve_name); names a
 * kernel architecture lacks resolve to __NR_SCMP_ERROR and are to be
 * skipped. */
extern const char *const na_http_syscalls[];
extern const size_t na_http_nsyscalls;

#endif /* NA_HTTP_H */
