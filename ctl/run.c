// SPDX-License-Identifier: GPL-2.0-only
/*
 * run: start a program with libnetaccel-preload.so, so that its TCP
 * sockets are tagged for opt-in acceleration, optionally in a given cgroup.
 *
 * run execs the program in its own place, so the program's exit status
 * and death by signal are its caller's to see, as with env(1). run's own
 * failures exit 125; a program that is not found 127, one that cannot be
 * executed 126.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "config.h"
#include "ctl.h"
#include "log.h"
#include "netaccel.h"
#include "netaccel_abi.h"
#include "preload_env.h"

#if NA_HAVE_LIBELF
#include <gelf.h>
#include <libelf.h>
#endif

_Static_assert(SOL_NETACCEL == NA_SOL_NETACCEL && NETACCEL_TAG == NA_OPT_TAG &&
	       NETACCEL_ACCELERATED == NA_OPT_ACCELERATED,
	       "include/netaccel.h and the BPF ABI disagree");

#define RUN_EXIT_FAIL 125
#define RUN_EXIT_CANNOT_EXEC 126
#define RUN_EXIT_NOT_FOUND 127

static bool is_file(const char *path)
{
	struct stat sb;

	return !stat(path, &sb) && S_ISREG(sb.st_mode);
}

/* $NETACCEL_PRELOAD, else the shim of the build tree this binary is in,
 * else the installed one. */
static int find_shim(char *out, size_t outlen)
{
	char exe[PATH_MAX], *slash;
	const char *env = getenv("NETACCEL_PRELOAD");
	ssize_t n;

	if (env && *env) {
		if (!is_file(env)) {
			na_err("NETACCEL_PRELOAD names %s, which is not a file", env);
			return -ENOENT;
		}
		if (!realpath(env, out))
			return -errno;
		return 0;
	}
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = 0;
		slash = strrchr(exe, '/');
		if (slash) {
			*slash = 0;
			if (snprintf(out, outlen, "%s/../preload/" SHIM_NAME, exe) < (int)outlen &&
			    is_file(out) && realpath(out, exe)) {
				snprintf(out, outlen, "%s", exe);
				return 0;
			}
		}
	}
	if (is_file(NA_PRELOAD_PATH)) {
		snprintf(out, outlen, "%s", NA_PRELOAD_PATH);
		return 0;
	}
	na_err("cannot find " SHIM_NAME " (looked in %s; set NETACCEL_PRELOAD to its path)",
	       NA_PRELOAD_PATH);
	return -ENOENT;
}

/* LD_PRELOAD with the shim once, after whatever was set. */
static int set_preload(const char *shim)
{
	char *val = NULL;
	int err;

	err = na_preload_value(getenv("LD_PRELOAD"), shim, &val);
	if (err || !val)
		return err;
	err = setenv("LD_PRELOAD", val, 1) ? -errno : 0;
	free(val);
	return err;
}

/* The program execvp would run: a path as given, or the first executable
 * match in $PATH. */
static int resolve_cmd(const char *cmd, char *out, size_t outlen)
{
	const char *path = getenv("PATH"), *p, *end;
	int err = -ENOENT;
	size_t len;

	if (strchr(cmd, '/')) {
		snprintf(out, outlen, "%s", cmd);
		return access(out, F_OK) ? -errno : 0;
	}
	if (!path || !*path)
		path = "/usr/local/bin:/usr/bin:/bin";
	for (p = path;; p = end + 1) {
		end = strchr(p, ':');
		len = end ? (size_t)(end - p) : strlen(p);
		snprintf(out, outlen, "%.*s%s%s", (int)len, p, len ? "/" : "", cmd);
		if (!access(out, X_OK) && is_file(out))
			return 0;
		if (!access(out, F_OK) && is_file(out))
			err = -EACCES;	/* remember, keep looking */
		if (!end)
			break;
	}
	return err;
}

/* What keeps the shim out of a program: the loader ignores LD_PRELOAD for
 * setuid programs and ones with file capabilities, a static program has
 * no loader, and Go makes its own system calls. */
static void warn_unpreloadable(const char *path)
{
	const char *fix = "its sockets cannot be tagged; enroll its cgroup with --mode all instead";
	struct stat sb;

	if (stat(path, &sb))
		return;
	if (sb.st_mode & (S_ISUID | S_ISGID)) {
		na_warn("%s is set%cid: the loader ignores LD_PRELOAD for it, so %s", path,
			sb.st_mode & S_ISUID ? 'u' : 'g', fix);
		return;
	}
	if (getxattr(path, "security.capability", NULL, 0) > 0) {
		na_warn("%s has file capabilities: the loader ignores LD_PRELOAD for it, so %s",
			path, fix);
		return;
	}
#if NA_HAVE_LIBELF
	{
		bool interp = false, go = false;
		Elf_Scn *scn = NULL;
		size_t i, n, shstr;
		GElf_Phdr ph;
		GElf_Shdr sh;
		const char *name;
		Elf *elf;
		int fd;

		if (elf_version(EV_CURRENT) == EV_NONE)
			return;
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return;
		elf = elf_begin(fd, ELF_C_READ, NULL);
		if (!elf || elf_kind(elf) != ELF_K_ELF) {
			/* A script: its interpreter is what runs. */
			goto out;
		}
		if (!elf_getphdrnum(elf, &n))
			for (i = 0; i < n; i++)
				if (gelf_getphdr(elf, (int)i, &ph) && ph.p_type == PT_INTERP)
					interp = true;
		if (!elf_getshdrstrndx(elf, &shstr))
			while ((scn = elf_nextscn(elf, scn))) {
				if (!gelf_getshdr(scn, &sh))
					continue;
				name = elf_strptr(elf, shstr, sh.sh_name);
				if (name && (!strcmp(name, ".go.buildinfo") ||
					     !strcmp(name, ".note.go.buildid")))
					go = true;
			}
		if (go)
			na_warn("%s is a Go program: Go makes its own system calls, so %s", path, fix);
		else if (!interp)
			na_warn("%s is statically linked: nothing loads LD_PRELOAD into it, so %s",
				path, fix);
out:
		if (elf)
			elf_end(elf);
		close(fd);
	}
#endif
}

/* Whether sockets created by this process now are in an enrolled cgroup:
 * there netaccel's option level answers, elsewhere the kernel says
 * ENOPROTOOPT. A UDP socket asks without being counted as a TCP one. */
static int probe_enrolled(void)
{
	int fd, tag, err = 0;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (netaccel_get_tag(fd, &tag))
		err = -errno;
	close(fd);
	if (!err)
		return 1;
	return err == -ENOPROTOOPT ? 0 : err;
}

/* Our own cgroup, relative to the root, for messages. */
static void own_cgroup(char *out, size_t outlen)
{
	char root[PATH_MAX];

	if (na_cgroup_find_mount("/proc/self/mountinfo", root, sizeof(root)) ||
	    na_cgroup_of_pid(root, "/proc", (long)getpid(), out, outlen))
		snprintf(out, outlen, "(unknown)");
}

int cmd_run(struct na_ctl *ctl, int argc, char **argv)
{
	static const struct na_opt opts[] = {
		{ "strict", 's' },
		{ "cgroup", 'c', NA_OPT_VALUE },
		{ .flags = NA_OPT_IN_ORDER },	/* options end at the command to run */
	};
	const struct na_cmd *cmd = na_find_cmd("run");
	const char *cgspec = NULL;
	char shim[PATH_MAX], prog[PATH_MAX], where[PATH_MAX];
	struct na_cgroup cg;
	bool strict = false;
	int c, err, enrolled;

	while ((c = na_opt_next(ctl, cmd, argc, argv, opts)) != -1) {
		switch (c) {
		case 's':
			strict = true;
			break;
		case 'c':
			cgspec = optarg;
			break;
		case 'h':
			return NA_EXIT_OK;
		default:
			return RUN_EXIT_FAIL;
		}
	}
	if (optind >= argc) {
		na_usage_error(cmd, "missing the command to run");
		return RUN_EXIT_FAIL;
	}
	if (!*argv[optind]) {
		na_usage_error(cmd, "the command to run is empty");
		return RUN_EXIT_FAIL;
	}

	if (find_shim(shim, sizeof(shim)))
		return RUN_EXIT_FAIL;
	err = resolve_cmd(argv[optind], prog, sizeof(prog));
	if (err == -ENOENT || err == -ENOTDIR) {
		na_err("%s: command not found", argv[optind]);
		return RUN_EXIT_NOT_FOUND;
	}
	if (!err)
		warn_unpreloadable(prog);
	else
		snprintf(prog, sizeof(prog), "%s", argv[optind]);

	if (cgspec) {
		if (na_resolve_cgroup(cgspec, &cg))
			return RUN_EXIT_FAIL;
		err = na_cgroup_enter(cg.path, 0);
		if (err) {
			na_err("cannot move into cgroup %s: %s%s", cg.path, strerror(-err),
			       err == -EACCES || err == -EPERM ?
				" (needs write access to its cgroup.procs, usually root)" : "");
			return RUN_EXIT_FAIL;
		}
		na_info("moved into cgroup %s", cg.rel[0] ? cg.rel : "/");
	}
	own_cgroup(where, sizeof(where));
	enrolled = probe_enrolled();
	if (enrolled < 0) {
		na_err("cannot tell whether cgroup %s is enrolled: %s", where, strerror(-enrolled));
		return RUN_EXIT_FAIL;
	}
	if (!enrolled && (cgspec || strict)) {
		na_err("cgroup %s is not enrolled (run netaccel-ctl enroll %s --mode opt-in first)",
		       where, where);
		return RUN_EXIT_FAIL;
	}
	if (!enrolled)
		na_warn("cgroup %s is not enrolled: %s runs, but nothing is accelerated", where,
			argv[optind]);
	else
		na_info("cgroup %s is enrolled", where);

	err = set_preload(shim);
	if (err) {
		na_err("cannot set LD_PRELOAD: %s", strerror(-err));
		return RUN_EXIT_FAIL;
	}
	na_info("LD_PRELOAD=%s", getenv("LD_PRELOAD"));

	na_info("exec %s", prog);
	fflush(NULL);
	execv(prog, argv + optind);
	err = errno;
	na_err("cannot execute %s: %s", prog, strerror(err));
	return err == ENOENT ? RUN_EXIT_NOT_FOUND : RUN_EXIT_CANNOT_EXEC;
}
