// SPDX-License-Identifier: GPL-2.0-only
/*
 * enroll, unenroll, cleanup: the command lines of the bypass's
 * enrollments (lib/bypass.c does the work).
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <netaccel/bypass.h>
#include <netaccel/owned.h>

#include "ctl.h"
#include "log.h"
#include "veth.h"
#include <netaccel/splice.h>

static int parse_mode(const char *s, uint32_t *mode)
{
	if (!strcmp(s, "all"))
		*mode = NA_MODE_ALL;
	else if (!strcmp(s, "opt-in"))
		*mode = NA_MODE_OPT_IN;
	else
		return -EINVAL;
	return 0;
}

/* What enroll did, as its line says it (NA_ENROLL_UNCHANGED reads
 * "<cgroup> is enrolled"). */
static const char *const done_words[] = {
	[NA_ENROLLED] = "enrolled",
	[NA_ENROLL_REPAIRED] = "repaired enrollment of",
	[NA_ENROLL_MODE_CHANGED] = "changed the mode of",
	[NA_REENROLLED] = "re-enrolled",
};

/* enroll and unenroll take one <cgroup>. */
static const char *const one_cgroup[] = { "missing <cgroup>", NULL };

static const char *display(const struct na_cgroup *cg)
{
	return cg->rel[0] ? cg->rel : "/";
}

int cmd_enroll(struct na_ctl *ctl, int argc, char **argv)
{
	static const struct na_opt opts[] = {
		{ "mode", 'm', NA_OPT_VALUE },
		{ 0 }
	};
	const struct na_cmd *cmd = na_find_cmd("enroll");
	uint32_t mode = 0;	/* not given: all when new, else unchanged */
	struct na_reason why = { 0 };
	enum na_enroll_done done;
	struct na_cgroup cg;
	struct na_state st;
	int c, err;

	while ((c = na_opt_next(ctl, cmd, argc, argv, opts)) != -1) {
		if (c == 'h')
			return NA_EXIT_OK;
		if (c == '?')
			return NA_EXIT_USAGE;
		if (c == 'm' && parse_mode(optarg, &mode))
			return na_usage_error(cmd, "unknown mode '%s' (use all or opt-in)", optarg);
	}
	if (na_opt_args(cmd, argc, argv, one_cgroup, 1))
		return NA_EXIT_USAGE;

	if (na_caps_require("enroll", true))
		return NA_EXIT_FAIL;
	err = na_resolve_cgroup(argv[optind], &cg);
	if (err)
		return na_exit_code(err);
	err = na_state_open(&st, na_state_dir(ctl->state_dir), NA_STATE_CREATE, &why);
	if (err) {
		na_err_why(&why, err);
		return NA_EXIT_FAIL;
	}
	na_bypass_reconcile(&st);
	err = na_bypass_enroll(&st, &cg, mode, &done, &mode, &why);
	if (!err) {
		struct na_net_summary sum;
		struct na_reason nwhy = { 0 };

		/* Containers on this host's bridges pair across their
		 * namespaces: learn them now. Without it they stay on TCP. */
		if (na_net_sync(&st, &sum, &nwhy))
			na_warn("containers on bridges stay on TCP: %s",
				nwhy.msg[0] ? nwhy.msg : "cannot read the networks");
	}
	na_state_close(&st);
	if (err) {
		na_err_why(&why, err);
		return NA_EXIT_FAIL;
	}
	if (done == NA_ENROLL_UNCHANGED)
		printf("%s is enrolled (mode %s)\n", display(&cg), na_mode_name(mode));
	else
		printf("%s %s (mode %s)\n", done_words[done], display(&cg), na_mode_name(mode));
	return NA_EXIT_OK;
}

/* A cgroup that is gone can still be unenrolled by the path it had. */
static int find_by_path(const struct na_state *st, const char *spec,
			struct na_cgroup_cfg *cfg)
{
	char root[PATH_MAX];
	const char *rel = spec;
	size_t n;

	if (na_cgroup_root(root, sizeof(root)) == 0) {
		n = strlen(root);
		if (!strncmp(spec, root, n) && (spec[n] == '/' || !spec[n]))
			rel = spec + n;
	}
	return na_bypass_find_by_path(st, rel, cfg);
}

int cmd_unenroll(struct na_ctl *ctl, int argc, char **argv)
{
	const struct na_cmd *cmd = na_find_cmd("unenroll");
	static const struct na_opt opts[] = { { 0 } };
	char why[1024], root[PATH_MAX], name[NA_CGROUP_PATH_MAX + 1];
	struct na_cgroup_cfg cfg;
	struct na_cgroup cg;
	struct na_state st;
	struct na_reason swhy = { 0 };
	int c, slot, err, rerr;
	int64_t live;

	while ((c = na_opt_next(ctl, cmd, argc, argv, opts)) != -1) {
		if (c == 'h')
			return NA_EXIT_OK;
		return NA_EXIT_USAGE;
	}
	if (na_opt_args(cmd, argc, argv, one_cgroup, 1))
		return NA_EXIT_USAGE;
	if (na_caps_require("unenroll", true))
		return NA_EXIT_FAIL;
	if (na_cgroup_root(root, sizeof(root)))
		return NA_EXIT_FAIL;
	rerr = na_cgroup_resolve(root, "/proc", argv[optind], &cg, why, sizeof(why));
	if (rerr == -EINVAL) {
		na_err("%s", why);
		return NA_EXIT_USAGE;
	}

	err = na_state_open(&st, na_state_dir(ctl->state_dir), 0, &swhy);
	if (err == -ENOENT) {
		/* Nothing is enrolled; still tell a typo from a real cgroup. */
		if (rerr) {
			na_err("%s", why);
			return NA_EXIT_FAIL;
		}
		printf("%s is not enrolled\n", display(&cg));
		return NA_EXIT_OK;
	}
	if (err) {
		na_err_why(&swhy, err);
		return NA_EXIT_FAIL;
	}

	slot = rerr ? -ENOENT : na_state_find_slot(&st, cg.id, &cfg);
	if (slot < 0) {
		/* A cgroup that was removed (and perhaps made again under the
		 * same path, as systemd does on a restart) is unenrolled by
		 * the path it had. */
		slot = find_by_path(&st, argv[optind], &cfg);
		if (slot >= 0 && !rerr && cfg.cgid == cg.id)
			slot = -ENOENT;
	}
	if (slot < 0) {
		if (rerr) {
			na_err("%s", why);
			err = rerr;
		} else {
			printf("%s is not enrolled\n", display(&cg));
		}
		goto out;
	}
	snprintf(name, sizeof(name), "%s", cfg.path[0] ? cfg.path : "/");

	live = na_bypass_unenroll(&st, (uint32_t)slot, &cfg, &swhy);
	if (live < 0) {
		err = (int)live;
		na_err_why(&swhy, err);
		goto out;
	}
	if (live == 0)
		printf("unenrolled %s\n", name);
	else
		printf("unenrolled %s: %lld accelerated sockets draining; they keep the fast path until they close (see netaccel-ctl status)\n",
		       name, (long long)live);
	na_bypass_reconcile(&st);
out:
	na_state_close(&st);
	return err ? NA_EXIT_FAIL : NA_EXIT_OK;
}

int cmd_cleanup(struct na_ctl *ctl, int argc, char **argv)
{
	static const struct na_opt opts[] = {
		{ "force", 'f' },
		{ 0 }
	};
	const struct na_cmd *cmd = na_find_cmd("cleanup");
	struct na_state st;
	struct na_reason why = { 0 };
	bool force = false;
	int c, err, pm, veth;
	long fill;

	while ((c = na_opt_next(ctl, cmd, argc, argv, opts)) != -1) {
		if (c == 'h')
			return NA_EXIT_OK;
		if (c == 'f')
			force = true;
		else
			return NA_EXIT_USAGE;
	}
	if (na_opt_args(cmd, argc, argv, NULL, 0))
		return NA_EXIT_USAGE;
	if (na_caps_require("cleanup", true))
		return NA_EXIT_FAIL;
	/* Not behind a running agent's back (it would enroll again); its
	 * record of what it made goes with the rest. */
	err = na_owned_remove(na_state_dir(ctl->state_dir), &why);
	if (err < 0) {
		na_err_why(&why, err);
		return NA_EXIT_FAIL;
	}
	/* The veth redirect first: it has nothing to drain, and its pins sit
	 * in a subdirectory that remove_state would trip over. */
	veth = na_veth_cleanup(na_state_dir(ctl->state_dir));
	if (veth < 0)
		return NA_EXIT_FAIL;
	/* The proxy splice: pairs that live keep running on the maps their
	 * processes hold. */
	err = na_splice_disable(na_state_dir(ctl->state_dir), &why);
	if (err < 0) {
		na_err_why(&why, err);
		return NA_EXIT_FAIL;
	}
	if (err > 0) {
		printf("removed the proxy splice (pairs that live run on)\n");
		veth = veth ? veth : 1;
	}

	/* Port remap too: its portmap/ subdirectory must be gone before
	 * the state directory can be. */
	pm = na_portmap_cleanup(ctl);
	if (pm < 0)
		return NA_EXIT_FAIL;
	if ((pm > 0 || veth > 0) && rmdir(na_state_dir(ctl->state_dir)) == 0)
		return NA_EXIT_OK;	/* there was nothing else */

	err = na_state_open(&st, na_state_dir(ctl->state_dir), 0, &why);
	if (err == -ENOENT) {
		/* A directory with nothing of ours left in it goes too. */
		if (rmdir(na_state_dir(ctl->state_dir)) == 0 && !veth && !pm)
			printf("removed empty netaccel state %s\n", na_state_dir(ctl->state_dir));
		else if (!veth && !pm)
			printf("nothing to clean up in %s\n", na_state_dir(ctl->state_dir));
		return NA_EXIT_OK;
	}
	if (err == -EUCLEAN && !force) {
		na_err_why(&why, err);
		return NA_EXIT_FAIL;
	}
	if (err == -ENODATA || err == -EUCLEAN) {
		/* Half-made, half-removed or mixed state: take it down pin by
		 * pin. */
		struct na_state bare = { .dir_fd = -1, .prog_msg = -1, .map_sockhash = -1 };

		snprintf(bare.dir, sizeof(bare.dir), "%s", na_state_dir(ctl->state_dir));
		err = na_bypass_remove(&bare, &why);
		if (err)
			na_err_why(&why, err);
		else
			printf("removed incomplete netaccel state %s\n", bare.dir);
		return err ? NA_EXIT_FAIL : NA_EXIT_OK;
	}
	if (err) {
		na_err_why(&why, err);
		return NA_EXIT_FAIL;
	}

	err = na_bypass_drain_all(&st, &why);
	if (err) {
		na_err_why(&why, err);
		goto out;
	}
	na_bypass_reconcile(&st);
	fill = na_state_sockhash_fill(&st);
	if (fill > 0 && !force) {
		printf("stopped new connections; %ld accelerated sockets are still draining and keep the fast path until they close.\n"
		       "Run netaccel-ctl cleanup again afterwards, or cleanup --force to cut them.\n",
		       fill);
		goto out;
	}
	err = na_bypass_remove(&st, &why);
	if (err) {
		na_err_why(&why, err);
		goto out;
	}
	if (fill > 0)
		printf("removed netaccel from the kernel; cut %ld accelerated sockets (bytes queued on them were dropped)\n",
		       fill);
	else
		printf("removed netaccel from the kernel (%s)\n", st.dir);
out:
	na_state_close(&st);
	return err ? NA_EXIT_FAIL : NA_EXIT_OK;
}
