/* SPDX-License-Identifier: GPL-2.0-only */
/* Counter arithmetic and display for test diagnostics. */
#include <stdio.h>
#include <string.h>

#include "na_check.h"

static const char *const counter_names[] = { NA_COUNTER_NAMES };

void na_test_stats_delta(const struct na_stats *before,
			 const struct na_stats *after, struct na_stats *delta)
{
	const uint64_t *a = (const uint64_t *)before, *b = (const uint64_t *)after;
	uint64_t *d = (uint64_t *)delta;

	for (size_t i = 0; i < NA_NUM_COUNTERS; i++)
		d[i] = b[i] - a[i];
}

void na_test_stats_print(const char *label, const struct na_stats *s)
{
	const uint64_t *v = (const uint64_t *)s;
	char line[1024];
	size_t len = 0;

	for (size_t i = 0; i < NA_NUM_COUNTERS && len < sizeof(line); i++)
		len += (size_t)snprintf(line + len, sizeof(line) - len, " %s=%lld",
					counter_names[i], (long long)v[i]);
	na_test_diag("%s:%s", label, line);
}
