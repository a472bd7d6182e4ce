/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Address predicates the datapaths share. Addresses are in network byte
 * order, IPv6 ones as four 32-bit words as the kernel's BPF contexts give
 * them (a context's words must be read one by one).
 */
#ifndef NA_ADDR_BPF_H
#define NA_ADDR_BPF_H

#include <linux/types.h>
#include <bpf/bpf_endian.h>

/* 127.0.0.0/8. */
static __always_inline int na_v4_loopback(__u32 a)
{
	return (bpf_ntohl(a) >> 24) == 127;
}

/* ::1. */
static __always_inline int na_v6_loopback(__u32 a0, __u32 a1, __u32 a2, __u32 a3)
{
	return !a0 && !a1 && !a2 && a3 == bpf_htonl(1);
}

/* ::ffff:a.b.c.d (the IPv4 address is the last word). */
static __always_inline int na_v6_v4mapped(__u32 a0, __u32 a1, __u32 a2)
{
	return !a0 && !a1 && a2 == bpf_htonl(0x0000ffff);
}

#endif /* NA_ADDR_BPF_H */
