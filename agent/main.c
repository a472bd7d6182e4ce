// SPDX-License-Identifier: GPL-2.0-only
/*
 * netaccel-agent: applies a policy file (which cgroups to enroll and how,
 * port remap rules, bridges for the veth redirect) to what exists on the
 * host, and by default goes on following the host as a daemon
 * (daemon.c). --check prints the plan and --once carries it out, each
 * once.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/libbpf.h>

#include <netaccel/state.h>

#include <netaccel/owned.h>

#include "config.h"
#include "daemon.h"
#include "na_cgroup.h"
#include "http.h"
#include "plan.h"
#include "policy.h"

#define PROG "netaccel-agent"

/* Exit codes, as netaccel-ctl's: done, failed, the command line or the
 * policy file is wrong. */
enum { EXIT_DONE = 0, EXIT_FAILED = 1, EXIT_USAGE = 2 };

static int verbosity;

__attribute__((format(printf, 1, 2)))
static void err_line(const char *fmt, ...);

#define DEFAULT_METRICS "127.0.0.1:9479"
#define DEFAULT_RESYNC 60

static const char usage_text[] =
	"Usage: " PROG " --config <file> [--check | --once] [options]\n"
	"\n"
	"Apply a policy file to this host: enroll the cgroups it names in the\n"
	"local bypass, add its port remap rules, attach the veth redirect to its\n"
	"bridges; undo what the agent made once the policy no longer names it.\n"
	"What was enrolled or added by hand is never removed. Without --check or\n"
	"--once it runs as a daemon: it follows cgroups, links and addresses as\n"
	"they come and go, reads the policy again on SIGHUP, serves metrics, and\n"
	"on SIGTERM stops, leaving everything it made in the kernel.\n"
	"\n"
	"  -c, --config <file>     the policy (YAML; see netaccel-agent(8))\n"
	"      --check             print what --once would do, change nothing\n"
	"      --once              do it, print what was done, and exit\n"
	"  -m, --metrics-address <addr:port>|none\n"
	"                          where the daemon serves /metrics and /healthz\n"
	"                          (default " DEFAULT_METRICS "; [::1]:port for IPv6)\n"
	"      --resync <seconds>  a full pass at least this often (default %d)\n"
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
	const char *config, *state_dir, *metrics;
	unsigned int resync;
	bool check, once, daemon_opt;
};

/* -1 to go on, or the exit code. */
static int parse_args(int argc, char **argv, struct args *a)
{
	enum { OPT_CHECK = 256, OPT_ONCE, OPT_RESYNC };
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check", no_argument, NULL, OPT_CHECK },
		{ "once", no_argument, NULL, OPT_ONCE },
		{ "metrics-address", required_argument, NULL, 'm' },
		{ "resync", required_argument, NULL, OPT_RESYNC },
		{ "state-dir", required_argument, NULL, 'S' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 }
	};
	char *end;
	long n;
	int c;

	a->metrics = DEFAULT_METRICS;
	a->resync = DEFAULT_RESYNC;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":c:m:S:vhV", opts, NULL)) != -1) {
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
		case 'm':
			a->metrics = strcmp(optarg, "none") ? optarg : NULL;
			a->daemon_opt = true;
			break;
		case OPT_RESYNC:
			errno = 0;
			n = strtol(optarg, &end, 10);
			if (errno || end == optarg || *end || n < 1 || n > 86400)
				return usage_error("--resync wants seconds from 1 to 86400, not '%s'",
						   optarg);
			a->resync = (unsigned int)n;
			a->daemon_opt = true;
			break;
		case 'S':
			a->state_dir = optarg;
			break;
		case 'v':
			verbosity++;
			break;
		case 'h':
			printf(usage_text, DEFAULT_RESYNC);
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
	if (a->check && a->once)
		return usage_error("--check and --once do not go together");
	if ((a->check || a->once) && a->daemon_opt)
		return usage_error("--metrics-address and --resync are for the daemon, not %s",
				   a->check ? "--check" : "--once");
	if (a->metrics) {
		struct na_reason why = { 0 };
		struct sockaddr_storage ss;
		socklen_t len;

		if (na_http_parse_address(a->metrics, &ss, &len, &why))
			return usage_error("%s", why.msg);
	}
	return -1;
}

int main(int argc, char **argv)
{
	struct na_owned_map owned = { .fd = -1, .dir_fd = -1 };
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
	err = na_caps_check(!a.check, &why);
	if (err) {
		if (err == -EPERM)
			err_line("%s %s (run as root, with these capabilities)",
				 a.check ? "--check" : a.once ? "--once" : "the daemon", why.msg);
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
	if (!a.check && !a.once) {
		struct na_daemon_cfg cfg = { .config = a.config, .state_dir = dir, .root = root,
					     .metrics_address = a.metrics, .resync_s = a.resync,
					     .log = err_line };

		setvbuf(stdout, NULL, _IOLBF, 0);
		return na_daemon_run(&cfg, &policy) ? EXIT_FAILED : EXIT_DONE;
	}
	/* --check reads the record as it is; --once keeps it, as the one
	 * agent on this state for the while. */
	err = na_owned_open(&owned, dir, a.once ? NA_OWNED_CREATE | NA_OWNED_LOCK : 0, &why);
	if (err) {
		err_line("%s", why.msg[0] ? why.msg : strerror(-err));
		na_owned_close(&owned);
		goto fail;
	}
	err = na_plan_make(&policy, root, dir, &owned, &plan, &why);
	if (err) {
		err_line("%s", why.msg[0] ? why.msg : strerror(-err));
		na_owned_close(&owned);
		goto fail;
	}
	if (a.check) {
		for (i = 0; i < plan.n; i++) {
			na_action_text(&plan.a[i], line, sizeof(line));
			printf("%s\n", line);
		}
		code = EXIT_DONE;
	} else {
		code = na_plan_apply(&plan, dir, &owned, false, stdout, stderr) ? EXIT_FAILED :
										  EXIT_DONE;
	}
	na_owned_close(&owned);
	na_plan_free(&plan);
	na_policy_free(&policy);
	return code;
fail:
	na_policy_free(&policy);
	return EXIT_FAILED;
}
