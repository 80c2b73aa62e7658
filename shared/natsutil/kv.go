package natsutil

import (
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// A key-value write is a publish on the key's subject in the bucket's stream, which is how
// jetstream.KeyValue itself writes. Built as messages, the writes of a commit go out with the
// stage's other publishes through a Publisher and are confirmed together at its Flush: one
// round trip in all, not one per key (on a replicated cluster, a round trip per key and per
// bucket of event time was most of a replay's time).

// KVPut is the message that sets key to value in the key-value bucket kv, as kv.Put does.
func KVPut(kv jetstream.KeyValue, key string, value []byte) *nats.Msg {
	m := nats.NewMsg(kvSubject(kv, key))
	m.Data = value
	return m
}

// KVPurge is the message that purges key from the key-value bucket kv, as kv.Purge does.
func KVPurge(kv jetstream.KeyValue, key string) *nats.Msg {
	m := nats.NewMsg(kvSubject(kv, key))
	m.Header.Set("KV-Operation", "PURGE")
	m.Header.Set(jetstream.MsgRollup, jetstream.MsgRollupSubject)
	return m
}

// kvSubject is the subject of key in the bucket: buckets here are neither mirrors nor behind
// a JetStream domain or API prefix.
func kvSubject(kv jetstream.KeyValue, key string) string { return "$KV." + kv.Bucket() + "." + key }
