package scorer

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/rarenet/rarenet/shared/natstest"
	"github.com/rarenet/rarenet/shared/stream"
)

func TestReadModelHistory(t *testing.T) {
	ts := natstest.Start(t)
	ts.Pipeline(t, 2)
	span := 15 * time.Minute
	h, err := ReadModelHistory(ts.Ctx, ts.JS, span)
	if err != nil || h.Buckets != 0 {
		t.Fatalf("before any checkpoint: %+v, %v", h, err)
	}
	r, err := NewRarity(DefaultJob())
	if err != nil {
		t.Fatal(err)
	}
	first := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	k := first.UnixNano() / int64(span)
	r.Score(k, []ValueSummary{{Value: "curl", Count: 3}, {Value: "sshd", Count: 1}})
	r.Score(k+3, []ValueSummary{{Value: "curl", Count: 1}})
	b, err := json.Marshal(modelCheckpoint{Rarity: r.Snapshot(), Closed: []int64{k + 3, k + 3}, Announced: k + 4})
	if err != nil {
		t.Fatal(err)
	}
	obj := natstest.ObjectStore(t, ts.Ctx, ts.JS, stream.ModelStore)
	if _, err := obj.PutBytes(ts.Ctx, CheckpointObject, b); err != nil {
		t.Fatal(err)
	}
	h, err = ReadModelHistory(ts.Ctx, ts.JS, span)
	if err != nil {
		t.Fatal(err)
	}
	want := ModelHistory{Buckets: 4, First: first, Last: first.Add(3 * span), Values: 2}
	if h != want {
		t.Errorf("history %+v, want %+v", h, want)
	}
}
