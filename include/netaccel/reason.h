/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * How libnetaccel reports: a function that fails returns a negative errno
 * and, when given a struct na_reason, says why in one line for a person
 * (no program name, no newline, nothing about which command to type).
 * The library never prints; what it has to say besides errors (detail a
 * caller may show with -v) goes to the function set with na_set_log.
 */
#ifndef NETACCEL_REASON_H
#define NETACCEL_REASON_H

#include <stdbool.h>

#define NA_REASON_MAX 512

/* What kind of failure a reason is, for a caller that adds advice of its
 * own (which command to run). */
enum na_reason_kind {
	NA_WHY_OTHER = 0,
	NA_WHY_KERNEL_LACKS,		/* a kernel feature the datapath needs */
	NA_WHY_LOAD_FAILED,		/* the verifier refused a program */
	NA_WHY_STATE_INCOMPLETE,	/* an interrupted run left part of it */
	NA_WHY_STATE_INCONSISTENT,	/* programs and maps do not belong together */
	NA_WHY_ATTACH_FAILED,		/* the kernel refused to attach a program:
					 * the caller knows what the hook is */
	NA_WHY_OTHER_NAMESPACE,		/* the state belongs to, or is only seen
					 * from, another namespace: the caller
					 * knows how to get there */
};

struct na_reason {
	enum na_reason_kind kind;
	char msg[NA_REASON_MAX];
};

/* Fill why (may be NULL) unless it holds a reason already (the innermost
 * failure says most), and return err. */
__attribute__((format(printf, 3, 4)))
int na_reason_set(struct na_reason *why, int err, const char *fmt, ...);

/* The same, and say what kind of failure it is. */
__attribute__((format(printf, 4, 5)))
int na_reason_set_kind(struct na_reason *why, enum na_reason_kind kind, int err,
		       const char *fmt, ...);

static inline void na_reason_clear(struct na_reason *why)
{
	if (why) {
		why->kind = NA_WHY_OTHER;
		why->msg[0] = '\0';
	}
}

static inline bool na_reason_said(const struct na_reason *why)
{
	return why && why->msg[0];
}

enum na_log_level {
	NA_LOG_INFO = 1,	/* what was done on the way (bpffs mounted) */
	NA_LOG_DEBUG = 2,	/* what was tried and left out */
};

/* Where the library's detail goes; NULL (the default) drops it. */
typedef void (*na_log_fn)(enum na_log_level level, const char *msg);
void na_set_log(na_log_fn fn);

#endif /* NETACCEL_REASON_H */
