package main

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
)

// peakRSS is this process's peak resident set in bytes (VmHWM of /proc/self/status), or 0
// where the system does not tell it.
//
// Not getrusage: a child started by Go's os/exec (clone with CLONE_VM|CLONE_VFORK, as a
// benchmark harness or a supervisor written in Go starts it) inherits at exec the peak of its
// parent's memory in ru_maxrss, for itself and for whoever waits for it, so a replay started
// by a process holding 800 MB reported 800 MB whatever it used. VmHWM belongs to the
// process's own address space.
func peakRSS() int64 { return procStatusBytes("VmHWM:") }

// procStatusBytes is a size field of /proc/self/status ("VmHWM:", "VmRSS:") in bytes, or 0
// when it cannot be read.
func procStatusBytes(field string) int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := bytes.CutPrefix(sc.Bytes(), []byte(field)); ok {
			kb, err := strconv.ParseInt(string(bytes.TrimSuffix(bytes.TrimSpace(v), []byte(" kB"))), 10, 64)
			if err != nil {
				return 0
			}
			return kb << 10
		}
	}
	return 0
}
