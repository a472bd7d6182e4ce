// SPDX-License-Identifier: GPL-2.0-only
/*
 * netaccel-agent: applies a policy file (which cgroups to enroll and how,
 * port remap rules, bridges for the veth redirect) to what exists on the
 * host. This version runs once: --check prints the plan, --once carries
 * it out; both are one-shot, so that a later daemon mode can be the
 * default without changing what either means.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <bpf/libbpf.h>

#include <netaccel/state.h>

#include "config.h"
#include "na_cgroup.h"
#include "plan.h"
#include "policy.h"

#define PROG "netaccel-agent"

/* Exit codes, as netaccel-ctl's: done, failed, the command line or the
 * policy file is wrong. */
enum { EXIT_DONE = 0, EXIT_FAILED = 1, EXIT_USAGE = 2 };

static int verbosity;

static const char usage_text[] =
	"Usage: " PROG " --config <file> --check | --once [options]\n"
	"\n"
	"Apply a policy file to this host: enroll the cgroups it names in the\n"
	"local bypass, add its port remap rules, attach the veth redirect to its\n"
	"bridges. It only adds and changes modes: nothing enrolled or added by\n"
	"hand (or by an earlier policy) is removed.\n"
	"\n"
	"  -c, --config <file>     the policy (YAML; see netaccel-agent(8))\n"
	"      --check             print what --once would do, change nothing\n"
	"      --once              do it, print what was done, and exit\n"
	"  -S, --state-dir <dir>   netaccel's state (default $NETACCEL_STATE_DIR,\n"
	"                          else " NA_DEFAULT_STATE_DIR ")\n"
	"  -v, --verbose           say more (-vv: the libraries' detail too)\n"
	"  -h, --help              this text\n"
	"  -V, --version           the version\n"
	"\n"
	"Exit status: 0 done, 1 something could not be done (the rest was),\n"
	"2 the command line or the policy file is wrong (nothing was changed).\n";

/* One line on stderr: the program's name, the message, then tail. */
static void vline(const char *tail, const char *fmt, va_list ap)
{
	fprintf(stderr, PROG ": ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "%s\n", tail);
}

__attribute__((format(printf, 1, 2)))
static void err_line(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vline("", fmt, ap);
	va_end(ap);
}

__attribute__((format(printf, 1, 2)))
static int usage_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vline(" (see " PROG " --help)", fmt, ap);
	va_end(ap);
	return EXIT_USAGE;
}

/* libnetaccel's detail with -v, libbpf's (the verifier log) with -vv. */
static void lib_log(enum na_log_level level, const char *msg)
{
	if (verbosity >= (level == NA_LOG_INFO ? 1 : 2))
		err_line("%s", msg);
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (verbosity < (level == LIBBPF_DEBUG ? 2 : 1))
		return 0;
	return vfprintf(stderr, fmt, ap);
}

struct args {
	const char *config, *state_dir;
	bool check, once;
};

/* -1 to go on, or the exit code. */
static int parse_args(int argc, char **argv, struct args *a)
{
	enum { OPT_CHECK = 256, OPT_ONCE };
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check", no_argument, NULL, OPT_CHECK },
		{ "once", no_argument, NULL, OPT_ONCE },
		{ "state-dir", required_argument, NULL, 'S' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 }
	};
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":c:S:vhV", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			a->config = optarg;
			break;
		case OPT_CHECK:
			a->check = true;
			break;
		case OPT_ONCE:
			a->once = true;
			break;
		case 'S':
			a->state_dir = optarg;
			break;
		case 'v':
			verbosity++;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return EXIT_DONE;
		case 'V':
			printf(PROG " %s\n", NA_VERSION);
			return EXIT_DONE;
		case ':':
			return usage_error("option '%s' needs a value", argv[optind - 1]);
		default:
			return usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return usage_error("unexpected argument '%s'", argv[optind]);
	if (!a->config)
		return usage_error("missing --config <file>");
	if (a->check == a->once)
		return usage_error(a->check ? "--check and --once do not go together" :
					      "one of --check or --once is needed");
	return -1;
}

int main(int argc, char **argv)
{
	struct na_reason why = { 0 };
	struct args a = { 0 };
	struct na_policy policy;
	struct na_plan plan;
	char root[PATH_MAX], line[1024];
	const char *dir;
	size_t i;
	int err, code;

	code = parse_args(argc, argv, &a);
	if (code >= 0)
		return code;
	na_set_log(lib_log);
	libbpf_set_print(libbpf_print);
	dir = na_state_dir(a.state_dir);

	/* The whole file first: a bad one changes nothing. */
	err = na_policy_load(a.config, &policy, &why);
	if (err) {
		err_line("%s", why.msg[0] ? why.msg : strerror(-err));
		na_policy_free(&policy);
		return EXIT_USAGE;
	}
	err = na_caps_check(a.once, &why);
	if (err) {
		if (err == -EPERM)
			err_line("%s %s (run as root, with these capabilities)",
				 a.once ? "--once" : "--check", why.msg);
		else
			err_line("%s", why.msg[0] ? why.msg : strerror(-err));
		goto fail;
	}
	err = na_cgroup_find_mount(NULL, root, sizeof(root));
	if (err) {
		err_line(err == -ENOENT ? "no cgroup v2 hierarchy is mounted (netaccel needs cgroup v2; see /proc/self/mountinfo)" :
					  "cannot read /proc/self/mountinfo: %s", strerror(-err));
		goto fail;
	}
	err = na_plan_make(&policy, root, dir, &plan, &why);
	if (err) {
		err_line("%s", why.msg[0] ? why.msg : strerror(-err));
		goto fail;
	}
	if (a.check) {
		for (i = 0; i < plan.n; i++) {
			na_action_text(&plan.a[i], line, sizeof(line));
			printf("%s\n", line);
		}
		code = EXIT_DONE;
	} else {
		code = na_plan_apply(&plan, dir, stdout, stderr) ? EXIT_FAILED : EXIT_DONE;
	}
	na_plan_free(&plan);
	na_policy_free(&policy);
	return code;
fail:
	na_policy_free(&policy);
	return EXIT_FAILED;
}
