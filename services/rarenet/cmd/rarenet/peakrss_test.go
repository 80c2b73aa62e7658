package main

import (
	"runtime"
	"testing"
)

// TestPeakRSS checks the peak resident set read from /proc/self/status against memory this
// test touches: it grows by about what was touched.
func TestPeakRSS(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("skipped: VmHWM is Linux's")
	}
	before := peakRSS()
	if before <= 0 {
		t.Fatalf("peak RSS %d, want a positive size", before)
	}
	const touch = 64 << 20
	b := make([]byte, touch)
	for i := 0; i < len(b); i += 4096 {
		b[i] = 1
	}
	after := peakRSS()
	runtime.KeepAlive(b)
	if after-before < touch/2 {
		t.Errorf("peak RSS grew by %d bytes after touching %d, want about that much", after-before, touch)
	}
}
