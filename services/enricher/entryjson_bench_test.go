package enricher

import (
	"encoding/json"
	"fmt"
	"testing"
)

// benchEntry is a process's history as a 24-host fleet's busy process makes it: every host,
// a few users, the bound's worth of destinations and ports, a few dozen episodes.
func benchEntry() *Entry {
	e := &Entry{Name: "curl", SpanMS: 900000, First: 1700000000000,
		Hosts: map[string]*Seen{}, Users: map[string]*Seen{}, IPs: map[string]*Seen{}, Ports: map[string]*Seen{}}
	for i := range 24 {
		e.Hosts[fmt.Sprintf("web-%02d.prod.example.com", i)] = &Seen{First: 1700000000000 + int64(i)*900000, Last: 1702000000000, Buckets: int64(100 + i)}
	}
	for i := range 5 {
		e.Users[fmt.Sprintf("svc-%d", i)] = &Seen{First: 1700000000000, Last: 1702000000000, Buckets: 40}
	}
	for i := range 64 {
		e.IPs[fmt.Sprintf("203.0.%d.%d", i/8, i*3)] = &Seen{First: 1700000000000, Last: 1701000000000, Buckets: 3}
	}
	for i := range 16 {
		e.Ports[fmt.Sprint(443+i)] = &Seen{First: 1700000000000, Last: 1701000000000, Buckets: 7}
	}
	for i := range 32 {
		e.Episodes = append(e.Episodes, Episode{Start: int64(i) * 10, End: int64(i)*10 + 3})
	}
	return e
}

// BenchmarkEntryJSON is the cost of writing one history entry, which the enricher does for
// every process of every bucket (Store.sendAll).
func BenchmarkEntryJSON(b *testing.B) {
	e := benchEntry()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := json.Marshal(e); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEntryAppend is BenchmarkEntryJSON's entry written by appendEntry, as the store
// writes it again and again: into its buffer, with the entry's key order.
func BenchmarkEntryAppend(b *testing.B) {
	e := benchEntry()
	var keys keyOrder
	var nums numCache
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = appendHistory(buf[:0], e, &keys, &nums); err != nil {
			b.Fatal(err)
		}
	}
}
