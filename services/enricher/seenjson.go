package enricher

// From one write of an entry to the next its maps of items change little: a process's hosts
// and addresses recur, and a bucket sees a few of them again (~9 of a bench process's 120
// addresses). So each map's JSON is kept as it was last written (seenText, per slot) and a
// write reads the map in the order it keeps, copies the items whose values are unchanged as
// they were written and writes only the others: no sort, no key escaped, no time formatted
// again. The keys kept are checked as the values are read (as many as the map has, each
// present: the same set, since they came from a map), and the text is made anew when they
// are not the map's any more.

// keyOrder holds the JSON of an entry's maps of items as they were last written.
type keyOrder struct{ hosts, users, ips, ports, sources seenText }

// seenText is a map of items as written last: its keys sorted, each one's value then, and the
// object, item i (its comma, key and value) at text[ends[i-1]:ends[i]] (from 1 for i = 0).
type seenText struct {
	keys  []string
	vals  []Seen
	text  []byte
	ends  []int
	spare []int // the next ends
}

// appendSeenField appends an omitempty map of items to when they were seen, from t when its
// keys are still m's, writing t anew otherwise.
func appendSeenField(b []byte, name string, m map[string]*Seen, t *seenText, nums *numCache) []byte {
	if len(m) == 0 {
		return b
	}
	b = append(b, name...)
	if len(t.keys) == len(m) {
		if out, ok := t.appendChanged(b, m, nums); ok {
			return out
		}
	}
	return t.appendAll(b, m, nums)
}

// appendAll sorts m's keys into t and writes m whole, keeping what it wrote in t.
func (t *seenText) appendAll(b []byte, m map[string]*Seen, nums *numCache) []byte {
	t.keys = sortedKeys(m, t.keys[:0])
	t.vals, t.ends = t.vals[:0], t.ends[:0]
	start := len(b)
	b = append(b, '{')
	nils := false
	for i, k := range t.keys {
		s := m[k]
		b = appendSeenItem(b, i > 0, k, s, nums)
		if s == nil {
			nils = true
			t.vals = append(t.vals, Seen{})
		} else {
			t.vals = append(t.vals, *s)
		}
		t.ends = append(t.ends, len(b)-start)
	}
	b = append(b, '}')
	t.text = append(t.text[:0], b[start:]...)
	if nils {
		t.keys = t.keys[:0] // not kept: a map with a nil item (never the store's) is written whole
	}
	return b
}

// appendChanged writes m from t, the items whose values changed written anew, and keeps the
// result in t; it reports false (and returns b as it came) when a key of t is not in m.
func (t *seenText) appendChanged(b []byte, m map[string]*Seen, nums *numCache) ([]byte, bool) {
	start := len(b)
	b = append(b, '{')
	ends := t.spare[:0]
	from, prev, delta := 1, 1, 0 // the unchanged items not yet copied are t.text[from:prev]
	for i, k := range t.keys {
		s, ok := m[k]
		if !ok || s == nil {
			return b[:start], false
		}
		end := t.ends[i]
		if *s != t.vals[i] {
			b = append(b, t.text[from:prev]...)
			itemStart := len(b)
			b = appendSeenItem(b, i > 0, k, s, nums)
			delta += len(b) - itemStart - (end - prev)
			t.vals[i] = *s
			from = end
		}
		ends = append(ends, end+delta)
		prev = end
	}
	b = append(b, t.text[from:prev]...)
	b = append(b, '}')
	t.text = append(t.text[:0], b[start:]...)
	t.ends, t.spare = ends, t.ends
	return b, true
}

// appendSeenItem appends one item of a map: a comma when not the first, its key and value.
func appendSeenItem(b []byte, comma bool, k string, s *Seen, nums *numCache) []byte {
	if comma {
		b = append(b, ',')
	}
	b = append(appendJSONString(b, k), ':')
	if s == nil {
		return append(b, "null"...)
	}
	b = nums.appendInt(append(b, `{"f":`...), s.First)
	b = nums.appendInt(append(b, `,"l":`...), s.Last)
	b = appendIntField(b, `,"n":`, s.Buckets)
	return append(b, '}')
}
