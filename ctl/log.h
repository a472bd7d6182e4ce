/* SPDX-License-Identifier: GPL-2.0-only */
/* Messages to stderr, one line each, prefixed with the program name. */
#ifndef NA_LOG_H
#define NA_LOG_H

extern int na_verbosity;	/* 0 quiet, 1 -v, 2 -vv */

void na_log_init(int verbosity);
__attribute__((format(printf, 1, 2))) void na_err(const char *fmt, ...);
__attribute__((format(printf, 1, 2))) void na_warn(const char *fmt, ...);
__attribute__((format(printf, 1, 2))) void na_info(const char *fmt, ...);
__attribute__((format(printf, 1, 2))) void na_dbg(const char *fmt, ...);

/* Whether an error has been printed since the last call (so that callers
 * print a generic message only when nothing more precise was said). */
int na_err_reported(void);

/* Print a libnetaccel failure: its reason (or err's text when it gave
 * none), and what to type next where there is an answer. */
struct na_reason;
void na_err_why(const struct na_reason *why, int err);

#endif /* NA_LOG_H */
