package ecs

import "hash/maphash"

// internSlots is how many strings a decoder keeps, in sets of internWays slots indexed by
// a hash of the bytes. A source repeats few values (its hosts, users, processes, executables, args,
// the IPs it talks to), so a few thousand hold a stream's working set; the table is 32 KiB
// of string headers per decoder, whatever the input, and a source with more distinct values
// (many destination IPs, say) only allocates the strings it would have allocated anyway.
const (
	internSlots = 2048
	internWays  = 4
)

// interner turns the bytes of a field into a string that is safe to keep, allocating only
// when the value is not in its table: the event it goes into is reused, but its strings
// are handed to receivers that may keep them, so they never alias a reused buffer.
//
// The table is set associative: a value may sit in any of the internWays slots of its set,
// kept in order of last use. A hit moves the value to the front; a new value enters halfway,
// on probation, and pushes the last one out. So a stream of values seen once (unique args,
// say) cycles through the back half and never pushes out the values that repeat, and two
// new values that alternate in one set both stay.
type interner struct {
	seed  maphash.Seed
	slots [internSlots]string
	last  [numFields]string // the field's previous value: repeats skip the hash
}

func newInterner() *interner {
	return &interner{seed: maphash.MakeSeed()}
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
	i := int(maphash.Bytes(in.seed, b)%(internSlots/internWays)) * internWays
	set := in.slots[i : i+internWays : i+internWays]
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
	return s
}
