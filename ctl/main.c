// SPDX-License-Identifier: GPL-2.0-only
/* netaccel-ctl: the command table, what commands share, and main. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <netaccel/state.h>

#include "config.h"
#include "ctl.h"
#include "log.h"

#define PROG "netaccel-ctl"

const struct na_cmd na_commands[] = {
	{ "enroll", cmd_enroll, "<cgroup> [--mode all|opt-in]",
	  "accelerate TCP between sockets created in a cgroup",
	  "Loads netaccel's programs if needed and attaches them to the cgroup.\n"
	  "TCP connections between two sockets of this host that were both created\n"
	  "in enrolled cgroups (or their descendants) after enrollment skip the\n"
	  "TCP/IP stack. Sockets that existed before stay on the normal path.\n"
	  "\n"
	  "  -m, --mode all      every TCP socket created in the cgroup (default when new)\n"
	  "  -m, --mode opt-in   only sockets the application tagged\n"
	  "\n"
	  "Enrolling again with --mode changes the mode (without it the mode stays),\nand repairs an interrupted enrollment.\n" },
	{ "unenroll", cmd_unenroll, "<cgroup>",
	  "stop accelerating new connections of a cgroup",
	  "New connections take the normal path at once; connections already on\n"
	  "the fast path keep it until they close, so no byte is lost. `status`\n"
	  "shows how many are still draining. A cgroup that was removed can be\n"
	  "unenrolled by the path it had.\n" },
	{ "cleanup", cmd_cleanup, "[--force]",
	  "remove everything netaccel put in the kernel",
	  "Unenrolls every cgroup, then removes programs, maps and links once no\n"
	  "accelerated connection is left. While some still live, it stops new\n"
	  "ones and says how many remain; run it again after they close.\n"
	  "\n"
	  "  -f, --force   remove everything now: live accelerated connections\n"
	  "                are cut, and bytes queued on them are lost\n" },
	{ "run", cmd_run, "[-v] [--strict] [--cgroup <cgroup>] -- <command> [args...]",
	  "run a program with its TCP sockets tagged for opt-in acceleration",
	  "Runs the command with " "libnetaccel-preload.so added to LD_PRELOAD (once,\n"
	  "after any LD_PRELOAD already set). The shim tags every TCP socket the\n"
	  "program creates, so that a cgroup enrolled with --mode opt-in accelerates\n"
	  "them; children inherit it through the environment. The command replaces\n"
	  "netaccel-ctl, so its exit status (or the signal that ended it) is run's.\n"
	  "\n"
	  "  -c, --cgroup <cgroup>  first move into this cgroup, which must be enrolled\n"
	  "  -s, --strict           refuse to start when the cgroup the command would run\n"
	  "                         in is not enrolled (otherwise: a warning)\n"
	  "  -v, --verbose          say what was done, on stderr\n"
	  "\n"
	  "It warns when the program is setuid or has file capabilities (the loader\n"
	  "then ignores LD_PRELOAD), statically linked, or written in Go: enroll their\n"
	  "cgroup with --mode all instead. $NETACCEL_PRELOAD overrides where the shim\n"
	  "is found. Exit status: the command's; 125 when run itself fails, 126 when\n"
	  "the command cannot be executed, 127 when it is not found.\n" },
	{ "status", cmd_status, "[--json]",
	  "show enrolled cgroups, programs, map fill and kernel features",
	  "  --json   machine-readable output\n" },
	{ "stats", cmd_stats, "[--json] [<cgroup>] | --prometheus",
	  "show the counters that prove the fast path is taken",
	  "Counters per enrolled cgroup and in total: sockets tagged, joined and\n"
	  "closed, messages and bytes redirected or passed, misses and fallbacks.\n"
	  "\n"
	  "  --json         machine-readable output\n"
	  "  --prometheus   every counter of every datapath in the Prometheus text\n"
	  "                 format (for node_exporter's textfile collector)\n" },
	{ "portmap", cmd_portmap,
	  "add <cgroup> <port>[:<real port>] [--udp] [--allow-unprivileged]\n"
	  "       netaccel-ctl portmap list [--json]\n"
	  "       netaccel-ctl portmap del <cgroup> <port> [--udp]",
	  "give a cgroup its own view of port numbers",
	  "Sockets created in the cgroup (or its descendants) that bind <port> bind\n"
	  "the real port instead, and read <port> back from getsockname(); a\n"
	  "connect() or UDP send to a loopback address on <port> from the cgroup\n"
	  "reaches them, and getpeername() and recvfrom() read <port>. Two cgroups\n"
	  "can thus both run a service on the same port. Processes outside reach it\n"
	  "on its real port, which `portmap list` shows (so do ss, /proc/net and\n"
	  "tcpdump). Rules stay until deleted or `cleanup`; deleting a rule leaves\n"
	  "sockets bound through it working.\n"
	  "\n"
	  "  <port>               the real port is picked by the kernel at bind\n"
	  "  <port>:<real port>   this real port (bind fails with EADDRINUSE if taken)\n"
	  "  -u, --udp            a UDP port (default TCP)\n"
	  "  --allow-unprivileged\n"
	  "                       let processes without CAP_NET_BIND_SERVICE bind a\n"
	  "                       <port> below 1024 (privilege follows <port>)\n"
	  "  --json               machine-readable list\n" },
	{ "veth", cmd_veth, "attach|detach|add|del|list|watch [options]",
	  "skip the bridge between containers on one host",
	  "A TC program on the host side of each container veth hands frames for\n"
	  "another container of the same bridge straight to that container's\n"
	  "interface (bpf_redirect_peer). Unicast IPv4/IPv6 to the MAC on record,\n"
	  "within the MTU, only; everything else takes the bridge as before.\n"
	  "\n"
	  "  veth attach --bridge <br>   attach to every container veth of a bridge\n"
	  "  veth attach <ifname>...     attach to these host-side veths\n"
	  "  veth add <address> <ifname> add an endpoint by hand\n"
	  "  veth del <address>          remove an endpoint\n"
	  "  veth list [--json]          endpoints, ports and counters\n"
	  "  veth detach <ifname>... | --bridge <br>\n"
	  "  veth watch --bridge <br>    follow containers coming and going (foreground)\n"
	  "\n"
	  "  -b, --bridge BR       a bridge (attach, detach, watch; watch takes several)\n"
	  "      --hook HOOK       auto (default), tcx (Linux >= 6.6) or tc (clsact)\n"
	  "  -n, --netns NAME      work in network namespace NAME (/run/netns/NAME, or a\n"
	  "                        path); use this rather than ip netns exec, which\n"
	  "                        hides /sys/fs/bpf\n"
	  "  -j, --json            machine-readable output (list)\n" },
	{ "splice", cmd_splice, "enable [--group <group>] | disable | status [--json]",
	  "set up the kernel splice for proxies that run without privilege",
	  "netaccel_splice() (<netaccel.h>) and netaccel-proxy forward a proxy's\n"
	  "socket pairs in the kernel when they may load its BPF program, or use the\n"
	  "one set up here. Without either they take splice(2) in the process.\n"
	  "\n"
	  "  splice enable [--group G]   load and pin it under <state-dir>/splice; with\n"
	  "                              --group, processes of group G may use it (its\n"
	  "                              maps become the group's, and the directories\n"
	  "                              above searchable by all)\n"
	  "  splice disable              unpin it: live pairs run on, new ones take splice(2)\n"
	  "  splice status [--json]      pairs spliced now, counters\n"
	  "\n"
	  "  -g, --group GROUP     a group name or number (enable)\n"
	  "  -j, --json            machine-readable output (status)\n" },
	{ "networks", cmd_networks, "list|sync|allow|deny [options]",
	  "pair sockets of containers on one bridge across their namespaces",
	  "TCP between two containers (network namespaces whose veths are ports of\n"
	  "one bridge, with no address translation between them) takes the fast\n"
	  "path when both ends' cgroups are enrolled. netaccel learns from netlink\n"
	  "which namespace has which address on which bridge; enroll does it too.\n"
	  "A bridge whose traffic a firewall sees (nftables, iptables through\n"
	  "br_netfilter, isolated ports) stays on TCP unless allowed.\n"
	  "\n"
	  "  networks list [--json]       bridges, their containers, and whether they pair\n"
	  "  networks sync                learn them again (after containers come or go)\n"
	  "  networks allow <bridge>      pair it although a firewall sees its traffic\n"
	  "  networks deny <bridge>       undo allow\n"
	  "\n"
	  "  -n, --netns NAME      look at the bridges of network namespace NAME\n"
	  "  -j, --json            machine-readable output (list)\n" },
	{ 0 }
};

int na_cgroup_root(char *out, size_t outlen)
{
	int err = na_cgroup_find_mount("/proc/self/mountinfo", out, outlen);

	if (err == -ENOENT)
		na_err("no cgroup v2 hierarchy is mounted (netaccel needs cgroup v2; see /proc/self/mountinfo)");
	else if (err)
		na_err("cannot read /proc/self/mountinfo: %s", strerror(-err));
	return err;
}

int na_caps_require(const char *command, bool attach)
{
	struct na_reason why = { 0 };
	int err = na_caps_check(attach, &why);

	if (err == -EPERM)
		na_err("%s %s (run as root, with these capabilities)", command, why.msg);
	else if (err)
		na_err_why(&why, err);
	return err;
}

int na_resolve_cgroup(const char *spec, struct na_cgroup *cg)
{
	char root[PATH_MAX], why[1024];
	int err;

	err = na_cgroup_root(root, sizeof(root));
	if (err)
		return err;
	err = na_cgroup_resolve(root, "/proc", spec, cg, why, sizeof(why));
	if (err)
		na_err("%s", why);
	return err;
}

#if !NA_HAVE_BPF
/* Built without the datapath: every command says so. */
int cmd_enroll(struct na_ctl *ctl, int argc, char **argv)
{
	int i;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--"))
			break;
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			na_cmd_help(na_find_cmd(argv[0]));
			return NA_EXIT_OK;
		}
	}
	na_err("acceleration is unavailable: this build has no BPF support (rebuild with -Dbpf=enabled; needs clang, bpftool and libbpf)");
	return NA_EXIT_FAIL;
}
int cmd_unenroll(struct na_ctl *ctl, int argc, char **argv) __attribute__((alias("cmd_enroll")));
int cmd_cleanup(struct na_ctl *ctl, int argc, char **argv) __attribute__((alias("cmd_enroll")));
int cmd_status(struct na_ctl *ctl, int argc, char **argv) __attribute__((alias("cmd_enroll")));
int cmd_stats(struct na_ctl *ctl, int argc, char **argv) __attribute__((alias("cmd_enroll")));
int cmd_portmap(struct na_ctl *ctl, int argc, char **argv) __attribute__((alias("cmd_enroll")));
int cmd_veth(struct na_ctl *ctl, int argc, char **argv) __attribute__((alias("cmd_enroll")));
int cmd_networks(struct na_ctl *ctl, int argc, char **argv) __attribute__((alias("cmd_enroll")));
#endif

int main(int argc, char **argv)
{
	static const struct na_opt opts[] = {
		{ "version", 'V' },
		{ .flags = NA_OPT_IN_ORDER },	/* global options end at the command */
	};
	struct na_ctl ctl = { 0 };
	int c;

	na_log_init(0);
	while ((c = na_opt_next(&ctl, NULL, argc, argv, opts)) != -1) {
		if (c == 'h')
			return NA_EXIT_OK;
		if (c != 'V')
			return NA_EXIT_USAGE;
		printf(PROG " %s\n", NA_VERSION);
		return NA_EXIT_OK;
	}
	return na_dispatch(&ctl, na_commands, argc - optind, argv + optind);
}
