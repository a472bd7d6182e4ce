// SPDX-License-Identifier: GPL-2.0-only
/* The option parser of netaccel-ctl (ctl/opt.c): a command's own options
 * from its table, the ones every command takes, positional arguments, and
 * one usage error line for each mistake. */
#include <getopt.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "capture.h"
#include "ctl.h"

/* log.c's entry point: the parser raises the verbosity through it. */
static int logged_verbosity = -1;

void na_log_init(int verbosity)
{
	logged_verbosity = verbosity;
}

static int cmd_nop(struct na_ctl *ctl, int argc, char **argv)
{
	return NA_EXIT_OK;
}

const struct na_cmd na_commands[] = {
	{ "t", cmd_nop, "[--mode M] <cgroup>", "a command to test", "  -m, --mode M\n" },
	{ 0 }
};

static const struct na_opt opts[] = {
	{ "mode", 'm', NA_OPT_VALUE },
	{ "force", 'f' },
	{ "udp", 'u', NA_OPT_LONG },
	{ 0 }
};

/* What one na_opt_next loop over argv returned, as a string of keys
 * ("mf-": --mode, -f, end), with the value of the last 'm'. */
struct parsed {
	char keys[16];
	const char *mode;
	struct na_ctl ctl;
	struct capture cap;
};

static void parse(struct parsed *p, const struct na_opt *table, int argc, char **argv)
{
	size_t n = 0;
	int c;

	memset(p, 0, sizeof(*p));
	optind = 0;
	capture_start(&p->cap);
	do {
		c = na_opt_next(&p->ctl, &na_commands[0], argc, argv, table);
		if (c == 'm')
			p->mode = optarg;
		p->keys[n++] = c == -1 ? '-' : (char)c;
	} while (c != -1 && c != '?' && c != 'h' && n < sizeof(p->keys) - 1);
	capture_stop(&p->cap);
}

#define ARGV(...) ((char *[]){ "t", __VA_ARGS__, NULL })
#define ARGC(...) ((int)(sizeof((char *[]){ "t", __VA_ARGS__ }) / sizeof(char *)))
#define PARSE(p, table, ...) parse(p, table, ARGC(__VA_ARGS__), ARGV(__VA_ARGS__))

static void own_options_short_and_long(void **state)
{
	char **argv = ARGV("x", "--mode", "all", "-f", "--udp", "y");
	struct parsed p;

	(void)state;
	parse(&p, opts, 7, argv);
	assert_string_equal(p.keys, "mfu-");
	assert_string_equal(p.mode, "all");
	assert_int_equal(optind, 5);	/* arguments go after the options */
	assert_string_equal(argv[optind], "x");
	assert_string_equal(argv[optind + 1], "y");
	assert_string_equal(p.cap.err_text, "");
	capture_free(&p.cap);

	PARSE(&p, opts, "-mopt-in");
	assert_string_equal(p.keys, "m-");
	assert_string_equal(p.mode, "opt-in");
	capture_free(&p.cap);
}

static void long_only_has_no_letter(void **state)
{
	struct parsed p;

	(void)state;
	PARSE(&p, opts, "-u");
	assert_string_equal(p.keys, "?");
	assert_string_equal(p.cap.err_text,
			    "netaccel-ctl t: unknown option '-u' (see netaccel-ctl t --help)\n");
	capture_free(&p.cap);
}

static void mistakes_are_one_line(void **state)
{
	static const struct {
		const char *arg;
		const char *err;
	} cases[] = {
		{ "--mode", "netaccel-ctl t: option '--mode' needs a value (see netaccel-ctl t --help)\n" },
		{ "-m", "netaccel-ctl t: option '-m' needs a value (see netaccel-ctl t --help)\n" },
		{ "--force=yes", "netaccel-ctl t: option '--force' takes no value (see netaccel-ctl t --help)\n" },
		{ "--bogus", "netaccel-ctl t: unknown option '--bogus' (see netaccel-ctl t --help)\n" },
		{ "-x", "netaccel-ctl t: unknown option '-x' (see netaccel-ctl t --help)\n" },
		{ "--state-dir", "netaccel-ctl t: option '--state-dir' needs a value (see netaccel-ctl t --help)\n" },
		{ "--state-dir=", "netaccel-ctl t: --state-dir needs a directory (see netaccel-ctl t --help)\n" },
	};
	struct parsed p;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		parse(&p, opts, 2, ARGV((char *)cases[i].arg));
		assert_string_equal(p.keys, "?");
		assert_string_equal(p.cap.err_text, cases[i].err);
		assert_string_equal(p.cap.out_text, "");
		capture_free(&p.cap);
	}
}

static void shared_options(void **state)
{
	struct parsed p;

	(void)state;
	PARSE(&p, opts, "-v", "--state-dir", "/sys/fs/bpf/x", "--verbose", "-f");
	assert_string_equal(p.keys, "f-");
	assert_int_equal(p.ctl.verbosity, 2);
	assert_int_equal(logged_verbosity, 2);
	assert_string_equal(p.ctl.state_dir, "/sys/fs/bpf/x");
	capture_free(&p.cap);
}

static void help_wins(void **state)
{
	struct parsed p;

	(void)state;
	PARSE(&p, opts, "-f", "--help", "--bogus");
	assert_string_equal(p.keys, "fh");
	assert_string_equal(p.cap.out_text,
			    "Usage: netaccel-ctl t [--mode M] <cgroup>\n\na command to test.\n\n"
			    "  -m, --mode M\n\n"
			    "<cgroup> is a cgroup v2 directory: an absolute path (/sys/fs/cgroup/app.slice),\n"
			    "a path relative to the cgroup v2 root (app.slice/api.service), pid:<PID>,\n"
			    "or container:<ID or unique prefix>.\n");
	assert_string_equal(p.cap.err_text, "");
	capture_free(&p.cap);
}

static void in_order_stops_at_the_first_argument(void **state)
{
	static const struct na_opt run_opts[] = {
		{ "strict", 's' },
		{ .flags = NA_OPT_IN_ORDER },
	};
	char **argv = ARGV("-s", "prog", "-x", "--help");
	struct parsed p;

	(void)state;
	parse(&p, run_opts, 5, argv);
	assert_string_equal(p.keys, "s-");
	assert_string_equal(argv[optind], "prog");
	capture_free(&p.cap);
}

static void the_program_itself(void **state)
{
	static const struct na_opt top[] = { { "version", 'V' }, { .flags = NA_OPT_IN_ORDER } };
	struct na_ctl ctl = { 0 };
	struct capture cap;

	(void)state;
	optind = 0;
	capture_start(&cap);
	assert_int_equal(na_opt_next(&ctl, NULL, 2, ARGV("--bogus"), top), '?');
	capture_stop(&cap);
	assert_string_equal(cap.err_text,
			    "netaccel-ctl: unknown option '--bogus' (see netaccel-ctl --help)\n");
	capture_free(&cap);

	optind = 0;
	capture_start(&cap);
	assert_int_equal(na_opt_next(&ctl, NULL, 2, ARGV("-h"), top), 'h');
	capture_stop(&cap);
	assert_non_null(strstr(cap.out_text, "Usage: netaccel-ctl [-v|-vv] [--state-dir DIR] <command>"));
	assert_non_null(strstr(cap.out_text, "\n  t          a command to test\n"));
	capture_free(&cap);
}

static int check_args(int argc, char **argv, const char *const missing[], int max,
		      struct capture *cap)
{
	int r;

	optind = 1;
	capture_start(cap);
	r = na_opt_args(&na_commands[0], argc, argv, missing, max);
	capture_stop(cap);
	return r;
}

static void positional_arguments(void **state)
{
	static const char *const two[] = { "add: missing <cgroup>", "add: missing <port>", NULL };
	struct capture cap;

	(void)state;
	assert_int_equal(check_args(1, ARGV(NULL), two, 2, &cap), NA_EXIT_USAGE);
	assert_string_equal(cap.err_text,
			    "netaccel-ctl t: add: missing <cgroup> (see netaccel-ctl t --help)\n");
	capture_free(&cap);
	assert_int_equal(check_args(2, ARGV("a"), two, 2, &cap), NA_EXIT_USAGE);
	assert_string_equal(cap.err_text,
			    "netaccel-ctl t: add: missing <port> (see netaccel-ctl t --help)\n");
	capture_free(&cap);
	assert_int_equal(check_args(4, ARGV("a", "1", "extra"), two, 2, &cap), NA_EXIT_USAGE);
	assert_string_equal(cap.err_text,
			    "netaccel-ctl t: unexpected argument 'extra' (see netaccel-ctl t --help)\n");
	capture_free(&cap);
	assert_int_equal(check_args(3, ARGV("a", "1"), two, 2, &cap), 0);
	assert_string_equal(cap.err_text, "");
	capture_free(&cap);
	assert_int_equal(check_args(5, ARGV("a", "b", "c", "d"), NULL, -1, &cap), 0);
	capture_free(&cap);
	assert_int_equal(check_args(2, ARGV("a"), NULL, 0, &cap), NA_EXIT_USAGE);
	assert_string_equal(cap.err_text,
			    "netaccel-ctl t: unexpected argument 'a' (see netaccel-ctl t --help)\n");
	capture_free(&cap);
}

static void which_take_a_value(void **state)
{
	(void)state;
	assert_true(na_opt_takes_value(opts, "--mode"));
	assert_true(na_opt_takes_value(opts, "-m"));
	assert_true(na_opt_takes_value(opts, "-S"));
	assert_true(na_opt_takes_value(opts, "--state-dir"));
	assert_false(na_opt_takes_value(opts, "-mall"));
	assert_false(na_opt_takes_value(opts, "--mode=all"));
	assert_false(na_opt_takes_value(opts, "-f"));
	assert_false(na_opt_takes_value(opts, "--udp"));
	assert_false(na_opt_takes_value(opts, "mode"));
}

static void json_only(void **state)
{
	struct na_ctl ctl = { 0 };
	struct capture cap;
	bool json;

	(void)state;
	optind = 0;
	assert_int_equal(na_getopt_json(&ctl, &na_commands[0], 3, ARGV("-j", "x"), &json), -1);
	assert_true(json);
	assert_int_equal(optind, 2);

	optind = 0;
	capture_start(&cap);
	assert_int_equal(na_getopt_json(&ctl, &na_commands[0], 2, ARGV("--json=1"), &json),
			 NA_EXIT_USAGE);
	capture_stop(&cap);
	assert_string_equal(cap.err_text,
			    "netaccel-ctl t: option '--json' takes no value (see netaccel-ctl t --help)\n");
	capture_free(&cap);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(own_options_short_and_long),
		cmocka_unit_test(long_only_has_no_letter),
		cmocka_unit_test(mistakes_are_one_line),
		cmocka_unit_test(shared_options),
		cmocka_unit_test(help_wins),
		cmocka_unit_test(in_order_stops_at_the_first_argument),
		cmocka_unit_test(the_program_itself),
		cmocka_unit_test(positional_arguments),
		cmocka_unit_test(which_take_a_value),
		cmocka_unit_test(json_only),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
