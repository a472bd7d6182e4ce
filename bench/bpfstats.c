// SPDX-License-Identifier: GPL-2.0-only
/*
 * The kernel's own run-time statistics of netaccel's programs: with
 * BPF_ENABLE_STATS in force the kernel adds up, per program, how often it
 * ran and for how many nanoseconds (what kernel.bpf_stats_enabled turns
 * on for everyone). The fd that enables it is held until the driver exits,
 * so the statistics go off again even when it is killed.
 */
#include <stdio.h>
#include <string.h>

#include <netaccel/state.h>

#include "bench.h"

int na_bench_bpfstats_enable(void)
{
	int fd = na_prog_stats_enable();

	return fd < 0 ? fd : 0;	/* the fd stays open on purpose */
}

int na_bench_bpfstats_read(const char *dir, struct na_bench_progs *out)
{
	struct na_prog_stat p[NA_BENCH_MAX_PROGS];
	size_t i, n = na_prog_stats(dir, p, NA_BENCH_MAX_PROGS);

	memset(out, 0, sizeof(*out));
	for (i = 0; i < n; i++) {
		_Static_assert(sizeof(out->name[i]) == sizeof(p[i].name), "program names");
		memcpy(out->name[i], p[i].name, sizeof(out->name[i]));
		out->id[i] = p[i].id;
		out->run_ns[i] = p[i].run_ns;
		out->runs[i] = p[i].runs;
	}
	out->n = (int)n;
	return 0;
}

void na_bench_bpfstats_add(struct na_bench_progs *acc,
			   const struct na_bench_progs *before,
			   const struct na_bench_progs *after)
{
	for (int i = 0; i < after->n; i++) {
		uint64_t ns = after->run_ns[i], runs = after->runs[i];
		int k;

		for (int j = 0; j < before->n; j++)
			if (before->id[j] == after->id[i]) {
				ns -= before->run_ns[j];
				runs -= before->runs[j];
			}
		/* Programs of the same name (a reload) are added together. */
		for (k = 0; k < acc->n && strcmp(acc->name[k], after->name[i]); k++)
			;
		if (k == acc->n) {
			if (acc->n == NA_BENCH_MAX_PROGS)
				continue;
			snprintf(acc->name[k], sizeof(acc->name[k]), "%s", after->name[i]);
			acc->n++;
		}
		acc->run_ns[k] += ns;
		acc->runs[k] += runs;
	}
}
