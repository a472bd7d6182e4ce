// SPDX-License-Identifier: GPL-2.0-only
/*
 * The agent's HTTP endpoint (agent/http.c): the addresses it takes and
 * refuses, and a live server on the loopback driven as the daemon will
 * drive it (poll on its one fd, then na_http_run), with clients in this
 * same process, and once in a child under a seccomp filter made of
 * na_http_syscalls. No kernel state.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <seccomp.h>

#include "http.h"

#define METRICS_TEXT \
	"# HELP netaccel_datapath_loaded 1 for each datapath loaded in the kernel\n" \
	"# TYPE netaccel_datapath_loaded gauge\n" \
	"netaccel_datapath_loaded{datapath=\"bypass\"} 1\n"
#define NOT_READY "not ready: no policy applied yet\n"

/* What the pages serve, changed by the tests. */
struct pages {
	int health;		/* 503 or 200 */
	unsigned int calls;
};

static int metrics_page(void *arg, char **body, size_t *len)
{
	struct pages *p = arg;

	p->calls++;
	*body = strdup(METRICS_TEXT);
	*len = strlen(METRICS_TEXT);
	return 200;
}

static int health_page(void *arg, char **body, size_t *len)
{
	struct pages *p = arg;
	const char *text = p->health == 200 ? "ok\n" : NOT_READY;

	p->calls++;
	*body = strdup(text);
	*len = strlen(text);
	return p->health;
}

/* ---- addresses ---- */

static void parses(const char *text, int family, const char *addr, int port)
{
	struct sockaddr_storage ss;
	struct na_reason why = { 0 };
	char got[INET6_ADDRSTRLEN];
	socklen_t len = 0;
	int err;

	err = na_http_parse_address(text, &ss, &len, &why);
	if (err)
		fail_msg("\"%s\": %d (%s)", text, err, why.msg);
	assert_int_equal(ss.ss_family, family);
	if (family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)&ss;

		assert_int_equal(len, sizeof(*s4));
		assert_int_equal(ntohs(s4->sin_port), port);
		inet_ntop(AF_INET, &s4->sin_addr, got, sizeof(got));
	} else {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&ss;

		assert_int_equal(len, sizeof(*s6));
		assert_int_equal(ntohs(s6->sin6_port), port);
		inet_ntop(AF_INET6, &s6->sin6_addr, got, sizeof(got));
	}
	assert_string_equal(got, addr);
}

static void good_addresses(void **state)
{
	(void)state;
	parses("127.0.0.1:9479", AF_INET, "127.0.0.1", 9479);
	parses("0.0.0.0:9479", AF_INET, "0.0.0.0", 9479);
	parses("10.1.2.3:0", AF_INET, "10.1.2.3", 0);
	parses("127.0.0.1:65535", AF_INET, "127.0.0.1", 65535);
	parses("[::1]:9479", AF_INET6, "::1", 9479);
	parses("[fd00::1:2]:80", AF_INET6, "fd00::1:2", 80);
	parses("[::]:9479", AF_INET6, "::", 9479);
	/* Every address, as Prometheus exporters read it. */
	parses(":9479", AF_INET6, "::", 9479);
	parses(":0", AF_INET6, "::", 0);
}

/* text is refused with -EINVAL and one line that names it and says want. */
static void refuses(const char *text, const char *want)
{
	struct sockaddr_storage ss;
	struct na_reason why = { 0 };
	socklen_t len = 0;
	int err;

	err = na_http_parse_address(text, &ss, &len, &why);
	if (err != -EINVAL)
		fail_msg("\"%s\": %d, not -EINVAL", text ? text : "(null)", err);
	if (!strstr(why.msg, want))
		fail_msg("\"%s\": reason \"%s\" does not say \"%s\"", text ? text : "(null)",
			 why.msg, want);
	assert_null(strchr(why.msg, '\n'));
	if (text && *text && !strstr(why.msg, text))
		fail_msg("reason \"%s\" does not name \"%s\"", why.msg, text);
}

static void bad_addresses(void **state)
{
	(void)state;
	refuses(NULL, "no address");
	refuses("", "no address");
	refuses("127.0.0.1", "no port");
	refuses("garbage", "no port");
	refuses("127.0.0.1:", "port is not a number");
	refuses("127.0.0.1:65536", "port is not a number from 0 to 65535");
	refuses("127.0.0.1:99999999999999999999", "port is not a number");
	refuses("127.0.0.1:http", "port is not a number");
	refuses("127.0.0.1:+80", "port is not a number");
	refuses("127.0.0.1:-1", "port is not a number");
	refuses("127.0.0.1:80 ", "port is not a number");
	refuses("localhost:9479", "\"localhost\" is not a numeric IPv4 address (names are not looked up)");
	refuses("[localhost]:9479", "not a numeric IPv6 address (names are not looked up)");
	refuses("[fd00::zz]:9479", "\"fd00::zz\" is not a numeric IPv6 address");
	refuses("gar:bage", "port is not a number");
	refuses("gar:80", "\"gar\" is not a numeric IPv4 address");
	refuses("127.1:80", "not a numeric IPv4 address");
	refuses("256.0.0.1:80", "not a numeric IPv4 address");
	refuses("[127.0.0.1]:80", "not a numeric IPv6 address (an IPv4 address goes without brackets)");
	refuses("::1:9479", "in brackets");
	refuses("[::1", "no closing bracket");
	refuses("[::1]", "no port after the bracket");
	refuses("[::1]9479", "no port after the bracket");
	refuses("[]:9479", "no address in the brackets");
	refuses("[::1]:65536", "port is not a number");
}

/* ---- a live server ---- */

struct fixture {
	struct na_http *h;
	struct pages pages;
};

static int serve_on(void **state, const char *address)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct na_http_cfg cfg = {
		.address = address,
		.metrics = metrics_page,
		.health = health_page,
		.arg = &f->pages,
	};
	struct na_reason why = { 0 };
	int err;

	assert_non_null(f);
	f->pages.health = 503;
	err = na_http_new(&f->h, &cfg, &why);
	if (err)
		fail_msg("na_http_new %s: %d (%s)", address, err, why.msg);
	assert_true(na_http_port(f->h) > 0);
	assert_true(na_http_fd(f->h) >= 0);
	*state = f;
	return 0;
}

static int serve(void **state)
{
	return serve_on(state, "127.0.0.1:0");
}

static int serve_everywhere(void **state)
{
	return serve_on(state, ":0");
}

static int stop(void **state)
{
	struct fixture *f = *state;

	na_http_free(f->h);
	free(f);
	return 0;
}

/* A client of the server, in this process: connected at once (the kernel
 * completes the handshake on the loopback without accept), then
 * non-blocking. */
struct client {
	int fd;
	bool eof;
	size_t len;
	char buf[16384];
};

static void client_open(struct client *c, const struct fixture *f)
{
	struct sockaddr_in sin = {
		.sin_family = AF_INET,
		.sin_port = htons((uint16_t)na_http_port(f->h)),
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};

	memset(c, 0, sizeof(*c));
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(c->fd >= 0);
	assert_int_equal(connect(c->fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(fcntl(c->fd, F_SETFL, O_NONBLOCK), 0);
}

static void client_send(struct client *c, const char *request)
{
	size_t n = strlen(request);

	assert_int_equal(send(c->fd, request, n, MSG_NOSIGNAL), (ssize_t)n);
}

static void client_close(struct client *c)
{
	close(c->fd);
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* One turn of the daemon's loop: wait on the endpoint's fd (and c's, so
 * that the answer is read as it comes) no longer than it allows, then let
 * it run. */
static void turn(struct fixture *f, struct client *c)
{
	struct pollfd p[2] = {
		{ .fd = na_http_fd(f->h), .events = POLLIN },
		{ .fd = c ? c->fd : -1, .events = POLLIN },
	};
	int timeout = na_http_timeout_ms(f->h);
	ssize_t n;

	if (timeout < 0 || timeout > 50)
		timeout = 50;
	assert_true(poll(p, 2, timeout) >= 0);
	assert_int_equal(na_http_run(f->h), 0);
	while (c && !c->eof && c->len < sizeof(c->buf) - 1) {
		n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len, 0);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		assert_true(n >= 0);
		if (n == 0)
			c->eof = true;
		c->len += (size_t)n;
		c->buf[c->len] = '\0';
	}
}

/* Turn until the server has closed c (the requests say Connection: close),
 * for at most five seconds. */
static void until_closed(struct fixture *f, struct client *c)
{
	long long deadline = now_ms() + 5000;

	while (!c->eof) {
		if (now_ms() > deadline)
			fail_msg("no end of the answer after 5 s; so far:\n%s", c->buf);
		turn(f, c);
	}
}

struct response {
	int status;
	char type[128];
	char allow[64];
	long length;		/* Content-Length, -1 if none */
	const char *body;
	size_t body_len;
	const char *next;	/* the next response on the connection */
};

static void header(const char *start, const char *end, const char *name, char *out, size_t size)
{
	size_t n = strlen(name), v;
	const char *line, *eol;

	for (line = start; line < end; line = eol + 2) {
		eol = strstr(line, "\r\n");
		if (!eol || eol > end)
			break;
		if ((size_t)(eol - line) > n && line[n] == ':' && !strncasecmp(line, name, n)) {
			line += n + 1;
			while (*line == ' ')
				line++;
			v = (size_t)(eol - line) < size - 1 ? (size_t)(eol - line) : size - 1;
			memcpy(out, line, v);
			out[v] = '\0';
			return;
		}
	}
}

/* The HTTP/1.1 response at text (to a HEAD request: no body). */
static struct response parse_as(const char *text, bool head)
{
	struct response r = { .length = -1 };
	const char *end = strstr(text, "\r\n\r\n");
	char length[32] = "";

	if (!end || sscanf(text, "HTTP/1.1 %d ", &r.status) != 1)
		fail_msg("not an HTTP/1.1 response:\n%s", text);
	header(text, end + 2, "Content-Type", r.type, sizeof(r.type));
	header(text, end + 2, "Allow", r.allow, sizeof(r.allow));
	header(text, end + 2, "Content-Length", length, sizeof(length));
	if (length[0])
		r.length = strtol(length, NULL, 10);
	r.body = end + 4;
	r.body_len = head ? 0 : r.length >= 0 ? (size_t)r.length : strlen(r.body);
	assert_true(strlen(r.body) >= r.body_len);
	r.next = r.body + r.body_len;
	return r;
}

static struct response parse(const char *text)
{
	return parse_as(text, false);
}

/* Ask request on a new connection and wait for the whole answer. */
static struct response ask(struct fixture *f, struct client *c, const char *request)
{
	client_open(c, f);
	client_send(c, request);
	until_closed(f, c);
	return parse(c->buf);
}

#define GET(path) "GET " path " HTTP/1.1\r\nHost: node\r\nConnection: close\r\n\r\n"

static void assert_body(const struct response *r, const char *want)
{
	assert_int_equal(r->body_len, strlen(want));
	assert_memory_equal(r->body, want, r->body_len);
}

static void serves_metrics(void **state)
{
	struct fixture *f = *state;
	struct response r;
	struct client c;

	r = ask(f, &c, GET("/metrics"));
	assert_int_equal(r.status, 200);
	assert_string_equal(r.type, "text/plain; version=0.0.4; charset=utf-8");
	assert_int_equal(r.length, (long)strlen(METRICS_TEXT));
	assert_body(&r, METRICS_TEXT);
	assert_int_equal(f->pages.calls, 1);
	client_close(&c);

	/* A query string is not part of the path. */
	r = ask(f, &c, GET("/metrics?name[]=x"));
	assert_int_equal(r.status, 200);
	assert_body(&r, METRICS_TEXT);
	client_close(&c);
}

static void head_has_no_body(void **state)
{
	struct fixture *f = *state;
	struct response r;
	struct client c;

	client_open(&c, f);
	client_send(&c, "HEAD /metrics HTTP/1.1\r\nHost: node\r\nConnection: close\r\n\r\n");
	until_closed(f, &c);
	r = parse_as(c.buf, true);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "");
	/* The headers are those of a GET, Content-Length included. */
	assert_string_equal(r.type, "text/plain; version=0.0.4; charset=utf-8");
	assert_int_equal(r.length, (long)strlen(METRICS_TEXT));
	client_close(&c);
}

static void health_follows_the_callback(void **state)
{
	struct fixture *f = *state;
	struct response r;
	struct client c;

	r = ask(f, &c, GET("/healthz"));
	assert_int_equal(r.status, 503);
	assert_string_equal(r.type, "text/plain; charset=utf-8");
	assert_body(&r, NOT_READY);
	client_close(&c);

	f->pages.health = 200;
	r = ask(f, &c, GET("/healthz"));
	assert_int_equal(r.status, 200);
	assert_body(&r, "ok\n");
	client_close(&c);
}

static void unknown_path_is_404(void **state)
{
	struct fixture *f = *state;
	struct response r;
	struct client c;

	r = ask(f, &c, GET("/nope"));
	assert_int_equal(r.status, 404);
	client_close(&c);
	r = ask(f, &c, GET("/metrics/"));
	assert_int_equal(r.status, 404);
	client_close(&c);
	assert_int_equal(f->pages.calls, 0);
}

static void other_methods_are_405(void **state)
{
	struct fixture *f = *state;
	struct response r;
	struct client c;

	r = ask(f, &c, "POST /metrics HTTP/1.1\r\nHost: node\r\nConnection: close\r\n"
		"Content-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello");
	assert_int_equal(r.status, 405);
	assert_string_equal(r.allow, "GET, HEAD");
	client_close(&c);
	r = ask(f, &c, "DELETE /healthz HTTP/1.1\r\nHost: node\r\nConnection: close\r\n\r\n");
	assert_int_equal(r.status, 405);
	client_close(&c);
	assert_int_equal(f->pages.calls, 0);
}

/* Prometheus keeps its connection open between scrapes. */
static void keeps_the_connection(void **state)
{
	struct fixture *f = *state;
	struct response r;
	struct client c;

	f->pages.health = 200;
	r = ask(f, &c, "GET /healthz HTTP/1.1\r\nHost: node\r\n\r\n" GET("/metrics"));
	assert_int_equal(r.status, 200);
	assert_body(&r, "ok\n");
	r = parse(r.next);
	assert_int_equal(r.status, 200);
	assert_body(&r, METRICS_TEXT);
	client_close(&c);
}

static void busy_port_is_named(void **state)
{
	struct fixture *f = *state;
	struct na_reason why = { 0 };
	struct na_http_cfg cfg = { .metrics = metrics_page, .arg = &f->pages };
	struct na_http *h = NULL;
	char address[64];

	snprintf(address, sizeof(address), "127.0.0.1:%d", na_http_port(f->h));
	cfg.address = address;
	assert_int_equal(na_http_new(&h, &cfg, &why), -EADDRINUSE);
	assert_null(h);
	if (!strstr(why.msg, address) || !strstr(why.msg, strerror(EADDRINUSE)))
		fail_msg("reason \"%s\" does not name %s and why", why.msg, address);
	assert_null(strchr(why.msg, '\n'));

	na_reason_clear(&why);
	cfg.address = "localhost:9479";
	assert_int_equal(na_http_new(&h, &cfg, &why), -EINVAL);
	assert_non_null(strstr(why.msg, "localhost:9479"));
}

/* A client that connects and says nothing holds a connection until it
 * times out, and nobody else waits for it. */
static void silent_client_blocks_nobody(void **state)
{
	struct fixture *f = *state;
	struct client silent, c;
	struct response r;
	int i, timeout;

	client_open(&silent, f);
	for (i = 0; i < 5; i++)
		turn(f, &silent);
	assert_int_equal(silent.len, 0);
	/* The loop is told to come back before the silent one times out. */
	timeout = na_http_timeout_ms(f->h);
	assert_true(timeout >= 0 && timeout <= 10000);

	r = ask(f, &c, GET("/metrics"));
	assert_int_equal(r.status, 200);
	assert_body(&r, METRICS_TEXT);
	client_close(&c);

	/* Half a request is no different. */
	client_send(&silent, "GET /metr");
	r = ask(f, &c, GET("/metrics"));
	assert_int_equal(r.status, 200);
	client_close(&c);
	assert_false(silent.eof);
	client_close(&silent);
}

/* ":PORT" is IPv4 too. */
static void every_address_has_ipv4(void **state)
{
	struct fixture *f = *state;
	struct response r;
	struct client c;

	r = ask(f, &c, GET("/metrics"));
	assert_int_equal(r.status, 200);
	assert_body(&r, METRICS_TEXT);
	client_close(&c);
}

/* The server, alone in a child under a seccomp filter that allows
 * na_http_syscalls and the loop's poll: a system call missing from the
 * list says its number and ends the child. */
static void on_sigsys(int sig, siginfo_t *si, void *ctx)
{
	char line[96];
	int n;

	n = snprintf(line, sizeof(line), "system call %d is not in na_http_syscalls\n",
		     si->si_syscall);
	if (write(2, line, (size_t)n) < 0)
		_exit(98);
	_exit(99);
}

static int confine(void)
{
	static const char *const loop[] = {
		"poll", "ppoll", "write", "exit", "exit_group", "rt_sigreturn",
	};
	struct sigaction sa = { .sa_sigaction = on_sigsys, .sa_flags = SA_SIGINFO };
	scmp_filter_ctx ctx;
	size_t i;
	int nr, err = 0;

	if (sigaction(SIGSYS, &sa, NULL))
		return -errno;
	ctx = seccomp_init(SCMP_ACT_TRAP);
	if (!ctx)
		return -ENOMEM;
	for (i = 0; i < na_http_nsyscalls + sizeof(loop) / sizeof(loop[0]) && !err; i++) {
		nr = seccomp_syscall_resolve_name(i < na_http_nsyscalls ? na_http_syscalls[i] :
						  loop[i - na_http_nsyscalls]);
		if (nr != __NR_SCMP_ERROR)
			err = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
	}
	if (!err)
		err = seccomp_load(ctx);
	seccomp_release(ctx);
	return err;
}

/* Serve until `pages` were asked for `want` times, or five seconds. */
static void serve_confined(struct fixture *f, unsigned int want)
{
	struct pollfd p = { .fd = na_http_fd(f->h), .events = POLLIN };
	int i, timeout;

	if (confine())
		_exit(2);
	for (i = 0; i < 100 && f->pages.calls < want; i++) {
		timeout = na_http_timeout_ms(f->h);
		if (poll(&p, 1, timeout < 0 || timeout > 50 ? 50 : timeout) < 0 ||
		    na_http_run(f->h))
			_exit(3);
	}
	/* Let the last answer go out. */
	for (i = 0; i < 10; i++) {
		poll(&p, 1, 10);
		na_http_run(f->h);
	}
	na_http_free(f->h);
	_exit(f->pages.calls == want ? 0 : 4);
}

/* How the confined server ended: 0 for a clean exit. */
static int confined_end(pid_t pid)
{
	int status;

	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (WIFEXITED(status) && !WEXITSTATUS(status))
		return 0;
	print_error("the confined server ended with %s %d (99: a system call missing)\n",
		    WIFEXITED(status) ? "exit" : "signal",
		    WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
	return -1;
}

/* request, on a blocking connection of its own, answered by the confined
 * server in pid within five seconds. */
static void fetch(const struct fixture *f, pid_t pid, const char *request, char *buf,
		  size_t size)
{
	struct timeval tv = { .tv_sec = 5 };
	struct client c;
	size_t len = 0;
	ssize_t n;

	client_open(&c, f);
	assert_int_equal(fcntl(c.fd, F_SETFL, 0), 0);
	assert_int_equal(setsockopt(c.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
	client_send(&c, request);
	while (len < size - 1 && (n = recv(c.fd, buf + len, size - 1 - len, 0)) > 0)
		len += (size_t)n;
	buf[len] = '\0';
	client_close(&c);
	if (!len) {
		confined_end(pid);
		fail_msg("no answer to %.20s...", request);
	}
}

static void serves_under_seccomp(void **state)
{
	struct fixture *f = *state;
	char buf[4096];
	struct response r;
	pid_t pid;

	f->pages.health = 200;
	pid = fork();
	assert_true(pid >= 0);
	if (!pid)
		serve_confined(f, 3);
	/* Refusals first: the child stops after the last page. */
	fetch(f, pid, GET("/nope"), buf, sizeof(buf));
	assert_int_equal(parse(buf).status, 404);
	fetch(f, pid, "PUT /metrics HTTP/1.1\r\nHost: node\r\nContent-Length: 2\r\n\r\nhi", buf,
	      sizeof(buf));
	assert_int_equal(parse(buf).status, 405);
	fetch(f, pid, GET("/metrics"), buf, sizeof(buf));
	r = parse(buf);
	assert_int_equal(r.status, 200);
	assert_body(&r, METRICS_TEXT);
	fetch(f, pid, "HEAD /healthz HTTP/1.1\r\nHost: node\r\n\r\n" GET("/healthz"), buf, sizeof(buf));
	r = parse_as(buf, true);
	assert_int_equal(r.status, 200);
	r = parse(r.next);
	assert_body(&r, "ok\n");
	assert_int_equal(confined_end(pid), 0);
}

/* The list is for seccomp: names only, no duplicates. */
static void syscall_list(void **state)
{
	size_t i, j;

	(void)state;
	assert_true(na_http_nsyscalls > 0);
	for (i = 0; i < na_http_nsyscalls; i++) {
		assert_non_null(na_http_syscalls[i]);
		assert_true(strspn(na_http_syscalls[i], "abcdefghijklmnopqrstuvwxyz0123456789_") ==
			    strlen(na_http_syscalls[i]));
		for (j = 0; j < i; j++)
			assert_string_not_equal(na_http_syscalls[i], na_http_syscalls[j]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(good_addresses),
		cmocka_unit_test(bad_addresses),
		cmocka_unit_test_setup_teardown(serves_metrics, serve, stop),
		cmocka_unit_test_setup_teardown(head_has_no_body, serve, stop),
		cmocka_unit_test_setup_teardown(health_follows_the_callback, serve, stop),
		cmocka_unit_test_setup_teardown(unknown_path_is_404, serve, stop),
		cmocka_unit_test_setup_teardown(other_methods_are_405, serve, stop),
		cmocka_unit_test_setup_teardown(keeps_the_connection, serve, stop),
		cmocka_unit_test_setup_teardown(busy_port_is_named, serve, stop),
		cmocka_unit_test_setup_teardown(silent_client_blocks_nobody, serve, stop),
		cmocka_unit_test_setup_teardown(every_address_has_ipv4, serve_everywhere, stop),
		cmocka_unit_test(syscall_list),
		cmocka_unit_test_setup_teardown(serves_under_seccomp, serve, stop),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
