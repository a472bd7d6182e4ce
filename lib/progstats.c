// SPDX-License-Identifier: GPL-2.0-only
/*
 * The kernel's own run-time statistics of netaccel's programs: with
 * BPF_ENABLE_STATS in force the kernel adds up, per program, how often it
 * ran and for how many nanoseconds.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include <netaccel/state.h>

#include "internal.h"

int na_prog_stats_enable(void)
{
	int fd = bpf_enable_stats(BPF_STATS_RUN_TIME);

	return fd < 0 ? -errno : fd;
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

static void read_dir(const char *dir, int depth, struct na_prog_stat *out, size_t max,
		     size_t *n)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d)) && *n < max) {
		struct bpf_prog_info info = { 0 };
		__u32 len = sizeof(info);
		char path[4096];
		int fd;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (e->d_type == DT_DIR) {
			if (depth < 1)
				read_dir(path, depth + 1, out, max, n);
			continue;
		}
		fd = bpf_obj_get(path);
		if (fd < 0)
			continue;
		if (is_prog_fd(fd) && !bpf_obj_get_info_by_fd(fd, &info, &len)) {
			struct na_prog_stat *p = &out[(*n)++];

			snprintf(p->name, sizeof(p->name), "%s", info.name);
			p->id = info.id;
			p->run_ns = info.run_time_ns;
			p->runs = info.run_cnt;
		}
		close(fd);
	}
	closedir(d);
}

size_t na_prog_stats(const char *state_dir, struct na_prog_stat *out, size_t max)
{
	size_t n = 0;

	read_dir(state_dir, 0, out, max, &n);
	return n;
}
