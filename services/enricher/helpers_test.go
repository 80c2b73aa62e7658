package enricher

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rarenet/rarenet/shared/natstest"
)

// startJetStream starts an embedded server with a temporary store and connects to it
// in-process. Everything is shut down when the test ends.
func startJetStream(t *testing.T) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	ts := natstest.Start(t)
	return ts.NC, ts.JS
}

// testContext ends with the test, with a generous deadline against hangs.
func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// Bucket starts used across the tests: 15-minute buckets from 2025-01-01 00:00 UTC.
const spanMS = int64(15 * time.Minute / time.Millisecond)

var t0 = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()

// bk is the start of the i-th bucket after t0.
func bk(i int64) int64 { return t0 + i*spanMS }
