package e2e

import (
	"bytes"
	"context"
	"io"
	"os"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rarenet/rarenet/e2e/history"
	"github.com/rarenet/rarenet/services/rarenet"
	"github.com/rarenet/rarenet/shared/natsembed"
	"github.com/rarenet/rarenet/shared/natsutil"
)

// benchSpec is a history of about a million events: 28 days of a 6-host fleet.
func benchSpec() history.Spec {
	s := history.Default()
	s.Days = 28
	return s
}

// BenchmarkReplay replays a million-event history through the all-in-one pipeline and
// reports events per second, peak RSS, and the ratio of its throughput to a baseline measured
// in the same run: the same bytes, in the same chunks, published to and consumed from one
// JetStream stream on the same embedded server, with no decoding or scoring. The ratio is the
// figure to compare across machines; the absolute numbers move with the machine's load.
//
//	make bench    (or: cd e2e && go test -run '^$' -bench BenchmarkReplay -benchtime 1x .)
func BenchmarkReplay(b *testing.B) {
	spec := benchSpec()
	events := history.Events(spec)
	var input bytes.Buffer
	if err := history.WriteECS(&input, events); err != nil {
		b.Fatal(err)
	}
	n := float64(len(events))
	b.Logf("history: %d events, %.0f MB of ECS NDJSON", len(events), float64(input.Len())/1e6)

	b.ResetTimer()
	var elapsed time.Duration
	stop := make(chan struct{})
	peak := make(chan uint64)
	go func() { peak <- peakHeap(stop) }()
	for range b.N {
		began := time.Now()
		o := defaultOptions(8)
		st, err := rarenet.Replay(context.Background(), rarenet.ReplayOptions{
			Pipeline: o, Files: []string{"-"}, Format: "ecs", Stdin: bytes.NewReader(input.Bytes()), Out: io.Discard,
		})
		if err != nil {
			b.Fatal(err)
		}
		elapsed += time.Since(began)
		if st.Signals != int64(len(spec.Injections)) {
			b.Fatalf("%d signals, want %d", st.Signals, len(spec.Injections))
		}
	}
	close(stop)
	heap := <-peak
	b.StopTimer()
	baseline := jetStreamBaseline(b, input.Bytes())
	eps := n * float64(b.N) / elapsed.Seconds()
	b.ReportMetric(eps, "events/s")
	b.ReportMetric(float64(heap)/1e6, "peak-heap-MB")
	b.ReportMetric(baseline, "baseline-events/s")
	b.ReportMetric(eps/baseline, "x-jetstream-baseline")
	b.ReportMetric(peakRSSMB(), "peak-RSS-MB")
}

// jetStreamBaseline publishes input in the replay's chunks to one memory stream and reads it
// back, and returns the events (lines) per second of that round trip.
func jetStreamBaseline(b *testing.B, input []byte) float64 {
	b.Helper()
	dir, err := os.MkdirTemp("", "rarenet-bench-")
	if err != nil {
		b.Fatal(err)
	}
	defer os.RemoveAll(dir)
	srv, err := natsembed.Start(natsembed.Config{StoreDir: dir})
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Shutdown()
	nc, err := natsutil.Connect("", srv, "bench")
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	js, err := natsutil.JetStream(nc)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	s, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "BASELINE", Subjects: []string{"baseline"}, Storage: jetstream.MemoryStorage})
	if err != nil {
		b.Fatal(err)
	}
	began := time.Now()
	pub := natsutil.NewPublisher(js)
	lines, chunks := 0, 0
	for len(input) > 0 {
		end, k := 0, 0
		for k < 1000 && end < len(input) {
			i := bytes.IndexByte(input[end:], '\n')
			if i < 0 {
				end = len(input)
			} else {
				end += i + 1
			}
			k++
		}
		m := nats.NewMsg("baseline")
		m.Data = input[:end]
		if err := pub.Publish(m, ""); err != nil {
			b.Fatal(err)
		}
		input, lines, chunks = input[end:], lines+k, chunks+1
		if pub.Pending() >= 256 {
			if err := pub.Flush(ctx); err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := pub.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	c, err := s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		b.Fatal(err)
	}
	it, err := c.Messages(jetstream.PullMaxMessages(16))
	if err != nil {
		b.Fatal(err)
	}
	defer it.Stop()
	for got := 0; got < chunks; got++ {
		m, err := it.Next()
		if err != nil {
			b.Fatal(err)
		}
		_ = bytes.Count(m.Data(), []byte{'\n'})
	}
	return float64(lines) / time.Since(began).Seconds()
}

// peakHeap samples the Go heap in use (the whole process: the input held by the benchmark
// included) every 50ms until stop is closed, and returns the largest sample.
func peakHeap(stop <-chan struct{}) uint64 {
	var peak uint64
	var ms runtime.MemStats
	for {
		runtime.ReadMemStats(&ms)
		peak = max(peak, ms.HeapInuse)
		select {
		case <-stop:
			return peak
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// peakRSSMB is the process's peak resident set size in MB (Linux reports KiB), generation of
// the input and the baseline included.
func peakRSSMB() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Maxrss) / 1024
}
