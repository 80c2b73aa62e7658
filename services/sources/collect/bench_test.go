package collect

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// BenchmarkParseTable parses a /proc/net/tcp of 1,000 sockets per iteration, as a busy host
// shows it; events/s counts sockets.
func BenchmarkParseTable(b *testing.B) {
	var sb strings.Builder
	sb.WriteString(tableHeader)
	for i := range 1000 {
		sb.WriteString(tableRow(i, fmt.Sprintf("10.0.%d.%d:%d", i/250, i%250+1, 30000+i), "203.0.113.7:443", StateEstablished, 1000, uint64(100000+i)))
	}
	data := []byte(sb.String())
	socks := make([]Socket, 0, 1000)
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	n := 0
	for b.Loop() {
		var err error
		if socks, err = ParseTable(socks[:0], data, TCP); err != nil || len(socks) != 1000 {
			b.Fatalf("%d sockets, %v", len(socks), err)
		}
		n += len(socks)
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkPoll runs a whole poll over a fake /proc of 200 processes with one new outbound
// connection each (the fd scan included); events/s counts the events made.
func BenchmarkPoll(b *testing.B) {
	p := newFakeProc(b)
	var tcp strings.Builder
	pids := make([]int, 200)
	for i := range pids {
		pids[i] = 1000 + i
		tcp.WriteString(tableRow(i, fmt.Sprintf("10.0.0.5:%d", 40000+i), "203.0.113.7:443", StateEstablished, 0, uint64(5000+i)))
	}
	b.StopTimer()
	for i, pid := range pids {
		p.process(pid, hostNS, "curl", "/usr/bin/curl", "/", 0, []string{"curl", "https://203.0.113.7/"}, uint64(5000+i))
	}
	p.tables(pids[:1], tcp.String(), "", "", "")
	b.StartTimer()
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		c, err := New(Config{ProcRoot: p.root, Passwd: "/nonexistent", Host: "bench", SkipPID: -1})
		if err != nil {
			b.Fatal(err)
		}
		events, err := c.Poll(time.Now())
		if err != nil || len(events) != 200 {
			b.Fatalf("%d events, %v", len(events), err)
		}
		n += len(events)
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
}
