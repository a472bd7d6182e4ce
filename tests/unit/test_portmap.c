// SPDX-License-Identifier: GPL-2.0-only
/*
 * The port remap's library (lib/portmap.c, lib/portmap_state.c) without
 * the kernel: the pins its object describes (names a state made by an
 * older version must still have), each program's hook, rules as typed,
 * the decisions on rules that clash and the order list shows them in,
 * and the states it refuses before touching anything. Nothing here loads
 * a program or mounts.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "portmap_state.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* The pins and hooks of the port remap as every earlier version made
 * them: a state left by one must open as it is. */
static const char *const want_maps[] = {
	"na_pm_rules", "na_pm_bound", "na_pm_real", "na_pm_scopes", "na_pm_stats", "na_pm_sk",
};

static const struct {
	const char *prog, *pin;
	enum bpf_attach_type type;
} want_progs[] = {
	{ "na_pm_create", "prog_create", BPF_CGROUP_INET_SOCK_CREATE },
	{ "na_pm_bind4", "prog_bind4", BPF_CGROUP_INET4_BIND },
	{ "na_pm_bind6", "prog_bind6", BPF_CGROUP_INET6_BIND },
	{ "na_pm_post4", "prog_post4", BPF_CGROUP_INET4_POST_BIND },
	{ "na_pm_post6", "prog_post6", BPF_CGROUP_INET6_POST_BIND },
	{ "na_pm_release", "prog_release", BPF_CGROUP_INET_SOCK_RELEASE },
	{ "na_pm_conn4", "prog_conn4", BPF_CGROUP_INET4_CONNECT },
	{ "na_pm_conn6", "prog_conn6", BPF_CGROUP_INET6_CONNECT },
	{ "na_pm_send4", "prog_send4", BPF_CGROUP_UDP4_SENDMSG },
	{ "na_pm_send6", "prog_send6", BPF_CGROUP_UDP6_SENDMSG },
	{ "na_pm_name4", "prog_name4", BPF_CGROUP_INET4_GETSOCKNAME },
	{ "na_pm_name6", "prog_name6", BPF_CGROUP_INET6_GETSOCKNAME },
	{ "na_pm_peer4", "prog_peer4", BPF_CGROUP_INET4_GETPEERNAME },
	{ "na_pm_peer6", "prog_peer6", BPF_CGROUP_INET6_GETPEERNAME },
	{ "na_pm_recv4", "prog_recv4", BPF_CGROUP_UDP4_RECVMSG },
	{ "na_pm_recv6", "prog_recv6", BPF_CGROUP_UDP6_RECVMSG },
};

static bool is_one_of(const char *s, const char *const *set, size_t n)
{
	while (n--)
		if (!strcmp(s, set[n]))
			return true;
	return false;
}

static void pins_and_hooks_stay_as_they_were(void **state)
{
	struct na_reason why = { 0 };
	struct na_objset os;
	size_t i, maps = 0, progs = 0;

	(void)state;
	assert_int_equal(na_pm_describe(&os, "/sys/fs/bpf/netaccel/portmap", &why), 0);
	assert_string_equal(os.dir, "/sys/fs/bpf/netaccel/portmap");
	assert_int_equal(os.n, N(want_maps) + N(want_progs));
	for (i = 0; i < os.n; i++) {
		const struct na_pinned *p = &os.obj[i];

		assert_int_equal(p->fd, -1);
		assert_false(p->optional);
		if (!p->prog) {
			/* Maps are pinned under their own names, in any order. */
			assert_true(is_one_of(p->name, want_maps, N(want_maps)));
			assert_string_equal(p->pin, p->name);
			maps++;
			continue;
		}
		/* In the order status --json lists them. */
		assert_true(progs < N(want_progs));
		assert_string_equal(p->name, want_progs[progs].prog);
		assert_string_equal(p->pin, want_progs[progs].pin);
		assert_int_equal(p->attach_type, want_progs[progs].type);
		progs++;
	}
	assert_int_equal(maps, N(want_maps));
	assert_int_equal(progs, N(want_progs));
	assert_false(na_reason_said(&why));
}

static void cgroup_links_name_the_cgroup_and_the_hook(void **state)
{
	char name[NA_PIN_NAME_MAX], small[8];

	(void)state;
	assert_int_equal(na_cglink_pin_name(42, "na_pm_bind4", name, sizeof(name)), 0);
	assert_string_equal(name, "cg42_bind4");
	assert_int_equal(na_cglink_pin_name(18446744073709551615ULL, "na_pm_release", name,
					    sizeof(name)), 0);
	assert_string_equal(name, "cg18446744073709551615_release");
	assert_int_equal(na_cglink_pin_name(42, "na_pm_bind4", small, sizeof(small)),
			 -ENAMETOOLONG);
}

static void rules_parse_as_typed(void **state)
{
	static const char *const bad[] = {
		"", "0", "70000", "65536", "abc", "-5", "+5", " 5", "5 ", "0x10", "123456",
		"3000:0", "3000:x", "3000:", ":3000", "3000:4000:5000", "00000000000000000000000003000",
	};
	uint16_t vport = 0, rport = 7;
	size_t i;

	(void)state;
	assert_int_equal(na_pm_parse_rule("3000", true, &vport, &rport), 0);
	assert_int_equal(vport, 3000);
	assert_int_equal(rport, 7);	/* none given: left alone */
	assert_int_equal(na_pm_parse_rule("1:65535", true, &vport, &rport), 0);
	assert_int_equal(vport, 1);
	assert_int_equal(rport, 65535);
	assert_int_equal(na_pm_parse_rule("00080", false, &vport, &rport), 0);
	assert_int_equal(vport, 80);
	/* del takes no real port. */
	assert_int_equal(na_pm_parse_rule("3000:4000", false, &vport, &rport), -EINVAL);
	for (i = 0; i < N(bad); i++)
		assert_int_equal(na_pm_parse_rule(bad[i], true, &vport, &rport), -EINVAL);
}

static void rule_flags_follow_the_ports(void **state)
{
	(void)state;
	assert_int_equal(na_pm_rule_flags(3000, 0, false, 1024), 0);
	assert_int_equal(na_pm_rule_flags(3000, 4000, false, 1024), NA_PMF_FIXED);
	assert_int_equal(na_pm_rule_flags(1023, 0, false, 1024), NA_PMF_PRIV_VPORT);
	assert_int_equal(na_pm_rule_flags(1024, 0, true, 1024), NA_PMF_UNPRIV);
	assert_int_equal(na_pm_rule_flags(80, 8080, true, 1024),
			 NA_PMF_FIXED | NA_PMF_UNPRIV | NA_PMF_PRIV_VPORT);
	/* A namespace where every port is unprivileged. */
	assert_int_equal(na_pm_rule_flags(80, 0, false, 0), 0);
}

static struct na_pm_key key(uint64_t cgid, uint8_t proto, uint16_t vport)
{
	return (struct na_pm_key){ .cgid = cgid, .proto = proto, .vport = vport };
}

static struct na_pm_rule fixed(uint16_t rport)
{
	return (struct na_pm_rule){ .rport = rport, .flags = NA_PMF_FIXED };
}

static void clashes_are_decided_per_protocol(void **state)
{
	struct na_pm_rule picked = { 0 }, f4000 = fixed(4000), f3000 = fixed(3000);
	struct na_pm_key a3000 = key(1, NA_PM_TCP, 3000), a4100 = key(1, NA_PM_TCP, 4100);
	struct na_pm_key b3000 = key(2, NA_PM_TCP, 3000), a4000 = key(1, NA_PM_TCP, 4000);
	struct na_pm_key u4100 = key(1, NA_PM_UDP, 4100);

	(void)state;
	/* Two fixed rules on one real port, in any cgroup. */
	assert_int_equal(na_pm_clash(&b3000, &f4000, &a4100, &f4000), NA_PM_REAL_TAKEN);
	/* The same in the other protocol is another port. */
	assert_int_equal(na_pm_clash(&u4100, &f4000, &a4100, &f4000), NA_PM_NO_CLASH);
	/* A real port that is a virtual port of the same cgroup... */
	assert_int_equal(na_pm_clash(&a4100, &f3000, &a3000, &picked), NA_PM_REAL_IS_VIRTUAL);
	/* ...but not of another one. */
	assert_int_equal(na_pm_clash(&a4100, &f3000, &b3000, &picked), NA_PM_NO_CLASH);
	/* A virtual port that is another rule's real port in the cgroup. */
	assert_int_equal(na_pm_clash(&a4000, &picked, &a3000, &f4000), NA_PM_VIRTUAL_IS_REAL);
	assert_int_equal(na_pm_clash(&a4000, &picked, &b3000, &f4000), NA_PM_NO_CLASH);
	/* Rules whose real port the kernel picks clash with nothing. */
	assert_int_equal(na_pm_clash(&b3000, &picked, &a3000, &picked), NA_PM_NO_CLASH);
}

static void list_sorts_by_cgroup_protocol_port(void **state)
{
	struct na_pm_key k[] = {
		key(2, NA_PM_TCP, 80), key(1, NA_PM_UDP, 53), key(1, NA_PM_TCP, 8080),
		key(1, NA_PM_TCP, 443), key(10, NA_PM_TCP, 1), key(1, NA_PM_UDP, 5),
	};
	static const struct {
		uint64_t cgid;
		uint8_t proto;
		uint16_t vport;
	} want[] = {
		{ 1, NA_PM_TCP, 443 }, { 1, NA_PM_TCP, 8080 }, { 1, NA_PM_UDP, 5 },
		{ 1, NA_PM_UDP, 53 }, { 2, NA_PM_TCP, 80 }, { 10, NA_PM_TCP, 1 },
	};
	size_t i;

	(void)state;
	qsort(k, N(k), sizeof(k[0]), na_pm_key_cmp);
	for (i = 0; i < N(k); i++) {
		assert_int_equal(k[i].cgid, want[i].cgid);
		assert_int_equal(k[i].proto, want[i].proto);
		assert_int_equal(k[i].vport, want[i].vport);
	}
	assert_int_equal(na_pm_key_cmp(&k[0], &k[0]), 0);
}

static void ports_read_with_their_protocol(void **state)
{
	struct na_pm_key k = key(1, NA_PM_UDP, 5353);
	char text[32];

	(void)state;
	na_pm_port_text(&k, text, sizeof(text));
	assert_string_equal(text, "5353/udp");
	k.proto = NA_PM_TCP;
	na_pm_port_text(&k, text, sizeof(text));
	assert_string_equal(text, "5353/tcp");
}

static void no_state_is_said_and_nothing_is_made(void **state)
{
	struct na_reason why = { 0 };
	char dir[] = "/tmp/na-unit-XXXXXX";
	struct na_pm *pm = (struct na_pm *)&why;
	int rules = -1;

	(void)state;
	/* Nothing there: -ENOENT, which callers take as "no rules". */
	assert_int_equal(na_pm_open(&pm, "/nonexistent-na-unit/state", 0, &why), -ENOENT);
	assert_null(pm);
	assert_true(na_reason_said(&why));
	assert_int_equal(na_pm_remove("/nonexistent-na-unit/state", &rules, NULL), 0);
	assert_int_equal(rules, 0);
	/* Creating one where the parent does not exist is refused. */
	na_reason_clear(&why);
	assert_int_equal(na_pm_open(&pm, "/nonexistent-na-unit/state", NA_STATE_CREATE, &why),
			 -ENOTSUP);
	assert_non_null(strstr(why.msg, "/nonexistent-na-unit does not exist"));
	/* A directory that is not on bpffs is refused, and left as it was. */
	assert_non_null(mkdtemp(dir));
	na_reason_clear(&why);
	assert_int_equal(na_pm_open(&pm, dir, 0, &why), -ENOTSUP);
	assert_non_null(strstr(why.msg, "is not on a bpffs mount"));
	na_reason_clear(&why);
	assert_int_equal(na_pm_remove(dir, &rules, &why), -ENOTSUP);
	assert_non_null(strstr(why.msg, "is not on a bpffs mount"));
	assert_int_equal(rmdir(dir), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(pins_and_hooks_stay_as_they_were),
		cmocka_unit_test(cgroup_links_name_the_cgroup_and_the_hook),
		cmocka_unit_test(rules_parse_as_typed),
		cmocka_unit_test(rule_flags_follow_the_ports),
		cmocka_unit_test(clashes_are_decided_per_protocol),
		cmocka_unit_test(list_sorts_by_cgroup_protocol_port),
		cmocka_unit_test(ports_read_with_their_protocol),
		cmocka_unit_test(no_state_is_said_and_nothing_is_made),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
