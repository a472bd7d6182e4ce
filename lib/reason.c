// SPDX-License-Identifier: GPL-2.0-only
/* Reasons for failures, and the caller's log function. */
#include <stdarg.h>
#include <stdio.h>

#include "internal.h"

static na_log_fn log_fn;

static void vset(struct na_reason *why, enum na_reason_kind kind, const char *fmt, va_list ap)
{
	if (!why || why->msg[0])
		return;
	why->kind = kind;
	vsnprintf(why->msg, sizeof(why->msg), fmt, ap);
}

int na_reason_set(struct na_reason *why, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vset(why, NA_WHY_OTHER, fmt, ap);
	va_end(ap);
	return err;
}

int na_reason_set_kind(struct na_reason *why, enum na_reason_kind kind, int err,
		       const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vset(why, kind, fmt, ap);
	va_end(ap);
	return err;
}

void na_set_log(na_log_fn fn)
{
	log_fn = fn;
}

void na_lib_log(enum na_log_level level, const char *fmt, ...)
{
	char msg[NA_REASON_MAX];
	va_list ap;

	if (!log_fn)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_fn(level, msg);
}
