package sense

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"syscall"
	"unsafe"
)

// Hooks: where in the kernel a record was taken (enum hook in bpf/connect.c).
const (
	hookSyscall = 1
	hookIOURing = 2
	hookKernel  = 3
)

// Socket address families and types as the kernel numbers them.
const (
	afInet     = 2
	afInet6    = 10
	sockStream = 1
	sockDgram  = 2
)

// recordSize is the size of struct event in bpf/connect.c.
const recordSize = int(unsafe.Sizeof(connectEvent{}))

// ErrShortRecord is returned for a ring buffer sample smaller than a record.
var ErrShortRecord = errors.New("sense: short record")

// Record is one connect as the kernel saw it.
type Record struct {
	// Mono is the time of the call on CLOCK_MONOTONIC, in nanoseconds.
	Mono uint64
	// StartTime tells processes apart that reuse a pid.
	StartTime uint64
	CgroupID  uint64
	PID, TGID uint32 // thread and process id, in the initial pid namespace
	PPID      uint32
	UID, GID  uint32
	NetNS     uint32
	// Ret is the call's result: 0 or a negated errno.
	Ret      int32
	Family   uint16
	SockType uint8
	Hook     uint8
	Dest     netip.AddrPort
	Source   netip.AddrPort // the zero address when the kernel had chosen none
	Comm     string
}

// decodeRecord decodes a ring buffer sample (struct event, host byte order: the objects are
// built for little-endian targets only).
func decodeRecord(b []byte) (Record, error) {
	if len(b) < recordSize {
		return Record{}, fmt.Errorf("%w: %d bytes, want %d", ErrShortRecord, len(b), recordSize)
	}
	var e connectEvent
	if _, err := binary.Decode(b[:recordSize], binary.LittleEndian, &e); err != nil {
		return Record{}, fmt.Errorf("sense: record: %w", err)
	}
	r := Record{
		Mono: e.Ts, StartTime: e.StartTime, CgroupID: e.CgroupId,
		PID: e.Pid, TGID: e.Tgid, PPID: e.Ppid, UID: e.Uid, GID: e.Gid, NetNS: e.Netns,
		Ret: e.Ret, Family: e.Family, SockType: e.SockType, Hook: e.Hook,
	}
	var comm [16]byte
	for i, c := range e.Comm {
		comm[i] = byte(c)
	}
	n := 0
	for n < len(comm) && comm[n] != 0 {
		n++
	}
	r.Comm = string(comm[:n])
	switch e.Family {
	case afInet:
		r.Dest = netip.AddrPortFrom(netip.AddrFrom4([4]byte(e.Daddr[:4])), e.Dport)
		r.Source = netip.AddrPortFrom(netip.AddrFrom4([4]byte(e.Saddr[:4])), e.Sport)
	case afInet6:
		r.Dest = netip.AddrPortFrom(netip.AddrFrom16(e.Daddr), e.Dport)
		r.Source = netip.AddrPortFrom(netip.AddrFrom16(e.Saddr), e.Sport)
	}
	return r, nil
}

// Outcome is event.outcome: success, unknown for a connect still in progress (a
// non-blocking socket's EINPROGRESS, as the auditd decoder reads it), failure otherwise.
func (r *Record) Outcome() string {
	switch {
	case r.Ret == 0:
		return "success"
	case r.Ret == -int32(syscall.EINPROGRESS):
		return "unknown"
	}
	return "failure"
}

// Errno is the symbolic name of a failed call's error (ECONNREFUSED), "" on success.
func (r *Record) Errno() string {
	if r.Ret >= 0 {
		return ""
	}
	if name, ok := errnoNames[syscall.Errno(-r.Ret)]; ok {
		return name
	}
	return fmt.Sprintf("errno %d", -r.Ret)
}

// Transport is network.transport from the socket type.
func (r *Record) Transport() string {
	switch r.SockType {
	case sockStream:
		return "tcp"
	case sockDgram:
		return "udp"
	}
	return ""
}

// HookName names where the record was taken.
func (r *Record) HookName() string {
	switch r.Hook {
	case hookSyscall:
		return "syscall"
	case hookIOURing:
		return "io_uring"
	case hookKernel:
		return "kernel"
	}
	return ""
}

// errnoNames are the errors connect(2) returns, by name, for error.code.
var errnoNames = map[syscall.Errno]string{
	syscall.EINPROGRESS:   "EINPROGRESS",
	syscall.ECONNREFUSED:  "ECONNREFUSED",
	syscall.ETIMEDOUT:     "ETIMEDOUT",
	syscall.ENETUNREACH:   "ENETUNREACH",
	syscall.EHOSTUNREACH:  "EHOSTUNREACH",
	syscall.EACCES:        "EACCES",
	syscall.EPERM:         "EPERM",
	syscall.EADDRINUSE:    "EADDRINUSE",
	syscall.EADDRNOTAVAIL: "EADDRNOTAVAIL",
	syscall.EAFNOSUPPORT:  "EAFNOSUPPORT",
	syscall.EALREADY:      "EALREADY",
	syscall.EISCONN:       "EISCONN",
	syscall.EINTR:         "EINTR",
	syscall.EAGAIN:        "EAGAIN",
	syscall.ECONNRESET:    "ECONNRESET",
	syscall.ECONNABORTED:  "ECONNABORTED",
	syscall.ENETDOWN:      "ENETDOWN",
	syscall.EBADF:         "EBADF",
	syscall.ENOTSOCK:      "ENOTSOCK",
	syscall.EINVAL:        "EINVAL",
	syscall.EFAULT:        "EFAULT",
	syscall.ENOENT:        "ENOENT",
	syscall.EPROTOTYPE:    "EPROTOTYPE",
}
