//go:build !unix

package ecs

import "time"

// cpuTime is not measured here; the benchmarks then report no CPU figures.
func cpuTime() time.Duration { return 0 }
