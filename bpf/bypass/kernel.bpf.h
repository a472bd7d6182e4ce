/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The kernel structures and system call numbers the bypass reads, as CO-RE
 * mirrors reduced to the fields it uses.
 * Part of bypass.bpf.c (one BPF object), included once from there.
 */
#ifndef NA_BYPASS_KERNEL_BPF_H
#define NA_BYPASS_KERNEL_BPF_H

/*
 * The kernel structures read to measure a peer's backlog, reduced to the
 * fields used. preserve_access_index makes every access a CO-RE
 * relocation, fixed up at load time against the running kernel's BTF.
 */
struct tcp_sock {
	__u32 rcv_nxt;
	__u32 copied_seq;
	__u32 write_seq;
} __attribute__((preserve_access_index));

struct inode {
	unsigned short i_mode;
} __attribute__((preserve_access_index));

struct file {
	struct inode *f_inode;
	unsigned int f_flags;
	void *private_data;
} __attribute__((preserve_access_index));

struct socket;

struct kernfs_node {
	__u64 id;
} __attribute__((preserve_access_index));

struct cgroup_subsys_state {
	struct cgroup_subsys_state *parent;
} __attribute__((preserve_access_index));

struct cgroup {
	struct cgroup_subsys_state self;
	struct kernfs_node *kn;
} __attribute__((preserve_access_index));

struct sock_cgroup_data {
	struct cgroup *cgroup;
} __attribute__((preserve_access_index));

/* A socket's network namespace, by the inode number user space sees for
 * it (/proc/<pid>/ns/net, /run/netns/<name>). */
struct ns_common {
	unsigned int inum;
} __attribute__((preserve_access_index));

struct net {
	struct ns_common ns;
} __attribute__((preserve_access_index));

struct sock_common {
	struct {
		struct net *net;
	} skc_net;
} __attribute__((preserve_access_index));

struct sock {
	struct sock_common __sk_common;
	struct sock_cgroup_data sk_cgrp_data;
	int sk_rcvbuf;
	int sk_rcvlowat;
	void *sk_user_data;
	struct socket *sk_socket;
	struct {
		struct {
			int counter;
		} rmem_alloc;
	} sk_backlog;
} __attribute__((preserve_access_index));

struct socket {
	struct sock *sk;
	struct file *file;
} __attribute__((preserve_access_index));

struct sk_psock {
	__u32 msg_tot_len;
} __attribute__((preserve_access_index));

struct task_struct;

/* The system call a task is in, to tell a recv() from a splice(), and its
 * second argument: the buffer of read() and recvfrom(), the iovec array
 * of readv(), the msghdr of recvmsg() (the first one of recvmmsg()). */
#if defined(__TARGET_ARCH_x86)
struct pt_regs {
	long orig_ax;
	unsigned long si;
} __attribute__((preserve_access_index));
#define NA_SYSCALL_NR(regs) ((regs)->orig_ax)
#define NA_SYSCALL_ARG1(regs) ((regs)->si)
#define NA_IS_RECV(nr) ((nr) == 0 || (nr) == 19 || (nr) == 45 || (nr) == 47 || (nr) == 299)
#define NA_IS_SPLICE(nr) ((nr) == 275 || (nr) == 40)	/* splice, sendfile */
#define NA_IS_READV(nr) ((nr) == 19)
#define NA_IS_RECVMSG(nr) ((nr) == 47 || (nr) == 299)
#elif defined(__TARGET_ARCH_arm64)
struct pt_regs {
	unsigned long regs[31];
	int syscallno;
} __attribute__((preserve_access_index));
#define NA_SYSCALL_NR(regs) ((regs)->syscallno)
#define NA_SYSCALL_ARG1(regs) ((regs)->regs[1])
#define NA_IS_RECV(nr) ((nr) == 63 || (nr) == 65 || (nr) == 207 || (nr) == 212 || (nr) == 243)
#define NA_IS_SPLICE(nr) ((nr) == 76 || (nr) == 71)
#define NA_IS_READV(nr) ((nr) == 65)
#define NA_IS_RECVMSG(nr) ((nr) == 212 || (nr) == 243)
#endif
/* Where msg_iov is in a struct user_msghdr (64-bit). */
#define NA_MSGHDR_IOV 16

/* A read-only typed view of a kernel address (Linux 6.2+), for direct
 * loads; older kernels take the fault-safe reads. */
extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym __weak;

#endif /* NA_BYPASS_KERNEL_BPF_H */
