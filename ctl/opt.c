// SPDX-License-Identifier: GPL-2.0-only
/*
 * The options of netaccel-ctl and of each command: a table per command
 * (struct na_opt) on top of getopt_long, plus the options every command
 * takes (-h, -v, --state-dir), and the count of positional arguments.
 * Every mistake on the command line is one usage error line.
 */
#include <ctype.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "ctl.h"
#include "log.h"

#define PROG "netaccel-ctl"

/* Room for a command's own options next to the shared ones. */
#define MAX_OPTS 24

/* getopt leaves optopt set for a long option given a value it does not
 * take ("--force=yes"), so tell the cases apart by what was typed. */
static void bad_option(const char *cmd, const char *arg, int opt)
{
	char where[64];

	snprintf(where, sizeof(where), PROG "%s%s", cmd ? " " : "", cmd ? cmd : "");
	if (!strncmp(arg, "--", 2) && strchr(arg, '='))
		fprintf(stderr, "%s: option '%.*s' takes no value (see %s --help)\n", where,
			(int)(strchr(arg, '=') - arg), arg, where);
	else if (arg[0] == '-' && arg[1] != '-' && opt)
		fprintf(stderr, "%s: unknown option '-%c' (see %s --help)\n", where, opt, where);
	else
		fprintf(stderr, "%s: unknown option '%s' (see %s --help)\n", where, arg, where);
}

/* getopt_long over longopts plus the options every command takes, which
 * are handled here (see na_opt_next). */
static int getopt_all(struct na_ctl *ctl, const struct na_cmd *cmd, int argc,
		      char **argv, const char *shortopts, const struct option *longopts)
{
	struct option all[MAX_OPTS + 4];
	char shorts[2 * MAX_OPTS + 8];
	size_t n = 0;
	int c;

	for (; longopts && longopts[n].name && n < MAX_OPTS; n++)
		all[n] = longopts[n];
	all[n++] = (struct option){ "help", no_argument, NULL, 'h' };
	all[n++] = (struct option){ "verbose", no_argument, NULL, 'v' };
	all[n++] = (struct option){ "state-dir", required_argument, NULL, 'S' };
	all[n] = (struct option){ 0 };
	/* A leading '+' (stop at the first non-option) must stay first. */
	if (shortopts[0] == '+')
		snprintf(shorts, sizeof(shorts), "+:%shvS:", shortopts + 1);
	else
		snprintf(shorts, sizeof(shorts), ":%shvS:", shortopts);

	opterr = 0;	/* every message is ours */
	for (;;) {
		c = getopt_long(argc, argv, shorts, all, NULL);
		switch (c) {
		case 'h':
			if (cmd)
				na_cmd_help(cmd);
			else
				na_usage(stdout, na_commands);
			return 'h';
		case 'v':
			na_log_init(++ctl->verbosity);
			continue;
		case 'S':
			if (!*optarg) {
				na_usage_error(cmd, "--state-dir needs a directory");
				return '?';
			}
			ctl->state_dir = optarg;
			continue;
		case ':':
			na_usage_error(cmd, "option '%s' needs a value", argv[optind - 1]);
			return '?';
		case '?':
			bad_option(cmd ? cmd->name : NULL, argv[optind - 1], optopt);
			return '?';
		default:
			return c;
		}
	}
}

/* A letter key is also the short form, unless the option is long only. */
static bool has_short(const struct na_opt *o)
{
	return !(o->flags & NA_OPT_LONG) && o->key > 0 && o->key < 128 && isalnum(o->key);
}

int na_opt_next(struct na_ctl *ctl, const struct na_cmd *cmd, int argc,
		char **argv, const struct na_opt *opts)
{
	struct option longs[MAX_OPTS + 1];
	char shorts[2 * MAX_OPTS + 2];
	size_t n = 0, s = 0;

	for (; opts[n].name && n < MAX_OPTS; n++) {
		longs[n] = (struct option){
			opts[n].name, opts[n].flags & NA_OPT_VALUE ? required_argument : no_argument,
			NULL, opts[n].key
		};
		if (!has_short(&opts[n]))
			continue;
		shorts[s++] = (char)opts[n].key;
		if (opts[n].flags & NA_OPT_VALUE)
			shorts[s++] = ':';
	}
	longs[n] = (struct option){ 0 };
	shorts[s] = '\0';
	if (opts[n].flags & NA_OPT_IN_ORDER) {
		memmove(shorts + 1, shorts, s + 1);
		shorts[0] = '+';
	}
	return getopt_all(ctl, cmd, argc, argv, shorts, longs);
}

bool na_opt_takes_value(const struct na_opt *opts, const char *arg)
{
	const struct na_opt *o;

	if (!strcmp(arg, "-S") || !strcmp(arg, "--state-dir"))
		return true;
	for (o = opts; o->name; o++) {
		if (!(o->flags & NA_OPT_VALUE))
			continue;
		if (!strncmp(arg, "--", 2) && !strcmp(arg + 2, o->name))
			return true;
		if (has_short(o) && arg[0] == '-' && arg[1] == o->key && !arg[2])
			return true;
	}
	return false;
}

int na_opt_args(const struct na_cmd *cmd, int argc, char **argv,
		const char *const missing[], int max)
{
	int have = argc - optind, i;

	for (i = 0; missing && missing[i]; i++)
		if (have <= i)
			return na_usage_error(cmd, "%s", missing[i]);
	if (max >= 0 && have > max)
		return na_usage_error(cmd, "unexpected argument '%s'", argv[optind + max]);
	return 0;
}

int na_getopt_json(struct na_ctl *ctl, const struct na_cmd *cmd, int argc,
		   char **argv, bool *json)
{
	static const struct na_opt opts[] = {
		{ "json", 'j' },
		{ 0 }
	};
	int c;

	*json = false;
	while ((c = na_opt_next(ctl, cmd, argc, argv, opts)) != -1) {
		if (c == 'h')
			return NA_EXIT_OK;
		if (c != 'j')
			return NA_EXIT_USAGE;
		*json = true;
	}
	return -1;
}
