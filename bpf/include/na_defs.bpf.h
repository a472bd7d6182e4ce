/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The kernel's constants that the BPF programs use and that the uapi
 * headers a BPF object can include do not give, defined once; and the
 * verdicts each kind of program returns, by name.
 */
#ifndef NA_DEFS_BPF_H
#define NA_DEFS_BPF_H

/* Address families, socket types, protocols, option levels. */
#define AF_INET 2
#define AF_INET6 10
#define SOCK_STREAM 1
#define IPPROTO_TCP 6
#define IPPROTO_UDP 17
#define SOL_TCP 6

/* errno values (programs return or set them negated). */
#define EACCES 13
#define EINVAL 22
#define ENOPROTOOPT 92
#define EOPNOTSUPP 95
#define EADDRINUSE 98
#define ECONNREFUSED 111

/* A file's status flags and mode. */
#define O_NONBLOCK 04000
#define S_IFMT 00170000
#define S_IFSOCK 0140000

#define CAP_NET_BIND_SERVICE 10

/* Ethernet. */
#define ETH_HLEN 14
#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define PACKET_HOST 0

/*
 * Verdicts.
 *
 * cgroup programs (sock, sock_addr, sockopt) and sockops: let the call or
 * the connection go on, or fail the call (EPERM, unless the program set
 * another error with bpf_set_retval). A sockops program that rejects
 * makes the kernel ignore its reply.
 */
#define NA_CG_OK 1
#define NA_CG_REJECT 0
/* bind: go on, and skip the kernel's CAP_NET_BIND_SERVICE check on the
 * port the program bound. */
#define NA_CG_BIND_NO_CAP_CHECK 3
/* tracing programs: the kernel ignores what they return. */
#define NA_TRACE_DONE 0
/* tc (tcx): the next program, or the normal path after the last; for a
 * clsact filter the same value (TC_ACT_UNSPEC) means the next filter. */
#define NA_TC_NEXT -1

#endif /* NA_DEFS_BPF_H */
