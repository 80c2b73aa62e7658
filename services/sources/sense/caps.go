package sense

import (
	"fmt"

	"kernel.org/pub/linux/libs/security/libcap/cap"
)

// Kept are the capabilities the sensor still needs once its probe is attached: reading
// /proc/<pid>/exe and cwd of every process (CAP_SYS_PTRACE, the ptrace read check) and
// /proc files that a hidepid mount or a process's own permissions hide (CAP_DAC_READ_SEARCH).
// The ring buffer and the counters are memory-mapped and need none.
var Kept = []cap.Value{cap.SYS_PTRACE, cap.DAC_READ_SEARCH}

// DropCapabilities leaves the process, on every thread (libcap's psx), with at most the
// capabilities in keep that it holds, in its permitted and effective sets; it clears the
// inheritable and ambient sets and the bounding set of everything else, so nothing can be
// regained. It returns the capabilities kept.
func DropCapabilities(keep ...cap.Value) ([]string, error) {
	now := cap.GetProc()
	set := cap.NewSet()
	var kept []string
	var held []cap.Value
	for _, v := range keep {
		if ok, err := now.GetFlag(cap.Permitted, v); err == nil && ok {
			held = append(held, v)
			kept = append(kept, v.String())
		}
	}
	// Dropping from the bounding set needs CAP_SETPCAP, so it comes first.
	if ok, _ := now.GetFlag(cap.Effective, cap.SETPCAP); ok {
		var drop []cap.Value
		for v := cap.Value(0); v < cap.MaxBits(); v++ {
			if !contains(held, v) {
				drop = append(drop, v)
			}
		}
		if err := cap.DropBound(drop...); err != nil {
			return nil, fmt.Errorf("sense: drop capabilities from the bounding set: %w", err)
		}
	}
	if err := cap.ResetAmbient(); err != nil {
		return nil, fmt.Errorf("sense: reset ambient capabilities: %w", err)
	}
	if err := set.SetFlag(cap.Permitted, true, held...); err != nil {
		return nil, err
	}
	if err := set.SetFlag(cap.Effective, true, held...); err != nil {
		return nil, err
	}
	if err := set.SetProc(); err != nil {
		return nil, fmt.Errorf("sense: drop capabilities: %w", err)
	}
	return kept, nil
}

func contains(vs []cap.Value, v cap.Value) bool {
	for _, w := range vs {
		if w == v {
			return true
		}
	}
	return false
}
