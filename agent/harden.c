// SPDX-License-Identifier: GPL-2.0-only
/*
 * Capabilities and the seccomp allow-list of the agent's loops (the veth
 * watch, netaccel-agent's daemon), with libcap and libseccomp.
 */
#include <errno.h>
#include <stdbool.h>
#include <sys/capability.h>

#include <seccomp.h>

#include "harden.h"

int na_harden_caps(unsigned int flags)
{
	bool has_bpf = CAP_IS_SUPPORTED(CAP_BPF);
	cap_value_t keep[5];
	int n = 0, err = 0;
	cap_value_t c;
	cap_t caps;

	keep[n++] = CAP_NET_ADMIN;
	keep[n++] = has_bpf ? CAP_BPF : CAP_SYS_ADMIN;
	if ((flags & NA_HARDEN_LOAD) && has_bpf && CAP_IS_SUPPORTED(CAP_PERFMON))
		keep[n++] = CAP_PERFMON;
	if (flags & NA_HARDEN_CGROUPS)
		keep[n++] = CAP_DAC_READ_SEARCH;
	if ((flags & NA_HARDEN_NETNS) && has_bpf)
		keep[n++] = CAP_SYS_ADMIN;
	for (c = 0; c <= CAP_LAST_CAP; c++) {
		bool kept = false;

		for (int i = 0; i < n; i++)
			kept |= c == keep[i];
		if (!kept && CAP_IS_SUPPORTED(c) && cap_drop_bound(c) && errno != EINVAL)
			return -errno;
	}
	caps = cap_init();
	if (!caps)
		return -errno;
	if (cap_set_flag(caps, CAP_PERMITTED, n, keep, CAP_SET) ||
	    cap_set_flag(caps, CAP_EFFECTIVE, n, keep, CAP_SET) || cap_set_proc(caps))
		err = -errno;
	cap_free(caps);
	return err;
}

const char *const na_harden_base[] = {
	"bpf", "poll", "ppoll", "recvfrom", "recvmsg", "sendto", "sendmsg",
	"socket", "bind", "getsockname", "setsockopt", "getsockopt", "close",
	"read", "write", "writev", "flock", "unlink", "unlinkat", "access",
	"faccessat", "faccessat2", "openat", "open", "getdents64", "fstat",
	"newfstatat", "statx", "lseek", "ioctl", "brk", "mmap", "munmap",
	"mremap", "madvise", "futex", "clock_gettime", "clock_nanosleep",
	"nanosleep", "gettimeofday", "getpid", "gettid", "rt_sigaction",
	"rt_sigprocmask", "rt_sigreturn", "restart_syscall", "exit",
	"exit_group", "fcntl", "uname", "getrandom", "readlink", "readlinkat",
	"open_by_handle_at", "name_to_handle_at",
};
const size_t na_harden_nbase = sizeof(na_harden_base) / sizeof(na_harden_base[0]);

static int allow(scmp_filter_ctx ctx, const char *const *names, size_t n)
{
	size_t i;
	int nr, err;

	for (i = 0; i < n; i++) {
		nr = seccomp_syscall_resolve_name(names[i]);
		if (nr == __NR_SCMP_ERROR)
			continue;	/* not on this architecture */
		err = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
		if (err)
			return err;
	}
	return 0;
}

int na_harden_seccomp(const char *const *extra, size_t nextra)
{
	scmp_filter_ctx ctx;
	int err;

	ctx = seccomp_init(SCMP_ACT_ERRNO(EPERM));
	if (!ctx)
		return -ENOMEM;
	err = allow(ctx, na_harden_base, na_harden_nbase);
	if (!err)
		err = allow(ctx, extra, nextra);
	if (!err)
		err = seccomp_load(ctx);
	seccomp_release(ctx);
	return err;
}
