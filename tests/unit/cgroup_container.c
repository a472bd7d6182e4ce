/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Unit tests of na_cgroup_resolve() for container:<ID>: each runtime's
 * naming, prefixes, ambiguous and nested ids, and what the search ignores
 * or cannot reach.
 */
#include <errno.h>

#include "test_cgroup.h"

/* ---- na_cgroup_resolve: container:<ID> ---- */

void test_container_runtimes(void **state)
{
	expect_cgroup(*state, "container:" ID_DOCKER,
		      "system.slice/docker-" ID_DOCKER ".scope");
	expect_cgroup(*state, "container:" ID_CRI,
		      "kubepods.slice/kubepods-burstable.slice/"
		      "kubepods-burstable-pod1234.slice/"
		      "cri-containerd-" ID_CRI ".scope");
	expect_cgroup(*state, "container:" ID_CRIO,
		      "kubepods.slice/crio-" ID_CRIO ".scope");
	expect_cgroup(*state, "container:" ID_LIBPOD,
		      "machine.slice/libpod-" ID_LIBPOD ".scope");
	expect_cgroup(*state, "container:" ID_BARE, "docker/" ID_BARE);
	expect_cgroup(*state, "container:" ID_PODMANFS, "libpod_parent/libpod-" ID_PODMANFS);
}

void test_container_prefix(void **state)
{
	expect_cgroup(*state, "container:d0c4",
		      "system.slice/docker-" ID_DOCKER ".scope");
	expect_cgroup(*state, "container:c0ffee",
		      "kubepods.slice/kubepods-burstable.slice/"
		      "kubepods-burstable-pod1234.slice/"
		      "cri-containerd-" ID_CRI ".scope");
	expect_cgroup(*state, "container:ba5e", "docker/" ID_BARE);
	expect_cgroup(*state, "container:abcd1",
		      "system.slice/docker-" ID_AMBIG1 ".scope");
	/* libpod-conmon-<id> is the same id, not a second match */
	expect_cgroup(*state, "container:b0d0",
		      "machine.slice/libpod-" ID_LIBPOD ".scope");
}

void test_container_ambiguous(void **state)
{
	char err[ERRLEN];

	expect_error(*state, "container:abcd", -ENOTUNIQ, err);
	check_err(err, "container:abcd", "ambiguous", ID_AMBIG1 ", " ID_AMBIG2,
		  "give more characters", NULL);
}

/* Many matches: a few are listed, then "and more". */
void test_container_many(void **state)
{
	char err[ERRLEN];

	expect_error(*state, "container:f", -ENOTUNIQ, err);
	check_err(err, "container:f", "ambiguous", ID_MANY(1) ", " ID_MANY(2)
		  ", " ID_MANY(3) ", ", " and more (give more characters)",
		  NULL);
	expect_error(*state, "container:a", -ENOTUNIQ, err);
	check_err(err, "container:a", ID_AMBIG1, ID_AMBIG2, ID_NESTED, NULL);
	expect_error(*state, "container:d", -ENOTUNIQ, err);
	check_err(err, "container:d", ID_DOCKER, ID_DEPTH12, NULL);
}

/* One id in several directories: the shallowest, a scope on a tie. */
void test_container_nested(void **state)
{
	expect_cgroup(*state, "container:" ID_NESTED,
		      "system.slice/docker-" ID_NESTED ".scope");
	expect_cgroup(*state, "container:aee5",
		      "system.slice/docker-" ID_NESTED ".scope");
}

void test_container_not_found(void **state)
{
	struct fixture *fx = *state;
	char err[ERRLEN];

	expect_error(fx, "container:0123", -ENOENT, err);
	check_err(err, "container:0123", "no such container", fx->root,
		  "docker-<id>.scope", "cri-containerd-<id>.scope",
		  "crio-<id>.scope", "libpod-<id>.scope", "full id", NULL);
}

/* Names that look like containers but are not to be matched. */
void test_container_ignored(void **state)
{
	char err[ERRLEN];

	/* only a conmon scope */
	expect_error(*state, "container:e0e0", -ENOENT, err);
	/* no cgroup.procs */
	expect_error(*state, "container:" ID_NOPROCS, -ENOENT, err);
	/* behind a symlink out of the root */
	expect_error(*state, "container:" ID_LINKED, -ENOENT, err);
}

void test_container_depth(void **state)
{
	char err[ERRLEN];

	expect_cgroup(*state, "container:" ID_DEPTH12,
		      "d/2/3/4/5/6/7/8/9/10/11/docker-" ID_DEPTH12 ".scope");
	expect_error(*state, "container:" ID_DEPTH13, -ENOENT, err);
	check_err(err, "container:" ID_DEPTH13, "12 levels", NULL);
}

void test_container_invalid(void **state)
{
	static const char *const specs[] = {
		"container:", "container:ABCD", "container:D0C4", "container:xyz",
		"container:d0c4 ", "container:docker-d0c4",
		"container:" ID_DOCKER "0",
	};
	char err[ERRLEN];
	size_t i;

	for (i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
		expect_error(*state, specs[i], -EINVAL, err);
		check_err(err, specs[i], "invalid container id", "lowercase hex",
			  NULL);
	}
}
