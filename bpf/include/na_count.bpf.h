/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Counters: each datapath keeps a struct of 64-bit counters per key in a
 * per-CPU map (the layout is in netaccel_abi.h) and binds COUNT() to its
 * own lookup with NA_COUNT_IN.
 */
#ifndef NA_COUNT_BPF_H
#define NA_COUNT_BPF_H

/* Add n to field of the counter record rec, the result of a map lookup
 * (NULL: nothing to count). Plain additions: in a per-CPU map a CPU only
 * touches its own copy. */
#define NA_COUNT_IN(rec, field, n)                                           \
	do {                                                                 \
		__typeof__(rec) r_ = (rec);                                  \
		if (r_)                                                      \
			r_->field += (n);                                    \
	} while (0)

#endif /* NA_COUNT_BPF_H */
