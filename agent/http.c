// SPDX-License-Identifier: GPL-2.0-only
/*
 * The node agent's HTTP endpoint (http.h), served by libmicrohttpd.
 *
 * libmicrohttpd runs without a thread of its own (the daemon's loop calls
 * MHD_run) and with epoll, whose one file descriptor the loop polls. The
 * listening socket is ours, handed over with MHD_OPTION_LISTEN_SOCKET, so
 * that what goes wrong at bind is said in our words; from then on
 * libmicrohttpd owns it and closes it in MHD_stop_daemon.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "http.h"

/* Prometheus scrapes one connection at a time and a probe opens one more:
 * a few dozen is plenty, and a client that says nothing is dropped after
 * CONNECTION_TIMEOUT_S. */
#define CONNECTION_LIMIT 32
#define CONNECTION_TIMEOUT_S 10

#define TEXT_PLAIN "text/plain; charset=utf-8"
#define PROMETHEUS_TEXT "text/plain; version=0.0.4; charset=utf-8"

struct na_http {
	struct MHD_Daemon *mhd;
	na_http_page_fn metrics;
	na_http_page_fn health;
	void *arg;
	int listen_fd;		/* owned by mhd */
	int epoll_fd;		/* owned by mhd */
};

/* The port of "HOST:PORT": 0 to 65535, in decimal digits only. */
static bool parse_port(const char *s)
{
	unsigned long v = 0;
	size_t n;

	for (n = 0; s[n] >= '0' && s[n] <= '9'; n++) {
		v = v * 10 + (unsigned long)(s[n] - '0');
		if (v > 65535)
			return false;
	}
	return n > 0 && !s[n];
}

/* What to add to "HOST is not a numeric address": a name, or an IPv4
 * address in brackets, is likely meant well. */
static const char *not_numeric_hint(const char *host, int family)
{
	struct in_addr a4;

	if (family == AF_INET6 && inet_pton(AF_INET, host, &a4) == 1)
		return " (an IPv4 address goes without brackets)";
	if (!strchr(host, ':') && strspn(host, "0123456789.") != strlen(host))
		return " (names are not looked up)";
	return "";
}

int na_http_parse_address(const char *text, struct sockaddr_storage *ss, socklen_t *len,
			  struct na_reason *why)
{
	struct addrinfo hints = {
		.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE,
		.ai_socktype = SOCK_STREAM,
	};
	char host[INET6_ADDRSTRLEN + IF_NAMESIZE + 1];
	const char *start, *end, *port;
	struct addrinfo *ai;
	struct in_addr a4;
	int err;

	if (!text || !*text)
		return na_reason_set(why, -EINVAL, "no address (the forms are 127.0.0.1:9479, "
				     "[::1]:9479 and :9479)");
	if (text[0] == '[') {
		start = text + 1;
		end = strchr(text, ']');
		if (!end)
			return na_reason_set(why, -EINVAL, "\"%s\": no closing bracket", text);
		if (end[1] != ':')
			return na_reason_set(why, -EINVAL, "\"%s\": no port after the bracket", text);
		if (end == start)
			return na_reason_set(why, -EINVAL, "\"%s\": no address in the brackets", text);
		hints.ai_family = AF_INET6;
		port = end + 2;
	} else {
		start = text;
		end = strrchr(text, ':');
		if (!end)
			return na_reason_set(why, -EINVAL, "\"%s\": no port (the forms are "
					     "127.0.0.1:9479, [::1]:9479 and :9479)", text);
		if (memchr(text, ':', (size_t)(end - text)))
			return na_reason_set(why, -EINVAL,
					     "\"%s\": an IPv6 address goes in brackets, as in [::1]:9479",
					     text);
		/* ":PORT" is every address. */
		hints.ai_family = end == start ? AF_INET6 : AF_INET;
		port = end + 1;
	}
	if ((size_t)(end - start) >= sizeof(host))
		return na_reason_set(why, -EINVAL, "\"%s\": not a numeric IP address", text);
	if (end == start) {
		strcpy(host, "::");
	} else {
		memcpy(host, start, (size_t)(end - start));
		host[end - start] = '\0';
	}
	if (!parse_port(port))
		return na_reason_set(why, -EINVAL, "\"%s\": the port is not a number from 0 to 65535",
				     text);
	/* getaddrinfo would take inet_aton's shorthands too (127.1, 0x7f.0.0.1),
	 * which read like mistakes in an address to listen on. */
	if (hints.ai_family == AF_INET && inet_pton(AF_INET, host, &a4) != 1)
		return na_reason_set(why, -EINVAL, "\"%s\": \"%s\" is not a numeric IPv4 address%s",
				     text, host, not_numeric_hint(host, AF_INET));
	err = getaddrinfo(host, port, &hints, &ai);
	if (err == EAI_NONAME || err == EAI_ADDRFAMILY)
		return na_reason_set(why, -EINVAL, "\"%s\": \"%s\" is not a numeric IPv6 address%s",
				     text, host, not_numeric_hint(host, AF_INET6));
	if (err)
		return na_reason_set(why, -EINVAL, "\"%s\": %s", text, gai_strerror(err));
	if (ai->ai_addrlen > sizeof(*ss)) {
		freeaddrinfo(ai);
		return na_reason_set(why, -EINVAL, "\"%s\": not an IP address", text);
	}
	memset(ss, 0, sizeof(*ss));
	memcpy(ss, ai->ai_addr, ai->ai_addrlen);
	*len = ai->ai_addrlen;
	freeaddrinfo(ai);
	return 0;
}

static bool is_any6(const struct sockaddr_storage *ss)
{
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;

	return ss->ss_family == AF_INET6 && IN6_IS_ADDR_UNSPECIFIED(&s6->sin6_addr);
}

/* [::] without IPv6 in the kernel (ipv6.disable=1) is every IPv4 address. */
static void any4(struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in s4 = {
		.sin_family = AF_INET,
		.sin_port = ((struct sockaddr_in6 *)ss)->sin6_port,
		.sin_addr.s_addr = htonl(INADDR_ANY),
	};

	memset(ss, 0, sizeof(*ss));
	memcpy(ss, &s4, sizeof(s4));
	*len = sizeof(s4);
}

/* A non-blocking listening socket on address: its fd, or negative errno. */
static int listen_on(const char *address, struct na_reason *why)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, err, one = 1, zero = 0;

	err = na_http_parse_address(address, &ss, &len, why);
	if (err)
		return err;
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 && errno == EAFNOSUPPORT && is_any6(&ss)) {
		any4(&ss, &len);
		fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	}
	if (fd < 0)
		return na_reason_set(why, -errno, "cannot listen on %s: %s", address,
				     strerror(errno));
	/* [::] is IPv4 too, whatever net.ipv6.bindv6only says. */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    (is_any6(&ss) && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero))) ||
	    bind(fd, (struct sockaddr *)&ss, len) || listen(fd, SOMAXCONN)) {
		err = -errno;
		close(fd);
		return na_reason_set(why, err, "cannot listen on %s: %s", address, strerror(-err));
	}
	return fd;
}

/* A response of status with body (malloc'd, or NULL for none), queued on
 * c; the body is freed with the response, or here if there is none. */
static enum MHD_Result reply(struct MHD_Connection *c, unsigned int status, char *body,
			     size_t len, const char *type)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	r = MHD_create_response_from_buffer(body ? len : 0, body, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(body);
		return MHD_NO;	/* libmicrohttpd closes the connection */
	}
	if (MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type) != MHD_YES ||
	    (status == MHD_HTTP_METHOD_NOT_ALLOWED &&
	     MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD") != MHD_YES))
		ret = MHD_NO;
	else
		ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result reply_text(struct MHD_Connection *c, unsigned int status,
				  const char *text)
{
	return reply(c, status, strdup(text), strlen(text), TEXT_PLAIN);
}

/*
 * Every request comes here once its headers are in, and again when it is
 * whole. After an answer given the first time libmicrohttpd (0.9.75)
 * closes the connection, which is right for a method we refuse: its body
 * is never read. GET and HEAD are answered the second time, so that
 * Prometheus keeps its connection from one scrape to the next.
 */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version,
				  const char *upload_data, size_t *upload_data_size,
				  void **con_cls)
{
	static char seen;
	const struct na_http *h = cls;
	const char *type = TEXT_PLAIN;
	na_http_page_fn page = NULL;
	bool known = true;
	char *body = NULL;
	size_t len = 0;
	int status;

	if (!strcmp(url, "/metrics") && h->metrics) {
		page = h->metrics;
		type = PROMETHEUS_TEXT;
	} else if (!strcmp(url, "/healthz")) {
		page = h->health;
	} else {
		known = false;
	}
	if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD))
		return known ? reply_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET and HEAD\n")
			     : reply_text(c, MHD_HTTP_NOT_FOUND, "not found\n");
	if (!*con_cls) {
		*con_cls = &seen;
		return MHD_YES;
	}
	if (*upload_data_size) {
		*upload_data_size = 0;	/* a GET with a body: the body means nothing */
		return MHD_YES;
	}
	if (!known)
		return reply_text(c, MHD_HTTP_NOT_FOUND, "not found\n");
	if (!page)
		return reply_text(c, MHD_HTTP_OK, "ok\n");
	status = page(h->arg, &body, &len);
	if (status < 200 || status > 599) {
		free(body);
		return reply_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal error\n");
	}
	if (status != MHD_HTTP_OK)
		type = TEXT_PLAIN;
	return reply(c, (unsigned int)status, body, len, type);
}

int na_http_new(struct na_http **out, const struct na_http_cfg *cfg, struct na_reason *why)
{
	const char *address = cfg->address ? cfg->address : NA_HTTP_DEFAULT_ADDRESS;
	const union MHD_DaemonInfo *info;
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	struct na_http *h;
	unsigned int flags = MHD_USE_EPOLL;
	int err;

	h = calloc(1, sizeof(*h));
	if (!h)
		return na_reason_set(why, -ENOMEM, "cannot listen on %s: %s", address,
				     strerror(ENOMEM));
	/* The Date header is gmtime_r's, and glibc reads /etc/localtime the
	 * first time: now, not under the daemon's seccomp filter. */
	tzset();
	h->metrics = cfg->metrics;
	h->health = cfg->health;
	h->arg = cfg->arg;
	h->listen_fd = listen_on(address, why);
	if (h->listen_fd < 0) {
		err = h->listen_fd;
		goto out;
	}
	if (!getsockname(h->listen_fd, (struct sockaddr *)&ss, &len) && ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	/* No MHD_USE_ERROR_LOG: libmicrohttpd says nothing on stderr. */
	h->mhd = MHD_start_daemon(flags, (uint16_t)na_http_port(h), NULL, NULL, on_request, h,
				  MHD_OPTION_LISTEN_SOCKET, h->listen_fd,
				  MHD_OPTION_CONNECTION_LIMIT, (unsigned int)CONNECTION_LIMIT,
				  MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)CONNECTION_TIMEOUT_S,
				  MHD_OPTION_END);
	if (!h->mhd) {
		/* Some of libmicrohttpd's failures close the socket, some do not:
		 * close it only if it is still open (nothing else runs in
		 * between that could have opened another with its number). */
		if (fcntl(h->listen_fd, F_GETFD) >= 0)
			close(h->listen_fd);
		err = na_reason_set(why, -EIO, "cannot serve HTTP on %s: libmicrohttpd did "
				    "not start", address);
		goto out;
	}
	info = MHD_get_daemon_info(h->mhd, MHD_DAEMON_INFO_EPOLL_FD);
	if (!info || info->epoll_fd < 0) {
		MHD_stop_daemon(h->mhd);
		err = na_reason_set(why, -EIO, "cannot serve HTTP on %s: libmicrohttpd has "
				    "no epoll file descriptor", address);
		goto out;
	}
	h->epoll_fd = info->epoll_fd;
	*out = h;
	return 0;
out:
	free(h);
	return err;
}

int na_http_fd(const struct na_http *h)
{
	return h->epoll_fd;
}

int na_http_timeout_ms(const struct na_http *h)
{
	MHD_UNSIGNED_LONG_LONG ms;

	if (MHD_get_timeout(h->mhd, &ms) != MHD_YES)
		return -1;
	return ms > INT_MAX ? INT_MAX : (int)ms;
}

int na_http_run(struct na_http *h)
{
	return MHD_run(h->mhd) == MHD_YES ? 0 : -EIO;
}

int na_http_port(const struct na_http *h)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(h->listen_fd, (struct sockaddr *)&ss, &len))
		return -errno;
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

void na_http_free(struct na_http *h)
{
	if (!h)
		return;
	MHD_stop_daemon(h->mhd);
	free(h);
}

/* Seen with strace -f -k on tests/unit/test_http.c and on a server under
 * slow, silent and too many clients, libmicrohttpd 0.9.75 on x86_64
 * (http.h). */
const char *const na_http_syscalls[] = {
	"epoll_wait", "epoll_pwait",	/* arm64 has only epoll_pwait */
	"epoll_ctl", "accept4", "recvfrom", "sendto", "sendmsg", "setsockopt",
	"shutdown", "close", "getsockname",
	"brk", "mmap", "munmap",
	"clock_gettime", "gettimeofday", "time",
};
const size_t na_http_nsyscalls = sizeof(na_http_syscalls) / sizeof(na_http_syscalls[0]);
