package console

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

func summary(i int, process string, hosts []string, score float64, at time.Time) *Summary {
	s := &Summary{Seq: uint64(i + 1), ID: fmt.Sprintf("sig-%06d", i), Time: at, Score: score, Process: process,
		Hosts: hosts, Users: []string{"u" + process}, Status: StatusOpen,
		Destinations: []Destination{{IP: fmt.Sprintf("203.0.113.%d", i%250), Port: 443, Class: "public", Country: "NL"}},
		Reason:       "Unusual network activity: " + process}
	s.index()
	return s
}

func ids(items []Summary) []string {
	var out []string
	for _, s := range items {
		out = append(out, s.ID)
	}
	return out
}

func TestIndexSearch(t *testing.T) {
	ix := NewIndex(0)
	// Added out of time order, as late signals come.
	ix.Add(summary(2, "perl", []string{"web-1"}, 80, t0.Add(2*time.Hour)))
	ix.Add(summary(0, "nc", []string{"web-1", "web-2"}, 55, t0))
	ix.Add(summary(1, "bash", []string{"db-1"}, 95, t0.Add(time.Hour)))
	ix.Add(summary(3, "nc", []string{"db-1"}, 60, t0.Add(2*time.Hour)))
	if ix.Add(summary(3, "nc", []string{"db-1"}, 60, t0.Add(2*time.Hour))) {
		t.Error("a signal added twice was taken twice")
	}
	tests := []struct {
		name string
		q    Query
		want []string
	}{
		{"all, newest first, then score", Query{}, []string{"sig-000002", "sig-000003", "sig-000001", "sig-000000"}},
		{"process", Query{Process: "nc"}, []string{"sig-000003", "sig-000000"}},
		{"host", Query{Host: "web-1"}, []string{"sig-000002", "sig-000000"}},
		{"host and process", Query{Host: "db-1", Process: "nc"}, []string{"sig-000003"}},
		{"unknown host", Query{Host: "nope"}, nil},
		{"user", Query{User: "ubash"}, []string{"sig-000001"}},
		{"min score", Query{MinScore: 70}, []string{"sig-000002", "sig-000001"}},
		{"from is in", Query{From: t0.Add(time.Hour)}, []string{"sig-000002", "sig-000003", "sig-000001"}},
		{"to is out", Query{To: t0.Add(time.Hour)}, []string{"sig-000000"}},
		{"text", Query{Text: "  PERL "}, []string{"sig-000002"}},
		{"text in destination", Query{Text: "203.0.113.1:443"}, []string{"sig-000001"}},
		{"page", Query{Offset: 1, Limit: 2}, []string{"sig-000003", "sig-000001"}},
	}
	for _, tt := range tests {
		res := ix.Search(tt.q)
		if got := ids(res.Items); !slices.Equal(got, tt.want) && !(len(got) == 0 && len(tt.want) == 0) {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
	res := ix.Search(Query{})
	if res.Total != 4 || res.BinWidth != time.Hour || !slices.Equal(res.Bins, []int{1, 1, 2}) || !res.First.Equal(t0) {
		t.Errorf("timeline: total %d, %v of %s from %s", res.Total, res.Bins, res.BinWidth, res.First)
	}
	// Statuses, also for a signal the index does not hold yet.
	ix.SetStatus("sig-000001", StatusClosed)
	ix.SetStatus("sig-000009", StatusAcknowledged)
	ix.Add(summary(9, "curl", nil, 70, t0.Add(3*time.Hour)))
	if got := ids(ix.Search(Query{Status: StatusClosed}).Items); !slices.Equal(got, []string{"sig-000001"}) {
		t.Errorf("closed: %v", got)
	}
	if s, _ := ix.Get("sig-000009"); s.Status != StatusAcknowledged {
		t.Errorf("a status set before its signal came is lost: %q", s.Status)
	}
	p, h, _ := ix.Facets(2)
	if len(p) != 2 || p[0] != (Facet{"nc", 2}) || h[0].Count != 2 {
		t.Errorf("facets %v %v", p, h)
	}
}

// TestIndexFastPath checks that a query answered from the ordered list alone (no filter
// tested signal by signal) gives what testing every signal gives.
func TestIndexFastPath(t *testing.T) {
	ix := fill(3000)
	for _, q := range []Query{{}, {Offset: 2990, Limit: 50}, {Process: "proc-3"}, {Host: "host-0042"},
		{From: t0.Add(24 * time.Hour), To: t0.Add(50 * 24 * time.Hour), Offset: 10}, {Process: "proc-1", Host: "host-0007"}} {
		fast := ix.Search(q)
		q.MinScore = 1e-9 // every signal scores more: the same matches, tested one by one
		slow := ix.Search(q)
		if fast.Total != slow.Total || !slices.Equal(fast.Bins, slow.Bins) || !slices.Equal(ids(fast.Items), ids(slow.Items)) || !fast.First.Equal(slow.First) {
			t.Errorf("%+v: fast %d %v, slow %d %v", q, fast.Total, fast.Bins, slow.Total, slow.Bins)
		}
	}
}

func TestIndexBinsWiden(t *testing.T) {
	ix := NewIndex(0)
	for i := range 60 {
		ix.Add(summary(i, "p", nil, 60, t0.Add(time.Duration(i)*24*time.Hour)))
	}
	res := ix.Search(Query{})
	if res.BinWidth != 12*time.Hour || len(res.Bins) > maxBins {
		t.Errorf("60 days in bins of %s (%d bins)", res.BinWidth, len(res.Bins))
	}
	total := 0
	for _, b := range res.Bins {
		total += b
	}
	if total != 60 {
		t.Errorf("bins hold %d signals, want 60", total)
	}
}

func TestIndexEvicts(t *testing.T) {
	ix := NewIndex(160)
	for i := range 400 {
		ix.Add(summary(i, []string{"a", "b"}[i%2], []string{"h"}, 60, t0.Add(time.Duration(i)*time.Minute)))
	}
	if n := ix.Len(); n > 160 || n < 150 {
		t.Fatalf("%d signals kept, want at most 160 and no less than the bound less a sixteenth", ix.Len())
	}
	res := ix.Search(Query{Process: "a", Limit: 1000})
	for _, s := range res.Items {
		if s.Time.Before(t0.Add(240 * time.Minute)) {
			t.Fatalf("an old signal %s survived eviction", s.ID)
		}
	}
	if _, ok := ix.Get("sig-000000"); ok {
		t.Error("the oldest signal is still there")
	}
	if res.Total+ix.Search(Query{Process: "b"}).Total != ix.Len() || ix.Search(Query{Host: "h"}).Total != ix.Len() {
		t.Error("the posting lists disagree with the index after eviction")
	}
}

// fill makes an index of n signals over 90 days: 400 processes (a few common), 2,000 hosts.
func fill(n int) *Index {
	r := rand.New(rand.NewPCG(1, 2))
	ix := NewIndex(n)
	all := make([]*Summary, n)
	for i := range n {
		p := fmt.Sprintf("proc-%d", int(400*r.Float64()*r.Float64()))
		h := []string{fmt.Sprintf("host-%04d", r.IntN(2000))}
		at := t0.Add(time.Duration(i) * 90 * 24 * time.Hour / time.Duration(n)).Truncate(15 * time.Minute)
		all[i] = summary(i, p, h, 50+50*r.Float64(), at)
	}
	slices.SortFunc(all, less) // in order, as a replay's runs mostly come: the setup stays quick
	for _, s := range all {
		ix.Add(s)
	}
	return ix
}

// queries are the list's typical requests: the first page, a page deep down, a filter by
// process, by host, a score and a time range, and free text.
var queries = []Query{
	{Limit: 50},
	{Offset: 40000, Limit: 50},
	{Process: "proc-3", Limit: 50},
	{Host: "host-0042", Limit: 50},
	{MinScore: 90, From: t0.Add(30 * 24 * time.Hour), To: t0.Add(40 * 24 * time.Hour), Limit: 50},
	{Text: "203.0.113.77", Limit: 50},
}

// BenchmarkListQuery measures the list's queries on 100k signals; BenchmarkListQueryScan is
// the baseline a console without the index would do: filter every signal, sort, page.
// Compare the two in one run: go test -run '^$' -bench ListQuery -benchmem .
func BenchmarkListQuery(b *testing.B) {
	ix := fill(100_000)
	b.ResetTimer()
	for i := range b.N {
		_ = ix.Search(queries[i%len(queries)])
	}
}

func BenchmarkListQueryScan(b *testing.B) {
	ix := fill(100_000)
	all := slices.Clone(ix.all)
	b.ResetTimer()
	for i := range b.N {
		q := queries[i%len(queries)]
		var m []*Summary
		for _, s := range all {
			if s.Score >= q.MinScore && (q.Process == "" || s.Process == q.Process) && (q.Host == "" || slices.Contains(s.Hosts, q.Host)) &&
				(q.From.IsZero() || !s.Time.Before(q.From)) && (q.To.IsZero() || s.Time.Before(q.To)) &&
				(q.Text == "" || strings.Contains(s.text, strings.ToLower(q.Text))) {
				m = append(m, s)
			}
		}
		slices.SortFunc(m, func(a, b *Summary) int { return less(b, a) })
		_ = m[min(q.Offset, len(m)):min(q.Offset+q.Limit, len(m))]
	}
}
