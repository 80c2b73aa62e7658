// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
//
// rarenet's connect sensor: one record per connect(2) (and io_uring connect) to an IPv4 or
// IPv6 address, with its result, sent to user space through a ring buffer.
//
// Three ways in, of which user space attaches the first the kernel allows:
//
//   - fexit on __sys_connect_file, the function both connect(2) and io_uring's connect
//     reach: arguments and result in one call (needs BPF trampolines, "tracing" programs);
//   - kprobe and kretprobe on __sys_connect_file, paired by thread id;
//   - raw tracepoints sys_enter and sys_exit, filtered on the connect syscall number and
//     paired by thread id, plus io_uring_submit_req and io_uring_complete for io_uring's
//     connects, paired by request.
//
// Loopback destinations and the sensor's own process are dropped here, before any copy.
// This file is compiled by bpf2go (make generate); the objects are committed.

#include "types.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_endian.h>

#define AF_INET 2
#define AF_INET6 10
#define EBADF 9
#define ENOTSOCK 88
#define IORING_OP_CONNECT 16

#if defined(__TARGET_ARCH_x86)
#define NR_CONNECT 42
#define SYSCALL_NR(regs) BPF_CORE_READ((regs), orig_ax)
#elif defined(__TARGET_ARCH_arm64)
#define NR_CONNECT 203
#define SYSCALL_NR(regs) BPF_CORE_READ((regs), syscallno)
#else
#error "unsupported architecture"
#endif

// Set by user space before loading.
const volatile __u32 self_tgid = 0;
const volatile bool keep_loopback = false;
// Records wake user space only when this much is waiting, or when they come from a process
// not seen lately (whose /proc entry user space should read while it still exists); user
// space reads the rest on a timer. 0 wakes it for every record.
const volatile __u64 wakeup_bytes = 0;

// Where a record was seen.
enum hook {
	HOOK_SYSCALL = 1,  // connect(2), at the syscall boundary
	HOOK_IO_URING = 2, // an io_uring connect request
	HOOK_KERNEL = 3,   // __sys_connect_file: connect(2) or io_uring, not told apart
};


// One connect. Field order keeps every member naturally aligned without padding.
struct event {
	__u64 ts;         // bpf_ktime_get_ns() at the call (CLOCK_MONOTONIC)
	__u64 start_time; // the process's start time: tells a reused pid apart
	__u64 cgroup_id;
	__u32 pid; // thread id
	__u32 tgid;
	__u32 ppid;
	__u32 uid;
	__u32 gid;
	__u32 netns;
	__s32 ret; // 0 or -errno
	__u16 family;
	__u16 dport;
	__u16 sport;
	__u8 sock_type;
	__u8 hook;
	__u32 fd;
	__u8 daddr[16];
	__u8 saddr[16];
	char comm[16];
	__u64 file; // kernel pointer to the socket's file between call and return; 0 in records
};

// Force bpf2go to emit the Go type of a record.
const struct event *unused_event __attribute__((unused));

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20); // user space may resize before loading
} events SEC(".maps");

// Calls waiting for their return, by thread id (syscall, kprobe) or request (io_uring). LRU,
// so a thread that dies inside connect cannot leave its entry for ever.
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, __u64);
	__type(value, struct event);
} inflight SEC(".maps");

// Counters, in .bss: user space reads them through a memory mapping, which needs no
// capability, so they stay readable after the sensor dropped CAP_BPF.
__u64 events_total = 0; // records written to the ring buffer
__u64 lost_total = 0;   // records dropped because the ring buffer was full

// Processes whose records were sent lately, by tgid (the value is unused). LRU: sized like
// user space's cache of process details.
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, __u8);
} announced SEC(".maps");

static __always_inline void count(__u64 *counter)
{
	__sync_fetch_and_add(counter, 1);
}

// read_addr copies the destination of a sockaddr (user or kernel memory) into e. It returns
// false for what is not reported: other families, short addresses, loopback.
static __always_inline bool read_addr(struct event *e, const void *sa, int len, bool user)
{
	__u16 family = 0;
	if (user)
		bpf_probe_read_user(&family, sizeof(family), sa);
	else
		bpf_probe_read_kernel(&family, sizeof(family), sa);
	if (family == AF_INET) {
		struct sockaddr_in in = {};
		if (len < (int)sizeof(in))
			return false;
		if (user)
			bpf_probe_read_user(&in, sizeof(in), sa);
		else
			bpf_probe_read_kernel(&in, sizeof(in), sa);
		__builtin_memcpy(e->daddr, &in.sin_addr, 4);
		e->dport = bpf_ntohs(in.sin_port);
		if (!keep_loopback && e->daddr[0] == 127)
			return false;
	} else if (family == AF_INET6) {
		struct sockaddr_in6 in6 = {};
		// The kernel accepts the RFC 2133 length, without sin6_scope_id.
		if (len < 24)
			return false;
		if (user)
			bpf_probe_read_user(&in6, 24, sa);
		else
			bpf_probe_read_kernel(&in6, 24, sa);
		__builtin_memcpy(e->daddr, in6.sin6_addr, 16);
		e->dport = bpf_ntohs(in6.sin6_port);
		__u32 w[4];
		__builtin_memcpy(w, in6.sin6_addr, 16);
		if (!keep_loopback && w[0] == 0 && w[1] == 0) {
			if (w[2] == 0 && w[3] == bpf_htonl(1))
				return false; // ::1
			if (w[2] == bpf_htonl(0xffff) && e->daddr[12] == 127)
				return false; // ::ffff:127.0.0.0/104
		}
	} else {
		return false;
	}
	e->family = family;
	return true;
}

// read_task fills in who is connecting: the current task.
static __always_inline void read_task(struct event *e)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u64 ug = bpf_get_current_uid_gid();
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	e->pid = (__u32)id;
	e->tgid = id >> 32;
	e->uid = (__u32)ug;
	e->gid = ug >> 32;
	e->ppid = BPF_CORE_READ(task, real_parent, tgid);
	e->start_time = BPF_CORE_READ(task, group_leader, start_time);
	e->netns = BPF_CORE_READ(task, nsproxy, net_ns, ns.inum);
	e->cgroup_id = bpf_get_current_cgroup_id();
	bpf_get_current_comm(e->comm, sizeof(e->comm));
}

// fd_file returns the file of the current task's descriptor fd.
static __always_inline struct file *fd_file(__u32 fd)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	if (fd >= BPF_CORE_READ(fdt, max_fds))
		return 0;
	struct file **fds = BPF_CORE_READ(fdt, fd);
	struct file *f = 0;
	bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]);
	return f;
}

// read_sock adds what the socket knows after the call: its type, and the source address and
// port the kernel chose.
static __always_inline void read_sock(struct event *e, struct file *f)
{
	if (!f || e->ret == -EBADF || e->ret == -ENOTSOCK)
		return;
	struct socket *sock = BPF_CORE_READ(f, private_data);
	if (!sock)
		return;
	e->sock_type = (__u8)BPF_CORE_READ(sock, type);
	struct sock *sk = BPF_CORE_READ(sock, sk);
	if (!sk)
		return;
	e->sport = BPF_CORE_READ(sk, __sk_common.skc_num);
	if (e->family == AF_INET) {
		__be32 a = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);
		__builtin_memcpy(e->saddr, &a, 4);
	} else {
		BPF_CORE_READ_INTO(&e->saddr, sk, __sk_common.skc_v6_rcv_saddr.in6_u.u6_addr8);
	}
}

static __always_inline void submit(struct event *e)
{
	e->file = 0;
	__u64 flags = 0;
	if (wakeup_bytes) {
		__u8 one = 1;
		if (!bpf_map_lookup_elem(&announced, &e->tgid)) {
			bpf_map_update_elem(&announced, &e->tgid, &one, BPF_ANY);
			flags = BPF_RB_FORCE_WAKEUP;
		} else if (bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) < wakeup_bytes) {
			flags = BPF_RB_NO_WAKEUP;
		} else {
			flags = BPF_RB_FORCE_WAKEUP;
		}
	}
	if (bpf_ringbuf_output(&events, e, sizeof(*e), flags) == 0)
		count(&events_total);
	else
		count(&lost_total);
}

// enter records a call in flight under key. The record starts as a zeroed map value: a
// struct event is too large for the BPF stack alongside the helpers' frames.
static __always_inline int enter(__u64 key, const void *sa, int len, bool user, __u32 fd, struct file *f, __u8 hook)
{
	if ((bpf_get_current_pid_tgid() >> 32) == self_tgid)
		return 0;
	struct event e = {};
	if (!read_addr(&e, sa, len, user))
		return 0;
	e.ts = bpf_ktime_get_ns();
	e.hook = hook;
	e.fd = fd;
	e.file = (__u64)f;
	read_task(&e);
	bpf_map_update_elem(&inflight, &key, &e, BPF_ANY);
	return 0;
}

// leave completes the call in flight under key with its result and sends it.
static __always_inline int leave(__u64 key, long ret)
{
	struct event *e = bpf_map_lookup_elem(&inflight, &key);
	if (!e)
		return 0;
	e->ret = (__s32)ret;
	struct file *f = (struct file *)e->file;
	if (!f && e->hook == HOOK_SYSCALL)
		f = fd_file(e->fd);
	read_sock(e, f);
	submit(e);
	bpf_map_delete_elem(&inflight, &key);
	return 0;
}

SEC("raw_tracepoint/sys_enter")
int sys_enter(struct bpf_raw_tracepoint_args *ctx)
{
	if (ctx->args[1] != NR_CONNECT)
		return 0;
	struct pt_regs *regs = (struct pt_regs *)ctx->args[0];
	int fd = PT_REGS_PARM1_CORE_SYSCALL(regs);
	const void *sa = (const void *)PT_REGS_PARM2_CORE_SYSCALL(regs);
	int len = PT_REGS_PARM3_CORE_SYSCALL(regs);
	return enter(bpf_get_current_pid_tgid(), sa, len, true, fd, 0, HOOK_SYSCALL);
}

SEC("raw_tracepoint/sys_exit")
int sys_exit(struct bpf_raw_tracepoint_args *ctx)
{
	struct pt_regs *regs = (struct pt_regs *)ctx->args[0];
	if (SYSCALL_NR(regs) != NR_CONNECT)
		return 0;
	return leave(bpf_get_current_pid_tgid(), (long)ctx->args[1]);
}

// io_uring requests are keyed by their address, with the top bit set so a key can never
// equal a pid_tgid key.
#define REQ_KEY(req) (((__u64)(req)) | (1ULL << 63))

SEC("raw_tracepoint/io_uring_submit_req")
int io_uring_submit(struct bpf_raw_tracepoint_args *ctx)
{
	struct io_kiocb *req = (struct io_kiocb *)ctx->args[0];
	if (BPF_CORE_READ(req, opcode) != IORING_OP_CONNECT)
		return 0;
	struct io_connect *conn = (struct io_connect *)&req->cmd;
	const void *sa = BPF_CORE_READ(conn, addr);
	int len = BPF_CORE_READ(conn, addr_len);
	struct file *f = BPF_CORE_READ(conn, file);
	// The address was copied into the kernel at prep time in recent kernels, but the user's
	// copy is still there and readable from the submitting task.
	return enter(REQ_KEY(req), sa, len, true, 0, f, HOOK_IO_URING);
}

SEC("raw_tracepoint/io_uring_complete")
int io_uring_complete(struct bpf_raw_tracepoint_args *ctx)
{
	struct io_kiocb *req = (struct io_kiocb *)ctx->args[1];
	if (BPF_CORE_READ(req, opcode) != IORING_OP_CONNECT)
		return 0;
	return leave(REQ_KEY(req), BPF_CORE_READ(req, cqe.res));
}

SEC("kprobe/__sys_connect_file")
int BPF_KPROBE(kprobe_connect, struct file *file, void *addr, int addrlen)
{
	return enter(bpf_get_current_pid_tgid(), addr, addrlen, false, 0, file, HOOK_KERNEL);
}

SEC("kretprobe/__sys_connect_file")
int BPF_KRETPROBE(kretprobe_connect, long ret)
{
	return leave(bpf_get_current_pid_tgid(), ret);
}

SEC("fexit/__sys_connect_file")
int BPF_PROG(fexit_connect, struct file *file, void *addr, int addrlen, int flags, int ret)
{
	__u64 key = bpf_get_current_pid_tgid();
	enter(key, addr, addrlen, false, 0, file, HOOK_KERNEL);
	return leave(key, ret);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
