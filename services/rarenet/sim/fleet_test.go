package sim

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func smallSpec(seed uint64) Spec {
	s := DefaultSpec(seed)
	s.Hosts, s.Days, s.Warmup, s.Attacks = 8, 4, 48*time.Hour, 3
	return s
}

func TestSimulateIsDeterministic(t *testing.T) {
	a, b := Simulate(smallSpec(3)), Simulate(smallSpec(3))
	if !reflect.DeepEqual(a.Events, b.Events) || !reflect.DeepEqual(a.Labels, b.Labels) {
		t.Fatal("the same seed gave another fleet")
	}
}

// benign sums up a fleet's benign behaviours: its jobs (name, period, hosts, first run) and
// its rollout (name, hosts, start).
func benign(f *Fleet) string {
	var parts []string
	seen := map[string]bool{}
	for _, l := range f.Labels {
		if (l.Class == ClassSchedule || l.Class == ClassRollout) && !seen[l.Name+l.Hosts[0]] {
			seen[l.Name+l.Hosts[0]] = true
			parts = append(parts, fmt.Sprintf("%s %s %s %d %s", l.Class, l.Name, l.Detail, len(l.Hosts), l.Start.Format(time.RFC3339)))
		}
	}
	slices.Sort(parts)
	return strings.Join(parts, "\n")
}

// TestBenignBehavioursVaryWithTheSeed: jobs, their times and hosts, and the rollout are drawn
// per seed, yet every seed keeps the same kinds of behaviour.
func TestBenignBehavioursVaryWithTheSeed(t *testing.T) {
	distinct := map[string]bool{}
	for seed := range uint64(5) {
		f := Simulate(smallSpec(seed + 1))
		distinct[benign(f)] = true
		periods := map[string]bool{}
		classes := map[string]int{}
		for _, l := range f.Labels {
			classes[l.Class]++
			if l.Class == ClassSchedule {
				periods[l.Detail] = true
			}
		}
		if len(periods) != 4 || classes[ClassRollout] < 3 || classes[ClassDestinationChange] == 0 || classes[ClassLoopback] != 1 {
			t.Errorf("seed %d: periods %v, classes %v: a kind of benign behaviour is missing", seed+1, periods, classes)
		}
		for _, c := range []string{ClassNeverSeenTool, ClassReusedName, ClassNewDestination} {
			if classes[c] != 3 {
				t.Errorf("seed %d: %d attacks of class %s, want 3", seed+1, classes[c], c)
			}
		}
	}
	if len(distinct) != 5 {
		t.Errorf("5 seeds gave %d distinct sets of benign behaviours", len(distinct))
	}
}

// TestNewDestinationAttacks: each goes through a process its host runs in most buckets, to
// an address that process never used there, and appears in both output formats.
func TestNewDestinationAttacks(t *testing.T) {
	f := Simulate(smallSpec(2))
	var ecs, audit bytes.Buffer
	if err := WriteECS(&ecs, f.Events); err != nil {
		t.Fatal(err)
	}
	if err := WriteAuditd(&audit, f.Events); err != nil {
		t.Fatal(err)
	}
	for _, l := range f.Labels {
		if l.Class != ClassNewDestination {
			continue
		}
		host := l.Hosts[0]
		var before, buckets int
		var attack *Event
		lastBucket := time.Time{}
		for i, e := range f.Events {
			if e.Host != host || e.Name != l.Name {
				continue
			}
			if !e.Time.Before(l.Start) {
				if attack == nil && e.Time.Equal(l.Start) {
					attack = &f.Events[i]
				}
				continue
			}
			before++
			if b := e.Time.Truncate(bucket); b != lastBucket {
				buckets, lastBucket = buckets+1, b
			}
		}
		if attack == nil {
			t.Fatalf("%s: no event at the label's start", l.ID)
		}
		for _, e := range f.Events {
			if e.Host == host && e.Name == l.Name && e.Time.Before(l.Start) && e.DestIP == attack.DestIP {
				t.Errorf("%s: %s used %s before the attack", l.ID, l.Name, e.DestIP)
			}
		}
		if elapsed := int(l.Start.Sub(f.Spec.Start) / bucket); buckets < elapsed/2 {
			t.Errorf("%s: %s connected in %d of %d buckets before: not common on its host", l.ID, l.Name, buckets, elapsed)
		}
		ip := netip.MustParseAddr(attack.DestIP).As4()
		if !strings.Contains(ecs.String(), `"ip":"`+attack.DestIP+`"`) ||
			!strings.Contains(audit.String(), strings.ToUpper(hex.EncodeToString(ip[:]))) {
			t.Errorf("%s: the attack's destination %s is missing from an output format", l.ID, attack.DestIP)
		}
	}
}
