/* SPDX-License-Identifier: GPL-2.0-only */
/* veth redirect: what veth.c shares with the rest of netaccel-ctl. */
#ifndef NA_VETH_H
#define NA_VETH_H

#include <json-c/json.h>

/* netaccel-ctl cleanup: remove every veth attachment under state_dir and
 * say so. Returns 1 when there was veth state, 0 when there was none, or a
 * negative errno (printed). */
int na_veth_cleanup(const char *state_dir);
/* One line for status (text), or the "veth" member of status --json. */
void na_veth_status(const char *state_dir, json_object *jo);
/* Per-endpoint and total counters for stats (text, or into jo). */
void na_veth_stats(const char *state_dir, json_object *jo);

#endif /* NA_VETH_H */
