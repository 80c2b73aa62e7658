package natsutil

import (
	"context"
	"errors"
	"os"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// objectAttempt is the deadline of GetObject's first attempt; each further one's doubles, up
// to RequestTimeout. A variable for tests.
var objectAttempt = time.Second

// GetObject reads the object name of obj whole, as it is when read.
//
// nats.go's ObjectStore.Get looks the object's description up, then subscribes to the chunks
// of the version it names. A put that replaces the object between the two purges those
// chunks: nothing comes, and the read waits until its context's deadline (the JetStream
// context's default timeout, 5 s, when it has none; the whole context's when it has one) and
// fails. A model checkpointed every second and read by a successor, by `rarenet run` or by a
// test waiting for a checkpoint meets that window. So each attempt has a deadline of its own,
// a second at first and doubling (a large object's read may need longer), and a timed-out read
// is tried again: the next attempt reads the version that replaced it. Errors that no attempt
// mends, jetstream.ErrObjectNotFound first, return at once.
func GetObject(ctx context.Context, obj jetstream.ObjectStore, name string) ([]byte, error) {
	var b []byte
	bo := Backoff{First: 10 * time.Millisecond, Max: time.Second, Attempt: objectAttempt, AttemptMax: RequestTimeout,
		For: DefaultRetryFor, Again: objectTransient}
	err := bo.Retry(ctx, func(ctx context.Context) error {
		var err error
		b, err = obj.GetBytes(ctx, name)
		return err
	})
	return b, err
}

// objectTransient is Transient, and the deadline of the pipe an object is read through:
// nats.go's read returns that one as it is when the pipe's deadline passes an instant
// before the context's ("read pipe: i/o timeout").
func objectTransient(err error) bool {
	return Transient(err) || errors.Is(err, os.ErrDeadlineExceeded)
}
