/* SPDX-License-Identifier: GPL-2.0-only */
/* The LD_PRELOAD value `netaccel-ctl run` gives a program. */
#ifndef NA_PRELOAD_ENV_H
#define NA_PRELOAD_ENV_H

#define SHIM_NAME "libnetaccel-preload.so"

/*
 * The LD_PRELOAD that adds shim (a path) once, after the libraries of old
 * (NULL when unset). *out is a new string, or NULL when old lists the shim
 * already, by path or by file name. 0 or -ENOMEM.
 */
int na_preload_value(const char *old, const char *shim, char **out);

#endif /* NA_PRELOAD_ENV_H */
