/* SPDX-License-Identifier: GPL-2.0-only */
/* What a piece of netaccel-ctl prints on stdout and stderr, caught in
 * memory for the unit tests of ctl/. */
#ifndef NA_TEST_CAPTURE_H
#define NA_TEST_CAPTURE_H

#include <stdio.h>
#include <stdlib.h>

struct capture {
	FILE *out, *err;	/* the real stdout and stderr */
	char *out_text, *err_text;
	size_t out_len, err_len;
};

static inline void capture_start(struct capture *c)
{
	c->out = stdout;
	c->err = stderr;
	c->out_text = c->err_text = NULL;
	stdout = open_memstream(&c->out_text, &c->out_len);
	stderr = open_memstream(&c->err_text, &c->err_len);
}

/* Back to the real streams; out_text and err_text hold what was printed
 * until capture_free. */
static inline void capture_stop(struct capture *c)
{
	fclose(stdout);
	fclose(stderr);
	stdout = c->out;
	stderr = c->err;
}

static inline void capture_free(struct capture *c)
{
	free(c->out_text);
	free(c->err_text);
}

#endif /* NA_TEST_CAPTURE_H */
