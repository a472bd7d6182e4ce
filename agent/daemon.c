// SPDX-License-Identifier: GPL-2.0-only
/*
 * The daemon's loop. Every event (a cgroup made or removed, a link or an
 * address that changed, a change to the nftables ruleset) marks a pass due
 * a moment later, so that a burst
 * (a container's cgroups, its veth, then its addresses) ends in one pass;
 * a pass makes the plan and carries out what changes something. A full
 * pass also runs every resync_s seconds, for what no event says (a port
 * rule's cgroup coming back, watches the kernel refused). The policy is
 * read again on SIGHUP and when the file's content changes (inotify on
 * its directory); the policy in force stays when the new file is wrong.
 */
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/rtnetlink.h>
#include <systemd/sd-daemon.h>

#include <netaccel/bypass.h>
#include <netaccel/owned.h>

#include "daemon.h"
#include "harden.h"
#include "http.h"
#include "metrics.h"
#include "plan.h"

/* How long after an event the pass runs: a burst of events ends in one. */
#define SETTLE_MS 200
/* How deep below the root cgroups are watched (as deep as plan.c walks). */
#define WATCH_MAX_DEPTH 32

struct daemon {
	const struct na_daemon_cfg *cfg;
	struct na_policy policy;
	struct na_owned_map owned;
	int sfd, ifd;
	struct mnl_socket *nl;
	struct mnl_socket *nf;		/* nftables changes (NULL: not followed) */
	struct na_http *http;
	char **wd_rel;			/* inotify watch -> cgroup path below the root */
	size_t nwd;
	int policy_wd;			/* the policy file's directory */
	char *policy_text;		/* the file as last read */
	size_t policy_len;
	int64_t reread;			/* when to look at the file again (-1: no) */
	bool watch_full;		/* said once: the kernel refused a watch */
	bool ready;
	int64_t due;			/* when the next pass runs (-1: none due) */
	int64_t next_resync, next_watchdog;
	uint64_t watchdog_us;
	struct na_net_summary nets;	/* the last networks sync, said when it changes */
	/* What the metrics say of the agent itself. */
	uint64_t passes, failures, reloads, reloads_refused;
	time_t last_pass;
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void schedule(struct daemon *d, int64_t delay)
{
	int64_t t = now_ms() + delay;

	if (d->due < 0 || t < d->due)
		d->due = t;
}

/* ---- the cgroup tree ---- */

static int remember(struct daemon *d, int wd, const char *rel)
{
	if ((size_t)wd >= d->nwd) {
		size_t n = (size_t)wd * 2 + 16;
		char **r = reallocarray(d->wd_rel, n, sizeof(*r));

		if (!r)
			return -ENOMEM;
		memset(r + d->nwd, 0, (n - d->nwd) * sizeof(*r));
		d->wd_rel = r;
		d->nwd = n;
	}
	if (d->wd_rel[wd])
		return 0;	/* watched already (a rescan) */
	d->wd_rel[wd] = strdup(rel);
	return d->wd_rel[wd] ? 0 : -ENOMEM;
}

static int only_dirs(const struct dirent *de)
{
	return (de->d_type == DT_DIR || de->d_type == DT_UNKNOWN) && strcmp(de->d_name, ".") &&
	       strcmp(de->d_name, "..");
}

/* Watch the cgroup at rel and every cgroup below it. Children made before
 * the watch took are found by the scan that follows it. */
static void watch_tree(struct daemon *d, const char *rel, int depth)
{
	const uint32_t mask = IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_ONLYDIR |
			      IN_DONT_FOLLOW;
	char path[PATH_MAX * 2], sub[PATH_MAX];
	struct dirent **names;
	int wd, i, n;

	snprintf(path, sizeof(path), "%s%s%s", d->cfg->root, *rel ? "/" : "", rel);
	wd = inotify_add_watch(d->ifd, path, mask);
	if (wd < 0) {
		if (errno != ENOENT && !d->watch_full) {
			d->cfg->log("cannot watch %s: %s; cgroups below it are found every %u s only",
				    path, strerror(errno), d->cfg->resync_s);
			d->watch_full = true;
		}
		return;
	}
	if (remember(d, wd, rel) || depth >= WATCH_MAX_DEPTH)
		return;
	n = scandir(path, &names, only_dirs, alphasort);
	for (i = 0; i < n; i++) {
		if (snprintf(sub, sizeof(sub), "%s%s%s", rel, *rel ? "/" : "", names[i]->d_name) <
		    (int)sizeof(sub))
			watch_tree(d, sub, depth + 1);
		free(names[i]);
	}
	if (n >= 0)
		free(names);
}

static int depth_of(const char *rel)
{
	int n = *rel ? 1 : 0;

	for (; *rel; rel++)
		n += *rel == '/';
	return n;
}

/* The policy file, whole; NULL when it cannot be read. */
static char *read_policy(const struct daemon *d, size_t *len)
{
	char *text = NULL;
	FILE *f = fopen(d->cfg->config, "re");
	size_t n = 0;
	char buf[4096];

	*len = 0;
	if (!f)
		return NULL;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
		char *t = realloc(text, *len + n + 1);

		if (!t) {
			free(text);
			fclose(f);
			return NULL;
		}
		text = t;
		memcpy(text + *len, buf, n);
		*len += n;
	}
	fclose(f);
	if (!text)
		text = strdup("");
	return text;
}

/* Remember the file as it is now: a change to it is what rereads it. */
static void keep_policy_text(struct daemon *d)
{
	free(d->policy_text);
	d->policy_text = read_policy(d, &d->policy_len);
}

/* Watch the directory of the policy file: an editor saves by renaming, and
 * a Kubernetes ConfigMap volume swaps its "..data" link. */
static void watch_policy(struct daemon *d)
{
	char dir[PATH_MAX];
	char *slash;

	snprintf(dir, sizeof(dir), "%s", d->cfg->config);
	slash = strrchr(dir, '/');
	if (slash == dir)
		slash[1] = '\0';
	else if (slash)
		*slash = '\0';
	else
		snprintf(dir, sizeof(dir), ".");
	d->policy_wd = inotify_add_watch(d->ifd, dir, IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE |
							     IN_DELETE | IN_ONLYDIR);
	if (d->policy_wd < 0)
		d->cfg->log("cannot watch %s: %s; send SIGHUP after changing the policy", dir,
			    strerror(errno));
}

static bool is_policy_event(const struct daemon *d, const struct inotify_event *ev)
{
	const char *base = strrchr(d->cfg->config, '/');

	base = base ? base + 1 : d->cfg->config;
	return ev->wd == d->policy_wd && ev->len &&
	       (!strcmp(ev->name, base) || !strcmp(ev->name, "..data"));
}

static void on_inotify(struct daemon *d)
{
	char buf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));
	char sub[PATH_MAX];
	ssize_t len;

	while ((len = read(d->ifd, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + len;) {
			const struct inotify_event *ev = (const struct inotify_event *)p;
			const char *rel = ev->wd >= 0 && (size_t)ev->wd < d->nwd ?
						  d->wd_rel[ev->wd] : NULL;

			p += sizeof(*ev) + ev->len;
			if (ev->wd == d->policy_wd) {
				if (is_policy_event(d, ev))
					d->reread = now_ms() + SETTLE_MS;
				continue;
			}
			if (ev->mask & IN_Q_OVERFLOW) {
				watch_tree(d, "", 0);	/* events lost: look again */
			} else if (ev->mask & IN_IGNORED) {
				if (rel) {
					free(d->wd_rel[ev->wd]);
					d->wd_rel[ev->wd] = NULL;
				}
				continue;
			} else if (rel && (ev->mask & IN_ISDIR) && (ev->mask & (IN_CREATE | IN_MOVED_TO)) &&
				   snprintf(sub, sizeof(sub), "%s%s%s", rel, *rel ? "/" : "",
					    ev->name) < (int)sizeof(sub)) {
				watch_tree(d, sub, depth_of(sub));
			}
			schedule(d, SETTLE_MS);
		}
	}
}

/* ---- links and addresses ---- */

static int open_netlink(struct daemon *d)
{
	unsigned int groups[] = { RTNLGRP_LINK, RTNLGRP_IPV4_IFADDR, RTNLGRP_IPV6_IFADDR };
	int one = 1;
	size_t i;

	d->nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (!d->nl || mnl_socket_bind(d->nl, 0, MNL_SOCKET_AUTOPID) < 0)
		return -errno;
	for (i = 0; i < sizeof(groups) / sizeof(groups[0]); i++)
		if (mnl_socket_setsockopt(d->nl, NETLINK_ADD_MEMBERSHIP, &groups[i],
					  sizeof(groups[i])))
			return -errno;
	/* The containers' addresses too, where the kernel allows it. */
	if (mnl_socket_setsockopt(d->nl, NETLINK_LISTEN_ALL_NSID, &one, sizeof(one)))
		d->cfg->log("cannot follow address changes inside containers (%s); they are found every %u s",
			    strerror(errno), d->cfg->resync_s);
	return 0;
}

/*
 * A firewall rule added between containers must stop them pairing (the
 * bypass would skip it) before the next resync: follow the nftables
 * ruleset, which iptables-nft writes too, and check the bridges again at
 * every change. Legacy x_tables and a container's own firewall announce
 * nothing; the resync finds them.
 */
static void open_nftables(struct daemon *d)
{
	unsigned int group = NFNLGRP_NFTABLES;

	d->nf = mnl_socket_open2(NETLINK_NETFILTER, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (d->nf && mnl_socket_bind(d->nf, 0, MNL_SOCKET_AUTOPID) == 0 &&
	    mnl_socket_setsockopt(d->nf, NETLINK_ADD_MEMBERSHIP, &group, sizeof(group)) == 0)
		return;
	d->cfg->log("cannot follow firewall changes (%s); bridges are checked again every %u s",
		    strerror(errno), d->cfg->resync_s);
	if (d->nf)
		mnl_socket_close(d->nf);
	d->nf = NULL;
}

/* Read what the socket has: the pass reads again whatever changed. */
static void drain(struct mnl_socket *nl)
{
	char buf[65536];
	ssize_t r;

	while ((r = recv(mnl_socket_get_fd(nl), buf, sizeof(buf), MSG_DONTWAIT)) > 0 ||
	       (r < 0 && errno == ENOBUFS))
		;
}

static void on_netlink(struct daemon *d, struct mnl_socket *nl)
{
	drain(nl);
	schedule(d, SETTLE_MS);	/* bridges, the networks of containers, firewalls */
}

/* ---- passes and reloads ---- */

/* Containers on this namespace's bridges pair across their namespaces
 * when the bypass is loaded: keep its tables in step with netlink. */
static void sync_networks(struct daemon *d)
{
	struct na_reason why = { 0 };
	struct na_net_summary sum;
	struct na_state st;
	int err;

	if (na_state_open(&st, d->cfg->state_dir, 0, NULL))
		return;	/* nothing enrolled */
	err = na_net_sync(&st, &sum, &why);
	na_state_close(&st);
	if (err) {
		d->cfg->log("cannot sync the networks of containers: %s",
			    why.msg[0] ? why.msg : strerror(-err));
		return;
	}
	if (!memcmp(&sum, &d->nets, sizeof(sum)))
		return;
	d->nets = sum;
	d->cfg->log("networks: %d bridges pair %d container namespaces (%d addresses)%s", sum.networks,
		    sum.namespaces, sum.endpoints, sum.filtered ? "; some are filtered by a firewall" : "");
}

static void pass(struct daemon *d)
{
	struct na_reason why = { 0 };
	struct na_plan plan;
	int err;

	d->due = -1;
	d->next_resync = now_ms() + (int64_t)d->cfg->resync_s * 1000;
	err = na_plan_make(&d->policy, d->cfg->root, d->cfg->state_dir, &d->owned, &plan, &why);
	if (err) {
		d->cfg->log("cannot read what to do: %s", why.msg[0] ? why.msg : strerror(-err));
		d->failures++;
		return;
	}
	d->failures += na_plan_apply(&plan, d->cfg->state_dir, &d->owned, true, stdout, stderr);
	na_plan_free(&plan);
	sync_networks(d);
	d->passes++;
	d->last_pass = time(NULL);
}

static void say_rule(void *arg, char sign, const char *rule)
{
	const struct daemon *d = arg;

	d->cfg->log("policy: %c %s", sign, rule);
}

static void reload(struct daemon *d)
{
	struct na_reason why = { 0 };
	struct na_policy p;
	int err;

	sd_notify(0, "RELOADING=1\nSTATUS=reading the policy again");
	err = na_policy_load(d->cfg->config, &p, &why);
	if (err) {
		keep_policy_text(d);	/* said once, not again until it changes */
		d->cfg->log("%s; the policy in force stays", why.msg[0] ? why.msg : strerror(-err));
		na_policy_free(&p);
		d->reloads_refused++;
		sd_notify(0, "READY=1\nSTATUS=the reloaded policy was refused; the one in force stays");
		return;
	}
	keep_policy_text(d);
	err = na_policy_diff(&d->policy, &p, say_rule, d);
	if (!err)
		d->cfg->log("policy read again: nothing changed");
	na_policy_free(&d->policy);
	d->policy = p;
	d->reloads++;
	pass(d);
	sd_notify(0, "READY=1\nSTATUS=following the host");
}

/* The file changed on disk: read it again if what it says did. */
static void reread(struct daemon *d)
{
	size_t len;
	char *text = read_policy(d, &len);

	d->reread = -1;
	if (text && d->policy_text && len == d->policy_len && !memcmp(text, d->policy_text, len)) {
		free(text);
		return;
	}
	free(text);
	d->cfg->log("%s changed", d->cfg->config);
	reload(d);
}

/* ---- metrics ---- */

static void write_agent(FILE *f, const struct daemon *d)
{
	struct na_owned *own = calloc(16384, sizeof(*own));
	size_t i, n = own ? na_owned_list(&d->owned, own, 16384) : 0;
	unsigned long count[4] = { 0 };
	static const char *const kind[] = { "", "bypass", "portmap", "veth" };

	for (i = 0; i < n; i++)
		if (own[i].kind < 4)
			count[own[i].kind]++;
	free(own);
	fprintf(f, "# HELP netaccel_agent_passes_total Passes the agent made over the host.\n"
		   "# TYPE netaccel_agent_passes_total counter\n"
		   "netaccel_agent_passes_total %llu\n",
		(unsigned long long)d->passes);
	fprintf(f, "# HELP netaccel_agent_actions_failed_total Actions of the policy the agent could not carry out.\n"
		   "# TYPE netaccel_agent_actions_failed_total counter\n"
		   "netaccel_agent_actions_failed_total %llu\n",
		(unsigned long long)d->failures);
	fprintf(f, "# HELP netaccel_agent_policy_reloads_total Policy files read again, by result.\n"
		   "# TYPE netaccel_agent_policy_reloads_total counter\n"
		   "netaccel_agent_policy_reloads_total{result=\"applied\"} %llu\n"
		   "netaccel_agent_policy_reloads_total{result=\"refused\"} %llu\n",
		(unsigned long long)d->reloads, (unsigned long long)d->reloads_refused);
	fprintf(f, "# HELP netaccel_agent_owned What the agent made and would undo, by kind.\n"
		   "# TYPE netaccel_agent_owned gauge\n");
	for (i = 1; i < 4; i++)
		fprintf(f, "netaccel_agent_owned{kind=\"%s\"} %lu\n", kind[i], count[i]);
	fprintf(f, "# HELP netaccel_agent_last_pass_timestamp_seconds When the last pass ended.\n"
		   "# TYPE netaccel_agent_last_pass_timestamp_seconds gauge\n"
		   "netaccel_agent_last_pass_timestamp_seconds %lld\n",
		(long long)d->last_pass);
}

static int metrics_page(void *arg, char **body, size_t *len)
{
	const struct daemon *d = arg;
	struct na_reason why = { 0 };
	struct na_metrics *m = calloc(1, sizeof(*m));
	FILE *f;
	int err;

	*body = NULL;
	*len = 0;
	if (!m)
		return 500;
	err = na_metrics_gather(d->cfg->state_dir, m, &why);
	f = open_memstream(body, len);
	if (!f) {
		free(m);
		return 500;
	}
	if (err)
		fprintf(f, "cannot read netaccel's state: %s\n", why.msg[0] ? why.msg : strerror(-err));
	else if (!na_metrics_write(f, m))
		write_agent(f, d);
	fclose(f);
	free(m);
	return err ? 503 : 200;
}

static int health_page(void *arg, char **body, size_t *len)
{
	const struct daemon *d = arg;

	*body = strdup(d->ready ? "ok\n" : "starting\n");
	*len = *body ? strlen(*body) : 0;
	return d->ready ? 200 : 503;
}

/* ---- set-up and the loop ---- */

static size_t owned_count(const struct daemon *d)
{
	struct na_owned *own = calloc(16384, sizeof(*own));
	size_t n = own ? na_owned_list(&d->owned, own, 16384) : 0;

	free(own);
	return n;
}

static int block_signals(struct daemon *d)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	if (sigprocmask(SIG_BLOCK, &set, NULL))
		return -errno;
	d->sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	return d->sfd < 0 ? -errno : 0;
}

/* What the loop calls once hardened, besides the base list. */
static const char *const loop_calls[] = {
	"inotify_add_watch", "inotify_rm_watch", "statfs", "fstatfs", "mkdir", "mkdirat", "rmdir",
	"getuid", "geteuid", "getgid", "getegid", "connect", "sysinfo", "prlimit64",
	"sched_getaffinity", "memfd_create", "ftruncate", "pread64", "epoll_wait",
	"epoll_pwait", "epoll_ctl", "epoll_create1", "setns",
};

static int harden(struct daemon *d)
{
	const char **calls;
	size_t n = 0, i;
	int err;

	/* The loop may load programs again (a state removed by hand), frees
	 * the slots of removed cgroups, and looks at containers' own
	 * firewalls from inside their network namespaces. */
	err = na_harden_caps(NA_HARDEN_LOAD | NA_HARDEN_CGROUPS | NA_HARDEN_NETNS);
	if (err) {
		d->cfg->log("cannot drop capabilities: %s", strerror(-err));
		return err;
	}
	calls = calloc(na_http_nsyscalls + sizeof(loop_calls) / sizeof(loop_calls[0]),
		       sizeof(*calls));
	if (!calls)
		return -ENOMEM;
	for (i = 0; i < sizeof(loop_calls) / sizeof(loop_calls[0]); i++)
		calls[n++] = loop_calls[i];
	for (i = 0; i < na_http_nsyscalls; i++)
		calls[n++] = na_http_syscalls[i];
	err = na_harden_seccomp(calls, n);
	free(calls);
	if (err)
		d->cfg->log("cannot install the seccomp filter: %s", strerror(-err));
	return err;
}

static int start(struct daemon *d)
{
	struct na_http_cfg hc = { .address = d->cfg->metrics_address, .metrics = metrics_page,
				  .health = health_page, .arg = d };
	struct na_reason why = { 0 };
	size_t n;
	int err;

	err = na_owned_open(&d->owned, d->cfg->state_dir, NA_OWNED_CREATE | NA_OWNED_LOCK, &why);
	if (err) {
		d->cfg->log("%s", why.msg[0] ? why.msg : strerror(-err));
		return err;
	}
	err = block_signals(d);
	if (!err) {
		d->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
		err = d->ifd < 0 ? -errno : 0;
	}
	if (!err)
		err = open_netlink(d);
	if (!err)
		open_nftables(d);
	if (err) {
		d->cfg->log("cannot set up the loop: %s", strerror(-err));
		return err;
	}
	if (d->cfg->metrics_address) {
		err = na_http_new(&d->http, &hc, &why);
		if (err) {
			d->cfg->log("%s", why.msg[0] ? why.msg : strerror(-err));
			return err;
		}
	}
	/* Watch first, then look: nothing made in between is missed. */
	watch_tree(d, "", 0);
	watch_policy(d);
	keep_policy_text(d);
	n = owned_count(d);
	if (n)
		d->cfg->log("adopting what an earlier run made (%zu entries in %s/agent/owned)", n,
			    d->cfg->state_dir);
	pass(d);
	err = harden(d);
	if (err)
		return err;
	d->ready = true;
	if (sd_watchdog_enabled(0, &d->watchdog_us) > 0)
		d->next_watchdog = now_ms();
	else
		d->watchdog_us = 0;
	sd_notify(0, "READY=1\nSTATUS=following the host");
	d->cfg->log("following the host with %s (cgroups below %s, state %s)", d->cfg->config,
		    d->cfg->root, d->cfg->state_dir);
	if (d->http)
		d->cfg->log("metrics on http://%s/metrics", d->cfg->metrics_address);
	return 0;
}

static int64_t min_deadline(const struct daemon *d)
{
	int64_t t = d->next_resync;

	if (d->due >= 0 && d->due < t)
		t = d->due;
	if (d->reread >= 0 && d->reread < t)
		t = d->reread;
	if (d->watchdog_us && d->next_watchdog < t)
		t = d->next_watchdog;
	return t;
}

/* 0 to go on, or the signal that stops the loop. */
static int on_signals(struct daemon *d)
{
	struct signalfd_siginfo si;

	while (read(d->sfd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGHUP)
			reload(d);
		else
			return (int)si.ssi_signo;
	}
	return 0;
}

static int loop(struct daemon *d)
{
	struct pollfd pfd[5];
	int nfd, stop = 0, http_ms, nf = -1;
	int64_t wait;

	pfd[0] = (struct pollfd){ .fd = d->sfd, .events = POLLIN };
	pfd[1] = (struct pollfd){ .fd = d->ifd, .events = POLLIN };
	pfd[2] = (struct pollfd){ .fd = mnl_socket_get_fd(d->nl), .events = POLLIN };
	nfd = 3;
	if (d->nf) {
		nf = nfd;
		pfd[nfd++] = (struct pollfd){ .fd = mnl_socket_get_fd(d->nf), .events = POLLIN };
	}
	if (d->http)
		pfd[nfd++] = (struct pollfd){ .fd = na_http_fd(d->http), .events = POLLIN };
	while (!stop) {
		wait = min_deadline(d) - now_ms();
		if (wait < 0)
			wait = 0;
		http_ms = d->http ? na_http_timeout_ms(d->http) : -1;
		if (http_ms >= 0 && http_ms < wait)
			wait = http_ms;
		if (poll(pfd, (nfds_t)nfd, (int)wait) < 0 && errno != EINTR) {
			d->cfg->log("poll: %s", strerror(errno));
			return 1;
		}
		if (pfd[0].revents)
			stop = on_signals(d);
		if (pfd[1].revents)
			on_inotify(d);
		if (pfd[2].revents)
			on_netlink(d, d->nl);
		if (nf >= 0 && pfd[nf].revents)
			on_netlink(d, d->nf);
		if (d->http)
			na_http_run(d->http);
		if (!stop && d->reread >= 0 && now_ms() >= d->reread)
			reread(d);
		if (!stop && (now_ms() >= d->next_resync || (d->due >= 0 && now_ms() >= d->due)))
			pass(d);
		if (d->watchdog_us && now_ms() >= d->next_watchdog) {
			sd_notify(0, "WATCHDOG=1");
			d->next_watchdog = now_ms() + (int64_t)(d->watchdog_us / 2000);
		}
	}
	sd_notify(0, "STOPPING=1");
	d->cfg->log("stopped by %s; what it made stays in the kernel (netaccel-ctl cleanup removes it)",
		    strsignal(stop));
	return 0;
}

int na_daemon_run(const struct na_daemon_cfg *cfg, struct na_policy *policy)
{
	struct daemon d = { .cfg = cfg, .policy = *policy, .sfd = -1, .ifd = -1, .due = -1,
			    .policy_wd = -1, .reread = -1 };
	int code;
	size_t i;

	memset(policy, 0, sizeof(*policy));
	d.owned.fd = d.owned.dir_fd = -1;
	d.next_resync = now_ms() + (int64_t)cfg->resync_s * 1000;
	code = start(&d) ? 1 : loop(&d);
	na_http_free(d.http);
	if (d.nl)
		mnl_socket_close(d.nl);
	if (d.nf)
		mnl_socket_close(d.nf);
	if (d.ifd >= 0)
		close(d.ifd);
	if (d.sfd >= 0)
		close(d.sfd);
	for (i = 0; i < d.nwd; i++)
		free(d.wd_rel[i]);
	free(d.wd_rel);
	free(d.policy_text);
	na_owned_close(&d.owned);
	na_policy_free(&d.policy);
	return code;
}
