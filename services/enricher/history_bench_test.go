package enricher

import (
	"context"
	"fmt"
	"math/rand"
	"testing"

	"github.com/rarenet/rarenet/shared/record"
)

// benchFleet makes bucket summaries shaped like those of `make bench`'s 7-day, 24-host
// history (672 buckets of ~39 process names; per value ~5 hosts of the process's 6, one
// user, ~9 destinations from the process's 120 addresses on one or two ports), from a fixed
// seed.
type benchFleet struct {
	r     *rand.Rand
	names []string
	hosts [][]string
	ips   [][]string
	ports [][]int
}

func newBenchFleet() *benchFleet {
	f := &benchFleet{r: rand.New(rand.NewSource(7))}
	for i := range 40 {
		f.names = append(f.names, fmt.Sprintf("proc-%02d", i))
		var hosts, ips []string
		for h := range 6 {
			hosts = append(hosts, fmt.Sprintf("host-%02d.bench.example.com", (i+h*4)%24))
		}
		for a := range 120 {
			ips = append(ips, fmt.Sprintf("10.%d.%d.%d", i, a/50, a*2+1))
		}
		f.hosts, f.ips = append(f.hosts, hosts), append(f.ips, ips)
		f.ports = append(f.ports, []int{443, 8000 + i})
	}
	return f
}

// summary is bucket k's summary.
func (f *benchFleet) summary(k int64) *record.BucketSummary {
	sum := &record.BucketSummary{ResultType: record.ResultTypeBucketSummary, JobID: "job", Timestamp: bk(k), BucketSpan: spanMS / 1000}
	for i, name := range f.names {
		if f.r.Intn(40) == 0 {
			continue // a quiet bucket for this process
		}
		v := record.ValueSummary{Value: name, EventCount: 20, Users: []string{"svc"}}
		for _, h := range f.hosts[i] {
			if f.r.Intn(5) > 0 {
				v.Hosts = append(v.Hosts, h)
			}
		}
		for range 9 {
			p := f.ports[i][0]
			if f.r.Intn(8) == 0 {
				p = f.ports[i][1]
			}
			v.Destinations = append(v.Destinations, record.Endpoint{IP: f.ips[i][f.r.Intn(120)], Port: p})
		}
		sum.Values = append(sum.Values, v)
	}
	return sum
}

// BenchmarkHistoryBucket is the enricher's history work for one bucket of `make bench`'s
// fleet, without the KV: every value applied to its process entry and to the fleet (as
// Store.Apply does), then every changed entry written (as Store.Commit does). The entries
// are a day old when the timing starts.
func BenchmarkHistoryBucket(b *testing.B) {
	f := newBenchFleet()
	sums := make([]*record.BucketSummary, 672) // a week, made before the timing
	for k := range sums {
		sums[k] = f.summary(int64(k))
	}
	h := newBenchHistory()
	k := 0
	for ; k < 96; k++ {
		h.bucket(sums[k])
	}
	b.ReportAllocs()
	for b.Loop() {
		sum := *sums[k%len(sums)] // past a week, the week again, later
		sum.Timestamp = bk(int64(k))
		h.bucket(&sum)
		k++
	}
}

// benchHistory is a Store whose entries are all in memory, written without a KV.
type benchHistory struct {
	st  *Store
	buf []byte
}

func newBenchHistory() *benchHistory {
	st := NewStore(nil)
	st.fleet = &slot[Fleet]{key: fleetKey, val: &Fleet{}}
	for _, name := range newBenchFleet().names {
		st.procs[name] = &slot[Entry]{key: processKey(name), val: &Entry{}}
	}
	return &benchHistory{st: st}
}

// bucket applies sum and writes what changed, as a commit after each summary would.
func (h *benchHistory) bucket(sum *record.BucketSummary) {
	st := h.st
	if err := st.Apply(context.Background(), sum); err != nil {
		panic(err)
	}
	writes, buf, err := st.encodeChanged(h.buf[:0], st.changed())
	if err != nil {
		panic(err)
	}
	for _, w := range writes {
		w.done(w.rev + 1) // as the server's answer would
	}
	h.buf = buf
}
