/* SPDX-License-Identifier: GPL-2.0-only */
/* veth redirect: what veth.c shares with the rest of netaccel-ctl. */
#ifndef NA_VETH_H
#define NA_VETH_H

#include <stdbool.h>

#include <json-c/json.h>

struct na_reason;
struct na_veth_state;

/* netaccel-ctl cleanup: remove every veth attachment under state_dir and
 * say so. Returns 1 when there was veth state, 0 when there was none, or a
 * negative errno (printed). */
int na_veth_cleanup(const char *state_dir);
/* One line for status (text), or the "veth" member of status --json. */
void na_veth_status(const char *state_dir, json_object *jo);
/* Per-endpoint and total counters for stats (text, or into jo). */
void na_veth_stats(const char *state_dir, json_object *jo);

/*
 * Open the veth state under dir (na_veth_open) and say what is wrong;
 * quiet says only what is wrong beyond a state that is missing,
 * incomplete or unreadable (veth.c).
 */
int na_veth_ctl_open(const char *dir, unsigned int flags, bool quiet, struct na_veth_state **v,
		     struct na_reason *why);
/* Endpoints and ports as text or into jo (list), or only the endpoints'
 * counters (stats) (veth_show.c). */
void na_veth_show(struct na_veth_state *v, json_object *jo, bool with_ports);

#endif /* NA_VETH_H */
