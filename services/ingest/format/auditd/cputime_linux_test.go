package auditd

import (
	"syscall"
	"time"
	"unsafe"
)

// threadCPU returns the CPU time the calling thread has used, for benchmarks on a shared
// machine, where wall time also counts the time other processes held the CPU. The caller
// locks its goroutine to its thread. It asks clock_gettime(CLOCK_THREAD_CPUTIME_ID), which
// is exact to the nanosecond, where getrusage(RUSAGE_THREAD) lags by up to a tick.
func threadCPU() time.Duration {
	const clockThreadCPUTime = 3 // CLOCK_THREAD_CPUTIME_ID, linux/time.h
	var ts syscall.Timespec
	if _, _, errno := syscall.Syscall(syscall.SYS_CLOCK_GETTIME, clockThreadCPUTime, uintptr(unsafe.Pointer(&ts)), 0); errno != 0 {
		return 0
	}
	return time.Duration(ts.Nano())
}
