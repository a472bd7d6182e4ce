// SPDX-License-Identifier: GPL-2.0-only
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#if NA_HAVE_BPF
#include <bpf/libbpf.h>
#endif

#include <netaccel/reason.h>

#include "log.h"

int na_verbosity;
static int err_reported;

static void vlog(const char *prefix, const char *fmt, va_list ap)
{
	fprintf(stderr, "netaccel-ctl: %s", prefix);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

#define DEFINE_LOG(fn, min, prefix, mark)                                     \
	void fn(const char *fmt, ...)                                         \
	{                                                                     \
		va_list ap;                                                   \
		if (na_verbosity < (min))                                     \
			return;                                               \
		mark;                                                         \
		va_start(ap, fmt);                                            \
		vlog(prefix, fmt, ap);                                        \
		va_end(ap);                                                   \
	}

DEFINE_LOG(na_err, 0, "", err_reported = 1)
DEFINE_LOG(na_warn, 0, "warning: ", (void)0)
DEFINE_LOG(na_info, 1, "", (void)0)
DEFINE_LOG(na_dbg, 2, "", (void)0)

int na_err_reported(void)
{
	int r = err_reported;

	err_reported = 0;
	return r;
}

#if NA_HAVE_BPF
/* libbpf speaks one level below us: its warnings need -v, its debug output
 * (the verifier log among it) -vv. */
static int libbpf_print(enum libbpf_print_level level, const char *fmt,
			va_list ap)
{
	int need = level == LIBBPF_DEBUG ? 2 : 1;

	if (na_verbosity < need)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

#endif

/* libnetaccel's detail: INFO with -v, DEBUG with -vv. */
static void lib_log(enum na_log_level level, const char *msg)
{
	if (level == NA_LOG_INFO)
		na_info("%s", msg);
	else
		na_dbg("%s", msg);
}

void na_log_init(int verbosity)
{
	na_verbosity = verbosity;
	na_set_log(lib_log);
#if NA_HAVE_BPF
	libbpf_set_print(libbpf_print);
#endif
}

/* What to type next, for the kinds of failure that have an answer. */
static const char *advice(enum na_reason_kind kind)
{
	switch (kind) {
	case NA_WHY_KERNEL_LACKS:
		return " (netaccel-ctl status lists what it found)";
	case NA_WHY_LOAD_FAILED:
		return " (run with -vv to see the verifier log)";
	case NA_WHY_STATE_INCOMPLETE:
		return ": run netaccel-ctl enroll to complete it, or cleanup to remove it";
	case NA_WHY_STATE_INCONSISTENT:
		return ": run netaccel-ctl cleanup --force";
	default:
		return "";
	}
}

void na_err_why(const struct na_reason *why, int err)
{
	if (why && why->msg[0])
		na_err("%s%s", why->msg, advice(why->kind));
	else
		na_err("%s", strerror(-err));
}
