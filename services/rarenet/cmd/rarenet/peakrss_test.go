package main

import (
	"bufio"
	"bytes"
	"os"
	"runtime"
	"strconv"
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
	before := residentNow(t)
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

// residentNow is VmRSS, the resident set now.
func residentNow(t *testing.T) int64 {
	t.Helper()
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(bytes.NewReader(raw))
	for sc.Scan() {
		if v, ok := bytes.CutPrefix(sc.Bytes(), []byte("VmRSS:")); ok {
			kb, err := strconv.ParseInt(string(bytes.TrimSuffix(bytes.TrimSpace(v), []byte(" kB"))), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmRSS in /proc/self/status")
	return 0
}
