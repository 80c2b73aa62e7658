// Package sink publishes the lines of a live source on rarenet.raw.<format>: many lines per
// message (rawpub's limits), each message naming the source and the number of its first
// line, as ingest expects. Lines that NATS has not acknowledged stay in a bounded backlog and
// are sent again with the next batch; what overflows the backlog is counted, never dropped
// silently.
package sink

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/rarenet/rarenet/services/sources/chunk"
	"github.com/rarenet/rarenet/services/sources/rawpub"
	"github.com/rarenet/rarenet/shared/natsutil"
)

// DefaultMaxBacklog bounds the lines kept for a retry while NATS does not acknowledge them.
const DefaultMaxBacklog = 100_000

// flushTimeout bounds the wait for the acknowledgements of one batch.
const flushTimeout = 30 * time.Second

// ErrNoJetStream is returned by New without a JetStream context.
var ErrNoJetStream = errors.New("sink: no JetStream context")

// Stats counts what a Sink has done.
type Stats struct {
	// Published is the number of lines NATS acknowledged.
	Published atomic.Int64
	// Dropped is the number of lines dropped because the backlog was full.
	Dropped atomic.Int64
}

// Sink batches and publishes the lines of one source. It is not safe for concurrent use.
type Sink struct {
	js         jetstream.JetStream
	format     string
	source     string
	sourceName string
	maxBacklog int
	next       int64
	backlog    [][]byte
	stats      Stats
}

// New returns a Sink that publishes on rarenet.raw.<format> with the given source name.
// maxBacklog <= 0 means DefaultMaxBacklog.
func New(js jetstream.JetStream, format, source string, maxBacklog int) (*Sink, error) {
	if js == nil {
		return nil, ErrNoJetStream
	}
	if err := rawpub.CheckFormat(format); err != nil {
		return nil, fmt.Errorf("sink: %w", err)
	}
	if maxBacklog <= 0 {
		maxBacklog = DefaultMaxBacklog
	}
	return &Sink{js: js, format: format, source: source, maxBacklog: maxBacklog, next: 1}, nil
}

// BindSource publishes on the subject naming the source name (rawpub.Subject); call it
// before the first Send.
func (s *Sink) BindSource(name string) { s.sourceName = name }

// Stats returns the sink's counters.
func (s *Sink) Stats() *Stats { return &s.stats }

// Backlog is the number of lines waiting for an acknowledgement.
func (s *Sink) Backlog() int { return len(s.backlog) }

// Send appends lines (each without its newline; the sink keeps them) to the backlog and
// publishes the whole backlog, waiting for the acknowledgements. On error the backlog is
// kept for the next call, oldest lines dropped (and counted) beyond the bound.
func (s *Sink) Send(ctx context.Context, lines [][]byte) error {
	s.backlog = append(s.backlog, lines...)
	if over := len(s.backlog) - s.maxBacklog; over > 0 {
		s.stats.Dropped.Add(int64(over))
		clear(s.backlog[:over])
		s.backlog = slices.Delete(s.backlog, 0, over)
	}
	if len(s.backlog) == 0 {
		return nil
	}
	pub := natsutil.NewPublisher(s.js)
	ch := chunk.Builder{Next: s.next}
	send := func() error {
		c, ok := ch.Take()
		if !ok {
			return nil
		}
		return pub.Publish(rawpub.BoundMessage(s.format, s.sourceName, s.source, c.FirstLine, c.Data), "")
	}
	for _, l := range s.backlog {
		if !ch.Room(len(l)) {
			if err := send(); err != nil {
				return err
			}
		}
		if ch.Add(l) {
			if err := send(); err != nil {
				return err
			}
		}
	}
	if err := send(); err != nil {
		return err
	}
	fctx, cancel := context.WithTimeout(ctx, flushTimeout)
	defer cancel()
	if err := pub.Flush(fctx); err != nil {
		return err
	}
	s.stats.Published.Add(int64(len(s.backlog)))
	s.next = ch.Next
	clear(s.backlog)
	s.backlog = s.backlog[:0]
	return nil
}
