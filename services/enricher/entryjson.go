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
	switch v := v.(type) {
	case *Entry:
		return appendEntry(make([]byte, 0, 512), v), nil
	case *Fleet:
		return appendFleet(make([]byte, 0, 512), v), nil
	}
	return json.Marshal(v)
}

func appendEntry(b []byte, e *Entry) []byte {
	if e == nil {
		return append(b, "null"...)
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
	b = appendSeenField(b, `,"hosts":`, e.Hosts)
	b = appendSeenField(b, `,"users":`, e.Users)
	b = appendSeenField(b, `,"ips":`, e.IPs)
	b = appendSeenField(b, `,"ports":`, e.Ports)
	if len(e.Runs) > 0 {
		b = append(b, `,"runs":`...)
		b = appendSorted(b, e.Runs, appendInts)
	}
	b = appendSeenField(b, `,"sources":`, e.Sources)
	if len(e.FirstSources) > 0 {
		b = append(b, `,"first_sources":`...)
		b = appendSorted(b, e.FirstSources, appendStrings)
	}
	return append(b, '}')
}

func appendFleet(b []byte, f *Fleet) []byte {
	if f == nil {
		return append(b, "null"...)
	}
	b = appendIntField(b, `{"span_ms":`, f.SpanMS)
	b = appendIntField(b, `,"first":`, f.First)
	b = appendIntField(b, `,"last":`, f.Last)
	b = appendSeenField(b, `,"hosts":`, f.Hosts)
	b = appendSeenField(b, `,"sources":`, f.Sources)
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

// appendSeenField appends an omitempty map of items to when they were seen.
func appendSeenField(b []byte, name string, m map[string]*Seen) []byte {
	if len(m) == 0 {
		return b
	}
	return appendSorted(append(b, name...), m, func(b []byte, s *Seen) []byte {
		if s == nil {
			return append(b, "null"...)
		}
		b = appendIntField(b, `{"f":`, s.First)
		b = appendIntField(b, `,"l":`, s.Last)
		b = appendIntField(b, `,"n":`, s.Buckets)
		return append(b, '}')
	})
}

// appendSorted appends a map as encoding/json does: an object, keys in sorted order.
func appendSorted[V any](b []byte, m map[string]V, val func([]byte, V) []byte) []byte {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
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
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string always marshals
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
