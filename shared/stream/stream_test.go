package stream

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/rarenet/rarenet/shared/natsembed"
	"github.com/rarenet/rarenet/shared/natsutil"
)

func startJetStream(t *testing.T) jetstream.JetStream {
	t.Helper()
	srv, err := natsembed.Start(natsembed.Config{StoreDir: t.TempDir(), Port: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
	nc, err := natsutil.Connect("", srv, "test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := natsutil.JetStream(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

func TestEnsure(t *testing.T) {
	js := startJetStream(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cfg := Config{Partitions: 4, Replicas: 1, Memory: true}

	for i := range 2 { // idempotent
		if err := Ensure(ctx, js, cfg); err != nil {
			t.Fatalf("Ensure #%d: %v", i+1, err)
		}
	}
	p, err := Partitions(ctx, js)
	if err != nil {
		t.Fatal(err)
	}
	if p != 4 {
		t.Errorf("Partitions = %d, want 4", p)
	}
	wantSubjects := map[string]string{
		Raw: "rarenet.raw.>", Events: "rarenet.events.*", Anomalies: "rarenet.anomalies",
		Enriched: "rarenet.enriched", Signals: "rarenet.signals", DLQ: "rarenet.dlq.>", Status: "rarenet.status.>",
	}
	for name, subj := range wantSubjects {
		s, err := js.Stream(ctx, name)
		if err != nil {
			t.Errorf("stream %s: %v", name, err)
			continue
		}
		c := s.CachedInfo().Config
		if len(c.Subjects) != 1 || c.Subjects[0] != subj {
			t.Errorf("%s subjects %v, want [%s]", name, c.Subjects, subj)
		}
		if c.Storage != jetstream.MemoryStorage {
			t.Errorf("%s storage %v, want memory", name, c.Storage)
		}
	}
	if _, err := js.KeyValue(ctx, EmittedBucket); !errors.Is(err, jetstream.ErrBucketNotFound) {
		t.Errorf("Ensure made the windower's bucket (%v): each stage makes its own", err)
	}
	// A stage's bucket gets the streams' storage and replication.
	for range 2 {
		if err := EnsureKeyValue(ctx, js, cfg, jetstream.KeyValueConfig{Bucket: EmittedBucket, TTL: time.Hour}); err != nil {
			t.Fatal(err)
		}
	}
	kv, err := js.KeyValue(ctx, EmittedBucket)
	if err != nil {
		t.Fatalf("emitted bucket: %v", err)
	}
	st, err := kv.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.TTL() != time.Hour || st.(*jetstream.KeyValueBucketStatus).StreamInfo().Config.Storage != jetstream.MemoryStorage {
		t.Errorf("emitted TTL %v, storage %v: want 1h in memory", st.TTL(), st.(*jetstream.KeyValueBucketStatus).StreamInfo().Config.Storage)
	}

	t.Run("another partition count", func(t *testing.T) {
		err := Ensure(ctx, js, Config{Partitions: 8, Replicas: 1, Memory: true})
		if !errors.Is(err, ErrPartitionMismatch) {
			t.Fatalf("Ensure with 8 partitions = %v, want ErrPartitionMismatch", err)
		}
		if p, err := Partitions(ctx, js); err != nil || p != 4 {
			t.Errorf("after the refused change Partitions = %d, %v; want 4", p, err)
		}
	})

	t.Run("no partitions", func(t *testing.T) {
		err := Ensure(ctx, js, Config{Partitions: 0, Memory: true})
		if err == nil || errors.Is(err, ErrPartitionMismatch) {
			t.Fatalf("Ensure with 0 partitions = %v, want a configuration error", err)
		}
	})
}

func TestPartitionsWithoutStreams(t *testing.T) {
	js := startJetStream(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := Partitions(ctx, js); !errors.Is(err, jetstream.ErrStreamNotFound) {
		t.Fatalf("Partitions without EVENTS = %v, want ErrStreamNotFound", err)
	}
}

func TestSubjects(t *testing.T) {
	tests := []struct{ got, want string }{
		{RawSubject("auditd"), "rarenet.raw.auditd"},
		{EventsSubject(7), "rarenet.events.7"},
		{DLQSubject("scorer"), "rarenet.dlq.scorer"},
		{StatusSubject("windower"), "rarenet.status.windower"},
		{ScorerPartitionConsumer(3), "scorer-3"},
		{strings.Join(ScorerPartitionConsumers(2), ","), "scorer-0,scorer-1"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("got %q, want %q", tt.got, tt.want)
			}
		})
	}
}

// TestEnsureConcurrently is every stage starting at once against a fresh server: they all
// create the same streams, and none may fail for having lost the race.
func TestEnsureConcurrently(t *testing.T) {
	srv, err := natsembed.Start(natsembed.Config{StoreDir: t.TempDir(), Port: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
	cfg := Config{Partitions: 4, Replicas: 1}
	errs := make(chan error, 8)
	for i := range cap(errs) {
		// One connection each, as separate processes have.
		nc, err := natsutil.Connect(srv.ClientURL(), nil, "stage"+strconv.Itoa(i))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		js, err := natsutil.JetStream(nc)
		if err != nil {
			t.Fatal(err)
		}
		// Stages configured differently (here: a bucket's TTL) make a lost race an error rather
		// than a no-op; Ensure and EnsureKeyValue must still succeed.
		ttl := time.Duration(1+i%2) * time.Hour
		go func() {
			err := Ensure(context.Background(), js, cfg)
			if err == nil {
				err = EnsureKeyValue(context.Background(), js, cfg, jetstream.KeyValueConfig{Bucket: EmittedBucket, TTL: ttl})
			}
			errs <- err
		}()
	}
	for range cap(errs) {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

// TestReadFromLeader: a bucket's and an object store's reads are answered by the stream's
// leader (no direct gets) once ensured so, whether they existed with direct gets or not, and
// still after a second stage ensured them again.
func TestReadFromLeader(t *testing.T) {
	js := startJetStream(t)
	ctx := context.Background()
	// The history bucket as an earlier rarenet created it, with direct gets; the model's store
	// is missing.
	if err := EnsureKeyValue(ctx, js, Config{Replicas: 1}, jetstream.KeyValueConfig{Bucket: HistoryBucket}); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := EnsureLeaderKeyValue(ctx, js, Config{Replicas: 1}, jetstream.KeyValueConfig{Bucket: HistoryBucket}); err != nil {
			t.Fatal(err)
		}
		if err := EnsureLeaderObjectStore(ctx, js, Config{Replicas: 1}, jetstream.ObjectStoreConfig{Bucket: ModelStore}); err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{KeyValueStream(HistoryBucket), ObjectStoreStream(ModelStore)} {
			s, err := js.Stream(ctx, name)
			if err != nil {
				t.Fatal(err)
			}
			if s.CachedInfo().Config.AllowDirect {
				t.Fatalf("%s allows direct gets: a lagging replica could answer a read", name)
			}
		}
	}
	kv, err := js.KeyValue(ctx, HistoryBucket)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(ctx, "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	if e, err := kv.Get(ctx, "k"); err != nil || string(e.Value()) != "v" {
		t.Fatalf("read back %v, %v", e, err)
	}
	obj, err := js.ObjectStore(ctx, ModelStore)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := obj.PutBytes(ctx, "o", []byte("v")); err != nil {
		t.Fatal(err)
	}
	if b, err := obj.GetBytes(ctx, "o"); err != nil || string(b) != "v" {
		t.Fatalf("read back %q, %v", b, err)
	}
}
