// Package natstest starts a real NATS server with JetStream, in-process, for tests: the one
// setup every stage's tests share. Import it from tests only.
package natstest

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rarenet/rarenet/shared/event"
	"github.com/rarenet/rarenet/shared/natsembed"
	"github.com/rarenet/rarenet/shared/natsutil"
	"github.com/rarenet/rarenet/shared/rawdata"
	"github.com/rarenet/rarenet/shared/stream"
)

// Server is a running test server with a connection for the test itself.
type Server struct {
	Srv *server.Server
	NC  *nats.Conn
	JS  jetstream.JetStream
	// Ctx ends with the test, with a deadline against hangs.
	Ctx context.Context
}

// Start runs a server on a free port with its store in the test's temporary directory. The
// server, the connection and Ctx end with the test.
func Start(t testing.TB) *Server {
	t.Helper()
	srv, err := natsembed.Start(natsembed.Config{StoreDir: t.TempDir(), Port: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	s := &Server{Srv: srv, Ctx: ctx}
	s.NC = s.Conn(t, "test")
	if s.JS, err = natsutil.JetStream(s.NC); err != nil {
		t.Fatal(err)
	}
	return s
}

// Conn opens another in-process connection, named like a stage's, closed with the test.
func (s *Server) Conn(t testing.TB, name string) *nats.Conn {
	t.Helper()
	nc, err := natsutil.Connect("", s.Srv, name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// Pipeline creates the pipeline's streams, in memory, with the given partition count.
func (s *Server) Pipeline(t testing.TB, partitions int) {
	t.Helper()
	if err := stream.Ensure(s.Ctx, s.JS, stream.Config{Partitions: partitions, Replicas: 1, Memory: true}); err != nil {
		t.Fatal(err)
	}
}

// Batch decodes an event batch as the scorer reads it: decompressed when ingest compressed
// it (rawdata). It fails the test on data that does not decompress or decode.
func Batch(t testing.TB, h nats.Header, data []byte) []*event.Event {
	t.Helper()
	raw, err := rawdata.Data(h, data)
	if err != nil {
		t.Fatalf("event batch: %v", err)
	}
	evs, err := event.DecodeBatch(raw)
	if err != nil {
		t.Fatalf("event batch: %v", err)
	}
	return evs
}

// RawText is the text of a raw input message as ingest reads it: decompressed when its
// publisher compressed it (rawdata). It fails the test on data that does not decompress.
func RawText(t testing.TB, h nats.Header, data []byte) string {
	t.Helper()
	text, err := rawdata.Data(h, data)
	if err != nil {
		t.Fatalf("raw message: %v", err)
	}
	return string(text)
}

// KeyValue opens the key-value bucket, creating it in memory first as the stage that owns it
// would: for a test that plays that stage (a windower's test announcing a scorer's jobs).
func KeyValue(t testing.TB, ctx context.Context, js jetstream.JetStream, bucket string) jetstream.KeyValue {
	t.Helper()
	if err := stream.EnsureKeyValue(ctx, js, stream.Config{Memory: true}, jetstream.KeyValueConfig{Bucket: bucket}); err != nil {
		t.Fatal(err)
	}
	kv, err := js.KeyValue(ctx, bucket)
	if err != nil {
		t.Fatal(err)
	}
	return kv
}

// ObjectStore opens the object store, creating it in memory first as the stage that owns it
// would (KeyValue).
func ObjectStore(t testing.TB, ctx context.Context, js jetstream.JetStream, bucket string) jetstream.ObjectStore {
	t.Helper()
	if err := stream.EnsureObjectStore(ctx, js, stream.Config{Memory: true}, jetstream.ObjectStoreConfig{Bucket: bucket}); err != nil {
		t.Fatal(err)
	}
	obj, err := js.ObjectStore(ctx, bucket)
	if err != nil {
		t.Fatal(err)
	}
	return obj
}
