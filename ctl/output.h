/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What netaccel-ctl prints: JSON documents and text tables. Commands build
 * their data and hand it here, so that every table lines up the same way
 * and every JSON document is written the same way.
 */
#ifndef NA_OUTPUT_H
#define NA_OUTPUT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct json_object;

/* Write o as a command's JSON output (pretty, slashes as they are, one
 * newline after it) and release it. */
void na_json_write(FILE *f, struct json_object *o);
/* The same, to stdout. */
void na_print_json(struct json_object *o);

/* Named counters: { "<names[i]>": v[i], ... } as a new JSON object, and
 * as text, one "  <name> <value>" line each with the values lined up. */
struct json_object *na_json_counters(const char *const names[], const uint64_t *v,
				     size_t n);
void na_text_counters(FILE *f, const char *const names[], const uint64_t *v, size_t n);

/*
 * Text tables. A column has a title (for the header line), a width its
 * cells are padded to (0: as long as they are; a longer cell is never cut)
 * and an alignment; sep is what comes before it: NULL means one space, or
 * nothing before the first column. A table's columns end with a column
 * whose title is NULL.
 *
 *	static const struct na_col cols[] = {
 *		{ "CGROUP", 40 }, { "LIVE", 6, NA_RIGHT }, { "LINKS", 0, NA_LEFT, "  " },
 *		{ NULL }
 *	};
 *	struct na_table t;
 *
 *	na_table_start(&t, stdout, cols);
 *	na_table_header(&t);
 *	na_table_cell(&t, "%s", path);
 *	na_table_cell(&t, "%lld", live);
 *	na_table_cell(&t, "%s", links);	(the last cell ends the line)
 */
enum na_align { NA_LEFT, NA_RIGHT };

struct na_col {
	const char *title;
	int width;
	enum na_align align;
	const char *sep;
};

struct na_table {
	FILE *f;
	const struct na_col *cols;
	size_t col;		/* the column the next cell goes in */
};

void na_table_start(struct na_table *t, FILE *f, const struct na_col *cols);
/* The titles, as one row. */
void na_table_header(struct na_table *t);
/* The next cell of the current row; the row's last one ends the line. */
__attribute__((format(printf, 2, 3)))
void na_table_cell(struct na_table *t, const char *fmt, ...);

#endif /* NA_OUTPUT_H */
