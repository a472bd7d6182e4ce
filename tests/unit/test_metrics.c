// SPDX-License-Identifier: GPL-2.0-only
/*
 * The Prometheus text that agent/metrics.c writes, from counters made up
 * here (no kernel): label values escaped, reasons grouped, the samples of
 * a family adding up to the datapath's total, and promtool (Debian's
 * prometheus package) finding nothing wrong with it.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "metrics.h"

static struct na_metrics m;
static char *text;

/* Two enrolled cgroups (one with a name that needs escaping, one draining),
 * counts for no cgroup, a port remap rule and veth totals. */
static int make(void **state)
{
	size_t len;
	FILE *f;

	(void)state;
	memset(&m, 0, sizeof(m));
	m.bypass = true;
	m.nslots = 2;
	snprintf(m.slot[0].cfg.path, sizeof(m.slot[0].cfg.path), "app.slice/web\"1\\x");
	m.slot[0].cfg.state = NA_SLOT_ACTIVE;
	m.slot[0].stats.sockets_joined = 5;
	m.slot[0].stats.sockets_closed = 2;
	m.slot[0].stats.bytes_redirected = 1000;
	m.slot[0].stats.kept_blocking = 3;
	m.slot[1].cfg.path[0] = '\0';	/* the root cgroup */
	m.slot[1].cfg.state = NA_SLOT_DRAINING;
	m.slot[1].stats.bytes_redirected = 24;
	m.other.sockets_untagged = 7;
	m.sockhash_entries = 6;
	m.portmap = true;
	m.npm = 1;
	snprintf(m.pm[0].scope.path, sizeof(m.pm[0].scope.path), "api.slice");
	m.pm[0].scope.rules = 2;
	m.pm[0].stats.binds_remapped = 4;
	m.veth = true;
	m.veth_total.redirected = 9;
	m.splice = true;
	m.splice_pairs = 3;
	m.splice_total.bytes = 4096;
	m.veth_total.too_big = 1;

	f = open_memstream(&text, &len);
	assert_non_null(f);
	assert_int_equal(na_metrics_write(f, &m), 0);
	fclose(f);
	return 0;
}

static int drop(void **state)
{
	(void)state;
	free(text);
	text = NULL;
	return 0;
}

static void has(const char *line)
{
	char want[512];

	snprintf(want, sizeof(want), "\n%s\n", line);
	if (!strstr(text, want))
		fail_msg("no line '%s' in:\n%s", line, text);
}

static void counters_by_cgroup(void **state)
{
	(void)state;
	has("netaccel_bypass_bytes_redirected_total{cgroup=\"app.slice/web\\\"1\\\\x\"} 1000");
	has("netaccel_bypass_bytes_redirected_total{cgroup=\"/\"} 24");
	has("netaccel_bypass_bytes_redirected_total{cgroup=\"\"} 0");
	has("netaccel_bypass_sockets_untagged_total{cgroup=\"\"} 7");
	has("# TYPE netaccel_bypass_sockets_joined_total counter");
	has("netaccel_portmap_binds_remapped_total{cgroup=\"api.slice\"} 4");
	has("netaccel_portmap_rules{cgroup=\"api.slice\"} 2");
}

static void reasons_and_gauges(void **state)
{
	(void)state;
	has("netaccel_bypass_sockets_kept_total{cgroup=\"app.slice/web\\\"1\\\\x\",reason=\"blocking\"} 3");
	/* No family per reason: the kept_ counters are all in one. */
	assert_null(strstr(text, "netaccel_bypass_kept_blocking_total"));
	has("netaccel_bypass_sockets_live{cgroup=\"app.slice/web\\\"1\\\\x\"} 3");
	has("netaccel_bypass_enrolled{cgroup=\"/\"} 0");
	has("netaccel_bypass_sockhash_entries 6");
	has("netaccel_veth_redirected_total 9");
	has("netaccel_veth_frames_passed_reason_total{reason=\"too_big\"} 1");
	has("netaccel_datapath_loaded{datapath=\"veth\"} 1");
	has("netaccel_datapath_loaded{datapath=\"splice\"} 1");
	has("netaccel_splice_pairs 3");
	has("netaccel_splice_bytes_total 4096");
}

/* Datapaths that are not loaded have no families, only loaded 0. */
static void unloaded_datapaths_say_so(void **state)
{
	struct na_metrics none = { 0 };
	char *out;
	size_t len;
	FILE *f;

	(void)state;
	f = open_memstream(&out, &len);
	assert_non_null(f);
	assert_int_equal(na_metrics_write(f, &none), 0);
	fclose(f);
	assert_non_null(strstr(out, "netaccel_datapath_loaded{datapath=\"bypass\"} 0\n"));
	assert_null(strstr(out, "netaccel_bypass_"));
	assert_null(strstr(out, "netaccel_portmap_"));
	free(out);
}

static void promtool_accepts_it(void **state)
{
	FILE *p;
	int status;

	(void)state;
	p = popen("promtool check metrics", "w");
	assert_non_null(p);
	fputs(text, p);
	status = pclose(p);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail_msg("promtool check metrics failed (exit %d): is the prometheus package installed?",
			 WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(counters_by_cgroup, make, drop),
		cmocka_unit_test_setup_teardown(reasons_and_gauges, make, drop),
		cmocka_unit_test(unloaded_datapaths_say_so),
		cmocka_unit_test_setup_teardown(promtool_accepts_it, make, drop),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
