package sense

import (
	"bytes"
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

// decodeRecord decodes a ring buffer sample (struct event, little-endian: the objects are
// built for little-endian targets only). The offsets are struct event's; TestDecodeRecord
// checks them against the generated type's layout.
func decodeRecord(b []byte) (Record, error) {
	if len(b) < recordSize {
		return Record{}, fmt.Errorf("%w: %d bytes, want %d", ErrShortRecord, len(b), recordSize)
	}
	le := binary.LittleEndian
	r := Record{
		Mono: le.Uint64(b[0:]), StartTime: le.Uint64(b[8:]), CgroupID: le.Uint64(b[16:]),
		PID: le.Uint32(b[24:]), TGID: le.Uint32(b[28:]), PPID: le.Uint32(b[32:]),
		UID: le.Uint32(b[36:]), GID: le.Uint32(b[40:]), NetNS: le.Uint32(b[44:]),
		Ret: int32(le.Uint32(b[48:])), Family: le.Uint16(b[52:]), SockType: b[58], Hook: b[59],
	}
	dport, sport := le.Uint16(b[54:]), le.Uint16(b[56:])
	comm := b[96:112]
	if n := bytes.IndexByte(comm, 0); n >= 0 {
		comm = comm[:n]
	}
	r.Comm = string(comm)
	switch r.Family {
	case afInet:
		r.Dest = netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[64:68])), dport)
		r.Source = netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[80:84])), sport)
	case afInet6:
		r.Dest = netip.AddrPortFrom(netip.AddrFrom16([16]byte(b[64:80])), dport)
		r.Source = netip.AddrPortFrom(netip.AddrFrom16([16]byte(b[80:96])), sport)
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
