// SPDX-License-Identifier: GPL-2.0-only
/*
 * Dispatch for netaccel-ctl: the command a table names (na_commands, in
 * main.c), help texts and usage errors: help on stdout with exit code 0,
 * a mistake as one line on stderr with exit code 2.
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
