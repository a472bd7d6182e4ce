// SPDX-License-Identifier: GPL-2.0-only
/*
 * Taking the veth redirect down: every port (its entry, its endpoints, its
 * hook), then the links, the program and the maps, then the directory.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include <netaccel/state.h>

#include "internal.h"
#include "veth_internal.h"

int na_veth_remove_all(struct na_veth_state *v)
{
	static const char *const order[] = { "tcx_", "prog_", "" };
	__u32 k, next, *prev = NULL;
	int ports[NA_VETH_MAX_PORTS];
	int detached = 0, links, err;
	size_t i, n = 0;

	if (v->ports >= 0) {
		while (bpf_map_get_next_key(v->ports, prev, &next) == 0 && n < NA_VETH_MAX_PORTS) {
			k = next;
			prev = &k;
			ports[n++] = (int)k;
		}
		for (i = 0; i < n; i++)
			na_veth_remove_port(v, NULL, ports[i], false);
		detached = (int)n;
	}
	/* Links, then the program, then maps. */
	err = na_unpin_dir(v->dir, order, sizeof(order) / sizeof(order[0]), &links);
	if (n == 0)
		detached += links;
	/* The state directory goes too when nothing else is in it. */
	if (!err && !na_dir_has_pins(v->top, true))
		rmdir(v->top);
	return err ? err : detached;
}

int na_veth_remove(const char *state_dir, struct na_reason *why)
{
	struct na_veth_state v;
	int back, n;

	/* Whatever state the directory is in (complete, half-made, of
	 * another network namespace), take it down pin by pin. */
	na_veth_init(&v);
	if (snprintf(v.top, sizeof(v.top), "%s", state_dir) >= (int)sizeof(v.top) ||
	    snprintf(v.dir, sizeof(v.dir), "%s/" NA_VETH_SUBDIR, state_dir) >= (int)sizeof(v.dir))
		return -ENAMETOOLONG;
	if (access(v.dir, F_OK))
		return -ENOENT;
	v.top_fd = open(v.top, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (v.top_fd >= 0)
		flock(v.top_fd, LOCK_EX);
	na_veth_open_pins(&v);
	back = na_veth_enter_netns(&v);
	na_nl_open(&v.nl);
	n = na_veth_remove_all(&v);
	na_veth_leave_netns(back);
	na_veth_close_fds(&v);
	if (v.top_fd >= 0)
		close(v.top_fd);
	na_nl_close(v.nl);
	if (n < 0)
		return na_reason_set(why, n, "cannot remove %s: %s", v.dir, strerror(-n));
	return n;
}
