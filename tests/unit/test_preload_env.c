// SPDX-License-Identifier: GPL-2.0-only
/* The LD_PRELOAD value `netaccel-ctl run` builds (ctl/preload_env.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "preload_env.h"

#define SHIM "/usr/lib/x86_64-linux-gnu/libnetaccel-preload.so"

static void check_value(const char *old, const char *want)
{
	char *out = (char *)1;

	assert_int_equal(na_preload_value(old, SHIM, &out), 0);
	if (want) {
		assert_non_null(out);
		assert_string_equal(out, want);
	} else {
		assert_null(out);
	}
	free(out);
}

static void unset_or_empty(void **state)
{
	(void)state;
	check_value(NULL, SHIM);
	check_value("", SHIM);
}

static void after_what_was_set(void **state)
{
	(void)state;
	check_value("/lib/libfoo.so", "/lib/libfoo.so:" SHIM);
	check_value("libfoo.so:libbar.so", "libfoo.so:libbar.so:" SHIM);
	check_value("libfoo.so libbar.so", "libfoo.so libbar.so:" SHIM);
}

static void kept_once(void **state)
{
	(void)state;
	check_value(SHIM, NULL);
	check_value("libfoo.so:" SHIM, NULL);
	check_value(SHIM ":libfoo.so", NULL);
	check_value("libnetaccel-preload.so", NULL);
	check_value("/opt/netaccel/lib/libnetaccel-preload.so", NULL);
	check_value("libfoo.so libnetaccel-preload.so", NULL);
}

static void similar_names_are_not_the_shim(void **state)
{
	(void)state;
	check_value("/lib/xlibnetaccel-preload.so", "/lib/xlibnetaccel-preload.so:" SHIM);
	check_value("libnetaccel-preload.so.1", "libnetaccel-preload.so.1:" SHIM);
	check_value("::", ":::" SHIM);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(unset_or_empty),
		cmocka_unit_test(after_what_was_set),
		cmocka_unit_test(kept_once),
		cmocka_unit_test(similar_names_are_not_the_shim),
	};

	return cmocka_run_group_tests_name("preload_env", tests, NULL, NULL);
}
