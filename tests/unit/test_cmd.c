// SPDX-License-Identifier: GPL-2.0-only
/* The dispatcher of netaccel-ctl (ctl/cmd.c): commands from a table,
 * subcommands of a family, help, and the usage errors of each level. */
#include <getopt.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "capture.h"
#include "ctl.h"

void na_log_init(int verbosity)
{
}

/* What the last handler was given: its argv joined with spaces. */
static char seen[256];
static int seen_optind;

static int record(struct na_ctl *ctl, int argc, char **argv)
{
	int i;

	seen[0] = '\0';
	for (i = 0; i < argc; i++)
		snprintf(seen + strlen(seen), sizeof(seen) - strlen(seen), "%s%s",
			 i ? " " : "", argv[i]);
	seen_optind = optind;
	return 42;
}

const struct na_cmd na_commands[] = {
	{ "enroll", record, "<cgroup>", "enroll a cgroup", "More.\n" },
	{ "fam", record, "add|list|del", "a family", "Subcommands.\n" },
	{ 0 }
};

static const struct na_cmd subs[] = {
	{ "add", record, "<x> <y>", "add one", NULL },
	{ "list", record, "[--json]", "list them", NULL },
	{ "del", record, "<x>", "delete one", NULL },
	{ 0 }
};

/* Like portmap: nothing before the subcommand; an unknown one is told
 * which there are. */
static const struct na_family strict = { subs, NULL, NA_FAMILY_NAME_SUBS };

/* Like veth: options may come before the subcommand. */
static const struct na_opt lead[] = {
	{ "netns", 'n', NA_OPT_VALUE },
	{ "hook", 'H', NA_OPT_VALUE | NA_OPT_LONG },
	{ "json", 'j' },
	{ 0 }
};
static const struct na_family loose = { subs, lead, 0 };

struct result {
	int rc;
	struct capture cap;
};

/* Run na_dispatch (fam NULL) or na_dispatch_sub of "fam" on a copy of
 * the words given. */
static void dispatch(struct result *r, const struct na_family *fam, int argc,
		     const char *const *words)
{
	struct na_ctl ctl = { 0 };
	char *argv[16] = { 0 };
	int i;

	for (i = 0; i < argc; i++)
		argv[i] = (char *)words[i];
	seen[0] = '\0';
	seen_optind = -1;
	optind = 7;
	capture_start(&r->cap);
	if (fam)
		r->rc = na_dispatch_sub(&ctl, &na_commands[1], fam, argc, argv);
	else
		r->rc = na_dispatch(&ctl, na_commands, argc, argv);
	capture_stop(&r->cap);
}

#define WORDS(...) ((const char *const[]){ __VA_ARGS__ })
#define NWORDS(...) ((int)(sizeof(WORDS(__VA_ARGS__)) / sizeof(char *)))
#define DISPATCH(r, fam, ...) dispatch(r, fam, NWORDS(__VA_ARGS__), WORDS(__VA_ARGS__))

/* A usage error: exit code 2, one line on stderr, nothing on stdout. */
static void assert_usage_error(struct result *r, const char *line)
{
	assert_int_equal(r->rc, NA_EXIT_USAGE);
	assert_string_equal(r->cap.err_text, line);
	assert_string_equal(r->cap.out_text, "");
	assert_string_equal(seen, "");
	capture_free(&r->cap);
}

/* Help: exit code 0, cmd's help on stdout, nothing on stderr. */
static void assert_help(struct result *r, const char *start)
{
	assert_int_equal(r->rc, NA_EXIT_OK);
	assert_string_equal(r->cap.err_text, "");
	assert_memory_equal(r->cap.out_text, start, strlen(start));
	assert_string_equal(seen, "");
	capture_free(&r->cap);
}

/* The handler ran (exit code 42) with these words, getopt started over. */
static void assert_ran(struct result *r, const char *words)
{
	assert_int_equal(r->rc, 42);
	assert_string_equal(seen, words);
	assert_int_equal(seen_optind, 0);
	capture_free(&r->cap);
}

static void runs_the_command(void **state)
{
	struct result r;

	(void)state;
	DISPATCH(&r, NULL, "enroll", "--mode", "all", "x");
	assert_ran(&r, "enroll --mode all x");
}

static void top_level_mistakes(void **state)
{
	struct result r;

	(void)state;
	dispatch(&r, NULL, 0, NULL);
	assert_usage_error(&r, "netaccel-ctl: missing command (see netaccel-ctl --help)\n");
	DISPATCH(&r, NULL, "frobnicate");
	assert_usage_error(&r, "netaccel-ctl: unknown command 'frobnicate' (see netaccel-ctl --help)\n");
	DISPATCH(&r, NULL, "help", "frobnicate");
	assert_usage_error(&r, "netaccel-ctl: unknown command 'frobnicate' (see netaccel-ctl --help)\n");
}

static void help_command(void **state)
{
	struct result r;

	(void)state;
	DISPATCH(&r, NULL, "help");
	assert_non_null(strstr(r.cap.out_text, "Commands:\n  enroll     enroll a cgroup\n"
						"  fam        a family\n\nOptions:\n"));
	assert_help(&r, "Usage: netaccel-ctl [-v|-vv] [--state-dir DIR] <command> [options]\n");

	DISPATCH(&r, NULL, "help", "enroll");
	assert_non_null(strstr(r.cap.out_text, "pid:<PID>"));	/* <cgroup> is explained */
	assert_help(&r, "Usage: netaccel-ctl enroll <cgroup>\n\nenroll a cgroup.\n\nMore.\n\n");

	DISPATCH(&r, NULL, "help", "fam");
	assert_string_equal(r.cap.out_text,
			    "Usage: netaccel-ctl fam add|list|del\n\na family.\n\nSubcommands.\n");
	assert_help(&r, "Usage: netaccel-ctl fam");
}

static void runs_the_subcommand(void **state)
{
	struct result r;

	(void)state;
	DISPATCH(&r, &strict, "fam", "add", "x", "--udp", "y");
	assert_ran(&r, "add x --udp y");

	DISPATCH(&r, &loose, "fam", "del", "x");
	assert_ran(&r, "del x");
}

#define MISSING "netaccel-ctl fam: missing subcommand (add, list or del) (see netaccel-ctl fam --help)\n"
#define HELP "Usage: netaccel-ctl fam add|list|del\n"

/* What "fam" says to a command line that reaches no subcommand: a usage
 * error, or (err NULL) its help. */
static const struct {
	const struct na_family *fam;
	const char *words[6];
	const char *err;
} not_run[] = {
	{ &strict, { "fam" }, MISSING },
	{ &strict, { "fam", "frob" },
	  "netaccel-ctl fam: unknown subcommand 'frob' (use add, list or del) (see netaccel-ctl fam --help)\n" },
	{ &strict, { "fam", "--udp", "add" },
	  "netaccel-ctl fam: expected a subcommand (add, list or del) before '--udp' (see netaccel-ctl fam --help)\n" },
	{ &strict, { "fam", "--", "add" },
	  "netaccel-ctl fam: expected a subcommand (add, list or del) before '--' (see netaccel-ctl fam --help)\n" },
	{ &strict, { "fam", "--help" } },
	{ &strict, { "fam", "-x", "-h", "add" } },
	{ &loose, { "fam" }, MISSING },
	{ &loose, { "fam", "frob" },
	  "netaccel-ctl fam: unknown subcommand 'frob' (see netaccel-ctl fam --help)\n" },
	/* An option whose value is missing is no subcommand. */
	{ &loose, { "fam", "-n" }, MISSING },
	{ &loose, { "fam", "--json", "--" }, MISSING },
	{ &loose, { "fam", "--netns", "ns", "-h", "list" } },
};

static void no_subcommand_run(void **state)
{
	struct result r;
	size_t i;
	int n;

	(void)state;
	for (i = 0; i < sizeof(not_run) / sizeof(not_run[0]); i++) {
		for (n = 0; not_run[i].words[n]; n++)
			;
		dispatch(&r, not_run[i].fam, n, not_run[i].words);
		if (not_run[i].err)
			assert_usage_error(&r, not_run[i].err);
		else
			assert_help(&r, HELP);
	}
}

static void options_before_the_subcommand_move_after_it(void **state)
{
	struct result r;

	(void)state;
	DISPATCH(&r, &loose, "fam", "--netns", "ns", "-j", "list", "--hook", "tc");
	assert_ran(&r, "list --netns ns -j --hook tc");

	/* A value that looks like an option is still a value. */
	DISPATCH(&r, &loose, "fam", "-n", "--help", "--state-dir", "/x", "list");
	assert_ran(&r, "list -n --help --state-dir /x");

	/* "--" ends what comes before; it stays for the subcommand's getopt. */
	DISPATCH(&r, &loose, "fam", "-j", "--", "del", "x");
	assert_ran(&r, "del -j -- x");
}

static void usage_errors_name_the_command(void **state)
{
	struct capture cap;

	(void)state;
	capture_start(&cap);
	assert_int_equal(na_usage_error(NULL, "bad %d", 1), NA_EXIT_USAGE);
	assert_int_equal(na_usage_error(&na_commands[1], "add: missing <%s>", "x"), NA_EXIT_USAGE);
	capture_stop(&cap);
	assert_string_equal(cap.err_text,
			    "netaccel-ctl: bad 1 (see netaccel-ctl --help)\n"
			    "netaccel-ctl fam: add: missing <x> (see netaccel-ctl fam --help)\n");
	capture_free(&cap);
	assert_ptr_equal(na_find_cmd("fam"), &na_commands[1]);
	assert_ptr_equal(na_cmd_find(subs, "del"), &subs[2]);
	assert_null(na_cmd_find(subs, "fam"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(runs_the_command),
		cmocka_unit_test(top_level_mistakes),
		cmocka_unit_test(help_command),
		cmocka_unit_test(runs_the_subcommand),
		cmocka_unit_test(no_subcommand_run),
		cmocka_unit_test(options_before_the_subcommand_move_after_it),
		cmocka_unit_test(usage_errors_name_the_command),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
