package scorer

import (
	"encoding/json"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/rarenet/rarenet/services/scorer/rare"
)

// BenchmarkModelFootprint measures the model's memory for 10k and 100k distinct process
// names: every name is seen in the history, each bucket holding a tenth of them. It reports
// the live heap the model holds (after GC), per distinct value, the size of its checkpoint,
// and the ratio to Elastic's model_memory_limit for this job (64 MB).
//
//	cd services/scorer && go test -run '^$' -bench BenchmarkModelFootprint -benchtime 1x .
func BenchmarkModelFootprint(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		b.Run(fmt.Sprintf("values=%d", n), func(b *testing.B) {
			for range b.N {
				names := make([]string, n)
				for i := range names {
					names[i] = fmt.Sprintf("proc-%07d", i)
				}
				runtime.GC()
				var before runtime.MemStats
				runtime.ReadMemStats(&before)
				r, err := NewRarity(DefaultJob())
				if err != nil {
					b.Fatal(err)
				}
				for k := range int64(20) {
					lo := int(k%10) * n / 10
					part := make([]ValueSummary, 0, n/10)
					for _, v := range names[lo : lo+n/10] {
						part = append(part, ValueSummary{Value: v, Count: 1})
					}
					r.Score(k, part)
				}
				runtime.GC()
				var after runtime.MemStats
				runtime.ReadMemStats(&after)
				cp, err := json.Marshal(r.Snapshot())
				if err != nil {
					b.Fatal(err)
				}
				heap := float64(after.HeapAlloc) - float64(before.HeapAlloc)
				b.ReportMetric(heap/1e6, "model-MB")
				b.ReportMetric(heap/float64(n), "bytes/value")
				b.ReportMetric(float64(len(cp))/1e6, "checkpoint-MB")
				b.ReportMetric(heap/(64<<20), "x-64MB-limit")
				runtime.KeepAlive(r)
			}
		})
	}
}

// BenchmarkNewDestinationFootprint measures the new-destination detector's memory: pairs
// (host, process) with typical destinations (two internal services, an external one with two
// networks, one user), and at the bounds: destMaxPairs pairs each holding destMaxServices
// external services of destManyNetworks-1 networks and destMaxPairUsers users. It reports the live heap in all and per pair, the
// fleet-wide keys held, and the checkpoint's size.
//
//	cd services/scorer && go test -run '^$' -bench BenchmarkNewDestinationFootprint -benchtime 1x .
func BenchmarkNewDestinationFootprint(b *testing.B) {
	typical := []HostDestination{{IP: "10.0.0.1", Port: 514}, {IP: "10.0.0.2", Port: 9090}, {IP: "151.101.1.1", Port: 443}, {IP: "151.101.2.1", Port: 443}}
	for _, c := range []struct {
		name         string
		pairs        int
		hostsPerProc int
		worst        bool
	}{
		{"pairs=10000/typical", 10_000, 100, false},
		{"pairs=65536/typical", destMaxPairs, 1024, false},
		{"pairs=65536/worst", destMaxPairs, 1024, true},
	} {
		b.Run(c.name, func(b *testing.B) {
			for range b.N {
				runtime.GC()
				var before runtime.MemStats
				runtime.ReadMemStats(&before)
				d := newDestRarity(DefaultJob())
				for p := range c.pairs / c.hostsPerProc {
					v := ValueSummary{Value: fmt.Sprintf("proc-%05d", p)}
					for h := range c.hostsPerProc {
						host := fmt.Sprintf("host-%05d", h)
						if !c.worst {
							v.HostUsers = append(v.HostUsers, HostUser{Host: host, User: "root"})
							for _, hd := range typical {
								v.HostDestinations = append(v.HostDestinations, HostDestination{Host: host, IP: hd.IP, Port: hd.Port})
							}
							continue
						}
						for u := range destMaxPairUsers {
							v.HostUsers = append(v.HostUsers, HostUser{Host: host, User: fmt.Sprintf("user-%02d", u)})
						}
						for s := range destMaxServices {
							for n := range destManyNetworks - 1 {
								ip := fmt.Sprintf("%d.%d.%d.1", 1+n, h/256, h%256)
								v.HostDestinations = append(v.HostDestinations, HostDestination{Host: host, IP: ip, Port: 1000 + s})
							}
						}
					}
					d.score(0, time.Unix(0, 0), []ValueSummary{v}, []rare.Score{{Probability: 1}})
				}
				runtime.GC()
				var after runtime.MemStats
				runtime.ReadMemStats(&after)
				cp, err := json.Marshal(d.snapshot())
				if err != nil {
					b.Fatal(err)
				}
				heap := float64(after.HeapAlloc) - float64(before.HeapAlloc)
				b.ReportMetric(heap/1e6, "MB")
				b.ReportMetric(heap/float64(len(d.pairs)), "bytes/pair")
				b.ReportMetric(float64(len(d.fleet)), "fleet-keys")
				b.ReportMetric(float64(len(cp))/1e6, "checkpoint-MB")
				runtime.KeepAlive(d)
			}
		})
	}
}
