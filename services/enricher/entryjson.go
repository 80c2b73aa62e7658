package enricher

import (
	"encoding/json"
	"slices"
	"strconv"
)

// The enricher writes every active process's entry at every bucket, and encoding/json spent
// ~125 µs on an entry of 24 hosts and 64 addresses (BenchmarkEntryJSON), most of it
// reflecting over and sorting the maps; the history's writes were a twentieth of a replay's
// CPU on 6 hosts, and grow with the hosts and destinations a process has. appendEntry and
// appendFleet write exactly what json.Marshal writes for them (TestEntryJSONMatchesEncodingJSON
// holds them to it, on random entries), without reflection. A field added to Entry or Fleet
// must be added here too: the test fails until it is.

// marshalHistory is json.Marshal for what the store writes, fast for entries and the fleet.
func marshalHistory(v any) ([]byte, error) {
	return appendHistory(make([]byte, 0, 512), v, nil, nil)
}

// appendHistory appends marshalHistory's output to b, in the order of keys when that is
// still right (keyOrder; nil: sort), with the times nums holds (nil: none).
func appendHistory(b []byte, v any, keys *keyOrder, nums *numCache) ([]byte, error) {
	switch v := v.(type) {
	case *Entry:
		return appendEntry(b, v, keys, nums), nil
	case *Fleet:
		return appendFleet(b, v, keys, nums), nil
	}
	out, err := json.Marshal(v)
	return append(b, out...), err
}

func appendEntry(b []byte, e *Entry, keys *keyOrder, nums *numCache) []byte {
	if e == nil {
		return append(b, "null"...)
	}
	if keys == nil {
		keys = &keyOrder{}
	}
	if nums != nil {
		nums.span = e.SpanMS
	}
	b = append(b, `{"name":`...)
	b = appendJSONString(b, e.Name)
	b = appendIntField(b, `,"span_ms":`, e.SpanMS)
	b = appendIntField(b, `,"first":`, e.First)
	b = append(b, `,"episodes":`...)
	if e.Episodes == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, ep := range e.Episodes {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendIntField(b, `{"s":`, ep.Start)
			b = appendIntField(b, `,"e":`, ep.End)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	if e.DroppedBuckets != 0 {
		b = appendIntField(b, `,"dropped_buckets":`, e.DroppedBuckets)
	}
	b = appendSeenField(b, `,"hosts":`, e.Hosts, &keys.hosts, nums)
	b = appendSeenField(b, `,"users":`, e.Users, &keys.users, nums)
	b = appendSeenField(b, `,"ips":`, e.IPs, &keys.ips, nums)
	b = appendSeenField(b, `,"ports":`, e.Ports, &keys.ports, nums)
	if len(e.Runs) > 0 {
		b = append(b, `,"runs":`...)
		b = appendSorted(b, e.Runs, appendInts)
	}
	b = appendSeenField(b, `,"sources":`, e.Sources, &keys.sources, nums)
	if len(e.FirstSources) > 0 {
		b = append(b, `,"first_sources":`...)
		b = appendSorted(b, e.FirstSources, appendStrings)
	}
	return append(b, '}')
}

func appendFleet(b []byte, f *Fleet, keys *keyOrder, nums *numCache) []byte {
	if f == nil {
		return append(b, "null"...)
	}
	if keys == nil {
		keys = &keyOrder{}
	}
	if nums != nil {
		nums.span = f.SpanMS
	}
	b = appendIntField(b, `{"span_ms":`, f.SpanMS)
	b = appendIntField(b, `,"first":`, f.First)
	b = appendIntField(b, `,"last":`, f.Last)
	b = appendSeenField(b, `,"hosts":`, f.Hosts, &keys.hosts, nums)
	b = appendSeenField(b, `,"sources":`, f.Sources, &keys.sources, nums)
	if len(f.HostSources) > 0 {
		b = append(b, `,"host_sources":`...)
		b = appendSorted(b, f.HostSources, func(b []byte, m map[string]int64) []byte {
			if m == nil {
				return append(b, "null"...)
			}
			return appendSorted(b, m, func(b []byte, n int64) []byte { return strconv.AppendInt(b, n, 10) })
		})
	}
	return append(b, '}')
}

func appendIntField(b []byte, name string, n int64) []byte {
	return strconv.AppendInt(append(b, name...), n, 10)
}

// sortedKeys appends m's keys to keys, sorted.
func sortedKeys[V any](m map[string]V, keys []string) []string {
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// appendSorted appends a map as encoding/json does: an object, keys in sorted order.
func appendSorted[V any](b []byte, m map[string]V, val func([]byte, V) []byte) []byte {
	keys := sortedKeys(m, make([]string, 0, len(m)))
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(appendJSONString(b, k), ':')
		b = val(b, m[k])
	}
	return append(b, '}')
}

func appendInts(b []byte, ns []int64) []byte {
	if ns == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, n := range ns {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, n, 10)
	}
	return append(b, ']')
}

func appendStrings(b []byte, ss []string) []byte {
	if ss == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, s)
	}
	return append(b, ']')
}

// appendJSONString appends s as encoding/json writes a string: at once when it holds only
// printable ASCII that needs no escape (host names, users, addresses, ports), through
// encoding/json otherwise, so escapes (HTML-safe ones included) and invalid UTF-8 come out
// as it writes them.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if !plainJSON[s[i]] {
			q, _ := json.Marshal(s) // a string always marshals
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// plainJSON tells the bytes that encoding/json writes as they are in a string: printable
// ASCII but for the quote, the backslash and the HTML-unsafe <, > and &. A table costs a
// load a byte where the comparisons cost seven; it is never written after.
var plainJSON = func() (t [256]bool) {
	for c := 0x20; c < 0x7f; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()

// numCache remembers how the times an entry writes were written: every item's first and
// last seen are bucket starts (13-digit Unix ms), the same few hundred for every entry of a
// history, and formatting them was a third of writing an entry. A slot per bucket (bucket
// number modulo the size: the recent buckets never collide), checked against the time
// itself, so any number comes out right. The zero value is empty; a nil cache formats every
// number.
type numCache struct {
	span int64 // bucket span in ms of the entry being written; <= 0: slots by the number itself
	e    [256]numText
}

type numText struct {
	v   int64
	n   uint8 // length of txt; 0: empty
	txt [20]byte
}

// appendInt is strconv.AppendInt(b, v, 10), from the cache when v was written before.
func (c *numCache) appendInt(b []byte, v int64) []byte {
	if c == nil {
		return strconv.AppendInt(b, v, 10)
	}
	k := uint64(v)
	if c.span > 0 {
		k /= uint64(c.span)
	}
	e := &c.e[k%uint64(len(c.e))]
	if e.n == 0 || e.v != v {
		e.v, e.n = v, uint8(len(strconv.AppendInt(e.txt[:0], v, 10)))
	}
	return append(b, e.txt[:e.n]...)
}
