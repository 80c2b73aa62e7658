package console

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/rarenet/rarenet/shared/stream"
)

// feedSignals reads the SIGNALS stream from its first message into the index, then follows
// it. The stream may not exist yet when the console starts before the pipeline.
func (s *Server) feedSignals(ctx context.Context) error {
	var st jetstream.Stream
	for {
		var err error
		if st, err = s.js.Stream(ctx, stream.Signals); err == nil {
			break
		}
		if ctx.Err() != nil {
			return nil
		}
		s.log.Debug("waiting for the signals stream", "stream", stream.Signals, "err", err)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Second):
		}
	}
	target := st.CachedInfo().State.LastSeq
	if target == 0 {
		s.signalsCaughtUp.Store(true)
	}
	c, err := st.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverAllPolicy})
	if err != nil {
		return fmt.Errorf("console: read %s: %w", stream.Signals, err)
	}
	cc, err := c.Consume(func(m jetstream.Msg) {
		md, err := m.Metadata()
		if err != nil {
			return
		}
		seq := md.Sequence.Stream
		sum, err := ParseSummary(seq, m.Data())
		if err != nil {
			// The document stays in the stream; the console counts it and says so.
			if n := s.unreadable.Add(1); n <= 10 {
				s.log.Warn("a message of the signals stream is not a signal: not shown", "stream", stream.Signals, "seq", seq, "err", err)
			}
		} else if s.ix.Add(sum) && s.signalsCaughtUp.Load() {
			if b, err := json.Marshal(sum); err == nil {
				s.hub.publish(Event{Kind: "signal", Data: b})
			}
		}
		if seq >= target || md.NumPending == 0 {
			s.signalsCaughtUp.Store(true)
		}
	}, jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
		if !errors.Is(err, jetstream.ErrNoHeartbeat) {
			s.log.Warn("reading signals", "err", err)
		}
	}))
	if err != nil {
		return fmt.Errorf("console: read %s: %w", stream.Signals, err)
	}
	<-ctx.Done()
	cc.Stop()
	return nil
}

// statusEvent is what browsers get when a signal's status changes.
type statusEvent struct {
	ID     string    `json:"id"`
	Status string    `json:"status"`
	Note   string    `json:"note,omitempty"`
	By     string    `json:"by"`
	At     time.Time `json:"at"`
}

// watchTriage keeps the index's statuses current from the console's bucket: changes made by
// this console, by another replica, or by anything else writing the bucket.
func (s *Server) watchTriage(ctx context.Context) error {
	w, err := s.triage.Watch(ctx, statusKey("*"))
	if err != nil {
		return fmt.Errorf("console: watch %s: %w", stream.ConsoleBucket, err)
	}
	defer w.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case e, ok := <-w.Updates():
			if !ok {
				if ctx.Err() != nil {
					return nil
				}
				return fmt.Errorf("console: the watch of %s stopped", stream.ConsoleBucket)
			}
			if e == nil { // the initial values are in
				s.triageCaughtUp.Store(true)
				continue
			}
			id := strings.TrimPrefix(e.Key(), statusKey(""))
			status := StatusOpen
			var t *Triage
			if e.Operation() == jetstream.KeyValuePut {
				if t, err = decodeTriage(e); err != nil {
					s.log.Warn("unreadable triage state: ignored", "key", e.Key(), "err", err)
					continue
				}
				status = t.Status
			}
			s.ix.SetStatus(id, status)
			if s.triageCaughtUp.Load() {
				ev := statusEvent{ID: id, Status: status}
				if t != nil {
					ev.Note, ev.By, ev.At = t.Note, t.By, t.At
				}
				if b, err := json.Marshal(ev); err == nil {
					s.hub.publish(Event{Kind: "status", Data: b})
				}
			}
		}
	}
}
