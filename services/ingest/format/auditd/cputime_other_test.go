//go:build !linux

package auditd

import "time"

// threadCPU returns 0 where the thread's CPU time is not known; benchmarks then report wall
// time only.
func threadCPU() time.Duration { return 0 }
