// SPDX-License-Identifier: GPL-2.0-only
/* netaccel-ctl's output: JSON documents and text tables (output.h). */
#include <stdarg.h>
#include <stdio.h>

#include <json-c/json.h>

#include "output.h"

void na_json_write(FILE *f, struct json_object *o)
{
	fprintf(f, "%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
							     JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
}

void na_print_json(struct json_object *o)
{
	na_json_write(stdout, o);
}

struct json_object *na_json_counters(const char *const names[], const uint64_t *v,
				     size_t n)
{
	json_object *o = json_object_new_object();
	size_t i;

	for (i = 0; i < n; i++)
		json_object_object_add(o, names[i], json_object_new_int64((int64_t)v[i]));
	return o;
}

void na_text_counters(FILE *f, const char *const names[], const uint64_t *v, size_t n)
{
	static const struct na_col cols[] = {
		{ "", 18, NA_LEFT, "  " }, { "", 0 }, { NULL }
	};
	struct na_table t;
	size_t i;

	na_table_start(&t, f, cols);
	for (i = 0; i < n; i++) {
		na_table_cell(&t, "%s", names[i]);
		na_table_cell(&t, "%llu", (unsigned long long)v[i]);
	}
}

void na_table_start(struct na_table *t, FILE *f, const struct na_col *cols)
{
	t->f = f;
	t->cols = cols;
	t->col = 0;
}

void na_table_header(struct na_table *t)
{
	const struct na_col *c;

	for (c = t->cols; c->title; c++)
		na_table_cell(t, "%s", c->title);
}

static void pad(FILE *f, int n)
{
	for (; n > 0; n--)
		fputc(' ', f);
}

void na_table_cell(struct na_table *t, const char *fmt, ...)
{
	const struct na_col *c = &t->cols[t->col];
	va_list ap, len_ap;
	int len;

	va_start(ap, fmt);
	va_copy(len_ap, ap);
	len = vsnprintf(NULL, 0, fmt, len_ap);
	va_end(len_ap);
	fputs(c->sep ? c->sep : t->col ? " " : "", t->f);
	if (c->align == NA_RIGHT)
		pad(t->f, c->width - len);
	vfprintf(t->f, fmt, ap);
	va_end(ap);
	if (c->align == NA_LEFT)
		pad(t->f, c->width - len);
	t->col++;
	if (!t->cols[t->col].title) {
		fputc('\n', t->f);
		t->col = 0;
	}
}
