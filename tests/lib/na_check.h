/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * cmocka assertions for the privileged tests, phrased as what a user would
 * notice: bytes lost or reordered, a counter that proves (or disproves)
 * the fast path. Include after <cmocka.h>.
 */
#ifndef NA_CHECK_H
#define NA_CHECK_H

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "na_test.h"
#include "na_world.h"

/* delta = after - before, counter by counter. */
void na_test_stats_delta(const struct na_stats *before,
			 const struct na_stats *after, struct na_stats *delta);

/* One "# label: name=value ..." line. */
void na_test_stats_print(const char *label, const struct na_stats *s);

/* A call returning 0 or a negative errno must succeed. */
#define NA_ASSERT_OK(expr)                                                  \
	do {                                                                \
		int na_err_ = (expr);                                       \
		if (na_err_ != 0)                                           \
			fail_msg("%s failed: %s", #expr,                    \
				 na_err_ < 0 ? strerror(-na_err_) : "non-zero exit"); \
	} while (0)

/* A call returning an fd (or a negative errno). */
#define NA_ASSERT_FD(var, expr)                                             \
	do {                                                                \
		(var) = (expr);                                             \
		if ((var) < 0)                                              \
			fail_msg("%s failed: %s", #expr, strerror(-(var))); \
	} while (0)

/* Every direction of the connections delivered its bytes intact, in order
 * (and EOF when it was shut). */
#define NA_ASSERT_DELIVERED(conns, n, run_err, what)                        \
	do {                                                                \
		size_t na_bad_ = na_test_report((conns), (n));              \
		if ((run_err) || na_bad_)                                   \
			fail_msg("%s: %zu of %zu directions lost, corrupted or stalled bytes (%s)", \
				 (what), na_bad_, 2 * (size_t)(n),          \
				 (run_err) ? strerror(-(run_err)) : "no error"); \
	} while (0)

/* Read counters of cgid, failing the test when they cannot be read. */
#define NA_STATS(w, cgid, out) NA_ASSERT_OK(na_world_stats((w), (cgid), (out)))

/*
 * What a test program's main() does before it runs its group: skip unless
 * the program can run here (na_world_require), and with NETACCEL_TEST_FILTER
 * run only the tests whose names match it (cmocka's * and ? wildcards).
 */
#define NA_TEST_MAIN_BEGIN()                                                \
	do {                                                                \
		na_world_require();                                         \
		if (getenv("NETACCEL_TEST_FILTER"))                         \
			cmocka_set_test_filter(getenv("NETACCEL_TEST_FILTER")); \
	} while (0)

#endif /* NA_CHECK_H */
