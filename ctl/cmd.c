// SPDX-License-Identifier: GPL-2.0-only
/*
 * Dispatch for netaccel-ctl: the command a table names (na_commands, in
 * main.c), the subcommand of a command family (portmap add, veth list),
 * help texts and usage errors. Every level says the same things the same
 * way: help on stdout with exit code 0, a mistake as one line on stderr
 * with exit code 2.
 */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "ctl.h"
#include "output.h"

#define PROG "netaccel-ctl"

static const char cgroup_forms[] =
	"<cgroup> is a cgroup v2 directory: an absolute path (/sys/fs/cgroup/app.slice),\n"
	"a path relative to the cgroup v2 root (app.slice/api.service), pid:<PID>,\n"
	"or container:<ID or unique prefix>.\n";

const struct na_cmd *na_cmd_find(const struct na_cmd *table, const char *name)
{
	const struct na_cmd *c;

	for (c = table; c->name; c++)
		if (!strcmp(c->name, name))
			return c;
	return NULL;
}

const struct na_cmd *na_find_cmd(const char *name)
{
	return na_cmd_find(na_commands, name);
}

void na_usage(FILE *f, const struct na_cmd *table)
{
	static const struct na_col cols[] = {
		{ "", 10, NA_LEFT, "  " }, { "", 0 }, { NULL }
	};
	const struct na_cmd *c;
	struct na_table t;

	fprintf(f, "Usage: " PROG " [-v|-vv] [--state-dir DIR] <command> [options]\n\n"
		   "Accelerates local TCP between enrolled cgroups with eBPF.\n\nCommands:\n");
	na_table_start(&t, f, cols);
	for (c = table; c->name; c++) {
		na_table_cell(&t, "%s", c->name);
		na_table_cell(&t, "%s", c->summary);
	}
	fprintf(f, "\nOptions:\n"
		   "  -v, --verbose        say what is done; -vv adds libbpf and verifier output\n"
		   "  -S, --state-dir DIR  bpffs directory for netaccel's pins (default %s,\n"
		   "                       or $" "NETACCEL_STATE_DIR" ")\n"
		   "  -h, --help           this help; " PROG " <command> --help for a command\n"
		   "  -V, --version        print the version\n\n%s",
		NA_DEFAULT_STATE_DIR, cgroup_forms);
}

void na_cmd_help(const struct na_cmd *cmd)
{
	printf("Usage: " PROG " %s %s\n\n%s.\n\n%s", cmd->name, cmd->args,
	       cmd->summary, cmd->help);
	if (strstr(cmd->args, "<cgroup>"))
		printf("\n%s", cgroup_forms);
}

int na_usage_error(const struct na_cmd *cmd, const char *fmt, ...)
{
	const char *name = cmd ? cmd->name : "";
	const char *space = cmd ? " " : "";
	va_list ap;

	fprintf(stderr, PROG "%s%s: ", space, name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (see " PROG "%s%s --help)\n", space, name);
	return NA_EXIT_USAGE;
}

/* Run an entry of a table; argv[0] is its name. */
static int run(struct na_ctl *ctl, const struct na_cmd *c, int argc, char **argv)
{
	optind = 0;	/* restart getopt for the entry's own options */
	return c->run(ctl, argc, argv);
}

int na_dispatch(struct na_ctl *ctl, const struct na_cmd *table, int argc, char **argv)
{
	const struct na_cmd *c;

	if (argc < 1)
		return na_usage_error(NULL, "missing command");
	if (!strcmp(argv[0], "help")) {
		if (argc < 2) {
			na_usage(stdout, table);
			return NA_EXIT_OK;
		}
		c = na_cmd_find(table, argv[1]);
		if (!c)
			return na_usage_error(NULL, "unknown command '%s'", argv[1]);
		na_cmd_help(c);
		return NA_EXIT_OK;
	}
	c = na_cmd_find(table, argv[0]);
	if (!c)
		return na_usage_error(NULL, "unknown command '%s'", argv[0]);
	return run(ctl, c, argc, argv);
}

/* "attach, add or del": the names of a table, as a message lists them. */
static void list_names(const struct na_cmd *table, char *out, size_t outlen)
{
	const struct na_cmd *c;
	size_t len = 0;

	out[0] = '\0';
	for (c = table; c->name && len < outlen; c++) {
		const char *sep = c == table ? "" : c[1].name ? ", " : " or ";

		len += (size_t)snprintf(out + len, outlen - len, "%s%s", sep, c->name);
	}
}

static bool is_help(const char *arg)
{
	return !strcmp(arg, "-h") || !strcmp(arg, "--help");
}

/* Where the subcommand is, for a family whose options may come before it:
 * the first word that is neither an option nor the value of one (or the
 * word after "--"). -1 when help was asked for first. */
static int find_sub(const struct na_family *fam, int argc, char **argv)
{
	int at;

	for (at = 1; at < argc; at++) {
		if (!strcmp(argv[at], "--") || argv[at][0] != '-')
			break;
		if (is_help(argv[at]))
			return -1;
		if (na_opt_takes_value(fam->lead, argv[at]))
			at++;
	}
	if (at < argc && !strcmp(argv[at], "--"))
		at++;
	return at;
}

int na_dispatch_sub(struct na_ctl *ctl, const struct na_cmd *cmd,
		    const struct na_family *fam, int argc, char **argv)
{
	const struct na_cmd *c;
	char names[256];
	char *sub;
	int at = 1, i;

	list_names(fam->subs, names, sizeof(names));
	if (fam->lead) {
		at = find_sub(fam, argc, argv);
		if (at < 0) {
			na_cmd_help(cmd);
			return NA_EXIT_OK;
		}
	} else if (argc > 1 && argv[1][0] == '-') {
		/* Nothing comes before the subcommand but a request for help. */
		for (i = 1; i < argc; i++) {
			if (is_help(argv[i])) {
				na_cmd_help(cmd);
				return NA_EXIT_OK;
			}
		}
		return na_usage_error(cmd, "expected a subcommand (%s) before '%s'", names,
				      argv[1]);
	}
	if (at >= argc)
		return na_usage_error(cmd, "missing subcommand (%s)", names);
	/* The subcommand becomes argv[0] of what follows, the options that
	 * came before it its first options. */
	sub = argv[at];
	memmove(&argv[2], &argv[1], (size_t)(at - 1) * sizeof(*argv));
	argv[1] = sub;
	c = na_cmd_find(fam->subs, sub);
	if (!c && (fam->flags & NA_FAMILY_NAME_SUBS))
		return na_usage_error(cmd, "unknown subcommand '%s' (use %s)", sub, names);
	if (!c)
		return na_usage_error(cmd, "unknown subcommand '%s'", sub);
	return run(ctl, c, argc - 1, argv + 1);
}
