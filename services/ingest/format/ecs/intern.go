package ecs

// internBound is how many distinct strings a decoder keeps before it starts its table
// again. A source repeats few values (its hosts, users, processes, executables, the IPs it
// talks to), so a few thousand cover a stream's working set; at ~100 bytes an entry the
// table stays under half a megabyte per decoder, and a source with more distinct values
// (many destination IPs, say) only allocates the strings it would have allocated anyway.
const internBound = 4096

// interner turns the bytes of a field into a string that is safe to keep, allocating only
// the first time a value is seen: the event it goes into is reused, but its strings are
// handed to receivers that may keep them.
type interner struct {
	table map[string]string
	last  [numFields]string // the field's previous value: repeats skip the map
}

func newInterner() interner {
	return interner{table: make(map[string]string, 256)}
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
	if s, ok := in.table[string(b)]; ok {
		return s
	}
	if len(in.table) >= internBound {
		clear(in.table)
	}
	s := string(b)
	in.table[s] = s
	return s
}
