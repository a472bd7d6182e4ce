// SPDX-License-Identifier: GPL-2.0-only
/*
 * Counters kept per CPU in BPF maps, summed here, and the local bypass's
 * enrollment slots and counters read through them.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <netaccel/state.h>

#include "internal.h"

int na_percpu_zero(int fd, const void *key, size_t value_size, uint64_t flags)
{
	int ncpu = libbpf_num_possible_cpus();
	void *zero;
	int err = 0;

	if (ncpu <= 0)
		return -EINVAL;
	zero = calloc(ncpu, value_size);
	if (!zero)
		return -ENOMEM;
	if (bpf_map_update_elem(fd, key, zero, flags) &&
	    !(flags == BPF_NOEXIST && errno == EEXIST))
		err = -errno;
	free(zero);
	return err;
}

int na_percpu_sum(int fd, const void *key, uint64_t *out, size_t n)
{
	int ncpu = libbpf_num_possible_cpus();
	uint64_t *percpu;
	int cpu, err = 0;
	size_t i;

	memset(out, 0, n * sizeof(*out));
	if (ncpu <= 0)
		return ncpu ? ncpu : -EINVAL;
	percpu = calloc((size_t)ncpu, n * sizeof(*percpu));
	if (!percpu)
		return -ENOMEM;
	if (bpf_map_lookup_elem(fd, key, percpu))
		err = -errno;
	for (cpu = 0; cpu < ncpu && !err; cpu++)
		for (i = 0; i < n; i++)
			out[i] += percpu[(size_t)cpu * n + i];
	free(percpu);
	return err;
}

int na_state_read_slot(const struct na_state *st, uint32_t slot,
		       struct na_stats *out)
{
	_Static_assert(sizeof(*out) == NA_NUM_COUNTERS * sizeof(uint64_t),
		       "struct na_stats is its counters");
	return na_percpu_sum(st->map_stats, &slot, (uint64_t *)out, NA_NUM_COUNTERS);
}

int na_state_get_slot(const struct na_state *st, uint32_t slot,
		      struct na_cgroup_cfg *cfg)
{
	return bpf_map_lookup_elem(st->map_cgroups, &slot, cfg) ? -errno : 0;
}

int na_state_find_slot(const struct na_state *st, uint64_t cgid,
		       struct na_cgroup_cfg *cfg)
{
	uint32_t slot;

	for (slot = 0; slot < NA_MAX_CGROUPS; slot++) {
		if (na_state_get_slot(st, slot, cfg))
			continue;
		if (cfg->state != NA_SLOT_FREE && cfg->cgid == cgid)
			return (int)slot;
	}
	return -ENOENT;
}

void na_stats_add(struct na_stats *sum, const struct na_stats *add)
{
	__u64 *d = (__u64 *)sum;
	const __u64 *s = (const __u64 *)add;
	size_t i;

	for (i = 0; i < NA_NUM_COUNTERS; i++)
		d[i] += s[i];
}

int na_state_read_total(const struct na_state *st, struct na_stats *out)
{
	struct na_stats one;
	uint32_t slot;
	int err;

	memset(out, 0, sizeof(*out));
	for (slot = 0; slot < NA_STATS_SLOTS; slot++) {
		err = na_state_read_slot(st, slot, &one);
		if (err)
			return err;
		na_stats_add(out, &one);
	}
	return 0;
}

long na_map_count(int fd, long max)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	char *key, *next;
	long n = 0;

	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return -errno;
	key = calloc(2, info.key_size ? info.key_size : 1);
	if (!key)
		return -ENOMEM;
	next = key + info.key_size;
	while (bpf_map_get_next_key(fd, n ? key : NULL, next) == 0) {
		memcpy(key, next, info.key_size);
		if (++n > max)	/* the map changed under us */
			break;
	}
	free(key);
	return n;
}

long na_state_sockhash_fill(const struct na_state *st)
{
	return na_map_count(st->map_sockhash, NA_SOCKHASH_MAX);
}

long na_state_map_count(const struct na_state *st, const char *map)
{
	int fd = na_state_get_pin(st, map);
	long n;

	if (fd < 0)
		return fd;
	n = na_map_count(fd, LONG_MAX - 1);
	close(fd);
	return n;
}

uint32_t na_prog_id(int fd)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);

	return bpf_obj_get_info_by_fd(fd, &info, &len) ? 0 : info.id;
}

int na_stats_read(const char *dir, uint64_t cgid, struct na_stats *out)
{
	struct na_cgroup_cfg cfg;
	struct na_state st;
	int err, slot;

	err = na_state_open(&st, dir, 0, NULL);
	if (err)
		return err;
	if (!cgid) {
		err = na_state_read_total(&st, out);
	} else {
		slot = na_state_find_slot(&st, cgid, &cfg);
		err = slot < 0 ? slot : na_state_read_slot(&st, slot, out);
	}
	na_state_close(&st);
	return err;
}
