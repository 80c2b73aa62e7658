package enricher

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/rarenet/rarenet/shared/record"
	"github.com/rarenet/rarenet/shared/stream"
)

func historyKV(t *testing.T, js jetstream.JetStream) jetstream.KeyValue {
	t.Helper()
	ctx := testContext(t)
	if err := ensureHistory(ctx, js, stream.Config{Memory: true}); err != nil {
		t.Fatal(err)
	}
	if err := ensureHistory(ctx, js, stream.Config{Memory: true}); err != nil {
		t.Fatalf("ensureHistory is not idempotent: %v", err)
	}
	if s, err := js.Stream(ctx, stream.KeyValueStream(stream.HistoryBucket)); err != nil || s.CachedInfo().Config.AllowDirect {
		t.Fatalf("the history bucket allows direct gets (%v): a lagging replica could answer a read", err)
	}
	kv, err := js.KeyValue(ctx, stream.HistoryBucket)
	if err != nil {
		t.Fatal(err)
	}
	return kv
}

func summary(bucket int64, values ...record.ValueSummary) *record.BucketSummary {
	return &record.BucketSummary{ResultType: record.ResultTypeBucketSummary, JobID: "job", Timestamp: bucket, BucketSpan: spanMS / 1000, Values: values}
}

func TestStoreSharedAndDurable(t *testing.T) {
	_, js := startJetStream(t)
	ctx := testContext(t)
	kv := historyKV(t, js)
	a := NewStore(kv)
	odd := "weird name/with.dots and spaces ✓"
	if err := a.Apply(ctx, summary(bk(0), record.ValueSummary{Value: "perl", Hosts: []string{"web-01"}}, record.ValueSummary{Value: odd, Hosts: []string{"db-01"}})); err != nil {
		t.Fatal(err)
	}
	// Visible before the commit, to the store's own reads.
	if e, err := a.Process(ctx, "perl"); err != nil || !e.SeenBefore(bk(1)) {
		t.Fatalf("perl before commit: %+v, %v", e, err)
	}
	// Not visible to another replica before the commit.
	if e, err := NewStore(kv).Process(ctx, "perl"); err != nil || e.SeenBefore(bk(1)) {
		t.Fatalf("another store sees an uncommitted bucket: %+v, %v", e, err)
	}
	if err := a.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	b := NewStore(kv)
	for _, name := range []string{"perl", odd} {
		e, err := b.Process(ctx, name)
		if err != nil || e.Name != name || e.ActiveBefore(bk(1)) != 1 {
			t.Errorf("%q from another store: %+v, %v", name, e, err)
		}
	}
	f, err := b.Fleet(ctx)
	if err != nil || f.First != bk(0) || len(f.Hosts) != 2 {
		t.Errorf("fleet from another store: %+v, %v", f, err)
	}
	// Entries stay within the documented bound even at their fullest.
	var e Entry
	for i := range int64(4 * maxEpisodes) {
		h := string(rune('a'+i%26)) + "-" + string(rune('a'+(i/26)%26)) + "-host.example.internal"
		e.apply(obs(bk(2*i), []string{h}, []string{h}, record.Endpoint{IP: "2001:db8::" + string(rune('a'+i%6)) + string(rune('a'+(i/6)%6)), Port: int(i)}))
	}
	if raw, _ := json.Marshal(&e); len(raw) > 64<<10 {
		t.Errorf("a full entry is %d bytes, over the documented 64 KiB", len(raw))
	}
}

func TestStoreConcurrentReplicasMerge(t *testing.T) {
	for _, pipelined := range []bool{false, true} {
		t.Run(fmt.Sprintf("pipelined=%v", pipelined), func(t *testing.T) { testStoreMerge(t, pipelined) })
	}
}

func testStoreMerge(t *testing.T, pipelined bool) {
	_, js := startJetStream(t)
	ctx := testContext(t)
	kv := historyKV(t, js)
	a, b := NewStore(kv), NewStore(kv)
	if pipelined {
		a.Pipeline(js)
		b.Pipeline(js)
	}
	// Both read the (absent) entry, then each applies a different bucket.
	for _, s := range []*Store{a, b} {
		if _, err := s.Process(ctx, "perl"); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Apply(ctx, summary(bk(0), record.ValueSummary{Value: "perl", Hosts: []string{"web-01"}, Users: []string{"root"}})); err != nil {
		t.Fatal(err)
	}
	if err := b.Apply(ctx, summary(bk(3), record.ValueSummary{Value: "perl", Hosts: []string{"web-02"}, Users: []string{"www-data"}})); err != nil {
		t.Fatal(err)
	}
	for _, s := range []*Store{a, b} {
		if err := s.Commit(ctx); err != nil {
			t.Fatalf("commit: %v", err)
		}
	}
	e, err := NewStore(kv).Process(ctx, "perl")
	if err != nil {
		t.Fatal(err)
	}
	if e.ActiveBefore(bk(9)) != 2 || len(e.Hosts) != 2 || len(e.Users) != 2 {
		t.Errorf("merged entry %+v: want both replicas' buckets", e)
	}
	f, err := NewStore(kv).Fleet(ctx)
	if err != nil || len(f.Hosts) != 2 || f.First != bk(0) || f.Last != bk(3) {
		t.Errorf("merged fleet %+v, %v", f, err)
	}
}
