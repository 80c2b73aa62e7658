package ecs

import (
	"hash/maphash"
	"slices"
)

// The intern table's size, in slots (string headers, 16 bytes each). It starts small, as
// ingest keeps a decoder per source and a source of one host repeats few values (its name,
// users, processes, executables, the IPs it talks to), and grows with the values a source
// shows, to at most maxInternSlots: 128 KiB of headers, which holds the working set of a
// replayed fleet (the bundled sample's 4096-line mix has 1309 distinct strings). A source
// with more distinct values than that (many destination IPs, unique args) only allocates
// the strings it would have allocated anyway.
const (
	minInternSlots = 256
	maxInternSlots = 8192
	internWays     = 4
)

// interner turns the bytes of a field into a string that is safe to keep, allocating only
// when the value is not in its table: the event it goes into is reused, but its strings
// are handed to receivers that may keep them, so they never alias a reused buffer.
//
// The table is set associative: a value may sit in any of the internWays slots of its set
// (chosen by a hash of the bytes), kept in order of last use. A hit moves the value to the
// front; a new value enters halfway, on probation, and pushes the last one out. So values
// seen once (unique args, say) cycle through the back half of their set and never push out
// the values that repeat, and two new values that alternate in one set both stay. When
// misses since the last growth pass half the table's size, it doubles.
type interner struct {
	seed   maphash.Seed
	slots  []string
	misses int
	last   [numFields]string // the field's previous value: repeats skip the hash
}

func newInterner() *interner {
	return &interner{seed: maphash.MakeSeed(), slots: make([]string, minInternSlots)}
}

// intern returns b as a string, for field f.
func (in *interner) intern(f field, b []byte) string {
	if s := in.last[f]; s == string(b) {
		return s
	}
	s := in.get(b)
	in.last[f] = s
	return s
}

// get returns b as a string from the table, adding it if it is new.
func (in *interner) get(b []byte) string {
	set := in.set(b)
	for j, s := range set {
		if s == string(b) {
			copy(set[1:j+1], set[:j])
			set[0] = s
			return s
		}
	}
	s := string(b)
	copy(set[internWays/2+1:], set[internWays/2:])
	set[internWays/2] = s
	if in.misses++; in.misses > len(in.slots)/2 && len(in.slots) < maxInternSlots {
		in.grow()
	}
	return s
}

// set returns the slots b may sit in.
func (in *interner) set(b []byte) []string {
	return in.setOf(maphash.Bytes(in.seed, b))
}

func (in *interner) setOf(hash uint64) []string {
	i := int(hash%uint64(len(in.slots)/internWays)) * internWays
	return in.slots[i : i+internWays : i+internWays]
}

// grow doubles the table, keeping its values, the most recently used of each set first.
func (in *interner) grow() {
	old := in.slots
	in.slots, in.misses = make([]string, 2*len(old)), 0
	for j := range internWays {
		for i := j; i < len(old); i += internWays {
			if s := old[i]; s != "" {
				set := in.setOf(maphash.String(in.seed, s))
				if k := slices.Index(set, ""); k >= 0 {
					set[k] = s
				}
			}
		}
	}
}
