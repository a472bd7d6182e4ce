// SPDX-License-Identifier: GPL-2.0-only
/*
 * The kernel features each datapath uses, probed on the running kernel:
 * program and map types by loading tiny programs, attach types by loading
 * with the expected attach type, helpers with libbpf's probes, and the
 * fields, functions and tracepoints of the kernel's BTF by name. A missing
 * required feature means the datapath cannot load; a missing optional one
 * means it loads a variant without it, which `if_missing` describes.
 */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include <netaccel/state.h>

#include "internal.h"

/* A program "return 1" of type and expected attach type: does it load? */
static bool prog_loads(enum bpf_prog_type type, enum bpf_attach_type attach)
{
	const struct bpf_insn insns[] = {
		{ .code = 0xb7, .dst_reg = 0, .imm = 1 },	/* r0 = 1 */
		{ .code = 0x95 },				/* exit */
	};
	LIBBPF_OPTS(bpf_prog_load_opts, opts, .expected_attach_type = attach);
	int fd;

	fd = bpf_prog_load(type, NULL, "GPL", insns, 2, &opts);
	if (fd < 0)
		return false;
	close(fd);
	return true;
}

static bool btf_has(const struct btf *btf, const char *name, int kind)
{
	return btf && btf__find_by_name_kind(btf, name, kind) > 0;
}

/* Whether the struct (BTF_KIND_STRUCT) or enum (BTF_KIND_ENUM) called name
 * in the kernel's BTF has a member or value called part. */
bool na_btf_has_part(const struct btf *btf, const char *name, int kind, const char *part)
{
	const struct btf_type *t;
	int id, i;

	id = btf ? btf__find_by_name_kind(btf, name, kind) : -1;
	if (id <= 0)
		return false;
	t = btf__type_by_id(btf, id);
	for (i = 0; i < btf_vlen(t); i++) {
		__u32 off = kind == BTF_KIND_ENUM ? btf_enum(t)[i].name_off : btf_members(t)[i].name_off;

		if (!strcmp(btf__name_by_offset(btf, off), part))
			return true;
	}
	return false;
}

int na_kernel_version(unsigned int *major, unsigned int *minor, unsigned int *patch)
{
	struct utsname uts;
	const char *v;

	if (uname(&uts))
		return -errno;
	/* Debian's and Ubuntu's release strings carry the ABI, not the
	 * patch level ("6.1.0-57-amd64"); the version string has the
	 * package's ("... Debian 6.1.192-3 ..."). */
	v = strstr(uts.version, "Debian ");
	if (v && sscanf(v + 7, "%u.%u.%u", major, minor, patch) == 3)
		return 0;
	*patch = 0;
	if (sscanf(uts.release, "%u.%u.%u", major, minor, patch) >= 2)
		return 0;
	return -EINVAL;
}

/* The fix that charges redirected bytes to the receiver's sk_rmem_alloc
 * (so that a receiver's unread queue can be measured without
 * sk_psock.msg_tot_len): 6.13, and the stable series it went back to. */
static bool rmem_charged(void)
{
	unsigned int a, b, c;

	if (na_kernel_version(&a, &b, &c))
		return false;
	if (a != 6)
		return a > 6;
	if (b >= 13)
		return true;
	return (b == 12 && c >= 8) || (b == 1 && c >= 122);
}

/*
 * Whether FIONREAD on a socket in a sockhash counts the bytes waiting in
 * TCP's own queue: every connection's first message, and a stream moved
 * to TCP. Kernels without the sockmap FIONREAD fix answer from TCP's queue
 * alone (tcp_ioctl); the fix as merged (Debian's 6.12.117) answers from it
 * while it holds anything; an earlier form of the fix (6.18.44) answers
 * from the redirect queue alone and says 0. BTF cannot tell these apart,
 * so this asks: a loopback connection whose reader is in a scratch
 * sockhash (no program, so nothing is redirected), one byte sent by TCP,
 * FIONREAD asked. 1 or 0; a negative errno where it could not be asked.
 */
static int fionread_counts_tcp(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sin);
	int lfd, cfd = -1, afd = -1, map, key = 0, q = -1, err = 0;
	uint64_t val;

	errno = 0;	/* a poll() that times out sets none */
	map = bpf_map_create(BPF_MAP_TYPE_SOCKHASH, NULL, sizeof(key), sizeof(val), 1, NULL);
	if (map < 0)
		return map;
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) ||
	    listen(lfd, 1) || getsockname(lfd, (struct sockaddr *)&sin, &len))
		goto fail;
	cfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (cfd < 0 || connect(cfd, (struct sockaddr *)&sin, sizeof(sin)))
		goto fail;
	afd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	val = (uint64_t)afd;
	if (afd < 0 || bpf_map_update_elem(map, &key, &val, BPF_ANY) ||
	    send(cfd, "x", 1, MSG_NOSIGNAL) != 1 ||
	    poll(&(struct pollfd){ .fd = afd, .events = POLLIN }, 1, 1000) != 1 ||
	    ioctl(afd, FIONREAD, &q))
		goto fail;
	goto out;
fail:
	err = errno ? -errno : -EIO;
out:
	if (afd >= 0)
		close(afd);
	if (cfd >= 0)
		close(cfd);
	if (lfd >= 0)
		close(lfd);
	close(map);
	return err ? err : q == 1;
}

/* The kernel's BTF through the bpf() system call: one copy, where reading
 * /sys/kernel/btf/vmlinux takes a system call per page (over a thousand,
 * slow under emulation). The sysfs file where that fails. */
struct btf *na_kernel_btf(void)
{
	__u32 id = 0;
	struct btf *btf;

	while (!bpf_btf_get_next_id(id, &id)) {
		struct bpf_btf_info info = {};
		__u32 len = sizeof(info);
		char name[16] = "";
		int fd = bpf_btf_get_fd_by_id(id);

		if (fd < 0)
			continue;
		info.name = (__u64)(unsigned long)name;
		info.name_len = sizeof(name);
		if (!bpf_obj_get_info_by_fd(fd, &info, &len) && info.kernel_btf &&
		    !strcmp(name, "vmlinux")) {
			close(fd);
			btf = btf__load_from_kernel_by_id(id);
			if (!libbpf_get_error(btf))
				return btf;
			break;
		}
		close(fd);
	}
	btf = btf__load_vmlinux_btf();
	return libbpf_get_error(btf) ? NULL : btf;
}

size_t na_probe_features(struct na_feature *f, size_t max)
{
	struct btf *btf = na_kernel_btf();
	bool tot_len, charged, inq_tcp;
	size_t n = 0;
	int r;

	tot_len = na_btf_has_part(btf, "sk_psock", BTF_KIND_STRUCT, "msg_tot_len");
	charged = rmem_charged();
	/* Where it cannot be asked: kernels without the fix count TCP's
	 * queue; one with it may not. */
	r = fionread_counts_tcp();
	inq_tcp = r >= 0 ? r == 1 : !tot_len;

#define ADD(dp, req, nm, ok_, miss)                                                          \
	do {                                                                                 \
		if (n < max)                                                                 \
			f[n++] = (struct na_feature){ .datapath = dp, .required = req,       \
						      .name = nm, .ok = ok_, .if_missing = miss }; \
	} while (0)

	ADD("bypass", true, "sock_ops programs",
	    libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_SOCK_OPS, NULL) == 1, "");
	ADD("bypass", true, "sk_msg programs",
	    libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_SK_MSG, NULL) == 1, "");
	ADD("bypass", true, "cgroup sock programs",
	    libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_CGROUP_SOCK, NULL) == 1, "");
	ADD("bypass", true, "cgroup sockopt programs",
	    prog_loads(BPF_PROG_TYPE_CGROUP_SOCKOPT, BPF_CGROUP_SETSOCKOPT), "");
	ADD("bypass", true, "sockhash map",
	    libbpf_probe_bpf_map_type(BPF_MAP_TYPE_SOCKHASH, NULL) == 1, "");
	ADD("bypass", true, "socket storage map",
	    libbpf_probe_bpf_map_type(BPF_MAP_TYPE_SK_STORAGE, NULL) == 1, "");
	ADD("bypass", true, "socket storage in sk_msg",
	    libbpf_probe_bpf_helper(BPF_PROG_TYPE_SK_MSG, BPF_FUNC_sk_storage_get, NULL) == 1, "");
	ADD("bypass", true, "netns cookie in sock_ops",
	    libbpf_probe_bpf_helper(BPF_PROG_TYPE_SOCK_OPS, BPF_FUNC_get_netns_cookie, NULL) == 1, "");
	ADD("bypass", true, "cgroup ancestry in sock_create",
	    libbpf_probe_bpf_helper(BPF_PROG_TYPE_CGROUP_SOCK,
				    BPF_FUNC_get_current_ancestor_cgroup_id, NULL) == 1, "");
	ADD("bypass", true, "errno from sockopt programs",
	    libbpf_probe_bpf_helper(BPF_PROG_TYPE_CGROUP_SOCKOPT, BPF_FUNC_set_retval, NULL) == 1, "");
	ADD("bypass", false, "read tracepoint (tp_btf tcp_rcv_space_adjust)",
	    btf_has(btf, "btf_trace_tcp_rcv_space_adjust", BTF_KIND_TYPEDEF),
	    "no socket is seen reading, so nothing is redirected: every connection stays on TCP");
	ADD("bypass", false, "sk_psock.msg_tot_len (the sockmap FIONREAD fix; 6.12.85)", tot_len,
	    charged ? "FIONREAD counts no redirected byte (it says 0 while they wait; the fionread "
		      "protection keeps sockets seen asking it on TCP); the bound on a receiver's "
		      "unread bytes measures its receive memory instead" :
		      "FIONREAD counts no redirected byte (see the fionread protection), and "
		      "nothing bounds a receiver's unread redirected bytes: a peer that does not "
		      "read does not stop its sender");
	ADD("bypass", false, "FIONREAD counts bytes that took TCP (asked of the kernel)", inq_tcp,
	    "FIONREAD on a fast-path socket counts only redirected bytes: a program that asks "
	    "it before reading a connection's first message, or after its stream moved to "
	    "TCP, is told 0 while poll() says readable (one that reads anyway is unharmed)");
	ADD("bypass", false, "redirected bytes charged to the receiver (6.1.122, 6.12.8, 6.13)",
	    charged, tot_len ? "nothing: sk_psock.msg_tot_len measures the queue" :
			       "a peer that does not read does not stop its sender");
	ADD("bypass", false, "typed kernel reads (bpf_rdonly_cast, 6.2)",
	    btf_has(btf, "bpf_rdonly_cast", BTF_KIND_FUNC),
	    "the sender reads its peer with bpf_probe_read_kernel, which costs more per send");

	ADD("portmap", true, "cgroup connect, bind, sendmsg, recvmsg programs",
	    prog_loads(BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_CGROUP_INET4_CONNECT) &&
		    prog_loads(BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_CGROUP_INET4_BIND) &&
		    prog_loads(BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_CGROUP_UDP4_SENDMSG) &&
		    prog_loads(BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_CGROUP_UDP4_RECVMSG), "");
	ADD("portmap", true, "cgroup getsockname and getpeername programs (5.8)",
	    prog_loads(BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_CGROUP_INET4_GETSOCKNAME) &&
		    prog_loads(BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_CGROUP_INET4_GETPEERNAME), "");
	ADD("portmap", true, "cgroup post_bind and sock_release programs (5.9)",
	    prog_loads(BPF_PROG_TYPE_CGROUP_SOCK, BPF_CGROUP_INET4_POST_BIND) &&
		    prog_loads(BPF_PROG_TYPE_CGROUP_SOCK, BPF_CGROUP_INET_SOCK_RELEASE), "");

	ADD("veth", true, "tc programs",
	    libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_SCHED_CLS, NULL) == 1, "");
	ADD("veth", true, "bpf_redirect_peer (5.10)",
	    libbpf_probe_bpf_helper(BPF_PROG_TYPE_SCHED_CLS, BPF_FUNC_redirect_peer, NULL) == 1, "");
	ADD("veth", false, "tcx links (6.6)",
	    na_btf_has_part(btf, "bpf_attach_type", BTF_KIND_ENUM, "BPF_TCX_INGRESS"),
	    "a clsact qdisc and a tc filter instead (netaccel removes what it made)");
#undef ADD
	btf__free(btf);
	return n;
}
