// SPDX-License-Identifier: GPL-2.0-only
/*
 * netaccel's counters as Prometheus metrics (metrics.h).
 *
 * Each counter becomes a family netaccel_<datapath>_<counter>_total, with
 * the cgroup it counts for as a label (the path below the cgroup v2 root,
 * "/" for the root; "" for what no enrolled cgroup accounts for, so that
 * the samples of a family add up to the datapath's total). Counters that
 * say why something stayed on the normal path share one family with a
 * reason label: netaccel_bypass_sockets_kept_total{reason="blocking"} and
 * netaccel_veth_frames_passed_reason_total{reason="too_big"}.
 */
#include <errno.h>
#include <string.h>

#include <netaccel/bypass.h>
#include <netaccel/state.h>
#include <netaccel/splice.h>
#include <netaccel/veth.h>

#include "metrics.h"

static const char *const bypass_names[] = { NA_COUNTER_NAMES };
static const char *const pm_names[] = { NA_PM_COUNTER_NAMES };
static const char *const veth_names[] = { NA_VETH_COUNTER_NAMES };
static const char *const splice_names[] = { NA_SPLICE_COUNTER_NAMES };

_Static_assert(sizeof(bypass_names) / sizeof(bypass_names[0]) == NA_NUM_COUNTERS,
	       "every bypass counter needs a name");

/* The bypass's counters named kept_<reason>, and the veth redirect's that
 * follow "passed", are reasons. */
#define KEPT_PREFIX "kept_"
#define VETH_FIRST_REASON 3

int na_metrics_gather(const char *state_dir, struct na_metrics *m, struct na_reason *why)
{
	struct na_pm_stats pm_total;
	struct na_stats one;
	struct na_state st;
	struct na_pm *pm;
	uint32_t slot;
	int err;

	memset(m, 0, sizeof(*m));
	err = na_state_open(&st, state_dir, 0, why);
	if (err && err != -ENOENT)
		return err;
	if (!err) {
		m->bypass = true;
		/* One read of each slot's counters: an enrolled or draining
		 * slot's are its own, every other slot's (freed ones, and
		 * NA_SLOT_GLOBAL) go to what no enrolled cgroup accounts for. */
		for (slot = 0; slot < NA_STATS_SLOTS && !err; slot++) {
			struct na_metrics_slot *s = &m->slot[m->nslots];

			err = na_state_read_slot(&st, slot, &one);
			if (err)
				break;
			if (slot < NA_MAX_CGROUPS && !na_state_get_slot(&st, slot, &s->cfg) &&
			    s->cfg.state != NA_SLOT_FREE) {
				s->stats = one;
				m->nslots++;
			} else {
				na_stats_add(&m->other, &one);
			}
		}
		m->sockhash_entries = na_state_sockhash_fill(&st);
		na_state_close(&st);	/* before the others take the lock */
		if (err)
			return na_reason_set(why, err, "cannot read the bypass's counters: %s",
					     strerror(-err));
	}
	na_reason_clear(why);
	err = na_pm_open(&pm, state_dir, 0, why);
	if (err && err != -ENOENT)
		return err;
	if (!err) {
		m->portmap = true;
		m->npm = na_pm_cgroups(pm, m->pm, NA_PM_MAX_CGROUPS, &pm_total);
		na_pm_close(pm);
	}
	na_reason_clear(why);
	err = na_veth_read_totals(state_dir, &m->veth_total);
	if (err && err != -ENOENT)
		return na_reason_set(why, err, "cannot read the veth redirect's counters: %s",
				     strerror(-err));
	m->veth = !err;
	{
		struct na_splice_summary s;

		err = na_splice_summary(state_dir, &s, why);
		if (err)
			return err;
		m->splice = s.enabled;
		m->splice_pairs = s.pairs;
		m->splice_total = s.stats;
	}
	return 0;
}

/* A label value, escaped as the format asks (backslash, quote, newline). */
static void label(FILE *f, const char *name, const char *v)
{
	fprintf(f, "%s=\"", name);
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			fprintf(f, "\\%c", *v);
		else if (*v == '\n')
			fputs("\\n", f);
		else
			fputc(*v, f);
	}
	fputc('"', f);
}

static void family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* One sample: name{cgroup="..."[,reason="..."]} value (no cgroup label when
 * cgroup is NULL). */
static void sample(FILE *f, const char *name, const char *cgroup, const char *reason,
		   unsigned long long v)
{
	fputs(name, f);
	if (cgroup || reason) {
		fputc('{', f);
		if (cgroup)
			label(f, "cgroup", cgroup);
		if (cgroup && reason)
			fputc(',', f);
		if (reason)
			label(f, "reason", reason);
		fputc('}', f);
	}
	fprintf(f, " %llu\n", v);
}

/* A cgroup's label: its path below the root, "/" for the root. ("" is
 * what no enrolled cgroup accounts for.) */
static const char *cgroup_label(const char *path)
{
	return path[0] ? path : "/";
}

static uint64_t counter(const struct na_stats *s, size_t k)
{
	return ((const uint64_t *)s)[k];
}

static void bypass_counter(FILE *f, const struct na_metrics *m, size_t k)
{
	char name[96];
	size_t i;

	snprintf(name, sizeof(name), "netaccel_bypass_%s_total", bypass_names[k]);
	family(f, name, "counter", "local bypass counter (netaccel-ctl(8), stats)");
	for (i = 0; i < m->nslots; i++)
		sample(f, name, cgroup_label(m->slot[i].cfg.path), NULL, counter(&m->slot[i].stats, k));
	sample(f, name, "", NULL, counter(&m->other, k));
}

static void bypass_kept(FILE *f, const struct na_metrics *m)
{
	static const char name[] = "netaccel_bypass_sockets_kept_total";
	size_t i, k;

	family(f, name, "counter",
	       "sockets of enrolled cgroups kept on TCP, by reason (netaccel-ctl(8), stats)");
	for (k = 0; k < NA_NUM_COUNTERS; k++) {
		const char *reason = bypass_names[k] + strlen(KEPT_PREFIX);

		if (strncmp(bypass_names[k], KEPT_PREFIX, strlen(KEPT_PREFIX)))
			continue;
		for (i = 0; i < m->nslots; i++)
			sample(f, name, cgroup_label(m->slot[i].cfg.path), reason,
			       counter(&m->slot[i].stats, k));
		sample(f, name, "", reason, counter(&m->other, k));
	}
}

static void bypass(FILE *f, const struct na_metrics *m)
{
	size_t i, k;

	for (k = 0; k < NA_NUM_COUNTERS; k++)
		if (strncmp(bypass_names[k], KEPT_PREFIX, strlen(KEPT_PREFIX)))
			bypass_counter(f, m, k);
	bypass_kept(f, m);
	family(f, "netaccel_bypass_sockets_live", "gauge",
	       "sockets of a cgroup on the fast path now (joined less closed)");
	for (i = 0; i < m->nslots; i++)
		sample(f, "netaccel_bypass_sockets_live", cgroup_label(m->slot[i].cfg.path), NULL,
		       m->slot[i].stats.sockets_joined - m->slot[i].stats.sockets_closed);
	family(f, "netaccel_bypass_enrolled", "gauge",
	       "1 for an enrolled cgroup, 0 for one draining after unenroll");
	for (i = 0; i < m->nslots; i++)
		sample(f, "netaccel_bypass_enrolled", cgroup_label(m->slot[i].cfg.path), NULL,
		       m->slot[i].cfg.state == NA_SLOT_ACTIVE);
	family(f, "netaccel_bypass_sockhash_entries", "gauge",
	       "sockets in the fast path's socket map");
	sample(f, "netaccel_bypass_sockhash_entries", NULL, NULL,
	       m->sockhash_entries > 0 ? (unsigned long long)m->sockhash_entries : 0);
}

static void portmap(FILE *f, const struct na_metrics *m)
{
	char name[96];
	size_t i, k;

	for (k = 0; k < NA_PM_NUM_COUNTERS; k++) {
		snprintf(name, sizeof(name), "netaccel_portmap_%s_total", pm_names[k]);
		family(f, name, "counter", "port remap counter (netaccel-ctl(8), stats)");
		for (i = 0; i < m->npm; i++)
			sample(f, name, cgroup_label(m->pm[i].scope.path), NULL,
			       ((const uint64_t *)&m->pm[i].stats)[k]);
	}
	family(f, "netaccel_portmap_rules", "gauge", "port remap rules of a cgroup");
	for (i = 0; i < m->npm; i++)
		sample(f, "netaccel_portmap_rules", cgroup_label(m->pm[i].scope.path), NULL,
		       m->pm[i].scope.rules);
}

static void veth(FILE *f, const struct na_metrics *m)
{
	static const char reasons[] = "netaccel_veth_frames_passed_reason_total";
	const uint64_t *v = (const uint64_t *)&m->veth_total;
	char name[96];
	size_t k;

	for (k = 0; k < VETH_FIRST_REASON; k++) {
		snprintf(name, sizeof(name), "netaccel_veth_%s_total", veth_names[k]);
		family(f, name, "counter", "veth redirect counter (netaccel-ctl(8), veth list)");
		sample(f, name, NULL, NULL, v[k]);
	}
	family(f, reasons, "counter", "frames the veth redirect left to the bridge, by reason");
	for (k = VETH_FIRST_REASON; k < NA_VETH_NUM_COUNTERS; k++)
		sample(f, reasons, NULL, veth_names[k], v[k]);
}

static void splice(FILE *f, const struct na_metrics *m)
{
	const uint64_t *v = (const uint64_t *)&m->splice_total;
	char name[96];

	family(f, "netaccel_splice_pairs", "gauge", "socket pairs the kernel splices now");
	sample(f, "netaccel_splice_pairs", NULL, NULL, (uint64_t)m->splice_pairs);
	for (size_t k = 0; k < NA_SPLICE_NUM_COUNTERS; k++) {
		snprintf(name, sizeof(name), "netaccel_splice_%s_total", splice_names[k]);
		family(f, name, "counter", "proxy splice counter (netaccel-ctl(8), splice status)");
		sample(f, name, NULL, NULL, v[k]);
	}
}

int na_metrics_write(FILE *f, const struct na_metrics *m)
{
	family(f, "netaccel_datapath_loaded", "gauge", "1 for each datapath loaded in the kernel");
	fprintf(f, "netaccel_datapath_loaded{datapath=\"bypass\"} %d\n", m->bypass);
	fprintf(f, "netaccel_datapath_loaded{datapath=\"portmap\"} %d\n", m->portmap);
	fprintf(f, "netaccel_datapath_loaded{datapath=\"veth\"} %d\n", m->veth);
	fprintf(f, "netaccel_datapath_loaded{datapath=\"splice\"} %d\n", m->splice);
	if (m->bypass)
		bypass(f, m);
	if (m->portmap)
		portmap(f, m);
	if (m->veth)
		veth(f, m);
	if (m->splice)
		splice(f, m);
	return fflush(f) || ferror(f) ? -EIO : 0;
}
