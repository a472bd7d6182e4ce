// SPDX-License-Identifier: GPL-2.0-only
#include <stdarg.h>
#include <stdio.h>

#include "config.h"
#if NA_HAVE_BPF
#include <bpf/libbpf.h>
#endif

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

void na_log_init(int verbosity)
{
	na_verbosity = verbosity;
#if NA_HAVE_BPF
	libbpf_set_print(libbpf_print);
#endif
}
