// SPDX-License-Identifier: GPL-2.0-only
/*
 * netaccel-proxy: a TCP proxy whose connections are spliced in the kernel
 * (netaccel_splice, <netaccel.h>). It listens on one or more addresses,
 * connects each client to the next backend that accepts (round robin; a
 * backend that refuses or times out is left out for a while), and hands
 * the pair over. One thread, one epoll: the proxy itself only accepts,
 * connects and collects the pairs that ended.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <netaccel.h>
#include <netaccel/reason.h>


#define MAX_ADDRS 16
#define CONNECT_TIMEOUT_MS 3000

struct addr {
	char text[80];
	struct sockaddr_storage ss;
	socklen_t len;
	int64_t down_until;	/* a backend left out until then (ms) */
};

/* What an epoll event is about. */
enum kind { K_LISTEN, K_CONNECT, K_PAIR, K_SIGNAL };

struct conn {
	enum kind kind;
	int client, backend;
	int tries;		/* backends tried for this client */
	size_t be;		/* the backend being connected to */
	int64_t started;
	struct netaccel_splice *sp;
	unsigned int path;	/* the pair's path now */
	struct conn *prev, *next;	/* live connections */
};

struct tag {
	enum kind kind;
	int fd;
};

static struct {
	struct addr listen[MAX_ADDRS], backend[MAX_ADDRS];
	size_t nlisten, nbackend, rr;
	unsigned int path;
	unsigned int max_queued;
	const char *state_dir;
	int down_ms;
	int verbose;
	int ep;
	struct conn *live;
	bool stopping;
	/* counters */
	uint64_t accepted, spliced, ended, errors, refused, backend_fail, fell_back, moved;
	uint64_t by_path[4], bytes_up, bytes_down, kernel_bytes, paused, reset;
} P = { .down_ms = 5000 };

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

__attribute__((format(printf, 1, 2)))
static void logv(const char *fmt, ...)
{
	va_list ap;

	if (!P.verbose)
		return;
	va_start(ap, fmt);
	fputs("netaccel-proxy: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: netaccel-proxy [OPTIONS] -l HOST:PORT [-l ...] -b HOST:PORT [-b ...]\n"
		"\n"
		"Forward each TCP connection to a listen address to the next backend\n"
		"(round robin), splicing the two sockets in the kernel.\n"
		"\n"
		"  -l, --listen HOST:PORT     listen here (repeatable; [v6]:port for IPv6)\n"
		"  -b, --backend HOST:PORT    forward to this backend (repeatable)\n"
		"  -m, --mode MODE            auto (default), kernel, splice or copy: the\n"
		"                             path to take; auto takes the first that works,\n"
		"                             the others only that one\n"
		"      --max-queued BYTES     bytes that may wait per direction (default 1 MiB)\n"
		"      --down-time MS         leave a backend that refused out so long (5000)\n"
		"      --state-dir DIR        netaccel's state directory (splice set up by\n"
		"                             netaccel-ctl splice enable)\n"
		"  -v, --verbose              say each connection's path and end\n"
		"  -h, --help                 this text\n"
		"      --version              the version\n"
		"\n"
		"SIGUSR1 prints the counters to stderr; SIGTERM and SIGINT stop accepting\n"
		"and end once the live connections have (a second one at once).\n"
		"See netaccel-proxy(8).\n");
}

/* HOST:PORT or [HOST]:PORT, numeric or a name. 0 or -1 with *err set. */
static int parse_addr(const char *s, struct addr *a, const char **err)
{
	char host[64];
	const char *port;
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV };
	struct addrinfo *res;
	char *end;
	long p;

	if (s[0] == '[') {
		const char *close = strchr(s, ']');

		if (!close || close[1] != ':' || (size_t)(close - s - 1) >= sizeof(host)) {
			*err = "expected [IPv6]:PORT";
			return -1;
		}
		memcpy(host, s + 1, (size_t)(close - s - 1));
		host[close - s - 1] = 0;
		port = close + 2;
	} else {
		const char *colon = strrchr(s, ':');

		if (!colon || colon == s || (size_t)(colon - s) >= sizeof(host) ||
		    memchr(s, ':', (size_t)(colon - s))) {
			*err = "expected HOST:PORT";
			return -1;
		}
		memcpy(host, s, (size_t)(colon - s));
		host[colon - s] = 0;
		port = colon + 1;
	}
	errno = 0;
	p = strtol(port, &end, 10);
	if (!*port || *end || errno || p < 1 || p > 65535) {
		*err = "the port must be a number from 1 to 65535";
		return -1;
	}
	if (getaddrinfo(host, port, &hints, &res) || !res) {
		*err = "cannot resolve the host";
		return -1;
	}
	memcpy(&a->ss, res->ai_addr, res->ai_addrlen);
	a->len = res->ai_addrlen;
	freeaddrinfo(res);
	snprintf(a->text, sizeof(a->text), "%s", s);
	return 0;
}

static const char *path_name(unsigned int path)
{
	static const char *const names[] = { "auto", "kernel", "splice", "copy" };

	return path < 4 ? names[path] : "?";
}

static void watch(int fd, uint32_t events, void *ptr, int op)
{
	struct epoll_event ev = { .events = events, .data.ptr = ptr };

	epoll_ctl(P.ep, op, fd, &ev);
}

static void live_add(struct conn *c)
{
	c->next = P.live;
	if (P.live)
		P.live->prev = c;
	P.live = c;
}

static void conn_close(struct conn *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		P.live = c->next;
	if (c->next)
		c->next->prev = c->prev;
	if (c->sp) {
		epoll_ctl(P.ep, EPOLL_CTL_DEL, netaccel_splice_fd(c->sp), NULL);
		netaccel_splice_free(c->sp);
	}
	if (c->backend >= 0) {
		epoll_ctl(P.ep, EPOLL_CTL_DEL, c->backend, NULL);
		close(c->backend);
	}
	if (c->client >= 0)
		close(c->client);
	free(c);
}

/* The next backend that is not left out (all are: the one back soonest). */
static size_t pick_backend(void)
{
	int64_t now = now_ms();
	size_t best = P.rr % P.nbackend;

	for (size_t i = 0; i < P.nbackend; i++) {
		size_t b = (P.rr + i) % P.nbackend;

		if (P.backend[b].down_until <= now) {
			P.rr = b + 1;
			return b;
		}
		if (P.backend[b].down_until < P.backend[best].down_until)
			best = b;
	}
	P.rr = best + 1;
	return best;
}

static void nodelay(int fd)
{
	int one = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static void connect_next(struct conn *c);

static void backend_failed(struct conn *c, int err)
{
	struct addr *b = &P.backend[c->be];

	P.backend_fail++;
	b->down_until = now_ms() + P.down_ms;
	logv("backend %s: %s; left out for %d ms", b->text, strerror(err), P.down_ms);
	epoll_ctl(P.ep, EPOLL_CTL_DEL, c->backend, NULL);
	close(c->backend);
	c->backend = -1;
	connect_next(c);
}

static void connect_next(struct conn *c)
{
	struct addr *b;

	if (c->tries++ >= (int)P.nbackend) {
		P.refused++;
		logv("no backend took a connection; closing the client");
		conn_close(c);
		return;
	}
	c->be = pick_backend();
	b = &P.backend[c->be];
	c->backend = socket(b->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->backend < 0) {
		P.errors++;
		conn_close(c);
		return;
	}
	nodelay(c->backend);
	c->kind = K_CONNECT;
	c->started = now_ms();
	if (connect(c->backend, (struct sockaddr *)&b->ss, b->len) < 0 && errno != EINPROGRESS) {
		backend_failed(c, errno);
		return;
	}
	watch(c->backend, EPOLLOUT, c, EPOLL_CTL_ADD);
}

static void start_pair(struct conn *c)
{
	struct netaccel_splice_opts o = {
		.size = sizeof(o), .path = P.path, .max_queued = P.max_queued,
		.state_dir = P.state_dir,
		.flags = P.path ? NETACCEL_SPLICE_EXACT : 0,
	};
	struct netaccel_splice_info info;

	epoll_ctl(P.ep, EPOLL_CTL_DEL, c->backend, NULL);
	c->sp = netaccel_splice(c->client, c->backend, &o);
	if (!c->sp && o.flags && errno != EBUSY && errno != ENOMEM && errno != EINVAL) {
		/* The mode asked for cannot take this connection (a client
		 * that closed its side before the backend answered, say):
		 * better another path than a dropped client. */
		logv("connection not on the %s path (%s); taking the next that works",
		     path_name(P.path), netaccel_splice_why());
		o.flags = 0;
		c->sp = netaccel_splice(c->client, c->backend, &o);
		P.fell_back += c->sp != NULL;
	}
	if (!c->sp) {
		fprintf(stderr, "netaccel-proxy: cannot splice a connection: %s\n",
			netaccel_splice_why()[0] ? netaccel_splice_why() : strerror(errno));
		P.errors++;
		conn_close(c);
		return;
	}
	netaccel_splice_info(c->sp, &info);
	P.spliced++;
	c->path = info.path < 4 ? info.path : 0;
	P.by_path[c->path]++;
	if (info.why[0])
		logv("connection on the %s path: %s", path_name(info.path), info.why);
	c->kind = K_PAIR;
	watch(netaccel_splice_fd(c->sp), EPOLLIN, c, EPOLL_CTL_ADD);
}

static void on_pair(struct conn *c);

static void on_connect(struct conn *c)
{
	int err = 0;
	socklen_t len = sizeof(err);

	getsockopt(c->backend, SOL_SOCKET, SO_ERROR, &err, &len);
	if (err) {
		backend_failed(c, err);
		return;
	}
	start_pair(c);
}

static void on_pair(struct conn *c)
{
	struct netaccel_splice_info info;
	int r = netaccel_splice_run(c->sp);

	if (r == 0 && c->path == NETACCEL_PATH_KERNEL)
		return;
	netaccel_splice_info(c->sp, &info);
	if (info.path != c->path && info.path < 4) {
		/* mode auto: bulk moved it to splice(2), request and
		 * response traffic to the kernel path */
		P.by_path[c->path]--;
		P.by_path[info.path]++;
		P.moved += info.path == NETACCEL_PATH_KERNEL;
		c->path = info.path;
		logv("connection moved to the %s path", path_name(info.path));
	}
	if (r == 0)
		return;
	P.ended++;
	P.bytes_up += info.bytes[0];
	P.bytes_down += info.bytes[1];
	P.kernel_bytes += info.kernel_bytes[0] + info.kernel_bytes[1];
	P.paused += (unsigned)info.paused[0] + (unsigned)info.paused[1];
	if (info.error || r < 0)
		P.reset++;
	logv("connection ended: %llu bytes up, %llu down%s%s", info.bytes[0], info.bytes[1],
	     info.error ? ", " : "", info.error ? strerror(info.error) : "");
	conn_close(c);
}

static void on_accept(struct tag *t)
{
	for (int i = 0; i < 64; i++) {
		int fd = accept4(t->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct conn *c;

		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				P.errors++;
			return;
		}
		c = calloc(1, sizeof(*c));
		if (!c) {
			close(fd);
			P.errors++;
			continue;
		}
		P.accepted++;
		nodelay(fd);
		c->client = fd;
		c->backend = -1;
		live_add(c);
		connect_next(c);
	}
}

static void print_counters(void)
{
	size_t live = 0;

	for (struct conn *c = P.live; c; c = c->next)
		live++;
	fprintf(stderr,
		"netaccel-proxy: connections %llu accepted, %zu live, %llu ended (%llu by a reset "
		"or error), %llu refused (no backend); paths kernel %llu, splice %llu, copy %llu "
		"(%llu not on the mode's path, %llu moved to the kernel's); bytes of ended connections %llu up, %llu down, "
		"%llu by the kernel; directions paused %llu; backend failures %llu; errors %llu\n",
		(unsigned long long)P.accepted, live, (unsigned long long)P.ended,
		(unsigned long long)P.reset,
		(unsigned long long)P.refused, (unsigned long long)P.by_path[1],
		(unsigned long long)P.by_path[2], (unsigned long long)P.by_path[3],
		(unsigned long long)P.fell_back, (unsigned long long)P.moved,
		(unsigned long long)P.bytes_up, (unsigned long long)P.bytes_down,
		(unsigned long long)P.kernel_bytes, (unsigned long long)P.paused,
		(unsigned long long)P.backend_fail, (unsigned long long)P.errors);
}

static int listen_on(const struct addr *a, struct tag *t)
{
	int one = 1;
	int fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/* [::]:P and 0.0.0.0:P side by side, as nginx has them. */
	if (a->ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)&a->ss, a->len) < 0 || listen(fd, 4096) < 0) {
		int e = errno;

		close(fd);
		return -e;
	}
	t->kind = K_LISTEN;
	t->fd = fd;
	watch(fd, EPOLLIN, t, EPOLL_CTL_ADD);
	return 0;
}

static void stop_listening(struct tag *tags)
{
	for (size_t i = 0; i < P.nlisten; i++) {
		if (tags[i].fd >= 0) {
			epoll_ctl(P.ep, EPOLL_CTL_DEL, tags[i].fd, NULL);
			close(tags[i].fd);
			tags[i].fd = -1;
		}
	}
}

/* Connects that take too long count as a backend's failure. */
static void expire_connects(void)
{
	int64_t now = now_ms();
	struct conn *next;

	for (struct conn *c = P.live; c; c = next) {
		next = c->next;
		if (c->kind == K_CONNECT && now - c->started > CONNECT_TIMEOUT_MS)
			backend_failed(c, ETIMEDOUT);
	}
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "backend", required_argument, NULL, 'b' },
		{ "mode", required_argument, NULL, 'm' },
		{ "max-queued", required_argument, NULL, 'Q' },
		{ "down-time", required_argument, NULL, 'D' },
		{ "state-dir", required_argument, NULL, 'S' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 },
	};
	struct tag tags[MAX_ADDRS], sigtag = { .kind = K_SIGNAL };
	struct rlimit rl;
	sigset_t set;
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":l:b:m:vh", opts, NULL)) != -1) {
		const char *err = NULL;
		char *end;
		unsigned long v;

		switch (c) {
		case 'l':
		case 'b': {
			bool l = c == 'l';
			size_t *n = l ? &P.nlisten : &P.nbackend;

			if (*n == MAX_ADDRS) {
				fprintf(stderr, "netaccel-proxy: at most %d %s addresses\n", MAX_ADDRS,
					l ? "listen" : "backend");
				return 2;
			}
			if (parse_addr(optarg, l ? &P.listen[*n] : &P.backend[*n], &err) < 0) {
				fprintf(stderr, "netaccel-proxy: --%s '%s': %s\n",
					l ? "listen" : "backend", optarg, err);
				return 2;
			}
			(*n)++;
			break;
		}
		case 'm':
			if (!strcmp(optarg, "auto"))
				P.path = NETACCEL_PATH_AUTO;
			else if (!strcmp(optarg, "kernel"))
				P.path = NETACCEL_PATH_KERNEL;
			else if (!strcmp(optarg, "splice"))
				P.path = NETACCEL_PATH_SPLICE;
			else if (!strcmp(optarg, "copy"))
				P.path = NETACCEL_PATH_COPY;
			else {
				fprintf(stderr, "netaccel-proxy: --mode '%s': expected auto, kernel, "
						"splice or copy\n", optarg);
				return 2;
			}
			break;
		case 'Q':
		case 'D':
			errno = 0;
			v = strtoul(optarg, &end, 10);
			if (!*optarg || *end || errno || v == 0 || v > (c == 'Q' ? 1u << 30 : 3600000u)) {
				fprintf(stderr, "netaccel-proxy: --%s '%s': expected a number from 1 "
						"to %u\n", c == 'Q' ? "max-queued" : "down-time", optarg,
					c == 'Q' ? 1u << 30 : 3600000u);
				return 2;
			}
			if (c == 'Q')
				P.max_queued = (unsigned int)v;
			else
				P.down_ms = (int)v;
			break;
		case 'S':
			P.state_dir = optarg;
			break;
		case 'v':
			P.verbose++;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("netaccel-proxy %s\n", NA_VERSION);
			return 0;
		case ':':
			fprintf(stderr, "netaccel-proxy: %s needs a value (see --help)\n",
				argv[optind - 1]);
			return 2;
		default:
			fprintf(stderr, "netaccel-proxy: unknown option '%s' (see --help)\n",
				argv[optind - 1]);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "netaccel-proxy: unexpected argument '%s' (see --help)\n",
			argv[optind]);
		return 2;
	}
	if (!P.nlisten || !P.nbackend) {
		fprintf(stderr, "netaccel-proxy: needs at least one --listen and one --backend "
				"(see --help)\n");
		return 2;
	}

	/* Each connection holds two sockets and two descriptors of its own. */
	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, NULL);
	P.ep = epoll_create1(EPOLL_CLOEXEC);
	sigtag.fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (P.ep < 0 || sigtag.fd < 0) {
		fprintf(stderr, "netaccel-proxy: %s\n", strerror(errno));
		return 1;
	}
	watch(sigtag.fd, EPOLLIN, &sigtag, EPOLL_CTL_ADD);
	for (size_t i = 0; i < P.nlisten; i++) {
		int err = listen_on(&P.listen[i], &tags[i]);

		if (err < 0) {
			fprintf(stderr, "netaccel-proxy: cannot listen on %s: %s\n", P.listen[i].text,
				strerror(-err));
			return 1;
		}
	}
	fprintf(stderr, "netaccel-proxy: listening on %s", P.listen[0].text);
	for (size_t i = 1; i < P.nlisten; i++)
		fprintf(stderr, ", %s", P.listen[i].text);
	fprintf(stderr, "; %zu backend%s; mode %s\n", P.nbackend, P.nbackend == 1 ? "" : "s",
		(const char *[]){ "auto", "kernel", "splice", "copy" }[P.path]);

	while (!P.stopping || P.live) {
		struct epoll_event ev[128];
		int n = epoll_wait(P.ep, ev, 128, 500);

		for (int i = 0; i < n; i++) {
			struct tag *t = ev[i].data.ptr;
			struct conn *cn = ev[i].data.ptr;

			switch (t->kind) {
			case K_LISTEN:
				on_accept(t);
				break;
			case K_CONNECT:
				on_connect(cn);
				break;
			case K_PAIR:
				on_pair(cn);
				break;
			case K_SIGNAL: {
				struct signalfd_siginfo si;

				while (read(sigtag.fd, &si, sizeof(si)) == sizeof(si)) {
					if (si.ssi_signo == SIGUSR1) {
						print_counters();
					} else if (P.stopping) {
						print_counters();
						return 0;
					} else {
						P.stopping = true;
						stop_listening(tags);
					}
				}
				break;
			}
			}
		}
		expire_connects();
	}
	print_counters();
	return 0;
}
