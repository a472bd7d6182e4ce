// SPDX-License-Identifier: GPL-2.0-only
/*
 * The node agent's policy file (agent/policy.c), parsed from strings (no
 * kernel): a full file and an empty one read as written, and each kind of
 * bad file is refused whole with the line at fault and the reason; what a
 * reload logs of the difference between two policies; the lines of the
 * actions that undo what the agent made.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "netaccel_abi.h"
#include "plan.h"
#include "policy.h"

static int parse(const char *text, struct na_policy *p, struct na_reason *why)
{
	na_reason_clear(why);
	return na_policy_parse(text, strlen(text), "p.yaml", p, why);
}

static void full_file(void **state)
{
	static const char text[] =
		"# every key optional\n"
		"bypass:\n"
		"  - cgroup: \"system.slice/*.service\"\n"
		"    mode: all\n"
		"  - unit: nginx.service\n"
		"  - container: \"3f2a*\"\n"
		"    mode: opt-in\n"
		"  - cgroup: /\n"
		"portmap:\n"
		"  - cgroup: app.slice/a\n"
		"    port: 8080\n"
		"    real: 18080\n"
		"    proto: tcp\n"
		"    allow_unprivileged: false\n"
		"  - cgroup: app.slice/a\n"
		"    port: 53\n"
		"    proto: udp\n"
		"    allow_unprivileged: true\n"
		"veth:\n"
		"  bridges: [br0, br1]\n";
	struct na_reason why;
	struct na_policy p;

	assert_int_equal(parse(text, &p, &why), 0);
	assert_int_equal(p.nbypass, 4);
	assert_int_equal(p.bypass[0].sel, NA_POL_CGROUP);
	assert_string_equal(p.bypass[0].match, "system.slice/*.service");
	assert_int_equal(p.bypass[0].mode, NA_MODE_ALL);
	assert_int_equal(p.bypass[0].line, 3);
	assert_int_equal(p.bypass[1].sel, NA_POL_UNIT);
	assert_int_equal(p.bypass[1].mode, NA_MODE_ALL);
	assert_int_equal(p.bypass[2].sel, NA_POL_CONTAINER);
	assert_int_equal(p.bypass[2].mode, NA_MODE_OPT_IN);
	assert_string_equal(p.bypass[3].match, "/");
	assert_int_equal(p.nportmap, 2);
	assert_string_equal(p.portmap[0].cgroup, "app.slice/a");
	assert_int_equal(p.portmap[0].port, 8080);
	assert_int_equal(p.portmap[0].real, 18080);
	assert_int_equal(p.portmap[0].proto, NA_PM_TCP);
	assert_false(p.portmap[0].unpriv);
	assert_int_equal(p.portmap[1].real, 0);
	assert_int_equal(p.portmap[1].proto, NA_PM_UDP);
	assert_true(p.portmap[1].unpriv);
	assert_int_equal(p.nbridges, 2);
	assert_string_equal(p.bridges[1], "br1");
	na_policy_free(&p);
}

/* An empty file, a comment only, or keys with nothing under them. */
static void empty_files(void **state)
{
	static const char *const texts[] = { "", "# nothing\n", "bypass:\nportmap:\nveth:\n", "---\n" };
	struct na_reason why;
	struct na_policy p;
	size_t i;

	for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		assert_int_equal(parse(texts[i], &p, &why), 0);
		assert_int_equal(p.nbypass + p.nportmap + p.nbridges, 0);
		na_policy_free(&p);
	}
}

/* Bad files: the text, and the line and reason the refusal must have. */
static const struct {
	const char *text;
	const char *msg;
} bad[] = {
	{ "bypass:\n  - cgroup: [a\n", "p.yaml:3: YAML syntax error: " },
	{ "bypass:\n\t- cgroup: a\n", "p.yaml:2: YAML syntax error: " },
	{ "bypass: []\nbypas: []\n", "p.yaml:2: unknown key 'bypas' in the policy (known: bypass, portmap, veth)" },
	{ "bypass:\n  - cgroup: a\n    mod: all\n", "p.yaml:3: unknown key 'mod' in a bypass rule" },
	{ "veth:\n  bridge: br0\n", "p.yaml:2: unknown key 'bridge' in veth" },
	{ "bypass:\n  cgroup: a\n", "p.yaml:2: bypass must be a list" },
	{ "- a\n", "p.yaml:1: the policy must be a mapping" },
	{ "bypass:\n  - cgroup: [a]\n", "p.yaml:2: cgroup must be a string" },
	{ "portmap:\n  - cgroup: a\n    port: \"80\"\n", "p.yaml:3: port must be a number" },
	{ "portmap:\n  - cgroup: a\n    port: 80\n    allow_unprivileged: yes\n",
	  "p.yaml:4: allow_unprivileged must be true or false" },
	{ "bypass:\n  - cgroup: a\n    mode: fast\n", "p.yaml:3: unknown mode 'fast' (use all or opt-in)" },
	{ "portmap:\n  - cgroup: a\n    port: 80\n    proto: sctp\n", "p.yaml:4: unknown proto 'sctp'" },
	{ "portmap:\n  - cgroup: a\n    port: 65536\n", "p.yaml:3: port 65536 is out of range (1-65535)" },
	{ "portmap:\n  - cgroup: a\n    port: 0\n", "p.yaml:3: port 0 is out of range" },
	{ "portmap:\n  - cgroup: a\n    port: 80\n    real: 99999\n", "p.yaml:4: real port 99999 is out of range" },
	{ "portmap:\n  - cgroup: a\n    port: 80\n    real: 80\n", "p.yaml:2: real port 80 is the port itself" },
	{ "portmap:\n  - cgroup: a\n", "p.yaml:2: a portmap rule needs cgroup and port" },
	{ "bypass:\n  - mode: all\n", "p.yaml:2: a bypass rule needs one of cgroup, unit, container or pod" },
	{ "bypass:\n  - cgroup: a\n    unit: b.service\n", "p.yaml:3: a bypass rule takes one of" },
	{ "bypass:\n  - cgroup: a\n    cgroup: b\n", "p.yaml:3: key 'cgroup' is given twice" },
	{ "bypass:\n  - pod: \"*\"\n    container: \"*\"\n", "p.yaml:3: a bypass rule takes one of" },
	{ "bypass:\n  - unit: a/b.service\n", "p.yaml:2: unit 'a/b.service' names no unit" },
	{ "bypass:\n  - cgroup: a\n  - unit: x.service\n  - cgroup: a\n    mode: opt-in\n",
	  "p.yaml:4: duplicate rule: cgroup 'a' is at line 2 already" },
	{ "portmap:\n  - cgroup: a\n    port: 80\n  - cgroup: a\n    port: 80\n    real: 81\n",
	  "p.yaml:4: duplicate rule: port 80/tcp of 'a' is at line 2 already" },
	{ "veth:\n  bridges: [br0, br0]\n", "p.yaml:2: duplicate bridge 'br0'" },
	{ "veth:\n  bridges: [averyveryverylongname]\n", "p.yaml:2: 'averyveryverylongname' is not an interface name" },
	{ "bypass: []\n---\nbypass: []\n", "p.yaml:2: more than one YAML document" },
};

static void bad_files(void **state)
{
	struct na_reason why;
	struct na_policy p;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(parse(bad[i].text, &p, &why), -EINVAL);
		if (strncmp(why.msg, bad[i].msg, strlen(bad[i].msg)))
			fail_msg("bad file %zu: got \"%s\", expected \"%s...\"", i, why.msg,
				 bad[i].msg);
		assert_null(strchr(why.msg, '\n'));
		/* Refused whole: nothing of it is kept. */
		assert_int_equal(p.nbypass + p.nportmap + p.nbridges, 0);
		assert_null(p.bypass);
		na_policy_free(&p);
	}
}

static void unreadable_file(void **state)
{
	struct na_reason why = { 0 };
	struct na_policy p;

	assert_int_equal(na_policy_load("/nonexistent/p.yaml", &p, &why), -ENOENT);
	assert_string_equal(why.msg, "cannot read /nonexistent/p.yaml: No such file or directory");
	na_policy_free(&p);
}

/* Which cgroups a bypass rule names (agent/plan.c, no tree needed). */
struct lines {
	char buf[1024];
};

static void collect(void *arg, char sign, const char *rule)
{
	struct lines *l = arg;
	size_t n = strlen(l->buf);

	snprintf(l->buf + n, sizeof(l->buf) - n, "%c %s\n", sign, rule);
}

static void diff(void **state)
{
	static const char old[] =
		"bypass:\n"
		"  - cgroup: \"a/*\"\n"
		"  - unit: x.service\n"
		"    mode: opt-in\n"
		"portmap:\n"
		"  - cgroup: a/b\n"
		"    port: 80\n"
		"veth:\n"
		"  bridges: [br0]\n";
	static const char new[] =
		"bypass:\n"
		"  - unit: x.service\n"
		"    mode: all\n"
		"  - cgroup: \"a/*\"\n"
		"portmap:\n"
		"  - cgroup: a/b\n"
		"    port: 80\n"
		"    real: 8080\n"
		"veth:\n"
		"  bridges: [br0]\n";
	struct na_policy a, b;
	struct na_reason why;
	struct lines l = { "" };

	(void)state;
	assert_int_equal(parse(old, &a, &why), 0);
	assert_int_equal(parse(new, &b, &why), 0);
	/* Order does not count; a mode or a real port is a change. */
	assert_int_equal(na_policy_diff(&a, &b, collect, &l), 4);
	assert_string_equal(l.buf, "- bypass unit \"x.service\" mode opt-in\n"
				   "- portmap a/b tcp 80\n"
				   "+ bypass unit \"x.service\" mode all\n"
				   "+ portmap a/b tcp 80:8080\n");
	l.buf[0] = '\0';
	assert_int_equal(na_policy_diff(&a, &a, collect, &l), 0);
	assert_string_equal(l.buf, "");
	na_policy_free(&a);
	na_policy_free(&b);
}

static void release_lines(void **state)
{
	struct na_action a = { .kind = NA_ACT_UNENROLL };
	char line[256];

	(void)state;
	snprintf(a.note, sizeof(a.note), "app.slice/x");
	na_action_text(&a, line, sizeof(line));
	assert_string_equal(line, "unenroll app.slice/x (the policy no longer names it)");
	assert_true(na_action_changes(&a));
	a.kind = NA_ACT_PM_DEL;
	snprintf(a.note, sizeof(a.note), "app.slice/x tcp 80");
	na_action_text(&a, line, sizeof(line));
	assert_string_equal(line, "portmap del app.slice/x tcp 80 (the policy no longer has it)");
	a.kind = NA_ACT_VETH_DETACH;
	snprintf(a.note, sizeof(a.note), "br0");
	na_action_text(&a, line, sizeof(line));
	assert_string_equal(line, "veth detach --bridge br0 (the policy no longer has it)");
	a.kind = NA_ACT_FORGET;
	snprintf(a.note, sizeof(a.note), "enrollment of cgroup 42");
	na_action_text(&a, line, sizeof(line));
	assert_string_equal(line, "forget the enrollment of cgroup 42 (gone)");
	a.kind = NA_ACT_KEEP;
	assert_false(na_action_changes(&a));
}

static void matching(void **state)
{
	static const char id[] = "3f2a0000000000000000000000000000000000000000000000000000000000aa";
	struct na_policy_bypass r = { .sel = NA_POL_CGROUP, .match = "system.slice/*.service" };
	char scope[128];

	assert_true(na_plan_matches(&r, "system.slice/a.service"));
	assert_false(na_plan_matches(&r, "system.slice/a.service/child"));
	assert_false(na_plan_matches(&r, "user.slice/a.service"));
	r.match = "/";
	assert_true(na_plan_matches(&r, ""));
	assert_false(na_plan_matches(&r, "a"));
	r = (struct na_policy_bypass){ .sel = NA_POL_UNIT, .match = "nginx.service" };
	assert_true(na_plan_matches(&r, "system.slice/nginx.service"));
	assert_true(na_plan_matches(&r, "user.slice/user-1000.slice/nginx.service"));
	assert_false(na_plan_matches(&r, "system.slice/nginx.service.d"));
	r = (struct na_policy_bypass){ .sel = NA_POL_CONTAINER, .match = "3f2a" };
	snprintf(scope, sizeof(scope), "system.slice/docker-%s.scope", id);
	assert_true(na_plan_matches(&r, scope));
	r.match = "3f2a*";
	assert_true(na_plan_matches(&r, scope));
	r.match = "*";
	snprintf(scope, sizeof(scope), "kubepods.slice/cri-containerd-%s.scope", id);
	assert_true(na_plan_matches(&r, scope));
	assert_false(na_plan_matches(&r, "system.slice/docker.service"));
	r.match = "3f2b";
	assert_false(na_plan_matches(&r, scope));
	/* Pods: by UID, under both of the kubelet's cgroup drivers. */
	r = (struct na_policy_bypass){ .sel = NA_POL_POD, .match = "0a1b2c3d-aaaa" };
	assert_true(na_plan_matches(&r, "kubepods.slice/kubepods-burstable.slice/"
					"kubepods-burstable-pod0a1b2c3d_aaaa_bbbb_cccc_0123456789ab.slice"));
	assert_true(na_plan_matches(&r, "kubepods.slice/kubepods-pod0a1b2c3d_aaaa_bbbb_cccc_0123456789ab.slice"));
	assert_true(na_plan_matches(&r, "kubepods/besteffort/pod0a1b2c3d-aaaa-bbbb-cccc-0123456789ab"));
	assert_false(na_plan_matches(&r, "system.slice/pod0a1b2c3d-aaaa-bbbb-cccc-0123456789ab"));
	assert_false(na_plan_matches(&r, "kubepods.slice/kubepods-burstable.slice/"
					 "kubepods-burstable-pod0a1b2c3d_aaaa_bbbb_cccc_0123456789ab.slice/"
					 "cri-containerd-aa.scope"));
	assert_false(na_plan_matches(&r, "kubepods.slice/kubepods-burstable.slice"));
	r.match = "*";
	assert_true(na_plan_matches(&r, "kubepods/pod0a1b2c3d-aaaa-bbbb-cccc-0123456789ab"));
	assert_false(na_plan_matches(&r, "kubepods/pod0a1b2c3d-aaaa-bbbb-cccc-0123456789aX"));
	r.match = "ffff";
	assert_false(na_plan_matches(&r, "kubepods/pod0a1b2c3d-aaaa-bbbb-cccc-0123456789ab"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(full_file),
		cmocka_unit_test(empty_files),
		cmocka_unit_test(bad_files),
		cmocka_unit_test(unreadable_file),
		cmocka_unit_test(matching),
		cmocka_unit_test(diff),
		cmocka_unit_test(release_lines),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
