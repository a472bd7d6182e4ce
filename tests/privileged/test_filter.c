/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The firewall check against the real kernel: in a network namespace of
 * its own (netaccel-test-filter-<pid>), with a bridge and veth ports, the
 * test makes the rules a firewall would (with nft, iptables-legacy and
 * ip link) and asks na_filter_check and na_filter_check_ns what they see.
 * The host's own netfilter is never touched: the program moves into the
 * namespace before it changes anything, and every command it runs
 * inherits the namespace.
 *
 * Teardown runs on every way out (the group teardown, exit, a fatal
 * signal, the watchdog): it deletes the namespace, which takes its rules
 * and sysctls with it, and unloads br_netfilter if this program loaded
 * it. A namespace left by a SIGKILLed run is swept by tests/leftovers.sh.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <netaccel/filter.h>

#include "na_world.h"

#define BRIDGE "nabr0"
#define TEST_TIMEOUT_S 60

static char ns_name[64];
static char ns_path[128];
static char ip_bin[32], modprobe_bin[32], nft_bin[32], iptl_bin[32];
static bool ns_made, brnf_loaded;

/* ---- teardown, on every way out ---------------------------------------- */

/* Run argv (an absolute path first) and wait for it; only system calls,
 * so that a signal handler may call it. */
static void run_quiet(char *const argv[])
{
	static char *const env[] = { "PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL };
	pid_t pid = fork();
	int st;

	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		if (null >= 0) {
			dup2(null, 1);
			dup2(null, 2);
		}
		execve(argv[0], argv, env);
		_exit(127);
	}
	if (pid > 0)
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
}

static void teardown_all(void)
{
	char *del[] = { ip_bin, "netns", "del", ns_name, NULL };
	char *unload[] = { modprobe_bin, "-r", "br_netfilter", NULL };

	if (ns_made) {
		ns_made = false;
		run_quiet(del);
	}
	if (brnf_loaded) {
		brnf_loaded = false;
		run_quiet(unload);
	}
}

static void on_fatal_signal(int sig)
{
	teardown_all();
	signal(sig, SIG_DFL);
	raise(sig);
}

static void arm_teardown(void)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGALRM };
	struct sigaction sa = { .sa_handler = on_fatal_signal };

	atexit(teardown_all);
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);
}

/* ---- helpers ------------------------------------------------------------- */

/* Where a program is, among the usual directories; false when nowhere. */
static bool find_bin(const char *name, char *out, size_t len)
{
	static const char *const dirs[] = { "/usr/sbin", "/usr/bin", "/sbin", "/bin" };

	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(out, len, "%s/%s", dirs[i], name);
		if (access(out, X_OK) == 0)
			return true;
	}
	out[0] = '\0';
	return false;
}

/* Run a shell command line (in the test namespace: the program is in it);
 * its output goes to stderr, away from TAP. The exit status. */
static int sh(const char *fmt, ...)
{
	char cmd[512];
	va_list ap;
	pid_t pid;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		dup2(2, 1);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &st, 0) < 0)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

#define SH(...)                                                                  \
	do {                                                                     \
		if (sh(__VA_ARGS__) != 0)                                        \
			fail_msg("command failed: " __VA_ARGS__);                \
	} while (0)

static void write_sysctl(const char *name, const char *value)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/sys/net/bridge/%s", name);
	f = fopen(path, "we");
	if (!f)
		fail_msg("cannot open %s: %s", path, strerror(errno));
	fprintf(f, "%s\n", value);
	if (fclose(f) != 0)
		fail_msg("cannot write %s: %s", path, strerror(errno));
}

/* br_netfilter's sysctls in the test namespace (they exist once it is
 * loaded). */
static void brnf_sysctls(const char *v4, const char *v6)
{
	write_sysctl("bridge-nf-call-iptables", v4);
	write_sysctl("bridge-nf-call-ip6tables", v6);
}

static struct na_filter_verdict check_bridge(const char *bridge)
{
	struct na_filter_verdict v;
	struct na_reason why = { 0 };
	int err = na_filter_check(bridge, &v, &why);

	if (err)
		fail_msg("na_filter_check(%s): %s (%s)", bridge, strerror(-err), why.msg);
	printf("# %s: %s\n", v.filtered ? "filtered" : "not filtered", v.why);
	return v;
}

static struct na_filter_verdict check_ns(void)
{
	struct na_filter_verdict v;
	struct na_reason why = { 0 };
	int err = na_filter_check_ns(&v, &why);

	if (err)
		fail_msg("na_filter_check_ns: %s (%s)", strerror(-err), why.msg);
	printf("# namespace %s: %s\n", v.filtered ? "filtered" : "not filtered", v.why);
	return v;
}

/* The verdict v is want, and its reason says text (NULL: anything). */
static void expect(const struct na_filter_verdict *v, bool want, const char *text)
{
	if (v->filtered != want)
		fail_msg("want %s, got %s: %s", want ? "filtered" : "not filtered",
			 v->filtered ? "filtered" : "not filtered", v->why);
	if (text && !strstr(v->why, text))
		fail_msg("the reason does not say \"%s\": %s", text, v->why);
}

#define EXPECT(v, want, text) expect(&(v), (want), (text))

/* ---- fixture ------------------------------------------------------------- */

static int group_setup(void **state)
{
	int fd;

	(void)state;
	snprintf(ns_name, sizeof(ns_name), "netaccel-test-filter-%d", (int)getpid());
	snprintf(ns_path, sizeof(ns_path), "/run/netns/%s", ns_name);
	if (sh("%s netns add %s", ip_bin, ns_name) != 0) {
		fprintf(stderr, "cannot make network namespace %s\n", ns_name);
		return -1;
	}
	ns_made = true;
	fd = open(ns_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || setns(fd, CLONE_NEWNET) != 0) {
		fprintf(stderr, "cannot enter %s: %s\n", ns_name, strerror(errno));
		return -1;
	}
	close(fd);
	/* From here on everything happens in the test namespace: a bridge
	 * with three veth ports (their peers stay here too, unbridged). */
	if (sh("ip link set lo up && ip link add " BRIDGE " type bridge && "
	       "for p in a b c; do ip link add fp$p type veth peer name fq$p && "
	       "ip link set fp$p master " BRIDGE " up && ip link set fq$p up; done && "
	       "ip link set " BRIDGE " up") != 0) {
		fprintf(stderr, "cannot make the bridge and its ports\n");
		return -1;
	}
	/* br_netfilter: built in, or a module that may be loaded here. */
	if (access("/proc/sys/net/bridge", F_OK) != 0 && modprobe_bin[0] &&
	    sh("%s br_netfilter", modprobe_bin) == 0)
		brnf_loaded = true;
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	teardown_all();
	return 0;
}

static int test_setup(void **state)
{
	(void)state;
	alarm(TEST_TIMEOUT_S);
	return 0;
}

/* Every test starts from no rules, br_netfilter's defaults, no isolated
 * port. */
static int test_teardown(void **state)
{
	(void)state;
	alarm(0);
	sh("%s flush ruleset", nft_bin);
	/* Only where a test made the legacy filter table: any iptables-legacy
	 * call would make it. */
	sh("if grep -qx filter /proc/net/ip_tables_names; then iptables-legacy -F; "
	   "iptables-legacy -P FORWARD ACCEPT; iptables-legacy -P INPUT ACCEPT; fi");
	sh("ip link set fpa type bridge_slave isolated off; "
	   "ip link set " BRIDGE " type bridge nf_call_iptables 0 nf_call_ip6tables 0");
	if (access("/proc/sys/net/bridge", F_OK) == 0)
		sh("echo 1 >/proc/sys/net/bridge/bridge-nf-call-iptables; "
		   "echo 1 >/proc/sys/net/bridge/bridge-nf-call-ip6tables");
	return 0;
}

static void need_br_netfilter(void)
{
	if (access("/proc/sys/net/bridge", F_OK) != 0)
		skip();	/* neither built in nor loadable */
}

/* ---- tests --------------------------------------------------------------- */

static void no_rules(void **state)
{
	struct na_filter_verdict v;

	(void)state;
	v = check_bridge(BRIDGE);
	EXPECT(v, false, "nothing filters bridge " BRIDGE);
	v = check_ns();
	EXPECT(v, false, "no firewall of its own");
}

static void bridge_family_forward(void **state)
{
	struct na_filter_verdict v;

	(void)state;
	SH("nft add table bridge t");
	SH("nft add chain bridge t f '{ type filter hook forward priority 0; policy accept; }'");
	v = check_bridge(BRIDGE);
	EXPECT(v, false, "1 netfilter base chain seen");
	SH("nft add rule bridge t f ether type ip counter");
	v = check_bridge(BRIDGE);
	EXPECT(v, true, "nftables chain bridge t/f (hook forward, 1 rule)");
	SH("nft flush chain bridge t f && nft chain bridge t f '{ policy drop; }'");
	v = check_bridge(BRIDGE);
	EXPECT(v, true, "nftables chain bridge t/f (hook forward, policy drop)");
	/* The bridge's own input is not between its ports. */
	SH("nft flush ruleset && nft add table bridge t && "
	   "nft add chain bridge t i '{ type filter hook input priority 0; policy drop; }'");
	v = check_bridge(BRIDGE);
	EXPECT(v, false, NULL);
}

static void inet_forward_and_br_netfilter(void **state)
{
	struct na_filter_verdict v;

	(void)state;
	need_br_netfilter();
	SH("nft add table inet filter");
	SH("nft add chain inet filter forward '{ type filter hook forward priority 0; }'");
	SH("nft add rule inet filter forward ct state established accept");
	/* br_netfilter not asked to: the inet hooks never see bridged
	 * frames. */
	brnf_sysctls("0", "0");
	v = check_bridge(BRIDGE);
	EXPECT(v, false, "br_netfilter is off for it");
	brnf_sysctls("1", "0");
	v = check_bridge(BRIDGE);
	EXPECT(v, true, "nftables chain inet filter/forward (hook forward, 1 rule), which sees bridged IPv4 through br_netfilter (net.bridge.bridge-nf-call-iptables=1)");
	/* The bridge's own switch, with the sysctls off. */
	brnf_sysctls("0", "0");
	SH("ip link set " BRIDGE " type bridge nf_call_ip6tables 1");
	v = check_bridge(BRIDGE);
	EXPECT(v, true, "bridged IPv6 through br_netfilter (nf_call_ip6tables on " BRIDGE ")");
}

static void inet_forward_without_br_netfilter(void **state)
{
	struct na_filter_verdict v;

	(void)state;
	SH("nft add table inet filter");
	SH("nft add chain inet filter forward '{ type filter hook forward priority 0; }'");
	SH("nft add rule inet filter forward counter");
	/* Where br_netfilter is there, it is turned off for the namespace. */
	if (access("/proc/sys/net/bridge", F_OK) == 0)
		brnf_sysctls("0", "0");
	v = check_bridge(BRIDGE);
	EXPECT(v, false, NULL);
}

static void isolated_port(void **state)
{
	struct na_filter_verdict v;

	(void)state;
	SH("ip link set fpa type bridge_slave isolated on");
	v = check_bridge(BRIDGE);
	EXPECT(v, true, "port fpa of " BRIDGE " is isolated");
}

static void chain_on_a_port(void **state)
{
	struct na_filter_verdict v;

	(void)state;
	SH("nft add table netdev n");
	SH("nft add chain netdev n other '{ type filter hook ingress device fqa priority 0; }'");
	SH("nft add rule netdev n other counter");
	v = check_bridge(BRIDGE);
	EXPECT(v, false, NULL);
	SH("nft add chain netdev n port '{ type filter hook ingress device fpb priority 0; }'");
	SH("nft add rule netdev n port counter");
	v = check_bridge(BRIDGE);
	EXPECT(v, true, "nftables chain netdev n/port (hook ingress on fpb, 1 rule)");
}

static void legacy_iptables(void **state)
{
	struct na_filter_verdict v;

	(void)state;
	if (!iptl_bin[0])
		skip();
	need_br_netfilter();
	brnf_sysctls("1", "1");
	/* Listing makes the filter table, with empty chains. */
	SH("iptables-legacy -L -n >/dev/null");
	v = check_bridge(BRIDGE);
	EXPECT(v, false, NULL);
	SH("iptables-legacy -A FORWARD -j ACCEPT && iptables-legacy -A FORWARD -j ACCEPT");
	v = check_bridge(BRIDGE);
	EXPECT(v, true, "legacy iptables chain filter/FORWARD (hook forward, 2 rules), which sees bridged IPv4");
	SH("iptables-legacy -F FORWARD && iptables-legacy -P FORWARD DROP");
	v = check_bridge(BRIDGE);
	EXPECT(v, true, "legacy iptables chain filter/FORWARD (hook forward, policy drop)");
	/* INPUT is the host's own, but a container's own way in. */
	SH("iptables-legacy -P FORWARD ACCEPT && iptables-legacy -A INPUT -j ACCEPT");
	v = check_bridge(BRIDGE);
	EXPECT(v, false, NULL);
	v = check_ns();
	EXPECT(v, true, "container's own firewall: legacy iptables chain filter/INPUT (hook input, 1 rule)");
}

static void container_own_firewall(void **state)
{
	struct na_filter_verdict v;

	(void)state;
	SH("nft add table inet c");
	SH("nft add chain inet c fw '{ type filter hook forward priority 0; policy drop; }'");
	v = check_ns();
	EXPECT(v, false, NULL);
	SH("nft add chain inet c in '{ type filter hook input priority 0; policy drop; }'");
	v = check_ns();
	EXPECT(v, true, "container's own firewall: nftables chain inet c/in (hook input, policy drop)");
	SH("nft delete chain inet c in && nft add chain inet c out '{ type filter hook output priority 0; }' && "
	   "nft add rule inet c out tcp dport 22 drop");
	v = check_ns();
	EXPECT(v, true, "nftables chain inet c/out (hook output, 1 rule)");
}

static void not_a_bridge(void **state)
{
	struct na_filter_verdict v;
	struct na_reason why = { 0 };

	(void)state;
	assert_int_equal(na_filter_check("fpa", &v, &why), -EINVAL);
	assert_string_equal(why.msg, "fpa is not a bridge");
	assert_false(v.filtered);
	memset(&why, 0, sizeof(why));
	assert_int_equal(na_filter_check("nosuchdev0", &v, &why), -ENODEV);
	assert_string_equal(why.msg, "no such device: nosuchdev0");
}

/* What a check costs, with a few chains and rules around. */
static void cost(void **state)
{
	struct na_filter_verdict v;
	struct timespec a, b;
	const int n = 50;
	double ms;

	(void)state;
	SH("nft add table inet filter && "
	   "nft add chain inet filter forward '{ type filter hook forward priority 0; }' && "
	   "nft add chain inet filter input '{ type filter hook input priority 0; }' && "
	   "for i in 1 2 3 4 5 6 7 8 9 10; do nft add rule inet filter forward tcp dport $i accept; done");
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (int i = 0; i < n; i++)
		assert_int_equal(na_filter_check(BRIDGE, &v, NULL), 0);
	clock_gettime(CLOCK_MONOTONIC, &b);
	ms = ((double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6) / n;
	printf("# na_filter_check takes %.2f ms here (%d calls)\n", ms, n);
	/* A bound for hangs and runaway retries, not a benchmark. */
	assert_true(ms < 100);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(no_rules, test_setup, test_teardown),
		cmocka_unit_test_setup_teardown(bridge_family_forward, test_setup, test_teardown),
		cmocka_unit_test_setup_teardown(inet_forward_and_br_netfilter, test_setup, test_teardown),
		cmocka_unit_test_setup_teardown(inet_forward_without_br_netfilter, test_setup,
						test_teardown),
		cmocka_unit_test_setup_teardown(isolated_port, test_setup, test_teardown),
		cmocka_unit_test_setup_teardown(chain_on_a_port, test_setup, test_teardown),
		cmocka_unit_test_setup_teardown(legacy_iptables, test_setup, test_teardown),
		cmocka_unit_test_setup_teardown(container_own_firewall, test_setup, test_teardown),
		cmocka_unit_test_setup_teardown(not_a_bridge, test_setup, test_teardown),
		cmocka_unit_test_setup_teardown(cost, test_setup, test_teardown),
	};

	if (geteuid() != 0)
		na_world_skip("needs root (network namespaces, netfilter)");
	if (!find_bin("ip", ip_bin, sizeof(ip_bin)))
		na_world_skip("needs ip (iproute2)");
	if (!find_bin("nft", nft_bin, sizeof(nft_bin)))
		na_world_skip("needs nft (nftables)");
	find_bin("modprobe", modprobe_bin, sizeof(modprobe_bin));
	find_bin("iptables-legacy", iptl_bin, sizeof(iptl_bin));
	arm_teardown();
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
