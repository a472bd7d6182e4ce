// SPDX-License-Identifier: GPL-2.0-only
/*
 * splice: set up the proxy splice for proxies without privilege
 * (lib/splice_state.c), take it down, and show what it does; status,
 * stats and cleanup show and remove it too.
 */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include <netaccel/splice.h>
#include <netaccel/state.h>

#include "ctl.h"
#include "log.h"
#include "output.h"

static const char *const counter_names[] = { NA_SPLICE_COUNTER_NAMES };

static const struct na_cmd *splice_cmd(void)
{
	return na_find_cmd("splice");
}

static const struct na_opt splice_opts[] = {
	{ "group", 'g', NA_OPT_VALUE },
	{ "json", 'j' },
	{ 0 }
};

/* The options of a subcommand (allowed: the keys it takes); -1 to go on,
 * else the exit code. */
static int parse_opts(struct na_ctl *ctl, const char *allowed, int argc, char **argv,
		      const char **group, bool *json)
{
	const struct na_cmd *cmd = splice_cmd();
	int c;

	while ((c = na_opt_next(ctl, cmd, argc, argv, splice_opts)) != -1) {
		if (c == 'h')
			return NA_EXIT_OK;
		if (c == '?')
			return NA_EXIT_USAGE;
		if (!strchr(allowed, c))
			return na_usage_error(cmd, "%s does not take %s", argv[0], argv[optind - 1]);
		if (c == 'g')
			*group = optarg;
		else if (c == 'j')
			*json = true;
	}
	if (na_opt_args(cmd, argc, argv, NULL, 0))
		return NA_EXIT_USAGE;
	return -1;
}

/* A group by name or number. */
static int group_id(const char *s, gid_t *gid)
{
	struct group *g = getgrnam(s);
	char *end;
	unsigned long v;

	if (g) {
		*gid = g->gr_gid;
		return 0;
	}
	errno = 0;
	v = strtoul(s, &end, 10);
	if (!*s || *end || errno || v >= (gid_t)-1)
		return -ENOENT;
	*gid = (gid_t)v;
	return 0;
}

static int sub_enable(struct na_ctl *ctl, int argc, char **argv)
{
	const char *group = NULL, *dir;
	struct na_reason why = { 0 };
	char opened[512];
	bool json = false;
	gid_t gid = (gid_t)-1;
	int rc, err;

	rc = parse_opts(ctl, "g", argc, argv, &group, &json);
	if (rc >= 0)
		return rc;
	if (group && group_id(group, &gid))
		return na_usage_error(splice_cmd(), "no such group '%s'", group);
	if (na_caps_require("splice enable", true))
		return NA_EXIT_FAIL;
	dir = na_state_dir(ctl->state_dir);
	err = na_splice_enable(dir, gid, opened, sizeof(opened), &why);
	if (err) {
		na_err_why(&why, err);
		return NA_EXIT_FAIL;
	}
	printf("splice enabled in %s/" NA_SPLICE_SUBDIR "; usable by %s%s%s\n", dir,
	       group ? "group " : "root only", group ? group : "",
	       group ? " and root" : "");
	if (opened[0])
		printf("made searchable by all (o+x) so that the group reaches it: %s\n", opened);
	return NA_EXIT_OK;
}

static int sub_disable(struct na_ctl *ctl, int argc, char **argv)
{
	struct na_reason why = { 0 };
	const char *group = NULL;
	bool json = false;
	int rc, err;

	rc = parse_opts(ctl, "", argc, argv, &group, &json);
	if (rc >= 0)
		return rc;
	if (na_caps_require("splice disable", true))
		return NA_EXIT_FAIL;
	err = na_splice_disable(na_state_dir(ctl->state_dir), &why);
	if (err < 0) {
		na_err_why(&why, err);
		return NA_EXIT_FAIL;
	}
	printf(err ? "splice disabled: new pairs take splice(2); live ones run on\n"
		   : "splice was not enabled\n");
	return NA_EXIT_OK;
}

static json_object *summary_json(const struct na_splice_summary *s)
{
	json_object *j = json_object_new_object();

	json_object_object_add(j, "enabled", json_object_new_boolean(s->enabled));
	if (!s->enabled)
		return j;
	if (s->group != (gid_t)-1)
		json_object_object_add(j, "group", json_object_new_int64((int64_t)s->group));
	else
		json_object_object_add(j, "group", NULL);
	json_object_object_add(j, "pairs", json_object_new_int64(s->pairs));
	json_object_object_add(j, "paused", json_object_new_int64(s->paused));
	json_object_object_add(j, "stale", json_object_new_int64(s->stale));
	json_object_object_add(j, "counters",
			       na_json_counters(counter_names, (const uint64_t *)&s->stats,
						NA_SPLICE_NUM_COUNTERS));
	return j;
}

static void summary_text(const struct na_splice_summary *s, bool counters)
{
	struct group *g;

	if (!s->enabled) {
		printf("proxy splice: not enabled (netaccel-ctl splice enable)\n");
		return;
	}
	g = s->group != (gid_t)-1 ? getgrgid(s->group) : NULL;
	printf("proxy splice: %ld pair%s spliced now, %ld direction%s paused; usable by ",
	       s->pairs, s->pairs == 1 ? "" : "s", s->paused, s->paused == 1 ? "" : "s");
	if (s->group == (gid_t)-1)
		printf("root only\n");
	else if (g)
		printf("group %s\n", g->gr_name);
	else
		printf("group %u\n", (unsigned)s->group);
	if (s->stale)
		printf("  %ld direction entr%s of pairs that are gone, left by a proxy killed with "
		       "live pairs (splice disable clears them; with %d in use new pairs stay off "
		       "the kernel path)\n",
		       s->stale, s->stale == 1 ? "y" : "ies", NA_SPLICE_MAX);
	if (counters)
		na_text_counters(stdout, counter_names, (const uint64_t *)&s->stats,
				 NA_SPLICE_NUM_COUNTERS);
}

/* status and stats: the splice's part (jo: JSON, else text). */
void na_splice_show(struct na_ctl *ctl, json_object *jo, bool counters, bool always)
{
	struct na_splice_summary s;
	struct na_reason why = { 0 };
	int err = na_splice_summary(na_state_dir(ctl->state_dir), &s, &why);

	if (err) {
		if (jo)
			json_object_object_add(jo, "splice", NULL);
		na_warn("%s", why.msg);
		return;
	}
	if (jo)
		json_object_object_add(jo, "splice", summary_json(&s));
	else if (s.enabled || always)
		summary_text(&s, counters);
}

static int sub_status(struct na_ctl *ctl, int argc, char **argv)
{
	json_object *jo = NULL;
	const char *group = NULL;
	bool json = false;
	int rc;

	rc = parse_opts(ctl, "j", argc, argv, &group, &json);
	if (rc >= 0)
		return rc;
	if (na_caps_require("splice status", false))
		return NA_EXIT_FAIL;
	if (json)
		jo = json_object_new_object();
	na_splice_show(ctl, jo, true, true);
	if (jo)
		na_print_json(jo);
	return NA_EXIT_OK;
}

int cmd_splice(struct na_ctl *ctl, int argc, char **argv)
{
	static const struct na_cmd subs[] = {
		{ "enable", sub_enable },
		{ "disable", sub_disable },
		{ "status", sub_status },
		{ 0 }
	};
	static const struct na_family fam = { subs, splice_opts, NA_FAMILY_NAME_SUBS };

	return na_dispatch_sub(ctl, splice_cmd(), &fam, argc, argv);
}
