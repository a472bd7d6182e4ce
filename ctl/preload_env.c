// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "preload_env.h"

/* One entry of the list (len bytes at p) names the shim: its path, or any
 * path whose file name is the shim's. */
static bool names_shim(const char *p, size_t len, const char *shim)
{
	size_t n = strlen(SHIM_NAME);

	if (len == strlen(shim) && !strncmp(p, shim, len))
		return true;
	return len >= n && !strncmp(p + len - n, SHIM_NAME, n) &&
	       (len == n || p[len - n - 1] == '/');
}

int na_preload_value(const char *old, const char *shim, char **out)
{
	const char *p, *end;
	size_t len;

	*out = NULL;
	/* The loader splits the list at colons and spaces. */
	for (p = old; p && *p; p = end + 1) {
		end = strpbrk(p, ": ");
		len = end ? (size_t)(end - p) : strlen(p);
		if (len && names_shim(p, len, shim))
			return 0;
		if (!end)
			break;
	}
	if (old && *old) {
		if (asprintf(out, "%s:%s", old, shim) < 0) {
			*out = NULL;
			return -ENOMEM;
		}
	} else if (!(*out = strdup(shim))) {
		return -ENOMEM;
	}
	return 0;
}
