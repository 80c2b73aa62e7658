package natsutil

import (
	"errors"
	"testing"

	"github.com/nats-io/nats.go/jetstream"
)

// TestKVMessages checks that the messages KVPut and KVPurge build do what the bucket's own
// Put and Purge do, as its readers see it.
func TestKVMessages(t *testing.T) {
	_, js := startJetStream(t)
	ctx := testContext(t)
	kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "test_kv", History: 2})
	if err != nil {
		t.Fatal(err)
	}
	pub := NewPublisher(js)
	for _, m := range []string{"a", "b"} {
		if err := pub.Publish(KVPut(kv, "key."+m, []byte("value "+m)), ""); err != nil {
			t.Fatal(err)
		}
	}
	if err := pub.Publish(KVPut(kv, "key.a", []byte("again")), ""); err != nil {
		t.Fatal(err)
	}
	if err := pub.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	e, err := kv.Get(ctx, "key.a")
	if err != nil || string(e.Value()) != "again" || e.Operation() != jetstream.KeyValuePut {
		t.Fatalf("key.a: %v, %v", e, err)
	}
	if err := pub.Publish(KVPurge(kv, "key.a"), ""); err != nil {
		t.Fatal(err)
	}
	if err := pub.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Get(ctx, "key.a"); !errors.Is(err, jetstream.ErrKeyNotFound) {
		t.Fatalf("key.a after purge: %v", err)
	}
	hist, err := kv.History(ctx, "key.a")
	if err != nil || len(hist) != 1 || hist[0].Operation() != jetstream.KeyValuePurge {
		t.Fatalf("key.a history after purge: %d entries, %v: want the purge marker alone", len(hist), err)
	}
	if e, err := kv.Get(ctx, "key.b"); err != nil || string(e.Value()) != "value b" {
		t.Fatalf("key.b: %v, %v", e, err)
	}
}
