package enricher

import (
	"reflect"
	"strconv"
	"testing"

	"github.com/rarenet/rarenet/shared/record"
)

func obs(bucket int64, hosts, users []string, dests ...record.Endpoint) observation {
	return observation{bucket: bucket, span: spanMS, value: record.ValueSummary{Value: "perl", EventCount: 1, Hosts: hosts, Users: users, Destinations: dests}}
}

func TestEntryApplyAndAsOf(t *testing.T) {
	summaries := []observation{
		obs(bk(0), []string{"web-01"}, []string{"root"}, record.Endpoint{IP: "10.0.0.1", Port: 443}),
		obs(bk(1), []string{"web-01"}, []string{"root"}),
		obs(bk(1), []string{"web-09"}, []string{"eve"}), // a redelivered bucket: ignored
		obs(bk(4), []string{"web-02"}, []string{"www-data"}, record.Endpoint{IP: "10.0.0.2", Port: 22}),
		obs(bk(2), []string{"web-09"}, nil), // older than the last: ignored
		obs(bk(5), []string{"web-01"}, nil),
	}
	// upTo is the history as the enricher holds it for a record of bucket k: every summary
	// up to k's own, which comes before k's records, in stream order.
	upTo := func(k int64) *Entry {
		var e Entry
		for _, o := range summaries {
			if o.bucket > k {
				break
			}
			e.apply(o)
		}
		return &e
	}
	all := upTo(bk(99))
	wantEpisodes := []Episode{{bk(0), bk(2)}, {bk(4), bk(6)}}
	if !reflect.DeepEqual(all.Episodes, wantEpisodes) {
		t.Fatalf("episodes %v, want %v", all.Episodes, wantEpisodes)
	}
	if _, ok := all.Hosts["web-09"]; ok {
		t.Error("a repeated or out-of-order bucket changed the history")
	}
	tests := []struct {
		k            int64
		seen         bool
		active       int64
		last         int64
		runs         []int64
		web01Buckets int64
		hostsBefore  int
	}{
		{k: bk(0), seen: false, active: 0, runs: []int64{bk(0)}, hostsBefore: 0},
		{k: bk(1), seen: true, active: 1, last: bk(0), runs: []int64{bk(0)}, web01Buckets: 1, hostsBefore: 1},
		{k: bk(3), seen: true, active: 2, last: bk(1), runs: []int64{bk(0), bk(3)}, web01Buckets: 2, hostsBefore: 1},
		{k: bk(5), seen: true, active: 3, last: bk(4), runs: []int64{bk(0), bk(4)}, web01Buckets: 2, hostsBefore: 2},
		{k: bk(9), seen: true, active: 4, last: bk(5), runs: []int64{bk(0), bk(4), bk(9)}, web01Buckets: 3, hostsBefore: 2},
	}
	for _, tt := range tests {
		t.Run(strconv.FormatInt((tt.k-t0)/spanMS, 10), func(t *testing.T) {
			e := upTo(tt.k)
			// Runs and active buckets are exact as of any bucket, even with a history ahead.
			for _, e := range []*Entry{e, all} {
				if got := e.SeenBefore(tt.k); got != tt.seen {
					t.Errorf("SeenBefore = %v, want %v", got, tt.seen)
				}
				if got := e.ActiveBefore(tt.k); got != tt.active {
					t.Errorf("ActiveBefore = %d, want %d", got, tt.active)
				}
				if tt.seen {
					if got := e.LastBefore(tt.k); got != tt.last {
						t.Errorf("LastBefore = %d, want %d", (got-t0)/spanMS, (tt.last-t0)/spanMS)
					}
				}
				if got := e.runsThrough(tt.k); !reflect.DeepEqual(got, tt.runs) {
					t.Errorf("runsThrough = %v, want %v", got, tt.runs)
				}
				if got := countBefore(e.Hosts, tt.k, nil); got != tt.hostsBefore {
					t.Errorf("hosts before = %d, want %d", got, tt.hostsBefore)
				}
			}
			if s := seenBefore(e.Hosts, "web-01", tt.k); (s != nil) != (tt.web01Buckets > 0) || (s != nil && s.bucketsBefore(tt.k) != tt.web01Buckets) {
				t.Errorf("web-01 as of bucket: %+v, want %d buckets", s, tt.web01Buckets)
			}
		})
	}
	if s := seenBefore(all.Ports, "22", bk(5)); s == nil || s.First != bk(4) {
		t.Errorf("port 22 as of bucket 5 = %+v, want first seen in bucket 4", s)
	}
	if s := seenBefore(all.IPs, "10.0.0.2", bk(4)); s != nil {
		t.Errorf("10.0.0.2 as of its own first bucket = %+v, want not seen before", s)
	}
}

func TestEntryBounds(t *testing.T) {
	var e Entry
	// Every other bucket active, a new host and a new address each time: more runs, hosts
	// and addresses than the bounds keep.
	n := int64(2 * maxEpisodes)
	for i := range n {
		h := "h" + strconv.FormatInt(i, 10)
		e.apply(obs(bk(2*i), []string{h}, []string{h}, record.Endpoint{IP: "192.0.2." + strconv.FormatInt(i%250, 10) + "0", Port: int(1000 + i)}))
	}
	if len(e.Episodes) != maxEpisodes || len(e.Hosts) != maxHosts || len(e.Users) != maxUsers || len(e.IPs) > maxIPs || len(e.Ports) != maxPorts {
		t.Errorf("bounds not kept: %d episodes, %d hosts, %d users, %d addresses, %d ports",
			len(e.Episodes), len(e.Hosts), len(e.Users), len(e.IPs), len(e.Ports))
	}
	// The dropped runs still count, and the first bucket is remembered.
	if got := e.ActiveBefore(bk(2 * n)); got != n {
		t.Errorf("ActiveBefore after dropping runs = %d, want %d", got, n)
	}
	if e.First != bk(0) {
		t.Errorf("First = %d, want bucket 0", e.First)
	}
	// The most recent items are the ones kept.
	last := "h" + strconv.FormatInt(n-1, 10)
	if e.Hosts[last] == nil || e.Users[last] == nil || e.Hosts["h0"] != nil {
		t.Error("eviction dropped recent items or kept the oldest")
	}
}

func TestFleet(t *testing.T) {
	var f Fleet
	if f.Covers(bk(0)) {
		t.Error("an empty fleet covers nothing")
	}
	f.apply(obs(bk(2), []string{"a", "b"}, nil))
	f.apply(obs(bk(2), []string{"c"}, nil)) // a second summary of the same bucket
	f.apply(obs(bk(5), []string{"a", "d"}, nil))
	f.apply(obs(bk(2), []string{"a"}, nil)) // redelivered: changes nothing
	tests := []struct {
		k       int64
		covers  bool
		buckets int64
		hosts   int // known before k, plus "new-host"
	}{
		{bk(1), false, 0, 2},
		{bk(2), true, 0, 2},
		{bk(3), true, 1, 4},
		{bk(6), true, 4, 5},
	}
	for _, tt := range tests {
		if got := f.Covers(tt.k); got != tt.covers {
			t.Errorf("Covers(%d) = %v", (tt.k-t0)/spanMS, got)
		}
		if got := f.BucketsBefore(tt.k); got != tt.buckets {
			t.Errorf("BucketsBefore(%d) = %d, want %d", (tt.k-t0)/spanMS, got, tt.buckets)
		}
		if got := countBefore(f.Hosts, tt.k, []string{"new-host", "a"}); got != tt.hosts {
			t.Errorf("hosts as of %d = %d, want %d", (tt.k-t0)/spanMS, got, tt.hosts)
		}
	}
}
