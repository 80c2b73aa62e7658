package main

import (
	"runtime"
	"syscall"
	"testing"
)

// TestPeakRSS checks the peak resident set read from /proc/self/status against memory this
// test maps and touches outside Go's heap (so no page the heap already holds is reused): the
// peak is at least the resident set before plus what was touched.
func TestPeakRSS(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("skipped: VmHWM is Linux's")
	}
	before := procStatusBytes("VmRSS:")
	if before <= 0 {
		t.Fatalf("resident set %d, want a positive size", before)
	}
	const touch = 64 << 20
	mem, err := syscall.Mmap(-1, 0, touch, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Munmap(mem)
	for i := 0; i < len(mem); i += 4096 {
		mem[i] = 1
	}
	if peak := peakRSS(); peak < before+touch*9/10 {
		t.Errorf("peak RSS %d after touching %d bytes on a resident set of %d, want at least their sum", peak, touch, before)
	}
}
