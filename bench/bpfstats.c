// SPDX-License-Identifier: GPL-2.0-only
/*
 * The kernel's own run-time statistics of netaccel's programs: with
 * BPF_ENABLE_STATS in force the kernel adds up, per program, how often it
 * ran and for how many nanoseconds (what kernel.bpf_stats_enabled turns
 * on for everyone). The fd that enables it is held until the driver exits,
 * so the statistics go off again even when it is killed.
 */
#include <bpf/bpf.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

int na_bench_bpfstats_enable(void)
{
	int fd = bpf_enable_stats(BPF_STATS_RUN_TIME);

	return fd < 0 ? -errno : 0;	/* the fd stays open on purpose */
}

/* Whether fd refers to a program (its fdinfo has a prog_type line). */
static bool is_prog_fd(int fd)
{
	char path[64], buf[512];
	ssize_t n;
	int f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = open(path, O_RDONLY | O_CLOEXEC);
	if (f < 0)
		return false;
	n = read(f, buf, sizeof(buf) - 1);
	close(f);
	buf[n > 0 ? n : 0] = 0;
	return strstr(buf, "prog_type:") != NULL;
}

static void read_dir(const char *dir, int depth, struct na_bench_progs *out)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d)) && out->n < NA_BENCH_MAX_PROGS) {
		struct bpf_prog_info info = { 0 };
		__u32 len = sizeof(info);
		char path[4096];
		int fd;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (e->d_type == DT_DIR) {
			if (depth < 1)
				read_dir(path, depth + 1, out);
			continue;
		}
		fd = bpf_obj_get(path);
		if (fd < 0)
			continue;
		if (is_prog_fd(fd) && !bpf_obj_get_info_by_fd(fd, &info, &len)) {
			int i = out->n++;

			snprintf(out->name[i], sizeof(out->name[i]), "%s", info.name);
			out->id[i] = info.id;
			out->run_ns[i] = info.run_time_ns;
			out->runs[i] = info.run_cnt;
		}
		close(fd);
	}
	closedir(d);
}

int na_bench_bpfstats_read(const char *dir, struct na_bench_progs *out)
{
	memset(out, 0, sizeof(*out));
	read_dir(dir, 0, out);
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
