package sense

import (
	"fmt"
	"net/netip"
	"runtime"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// io_uring's ABI (include/uapi/linux/io_uring.h), as much as one connect needs.
const (
	ioringOpConnect      = 16
	ioringOffSQRing      = 0
	ioringOffCQRing      = 0x8000000
	ioringOffSQEs        = 0x10000000
	ioringEnterGetEvents = 1
)

type uringParams struct {
	sqEntries, cqEntries, flags, sqThreadCPU, sqThreadIdle, features, wqFD uint32
	resv                                                                   [3]uint32
	sqOff                                                                  struct {
		head, tail, ringMask, ringEntries, flags, dropped, array, resv1 uint32
		userAddr                                                        uint64
	}
	cqOff struct {
		head, tail, ringMask, ringEntries, overflow, cqes, flags, resv1 uint32
		userAddr                                                        uint64
	}
}

type uringSQE struct {
	opcode, flags uint8
	ioprio        uint16
	fd            int32
	off, addr     uint64
	len, opFlags  uint32
	userData      uint64
	pad           [3]uint64
}

// uringConnect connects a TCP socket to addr with one io_uring request (no liburing: the
// raw system calls) and returns the request's result (0 or -errno).
func uringConnect(addr string) (int32, error) {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return 0, err
	}
	sock, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
	if err != nil {
		return 0, err
	}
	defer unix.Close(sock)
	// struct sockaddr_in, built by hand: the address must stay where the kernel reads it.
	sa := new([16]byte)
	sa[0] = unix.AF_INET
	sa[2], sa[3] = byte(ap.Port()>>8), byte(ap.Port())
	a4 := ap.Addr().As4()
	copy(sa[4:8], a4[:])
	var pin runtime.Pinner
	pin.Pin(sa)
	defer pin.Unpin()

	var p uringParams
	fd, _, errno := unix.Syscall(unix.SYS_IO_URING_SETUP, 4, uintptr(unsafe.Pointer(&p)), 0)
	if errno != 0 {
		return 0, fmt.Errorf("io_uring_setup: %w", errno)
	}
	defer unix.Close(int(fd))
	sqRing, err := unix.Mmap(int(fd), ioringOffSQRing, int(p.sqOff.array+p.sqEntries*4), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
	if err != nil {
		return 0, fmt.Errorf("mmap sq: %w", err)
	}
	defer unix.Munmap(sqRing)
	cqRing, err := unix.Mmap(int(fd), ioringOffCQRing, int(p.cqOff.cqes+p.cqEntries*16), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
	if err != nil {
		return 0, fmt.Errorf("mmap cq: %w", err)
	}
	defer unix.Munmap(cqRing)
	sqes, err := unix.Mmap(int(fd), ioringOffSQEs, int(p.sqEntries)*int(unsafe.Sizeof(uringSQE{})), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
	if err != nil {
		return 0, fmt.Errorf("mmap sqes: %w", err)
	}
	defer unix.Munmap(sqes)

	u32 := func(b []byte, off uint32) *uint32 { return (*uint32)(unsafe.Pointer(&b[off])) }
	tail := atomic.LoadUint32(u32(sqRing, p.sqOff.tail))
	idx := tail & *u32(sqRing, p.sqOff.ringMask)
	sqe := (*uringSQE)(unsafe.Pointer(&sqes[idx*uint32(unsafe.Sizeof(uringSQE{}))]))
	*sqe = uringSQE{opcode: ioringOpConnect, fd: int32(sock), off: 16, addr: uint64(uintptr(unsafe.Pointer(sa))), userData: 7}
	*u32(sqRing, p.sqOff.array+idx*4) = idx
	atomic.StoreUint32(u32(sqRing, p.sqOff.tail), tail+1)
	if _, _, errno := unix.Syscall6(unix.SYS_IO_URING_ENTER, fd, 1, 1, ioringEnterGetEvents, 0, 0); errno != 0 {
		return 0, fmt.Errorf("io_uring_enter: %w", errno)
	}
	head := atomic.LoadUint32(u32(cqRing, p.cqOff.head))
	if head == atomic.LoadUint32(u32(cqRing, p.cqOff.tail)) {
		return 0, fmt.Errorf("io_uring: no completion")
	}
	cqe := p.cqOff.cqes + (head&*u32(cqRing, p.cqOff.ringMask))*16
	res := *(*int32)(unsafe.Pointer(&cqRing[cqe+8]))
	atomic.StoreUint32(u32(cqRing, p.cqOff.head), head+1)
	runtime.KeepAlive(sa)
	return res, nil
}

// blockingConnect connects a blocking TCP socket to addr (Go's own dialer is non-blocking,
// so its connect(2) returns EINPROGRESS) and returns the result (0 or -errno).
func blockingConnect(addr string) (int32, error) {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return 0, err
	}
	sock, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
	if err != nil {
		return 0, err
	}
	defer unix.Close(sock)
	err = unix.Connect(sock, &unix.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().As4()})
	if errno, ok := err.(unix.Errno); ok {
		return -int32(errno), nil
	}
	return 0, err
}
