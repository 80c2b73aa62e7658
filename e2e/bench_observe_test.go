package e2e

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/nats-io/nats.go"
)

// natsObserver counts what the stages ask of a cluster while a replay runs, from the outside:
// a core NATS subscriber gets a copy of every message on the subjects it subscribes to, so
// subscribing to the JetStream API's requests and to the key-value buckets' subjects counts
// the consumer-info round trips (CONSUMER.INFO requests: a Barrier's reads of a consumer's ack
// floor, a Throttle's reads of a consumer's backlog; the stream tells which) and every KV
// write, without a line of the stages changed.
type natsObserver struct {
	nc     *nats.Conn
	mu     sync.Mutex
	counts map[string]int64
}

// Kinds of messages the observer counts (prefixes of its keys).
const (
	obsConsumerInfo = "consumer info " // + stream: barrier (ack floor) and throttle (backlog) reads
	obsAPI          = "other API "     // + request kind (STREAM.INFO, CONSUMER.MSG.NEXT, ...)
	obsKVWrite      = "KV write "      // + bucket
)

// observe starts counting on the cluster at url until stop.
func observe(b *testing.B, url string) *natsObserver {
	b.Helper()
	nc, err := nats.Connect(url, nats.Name("bench-observer"))
	if err != nil {
		b.Fatal(err)
	}
	o := &natsObserver{nc: nc, counts: map[string]int64{}}
	count := func(key string) {
		o.mu.Lock()
		o.counts[key]++
		o.mu.Unlock()
	}
	// $JS.API.CONSUMER.INFO.<stream>.<consumer>, $JS.API.STREAM.INFO.<stream>, ...
	if _, err := nc.Subscribe("$JS.API.>", func(m *nats.Msg) {
		t := strings.Split(strings.TrimPrefix(m.Subject, "$JS.API."), ".")
		switch {
		case len(t) >= 3 && t[0] == "CONSUMER" && t[1] == "INFO":
			count(obsConsumerInfo + t[2])
		case len(t) >= 2 && (t[0] == "CONSUMER" || t[0] == "STREAM" || t[0] == "DIRECT"):
			if t[1] == "MSG" && len(t) >= 3 {
				count(obsAPI + t[0] + ".MSG." + t[2])
			} else {
				count(obsAPI + t[0] + "." + t[1])
			}
		default:
			count(obsAPI + t[0])
		}
	}); err != nil {
		b.Fatal(err)
	}
	// $KV.<bucket>.<key>: puts, creates, updates and deletes alike.
	if _, err := nc.Subscribe("$KV.>", func(m *nats.Msg) {
		t := strings.SplitN(m.Subject, ".", 3)
		if len(t) >= 2 {
			count(obsKVWrite + t[1])
		}
	}); err != nil {
		b.Fatal(err)
	}
	// The subscriptions must reach every node before the replay starts.
	if err := nc.Flush(); err != nil {
		b.Fatal(err)
	}
	return o
}

// stop ends the counting and returns the counts.
func (o *natsObserver) stop() map[string]int64 {
	_ = o.nc.Flush()
	o.nc.Close()
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.counts
}

// sumPrefix adds up the counts whose key starts with prefix.
func sumPrefix(counts map[string]int64, prefix string) int64 {
	var n int64
	for k, v := range counts {
		if strings.HasPrefix(k, prefix) {
			n += v
		}
	}
	return n
}

// perUnit formats the counts of prefix divided by units, the largest first, e.g.
// "RAW 3.10, EVENTS 1.02".
func perUnit(counts map[string]int64, prefix string, units int) string {
	var keys []string
	for k := range counts {
		if strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(a, b string) int { return int(counts[b] - counts[a]) })
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %.2f", strings.TrimPrefix(k, prefix), float64(counts[k])/float64(units)))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}
