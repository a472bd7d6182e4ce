// SPDX-License-Identifier: GPL-2.0-only
/*
 * The pin layout that objset.c reads from a skeleton, without the kernel:
 * the naming rule, and that the bypass's object gives exactly the pins
 * older versions made (so their state is recognised). Opening a BPF object
 * parses its ELF only; nothing is loaded.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <bpf/libbpf.h>

#include "bypass.skel.h"
#include "objset.h"

static void pin_names_take_the_last_word(void **state)
{
	char out[NA_PIN_NAME_MAX];

	(void)state;
	assert_int_equal(na_prog_pin_name("na_pm_bind4", out, sizeof(out)), 0);
	assert_string_equal(out, "prog_bind4");
	assert_int_equal(na_prog_pin_name("na_sockops", out, sizeof(out)), 0);
	assert_string_equal(out, "prog_sockops");
	assert_int_equal(na_prog_pin_name("na_veth_ingress", out, sizeof(out)), 0);
	assert_string_equal(out, "prog_ingress");
	assert_int_equal(na_link_pin_name("na_rxwatch", out, sizeof(out)), 0);
	assert_string_equal(out, "link_rxwatch");
	assert_int_equal(na_prog_pin_name("plain", out, sizeof(out)), 0);
	assert_string_equal(out, "prog_plain");
	assert_int_equal(na_prog_pin_name("na_a_long_enough_name", out, 8), -ENAMETOOLONG);
}

static int by_pin(const void *a, const void *b)
{
	return strcmp(((const struct na_pinned *)a)->pin, ((const struct na_pinned *)b)->pin);
}

/* The bypass's pins as the previous versions laid them out (links aside),
 * with the networks of containers' tables (na_endpoints, na_net_allow,
 * na_nets, na_nscookie). */
static void bypass_layout_is_unchanged(void **state)
{
	static const char *const want[] = {
		"na_cgroups", "na_cgslot", "na_endpoints", "na_fitgen", "na_listeners",
		"na_net_allow", "na_nets", "na_nscookie", "na_procs",
		"na_rxstate", "na_sk_state", "na_sockaddr", "na_sockhash", "na_stats",
		"prog_create", "prog_fionread", "prog_getsockopt", "prog_msg",
		"prog_rxwatch", "prog_setsockopt", "prog_sockops",
	};
	struct na_bypass *skel;
	struct na_objset os;
	size_t i;

	(void)state;
	libbpf_set_print(NULL);
	skel = na_bypass__open();
	assert_non_null(skel);
	assert_int_equal(na_objset_init(&os, "/sys/fs/bpf/netaccel", skel->obj), 0);
	na_bypass__destroy(skel);
	assert_int_equal(os.n, sizeof(want) / sizeof(want[0]));
	qsort(os.obj, os.n, sizeof(os.obj[0]), by_pin);
	for (i = 0; i < os.n; i++) {
		assert_string_equal(os.obj[i].pin, want[i]);
		assert_int_equal(os.obj[i].fd, -1);
		/* Only the tracing protections are the loader's choice. */
		assert_int_equal(os.obj[i].optional, !strcmp(want[i], "prog_rxwatch") ||
							     !strcmp(want[i], "prog_fionread"));
		assert_int_equal(os.obj[i].prog, !strncmp(want[i], "prog_", 5));
	}
}

/* Handing an open fd over: the set forgets it. */
static void take_hands_over_the_fd(void **state)
{
	struct na_bypass *skel;
	struct na_objset os;
	int fd;

	(void)state;
	skel = na_bypass__open();
	assert_non_null(skel);
	assert_int_equal(na_objset_init(&os, "/sys/fs/bpf/netaccel", skel->obj), 0);
	na_bypass__destroy(skel);

	os.obj[0].fd = open("/dev/null", O_RDONLY);
	assert_true(os.obj[0].fd >= 0);
	fd = na_objset_take(&os, os.obj[0].name);
	assert_true(fd >= 0);
	assert_int_equal(os.obj[0].fd, -1);
	assert_int_equal(na_objset_take(&os, os.obj[0].name), -ENOENT);
	assert_int_equal(na_objset_take(&os, "no_such_map"), -ENOENT);
	close(fd);
	na_objset_close(&os);
}

/*
 * bpf_obj_get is wrapped at link time (meson: --wrap=bpf_obj_get): a pin
 * whose name is in missing[] is not there, deny makes every lookup fail
 * with it, and any other pin opens /dev/null in its place.
 */
static const char *missing[4];
static int deny;

int __wrap_bpf_obj_get(const char *path);
int __wrap_bpf_obj_get(const char *path)
{
	const char *name = strrchr(path, '/') + 1;
	size_t i;

	if (deny) {
		errno = deny;
		return -1;
	}
	for (i = 0; i < sizeof(missing) / sizeof(missing[0]) && missing[i]; i++) {
		if (!strcmp(name, missing[i])) {
			errno = ENOENT;
			return -1;
		}
	}
	return open("/dev/null", O_RDONLY | O_CLOEXEC);
}

static void describe_bypass(struct na_objset *os)
{
	struct na_bypass *skel = na_bypass__open();

	assert_non_null(skel);
	assert_int_equal(na_objset_init(os, "/sys/fs/bpf/netaccel", skel->obj), 0);
	na_bypass__destroy(skel);
}

/* Opening a state's pins: what is required, what may be missing. */
static void open_needs_every_required_pin(void **state)
{
	struct na_objset os;
	int fd;

	(void)state;
	memset(missing, 0, sizeof(missing));
	deny = 0;
	describe_bypass(&os);
	assert_int_equal(na_objset_open(&os), 0);
	fd = na_objset_take(&os, "na_sockhash");
	assert_true(fd >= 0);
	close(fd);
	na_objset_close(&os);

	/* A protection the kernel did not get is no gap in the state. */
	missing[0] = "prog_fionread";
	missing[1] = "prog_rxwatch";
	describe_bypass(&os);
	assert_int_equal(na_objset_open(&os), 0);
	assert_int_equal(na_objset_take(&os, "na_fionread"), -ENOENT);
	na_objset_close(&os);

	/* A map or program the datapath needs is: -ENOENT, the rest open. */
	missing[0] = "na_stats";
	missing[1] = NULL;
	describe_bypass(&os);
	assert_int_equal(na_objset_open(&os), -ENOENT);
	assert_int_equal(na_objset_take(&os, "na_stats"), -ENOENT);
	fd = na_objset_take(&os, "na_msg");
	assert_true(fd >= 0);
	close(fd);
	na_objset_close(&os);

	/* Any other failure is said as it is. */
	missing[0] = NULL;
	deny = EPERM;
	describe_bypass(&os);
	assert_int_equal(na_objset_open(&os), -EPERM);
	na_objset_close(&os);
	deny = 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(pin_names_take_the_last_word),
		cmocka_unit_test(bypass_layout_is_unchanged),
		cmocka_unit_test(take_hands_over_the_fd),
		cmocka_unit_test(open_needs_every_required_pin),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
