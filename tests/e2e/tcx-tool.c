// SPDX-License-Identifier: GPL-2.0-only
/*
 * na-tcx-tool: what the veth tests need to see and make on tcx, which the
 * bpftool of Debian 12 does not know.
 *
 *   na-tcx-tool has <ifname>          exit 0 if the kernel has tcx (6.6+)
 *   na-tcx-tool count <ifname>        tcx ingress programs: "<n> <name>..."
 *   na-tcx-tool hold <ifname> <pin>   attach a program that only passes
 *                                     (another tool's), pin its link; on
 *                                     a kernel without tcx, pin the
 *                                     program for a tc filter instead
 */
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>

#define TCX_INGRESS 46

int main(int argc, char **argv)
{
	__u32 ids[64], i, n = 64;
	unsigned int ifindex;
	int fd, lfd;

	if (argc < 3 || !(ifindex = if_nametoindex(argv[2]))) {
		fprintf(stderr, "usage: na-tcx-tool has|count|hold <ifname> [<pin>]\n");
		return 2;
	}
	if (!strcmp(argv[1], "has")) {
		LIBBPF_OPTS(bpf_prog_query_opts, q, .prog_ids = ids, .prog_cnt = n);

		return bpf_prog_query_opts((int)ifindex, TCX_INGRESS, &q) ? 1 : 0;
	}
	if (!strcmp(argv[1], "count")) {
		LIBBPF_OPTS(bpf_prog_query_opts, q, .prog_ids = ids, .prog_cnt = n);

		if (bpf_prog_query_opts((int)ifindex, TCX_INGRESS, &q)) {
			perror("query");
			return 1;
		}
		printf("%u", q.prog_cnt);
		for (i = 0; i < q.prog_cnt && i < 64; i++) {
			struct bpf_prog_info info = {};
			__u32 len = sizeof(info);

			fd = bpf_prog_get_fd_by_id(ids[i]);
			if (fd >= 0 && !bpf_obj_get_info_by_fd(fd, &info, &len))
				printf(" %s", info.name);
			if (fd >= 0)
				close(fd);
		}
		printf("\n");
		return 0;
	}
	if (!strcmp(argv[1], "hold") && argc == 4) {
		/* r0 = -1 (TCX_NEXT); exit */
		struct bpf_insn prog[2] = {
			{ .code = 0xb7, .dst_reg = 0, .imm = -1 },
			{ .code = 0x95 },
		};

		fd = bpf_prog_load(BPF_PROG_TYPE_SCHED_CLS, "other_tool", "GPL", prog, 2, NULL);
		if (fd < 0) {
			perror("load");
			return 1;
		}
		lfd = bpf_link_create(fd, (int)ifindex, TCX_INGRESS, NULL);
		if (lfd < 0 && (errno == EINVAL || errno == EOPNOTSUPP) && !bpf_obj_pin(fd, argv[3]))
			return 0;
		if (lfd < 0 || bpf_obj_pin(lfd, argv[3])) {
			perror("attach");
			return 1;
		}
		return 0;
	}
	fprintf(stderr, "usage: na-tcx-tool has|count|hold <ifname> [<pin>]\n");
	return 2;
}
