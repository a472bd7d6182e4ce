// SPDX-License-Identifier: GPL-2.0-only
/* What netaccel-ctl prints (ctl/output.c): text tables lined up as the
 * commands have always printed them, counters, and JSON documents. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "output.h"

/* A stream in memory; the text once closed. */
struct mem {
	FILE *f;
	char *text;
	size_t len;
};

static void mem_open(struct mem *m)
{
	m->text = NULL;
	m->f = open_memstream(&m->text, &m->len);
	assert_non_null(m->f);
}

/* Close the stream; it holds want. */
static void assert_printed(struct mem *m, const char *want)
{
	fclose(m->f);
	assert_string_equal(m->text, want);
	free(m->text);
}

static void table_lines_up(void **state)
{
	/* status's table of enrolled cgroups. */
	static const struct na_col cols[] = {
		{ "CGROUP", 12 }, { "ID", 6, NA_RIGHT }, { "MODE", 7 },
		{ "LIVE", 5, NA_RIGHT }, { "LINKS", 0, NA_LEFT, "  " }, { NULL }
	};
	struct na_table t;
	struct mem m;

	(void)state;
	mem_open(&m);
	na_table_start(&t, m.f, cols);
	na_table_header(&t);
	na_table_cell(&t, "%s", "app.slice");
	na_table_cell(&t, "%d", 1234);
	na_table_cell(&t, "%s", "opt-in");
	na_table_cell(&t, "%lld", -3LL);
	na_table_cell(&t, "%s", "ok");
	/* A cell wider than its column is never cut; the next ones shift. */
	na_table_cell(&t, "%s", "a/much/longer/path");
	na_table_cell(&t, "%d", 12345678);
	na_table_cell(&t, "%s%s", "all", "");
	na_table_cell(&t, "%d", 0);
	na_table_cell(&t, "%s", "incomplete (run enroll again to repair)");
	assert_printed(&m, "CGROUP           ID MODE     LIVE  LINKS\n"
			   "app.slice      1234 opt-in     -3  ok\n"
			   "a/much/longer/path 12345678 all         0  incomplete (run enroll again to repair)\n");
}

static void table_without_header(void **state)
{
	/* status's protections: indented, no titles. */
	static const struct na_col cols[] = {
		{ "", 8, NA_LEFT, "  " }, { "", 11 }, { "", 0 }, { NULL }
	};
	struct na_table t;
	struct mem m;

	(void)state;
	mem_open(&m);
	na_table_start(&t, m.f, cols);
	na_table_cell(&t, "%s", "blocking");
	na_table_cell(&t, "%s", "active");
	na_table_cell(&t, "%s", "blocking sockets stay on TCP");
	na_table_cell(&t, "%s", "rxwatch");
	na_table_cell(&t, "%s", "unavailable");
	na_table_cell(&t, "%s%s", "redirected bytes", ", but not here");
	assert_printed(&m, "  blocking active      blocking sockets stay on TCP\n"
			   "  rxwatch  unavailable redirected bytes, but not here\n");
}

static const char *const names[] = { "sockets_tagged", "msgs_redirected", "misses" };
static const uint64_t values[] = { 7, 18446744073709551615ULL, 0 };

static void counters_as_text(void **state)
{
	struct mem m;

	(void)state;
	mem_open(&m);
	na_text_counters(m.f, names, values, 3);
	assert_printed(&m, "  sockets_tagged     7\n"
			   "  msgs_redirected    18446744073709551615\n"
			   "  misses             0\n");
}

static void counters_as_json(void **state)
{
	struct json_object *o = na_json_counters(names, values, 3), *v;

	(void)state;
	assert_int_equal(json_object_object_length(o), 3);
	assert_true(json_object_object_get_ex(o, "sockets_tagged", &v));
	assert_int_equal(json_object_get_int64(v), 7);
	assert_true(json_object_object_get_ex(o, "misses", &v));
	assert_int_equal(json_object_get_int64(v), 0);
	json_object_put(o);
}

static void json_document(void **state)
{
	struct json_object *o = json_object_new_object();
	struct mem m;

	(void)state;
	json_object_object_add(o, "path", json_object_new_string("/sys/fs/bpf/netaccel"));
	json_object_object_add(o, "n", json_object_new_int(2));
	mem_open(&m);
	na_json_write(m.f, o);	/* and releases it */
	assert_printed(&m, "{\n  \"path\":\"/sys/fs/bpf/netaccel\",\n  \"n\":2\n}\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(table_lines_up),
		cmocka_unit_test(table_without_header),
		cmocka_unit_test(counters_as_text),
		cmocka_unit_test(counters_as_json),
		cmocka_unit_test(json_document),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
