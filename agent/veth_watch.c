// SPDX-License-Identifier: GPL-2.0-only
/*
 * The veth watch loop: netlink events from our namespace and the
 * containers' ones are taken in bursts, and each burst (or two quiet
 * seconds) ends in one pass of na_veth_sync over the bridges.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <libmnl/libmnl.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include "harden.h"
#include "veth_watch.h"

struct na_veth_watch {
	struct na_veth_watch_cfg cfg;
	struct mnl_socket *ev;
	struct na_veth_state *v;
};

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
	stop_signal = sig;
}

__attribute__((format(printf, 3, 4)))
static void report(const struct na_veth_watch *w, void (*fn)(void *, const char *),
		   const char *fmt, ...)
{
	char line[512];
	va_list ap;

	if (!fn)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fn(w->cfg.log.arg, line);
}

/* Every change the sync makes is one line of the watch's output. */
static void on_event(const struct na_veth_event *ev, void *arg)
{
	const struct na_veth_watch *w = arg;
	void (*say)(void *, const char *) = w->cfg.log.say;

	switch (ev->kind) {
	case NA_VETH_EP_ADDED:
	case NA_VETH_EP_CHANGED:
		report(w, say, "%s endpoint %s on %s: %s, peer %s, mtu %u",
		       ev->kind == NA_VETH_EP_ADDED ? "added" : "changed", ev->addr, ev->bridge,
		       ev->veth, ev->mac, ev->mtu);
		break;
	case NA_VETH_EP_REMOVED:
		report(w, say, "removed endpoint %s on %s", ev->addr, ev->bridge);
		break;
	case NA_VETH_PORT_ATTACHED:
		report(w, say, "attached to %s (bridge %s)", ev->veth, ev->bridge);
		break;
	case NA_VETH_PORT_STALE:
		report(w, say, "removed port %s", ev->veth);
		break;
	case NA_VETH_ADDR_CONFLICT:
		report(w, w->cfg.log.warn, "%s is on two ports of one bridge: not accelerated",
		       ev->addr);
		break;
	}
}

/* Events from our namespace and, with NETLINK_LISTEN_ALL_NSID, from every
 * namespace we have an id for: the containers' address changes. */
static struct mnl_socket *watch_socket(const struct na_veth_watch *w)
{
	unsigned int groups[] = { RTNLGRP_LINK, RTNLGRP_IPV4_IFADDR, RTNLGRP_IPV6_IFADDR };
	struct mnl_socket *ev;
	int one = 1;
	size_t i;

	ev = mnl_socket_open(NETLINK_ROUTE);
	if (!ev)
		return NULL;
	if (mnl_socket_bind(ev, 0, MNL_SOCKET_AUTOPID) < 0)
		goto fail;
	for (i = 0; i < sizeof(groups) / sizeof(groups[0]); i++)
		if (mnl_socket_setsockopt(ev, NETLINK_ADD_MEMBERSHIP, &groups[i], sizeof(groups[i])))
			goto fail;
	if (mnl_socket_setsockopt(ev, NETLINK_LISTEN_ALL_NSID, &one, sizeof(one)))
		report(w, w->cfg.log.warn,
		       "cannot follow address changes inside containers (%s); rechecking every 2 seconds",
		       strerror(errno));
	return ev;
fail:
	mnl_socket_close(ev);
	return NULL;
}

int na_veth_watch_new(struct na_veth_watch **out, const struct na_veth_watch_cfg *cfg,
		      struct na_reason *why)
{
	struct sigaction sa = { 0 };
	struct na_veth_watch *w;
	int err;

	*out = NULL;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->cfg = *cfg;
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	w->ev = watch_socket(w);
	if (!w->ev) {
		err = -errno;
		free(w);
		return na_reason_set(why, err, "cannot listen to netlink: %s", strerror(-err));
	}
	*out = w;
	return 0;
}

int na_veth_watch_start(struct na_veth_watch *w, struct na_veth_state *v, struct na_reason *why)
{
	int err;

	w->v = v;
	na_veth_on_event(v, on_event, w);
	na_veth_unlock(v);	/* each pass takes the lock */
	err = na_veth_sync(v, w->cfg.bridges, w->cfg.nbridges, why);
	if (err)
		return err;
	err = na_harden_caps(0);
	if (err)
		return na_reason_set(why, err, "cannot drop capabilities: %s", strerror(-err));
	err = na_harden_seccomp(NULL, 0);
	if (err)
		return na_reason_set(why, err, "cannot install the seccomp filter: %s",
				     strerror(-err));
	return 0;
}

/* Wait for events; take a burst of them (a container's veth, then its
 * addresses) whole. Whether anything came; a negative errno. */
static int wait_events(struct na_veth_watch *w, struct pollfd *pfd)
{
	char buf[65536];
	bool dirty = false;
	int n;

	n = poll(pfd, 1, 2000);
	if (n < 0 && errno != EINTR)
		return -errno;
	while (n > 0 && !stop_signal) {
		ssize_t r = recv(pfd->fd, buf, sizeof(buf), MSG_DONTWAIT);

		if (r < 0 && errno == ENOBUFS) {
			dirty = true;	/* events lost: the sync reads it all */
			continue;
		}
		if (r <= 0)
			break;
		dirty = true;
		if (poll(pfd, 1, 50) <= 0)
			break;
	}
	return dirty;
}

int na_veth_watch_run(struct na_veth_watch *w)
{
	const struct na_veth_watch_log *log = &w->cfg.log;
	struct pollfd pfd;
	int last_err = 0, err;
	time_t last;

	pfd.fd = mnl_socket_get_fd(w->ev);
	pfd.events = POLLIN;
	last = time(NULL);
	while (!stop_signal) {
		struct na_reason why = { 0 };
		int dirty = wait_events(w, &pfd);

		if (dirty < 0)
			return dirty;
		if (stop_signal)
			break;
		if (!dirty && time(NULL) - last < 2)
			continue;
		last = time(NULL);
		err = na_veth_sync(w->v, w->cfg.bridges, w->cfg.nbridges, &why);
		if (err == -ENOENT)
			return 0;	/* removed by cleanup or detach */
		if (err && log->fail)
			log->fail(log->arg, &why, err);
		/* Say it once, not every two seconds while it lasts. */
		if (err && err != last_err)
			report(w, log->warn, "sync failed: %s; retrying", strerror(-err));
		else if (!err && last_err)
			report(w, log->say, "in sync again");
		last_err = err;
	}
	return stop_signal;
}

void na_veth_watch_free(struct na_veth_watch *w)
{
	if (!w)
		return;
	mnl_socket_close(w->ev);
	free(w);
}
