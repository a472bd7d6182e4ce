/* SPDX-License-Identifier: GPL-2.0-only */
/* What the modules of libnetaccel share and do not export. */
#ifndef NA_LIB_INTERNAL_H
#define NA_LIB_INTERNAL_H

#include <netaccel/reason.h>

/* Hand detail to the caller's log function, if any. */
__attribute__((format(printf, 2, 3)))
void na_lib_log(enum na_log_level level, const char *fmt, ...);

#endif /* NA_LIB_INTERNAL_H */
