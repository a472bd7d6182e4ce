// SPDX-License-Identifier: GPL-2.0-only
/*
 * What a table says: medians over the rounds of each variant, and each
 * variant's ratio to the baseline taken round by round (the rounds ran
 * interleaved, so a round's variants met the same noise) with the median
 * of those ratios. As a text table or as JSON.
 */
#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

static const char *const metric_keys[NA_BM_COUNT] = {
	"p50_us", "p99_us", "mean_us", "ops_per_s", "mb_per_s", "cpu_us_per_op",
};

static const char *const counter_names[] = { NA_COUNTER_NAMES };

static double metric(const struct na_bench_result *r, int m)
{
	switch (m) {
	case NA_BM_P50: return r->p50_us;
	case NA_BM_P99: return r->p99_us;
	case NA_BM_MEAN: return r->mean_us;
	case NA_BM_OPS: return r->ops_per_s;
	case NA_BM_MBPS: return r->mb_per_s;
	default: return r->cpu_us_per_op;
	}
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median_of(double *v, int n)
{
	if (!n)
		return NAN;
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

double na_bench_median(const struct na_bench_table *t, int var, int m)
{
	const struct na_bench_variant *v = &t->v[var];
	double vals[NA_BENCH_MAX_ROUNDS];
	int n = 0;

	for (int r = 0; r < t->rounds; r++)
		if (v->ok[r])
			vals[n++] = metric(&v->res[r], m);
	return median_of(vals, n);
}

double na_bench_ratio(const struct na_bench_table *t, int num, int den, int m)
{
	const struct na_bench_variant *a = &t->v[num], *b = &t->v[den];
	double vals[NA_BENCH_MAX_ROUNDS];
	int n = 0;

	for (int r = 0; r < t->rounds; r++)
		if (a->ok[r] && b->ok[r] && metric(&b->res[r], m) > 0)
			vals[n++] = metric(&a->res[r], m) / metric(&b->res[r], m);
	return median_of(vals, n);
}

static void print_ratio(FILE *f, const struct na_bench_table *t, int num, int den)
{
	char label[64];

	if (t->v[num].unavailable[0] || t->v[den].unavailable[0])
		return;
	snprintf(label, sizeof(label), "  %s / %s", t->v[num].key, t->v[den].key);
	fprintf(f, "%-30s", label);
	for (int m = 0; m < NA_BM_COUNT; m++)
		fprintf(f, m == NA_BM_OPS ? " %11.2f" : " %9.2f", na_bench_ratio(t, num, den, m));
	fprintf(f, "\n");
}

/* CPU time per KiB moved (stream tables), in ns: CPU per write over the
 * KiB of a write. */
static double cpu_ns_per_kib(const struct na_bench_table *t, int var)
{
	return na_bench_median(t, var, NA_BM_CPU) * 1e3 / ((double)t->size / 1024);
}

static void print_cpu_per_byte(FILE *f, const struct na_bench_table *t)
{
	const char *sep = "";

	fprintf(f, "  CPU per KiB moved (ns):");
	for (int i = 0; i < t->nvar; i++) {
		if (t->v[i].unavailable[0])
			continue;
		fprintf(f, "%s %s %.0f", sep, t->v[i].key, cpu_ns_per_kib(t, i));
		sep = ",";
	}
	fprintf(f, "\n");
}

void na_bench_print_table(FILE *f, const struct na_bench_table *t, bool bpfstats)
{
	fprintf(f, "\n%s (%d rounds interleaved; medians, ratios per round)\n", t->title,
	       t->rounds);
	fprintf(f, "%-30s %9s %9s %9s %11s %9s %9s\n", "variant", "p50 us", "p99 us",
	       "mean us", "ops/s", "MB/s", "CPU us/op");
	for (int i = 0; i < t->nvar; i++) {
		const struct na_bench_variant *v = &t->v[i];

		fprintf(f, "%-30s", v->label);
		if (v->unavailable[0]) {
			fprintf(f, " unavailable: %s\n", v->unavailable);
			continue;
		}
		for (int m = 0; m < NA_BM_COUNT; m++)
			fprintf(f, m == NA_BM_OPS ? " %11.0f" : m == NA_BM_MBPS ? " %9.1f" : " %9.2f",
			       na_bench_median(t, i, m));
		fprintf(f, "\n");
	}
	for (int i = 1; i < t->nvar; i++)
		print_ratio(f, t, i, 0);
	if (t->extra_num >= 0)
		print_ratio(f, t, t->extra_num, t->extra_den);
	if (t->kind == NA_BENCH_STREAM)
		print_cpu_per_byte(f, t);
	if (t->have_veth)
		fprintf(f, "  veth redirect: frames redirected=%llu bytes_redirected=%llu passed=%llu\n",
		       (unsigned long long)t->veth.redirected,
		       (unsigned long long)t->veth.bytes_redirected,
		       (unsigned long long)t->veth.passed);
	/* Tables of the veth redirect alone show its counters only. */
	if (t->have_counters && (!t->have_veth || t->counters.sockets_joined))
		fprintf(f, "  fast path: sockets_joined=%llu msgs_redirected=%llu bytes_redirected=%llu "
		       "msgs_passed=%llu misses=%llu backlog_limited=%llu stream_moved=%llu\n",
		       (unsigned long long)t->counters.sockets_joined,
		       (unsigned long long)t->counters.msgs_redirected,
		       (unsigned long long)t->counters.bytes_redirected,
		       (unsigned long long)t->counters.msgs_passed,
		       (unsigned long long)t->counters.misses,
		       (unsigned long long)t->counters.backlog_limited,
		       (unsigned long long)t->counters.stream_moved);
	if (!bpfstats)
		return;
	for (int i = 0; i < t->nvar; i++) {
		const struct na_bench_variant *v = &t->v[i];

		for (int k = 0; k < v->progs.n; k++) {
			if (!v->progs.runs[k] || !v->bpf_ops)
				continue;
			fprintf(f, "  bpf %-22s %-15s %6.2f runs/op %8.0f ns/run %8.3f us/op\n",
			       v->key, v->progs.name[k],
			       (double)v->progs.runs[k] / v->bpf_ops,
			       (double)v->progs.run_ns[k] / v->progs.runs[k],
			       v->progs.run_ns[k] / 1e3 / v->bpf_ops);
		}
	}
}

static json_object *metrics_json(const struct na_bench_table *t, int num, int den)
{
	json_object *o = json_object_new_object();

	for (int m = 0; m < NA_BM_COUNT; m++) {
		double x = den < 0 ? na_bench_median(t, num, m) : na_bench_ratio(t, num, den, m);

		json_object_object_add(o, metric_keys[m],
				       isnan(x) ? NULL : json_object_new_double(x));
	}
	return o;
}

static json_object *variant_json(const struct na_bench_table *t, int i, bool bpfstats)
{
	const struct na_bench_variant *v = &t->v[i];
	json_object *o = json_object_new_object(), *rounds = json_object_new_array();

	json_object_object_add(o, "name", json_object_new_string(v->key));
	json_object_object_add(o, "label", json_object_new_string(v->label));
	json_object_object_add(o, "unavailable",
			       v->unavailable[0] ? json_object_new_string(v->unavailable) : NULL);
	json_object_object_add(o, "median", metrics_json(t, i, -1));
	json_object_object_add(o, "ratio_to_baseline", i ? metrics_json(t, i, 0) : NULL);
	if (t->kind == NA_BENCH_STREAM) {
		double x = cpu_ns_per_kib(t, i);

		json_object_object_add(o, "cpu_ns_per_kib",
				       isnan(x) ? NULL : json_object_new_double(x));
	}
	for (int r = 0; r < t->rounds; r++) {
		json_object *ro;

		if (!v->ok[r]) {
			json_object_array_add(rounds, NULL);
			continue;
		}
		ro = json_object_new_object();
		json_object_object_add(ro, "ops", json_object_new_int64(v->res[r].ops));
		for (int m = 0; m < NA_BM_COUNT; m++)
			json_object_object_add(ro, metric_keys[m],
					       json_object_new_double(metric(&v->res[r], m)));
		json_object_array_add(rounds, ro);
	}
	json_object_object_add(o, "rounds", rounds);
	if (bpfstats) {
		json_object *progs = json_object_new_array();

		for (int k = 0; k < v->progs.n; k++) {
			json_object *p;

			if (!v->progs.runs[k] || !v->bpf_ops)
				continue;
			p = json_object_new_object();
			json_object_object_add(p, "program", json_object_new_string(v->progs.name[k]));
			json_object_object_add(p, "runs", json_object_new_int64((int64_t)v->progs.runs[k]));
			json_object_object_add(p, "runs_per_op",
					       json_object_new_double((double)v->progs.runs[k] / v->bpf_ops));
			json_object_object_add(p, "ns_per_run",
					       json_object_new_double((double)v->progs.run_ns[k] / v->progs.runs[k]));
			json_object_array_add(progs, p);
		}
		json_object_object_add(o, "bpf_stats", progs);
	}
	return o;
}

void na_bench_json_table(void *array, const struct na_bench_table *t, bool bpfstats)
{
	json_object *o = json_object_new_object(), *vars = json_object_new_array();

	json_object_object_add(o, "scenario", json_object_new_string(t->scenario));
	json_object_object_add(o, "title", json_object_new_string(t->title));
	json_object_object_add(o, "size", json_object_new_int64((int64_t)t->size));
	if (t->kind == NA_BENCH_STREAM)
		json_object_object_add(o, "reader_offset", json_object_new_int64(t->rdoff));
	if (t->kind == NA_BENCH_STREAM)
		json_object_object_add(o, "port_served", json_object_new_boolean(t->served));
	if (t->kind == NA_BENCH_CONNS)
		json_object_object_add(o, "connections", json_object_new_int(t->conns));
	json_object_object_add(o, "rounds", json_object_new_int(t->rounds));
	json_object_object_add(o, "baseline", json_object_new_string(t->v[0].key));
	for (int i = 0; i < t->nvar; i++)
		json_object_array_add(vars, variant_json(t, i, bpfstats));
	json_object_object_add(o, "variants", vars);
	if (t->extra_num >= 0) {
		char key[64];

		snprintf(key, sizeof(key), "%s/%s", t->v[t->extra_num].key, t->v[t->extra_den].key);
		json_object_object_add(o, "extra_ratio_name", json_object_new_string(key));
		json_object_object_add(o, "extra_ratio", metrics_json(t, t->extra_num, t->extra_den));
	}
	if (t->have_counters) {
		json_object *c = json_object_new_object();
		const uint64_t *val = (const uint64_t *)&t->counters;

		for (size_t k = 0; k < NA_NUM_COUNTERS; k++)
			json_object_object_add(c, counter_names[k], json_object_new_int64((int64_t)val[k]));
		json_object_object_add(o, "counters", c);
	}
	if (t->have_veth) {
		static const char *const veth_names[] = { NA_VETH_COUNTER_NAMES };
		json_object *c = json_object_new_object();
		const uint64_t *val = (const uint64_t *)&t->veth;

		for (size_t k = 0; k < NA_VETH_NUM_COUNTERS; k++)
			json_object_object_add(c, veth_names[k], json_object_new_int64((int64_t)val[k]));
		json_object_object_add(o, "veth_counters", c);
	}
	json_object_array_add((json_object *)array, o);
}
