/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The few kernel types the connect sensor reads, written by hand instead of a vmlinux.h
 * dumped from one machine's kernel: the object then does not depend on the kernel it was
 * built on, and the build is reproducible. Every struct carries preserve_access_index, so
 * libbpf-style CO-RE relocations (applied by cilium/ebpf at load time against the running
 * kernel's BTF) find each field wherever that kernel puts it; a struct lists only the
 * fields read, and fields inside the kernel's anonymous unions are named directly (the
 * relocation looks through anonymous members).
 */
#ifndef RARENET_TYPES_H
#define RARENET_TYPES_H

/* Kernel register names in bpf_tracing.h (di, not rdi), as with a vmlinux.h. */
#define __VMLINUX_H__

typedef unsigned char __u8;
typedef signed char __s8;
typedef unsigned short __u16;
typedef short __s16;
typedef unsigned int __u32;
typedef int __s32;
typedef unsigned long long __u64;
typedef long long __s64;
typedef __u16 __be16;
typedef __u32 __be32;
typedef __u32 __wsum;
typedef _Bool bool;
#define true 1
#define false 0

/* UAPI constants (include/uapi/linux/bpf.h): stable ABI. */
enum bpf_map_type {
	BPF_MAP_TYPE_HASH = 1,
	BPF_MAP_TYPE_LRU_HASH = 9,
	BPF_MAP_TYPE_RINGBUF = 27,
};
enum { BPF_ANY = 0 };
enum { BPF_RB_NO_WAKEUP = 1, BPF_RB_FORCE_WAKEUP = 2 };
enum { BPF_RB_AVAIL_DATA = 0 };

struct bpf_raw_tracepoint_args {
	__u64 args[0];
};

#if defined(__TARGET_ARCH_x86)
struct pt_regs {
	unsigned long r15, r14, r13, r12, bp, bx, r11, r10, r9, r8;
	unsigned long ax, cx, dx, si, di, orig_ax, ip, cs, flags, sp, ss;
} __attribute__((preserve_access_index));
#elif defined(__TARGET_ARCH_arm64)
struct user_pt_regs {
	__u64 regs[31];
	__u64 sp;
	__u64 pc;
	__u64 pstate;
} __attribute__((preserve_access_index));
struct pt_regs {
	union {
		struct user_pt_regs user_regs;
		struct {
			__u64 regs[31];
			__u64 sp;
			__u64 pc;
			__u64 pstate;
		};
	};
	__u64 orig_x0;
	__s32 syscallno;
} __attribute__((preserve_access_index));
#endif

struct in6_addr {
	union {
		__u8 u6_addr8[16];
	} in6_u;
} __attribute__((preserve_access_index));

struct ns_common {
	unsigned int inum;
} __attribute__((preserve_access_index));

struct net {
	struct ns_common ns;
} __attribute__((preserve_access_index));

struct nsproxy {
	struct net *net_ns;
} __attribute__((preserve_access_index));

struct file {
	void *private_data;
} __attribute__((preserve_access_index));

struct fdtable {
	unsigned int max_fds;
	struct file **fd;
} __attribute__((preserve_access_index));

struct files_struct {
	struct fdtable *fdt;
} __attribute__((preserve_access_index));

struct task_struct {
	int pid;
	int tgid;
	__u64 start_time;
	struct task_struct *real_parent;
	struct task_struct *group_leader;
	struct files_struct *files;
	struct nsproxy *nsproxy;
} __attribute__((preserve_access_index));

/* In the kernel these sit in anonymous unions of struct sock_common. */
struct sock_common {
	__be32 skc_rcv_saddr;
	__u16 skc_num;
	unsigned short skc_family;
	struct in6_addr skc_v6_rcv_saddr;
} __attribute__((preserve_access_index));

struct sock {
	struct sock_common __sk_common;
} __attribute__((preserve_access_index));

struct socket {
	short type;
	struct sock *sk;
} __attribute__((preserve_access_index));

/* io_uring (include/linux/io_uring_types.h, io_uring/net.c): a request, and the connect
 * command kept in its cmd area. */
struct io_cmd_data {
	struct file *file;
	__u8 data[56];
} __attribute__((preserve_access_index));

struct io_cqe {
	__u64 user_data;
	__s32 res;
} __attribute__((preserve_access_index));

struct io_kiocb {
	struct io_cmd_data cmd;
	__u8 opcode;
	struct io_cqe cqe;
} __attribute__((preserve_access_index));

struct io_connect {
	struct file *file;
	void *addr;
	int addr_len;
} __attribute__((preserve_access_index));

/* Socket addresses as connect(2) takes them (UAPI layouts, not relocated). */
struct sockaddr_in {
	__u16 sin_family;
	__be16 sin_port;
	__be32 sin_addr;
	__u8 pad[8];
};

struct sockaddr_in6 {
	__u16 sin6_family;
	__be16 sin6_port;
	__be32 sin6_flowinfo;
	__u8 sin6_addr[16];
	__u32 sin6_scope_id;
};

#endif
