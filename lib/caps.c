// SPDX-License-Identifier: GPL-2.0-only
/* Which capabilities an operation needs, and which of them the caller lacks. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/capability.h>

#include <netaccel/state.h>

#include "internal.h"

static bool have_cap(cap_t caps, cap_value_t cap)
{
	cap_flag_value_t v = CAP_CLEAR;

	return cap_get_flag(caps, cap, CAP_EFFECTIVE, &v) == 0 && v == CAP_SET;
}

int na_caps_check(bool attach, struct na_reason *why)
{
	char missing[128] = "";
	bool has_bpf_cap;
	cap_t caps;

	caps = cap_get_proc();
	if (!caps)
		return na_reason_set(why, -errno, "cannot read the capabilities: %s", strerror(errno));
	/* CAP_BPF exists since Linux 5.8; before it, CAP_SYS_ADMIN does its
	 * job. Either one is enough. */
	has_bpf_cap = CAP_IS_SUPPORTED(CAP_BPF);
	if (has_bpf_cap && !have_cap(caps, CAP_BPF) && !have_cap(caps, CAP_SYS_ADMIN))
		strcat(missing, ", CAP_BPF");
	if (!has_bpf_cap && !have_cap(caps, CAP_SYS_ADMIN))
		strcat(missing, ", CAP_SYS_ADMIN");
	if (attach && !have_cap(caps, CAP_NET_ADMIN))
		strcat(missing, ", CAP_NET_ADMIN");
	/* The sk_msg program reads a peer's backlog from kernel memory. */
	if (attach && CAP_IS_SUPPORTED(CAP_PERFMON) && !have_cap(caps, CAP_PERFMON) &&
	    !have_cap(caps, CAP_SYS_ADMIN))
		strcat(missing, ", CAP_PERFMON");
	cap_free(caps);
	if (!missing[0])
		return 0;
	return na_reason_set(why, -EPERM, "needs %s%s; missing: %s",
			     has_bpf_cap ? "CAP_BPF" : "CAP_SYS_ADMIN",
			     !attach ? "" :
			     has_bpf_cap ? ", CAP_NET_ADMIN and CAP_PERFMON" : " and CAP_NET_ADMIN",
			     missing + 2);
}
