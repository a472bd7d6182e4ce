/* SPDX-License-Identifier: GPL-2.0-only */
/* What the command handlers of netaccel-ctl share. */
#ifndef NA_CTL_H
#define NA_CTL_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "na_cgroup.h"
#include "output.h"

/* Exit codes: 0 done, 1 failed, 2 the command line is wrong. */
#define NA_EXIT_OK 0
#define NA_EXIT_FAIL 1
#define NA_EXIT_USAGE 2

struct na_ctl {
	const char *state_dir;	/* --state-dir, or NULL */
	int verbosity;
};

/*
 * A command, or a subcommand of a command family: the same shape for both,
 * in tables that end with a { 0 } row. run gets argv[0] = its name and
 * optind reset, so that its options parse from argv[1].
 */
struct na_cmd {
	const char *name;
	int (*run)(struct na_ctl *ctl, int argc, char **argv);
	const char *args;	/* synopsis after the name */
	const char *summary;	/* one line for the command list */
	const char *help;	/* the rest of `<command> --help` */
};

extern const struct na_cmd na_commands[];

/* ---- dispatch, help and usage errors (cmd.c) ---- */

/* The entry of table called name, or NULL; na_find_cmd looks in
 * na_commands. */
const struct na_cmd *na_cmd_find(const struct na_cmd *table, const char *name);
const struct na_cmd *na_find_cmd(const char *name);

/* Run the command argv[0] names from table (argv: what follows the global
 * options). "help [<command>]" prints the usage or a command's help. No
 * command or an unknown one is a usage error. Returns the exit code. */
int na_dispatch(struct na_ctl *ctl, const struct na_cmd *table, int argc, char **argv);

/* A command family: its subcommands, and what may come before one. */
struct na_opt;
struct na_family {
	const struct na_cmd *subs;	/* in the order messages name them */
	const struct na_opt *lead;	/* options allowed before the subcommand
					 * (they move after it), or NULL: none */
	unsigned int flags;		/* NA_FAMILY_* */
};
/* An unknown subcommand's message names those there are. */
#define NA_FAMILY_NAME_SUBS 1u

/* Run the subcommand of family cmd (argv[0] is the family's name) from
 * fam->subs, with argv[0] the subcommand's name. -h/--help before the
 * subcommand prints cmd's help; no subcommand, an unknown one, or (without
 * fam->lead) an option before it are usage errors of cmd. */
int na_dispatch_sub(struct na_ctl *ctl, const struct na_cmd *cmd,
		    const struct na_family *fam, int argc, char **argv);

/* netaccel-ctl --help: the program's usage with table's commands. */
void na_usage(FILE *f, const struct na_cmd *table);
/* <command> --help. */
void na_cmd_help(const struct na_cmd *cmd);
/* One-line usage error of cmd (NULL: of the program itself), on stderr;
 * returns NA_EXIT_USAGE. */
__attribute__((format(printf, 2, 3)))
int na_usage_error(const struct na_cmd *cmd, const char *fmt, ...);

/* ---- options (opt.c) ---- */

/*
 * A command's options, one row each, ending with a row whose name is NULL.
 * key is what na_opt_next returns for the option, and also its short form
 * when it is a letter or digit, unless NA_OPT_LONG. The end row's flags
 * may say NA_OPT_IN_ORDER: options end at the first other argument (run
 * needs it for its command's own options).
 *
 *	static const struct na_opt opts[] = {
 *		{ "mode", 'm', NA_OPT_VALUE },
 *		{ "allow-unprivileged", 'U', NA_OPT_LONG },
 *		{ 0 }
 *	};
 */
struct na_opt {
	const char *name;	/* the long form, without "--" */
	int key;
	unsigned int flags;
};
#define NA_OPT_VALUE 1u		/* takes a value, in optarg */
#define NA_OPT_LONG 2u		/* no short form */
#define NA_OPT_IN_ORDER 4u	/* (end row) stop at the first argument */

/* The next option of cmd (NULL: of the program itself) from opts, plus
 * -h/--help, -v/--verbose and -S/--state-dir, which every command takes
 * and which are handled here. Returns an option's key, -1 at the end of
 * options (the arguments start at argv[optind]), '?' after printing a
 * usage error, or 'h' after printing the help. Keys 'h', 'v', 'S' and '?'
 * are taken. */
int na_opt_next(struct na_ctl *ctl, const struct na_cmd *cmd, int argc,
		char **argv, const struct na_opt *opts);

/* The positional arguments after the options (argv[optind] on): missing
 * lists, for each required one, the usage error when it is absent
 * ("missing <cgroup>"; NULL-terminated, or NULL); more than max
 * (-1: any number) is "unexpected argument '<the first extra>'". Returns 0,
 * or NA_EXIT_USAGE after printing the usage error. */
int na_opt_args(const struct na_cmd *cmd, int argc, char **argv,
		const char *const missing[], int max);

/* Whether arg is an option of opts (or a shared one) that takes the next
 * argument as its value ("--netns", "-n"). */
bool na_opt_takes_value(const struct na_opt *opts, const char *arg);

/* The options of a command whose only own option is --json: sets *json.
 * Returns -1 to go on, or the exit code when help was shown or a usage
 * error printed. */
int na_getopt_json(struct na_ctl *ctl, const struct na_cmd *cmd, int argc,
		   char **argv, bool *json);


/* The exit code for a failure: a malformed argument is a usage error. */
static inline int na_exit_code(int err)
{
	return err == -EINVAL ? NA_EXIT_USAGE : NA_EXIT_FAIL;
}

/* Resolve what the user typed to a cgroup; prints the error. */
int na_resolve_cgroup(const char *spec, struct na_cgroup *cg);
/* The cgroup v2 root (found in /proc/self/mountinfo); prints the error. */
int na_cgroup_root(char *out, size_t outlen);

/* Check the effective capabilities for what: "bpf" (read state) or
 * "attach" (change it). Prints what is missing. */
int na_caps_require(const char *command, bool attach);

int cmd_enroll(struct na_ctl *ctl, int argc, char **argv);
int cmd_unenroll(struct na_ctl *ctl, int argc, char **argv);
int cmd_cleanup(struct na_ctl *ctl, int argc, char **argv);
int cmd_status(struct na_ctl *ctl, int argc, char **argv);
int cmd_stats(struct na_ctl *ctl, int argc, char **argv);
int cmd_run(struct na_ctl *ctl, int argc, char **argv);
int cmd_portmap(struct na_ctl *ctl, int argc, char **argv);

/* Port remap (portmap.c) as cleanup, status and stats see it. cleanup:
 * remove rules, programs and links; 1 when there were some, 0 when none,
 * negative errno (printed). status and stats print text, or add a
 * "portmap" member to jo; stats shows one cgroup (id only) or all (0) and
 * returns how many it showed. */
struct json_object;
int na_portmap_cleanup(struct na_ctl *ctl);
int na_portmap_status(struct na_ctl *ctl, struct json_object *jo);
int na_portmap_stats(struct na_ctl *ctl, uint64_t only, struct json_object *jo);
int cmd_veth(struct na_ctl *ctl, int argc, char **argv);
int cmd_networks(struct na_ctl *ctl, int argc, char **argv);
int cmd_splice(struct na_ctl *ctl, int argc, char **argv);
/* The proxy splice's part of status (counters false) and stats (true),
 * as text or a "splice" member of jo (splice.c); text says "not enabled"
 * only when always. */
void na_splice_show(struct na_ctl *ctl, struct json_object *jo, bool counters, bool always);

const char *na_mode_name(uint32_t mode);
const char *na_slot_state_name(uint32_t state);

#endif /* NA_CTL_H */
