// Package partition routes events to partitions by their by-field value, so that every event
// of one process.name lands on the same partition and so on the same scorer.
package partition

import "github.com/cespare/xxhash/v2"

// Of returns the partition of a by-field value: xxhash64(value) mod n. n must be positive.
func Of(value string, n int) int {
	return int(xxhash.Sum64String(value) % uint64(n))
}
