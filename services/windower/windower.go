// Package windower is the rule: every interval it takes the enriched anomaly records whose
// bucket lies in the look-back, keeps those at or above the anomaly threshold, orders them by
// score, skips those already signalled, caps the run at max_signals and publishes signal
// documents on rarenet.signals.
//
// It runs on the wall clock in live mode and on the watermark of the records during a replay;
// both give the same signals for the same input.
package windower

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rarenet/rarenet/shared/control"
	"github.com/rarenet/rarenet/shared/natsutil"
	"github.com/rarenet/rarenet/shared/record"
	"github.com/rarenet/rarenet/shared/stream"
)

// Stage is the stage's name in dead letters, status and logs.
const Stage = "windower"

// Clock modes.
const (
	ClockWatermark = "watermark"
	ClockWall      = "wall"
)

// Config configures the windower.
type Config struct {
	Rule Rule
	// Clock is ClockWall (runs on wall-clock interval boundaries) or ClockWatermark (runs as
	// the records' watermark passes the boundaries: replay).
	Clock string
}

// RegisterFlags registers the stage's flags on fs.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	c.Rule = DefaultRule()
	fs.StringVar(&c.Clock, "clock", ClockWall, "what schedules rule runs: wall (live) or watermark (replay)")
	fs.Float64Var(&c.Rule.Threshold, "anomaly-threshold", c.Rule.Threshold, "the rule's anomaly_threshold (record_score >=)")
	fs.IntVar(&c.Rule.MaxSignals, "max-signals", c.Rule.MaxSignals, "the rule's max_signals per run")
}

// Validate checks the configuration.
func (c *Config) Validate() error {
	if c.Clock != ClockWall && c.Clock != ClockWatermark {
		return fmt.Errorf("windower: clock must be %s or %s, got %q", ClockWall, ClockWatermark, c.Clock)
	}
	return c.Rule.Validate()
}

// Stats counts what the windower has done.
type Stats struct {
	Records, Runs, Signals, Duplicates, Truncated, TooLate atomic.Int64
}

// Status is the report of one rule run, published on rarenet.status.windower. An end-of-input
// status (EOF true) closes a replay.
type Status struct {
	RuleID      string    `json:"rule_id"`
	RunTime     time.Time `json:"run_time,omitzero"`
	WindowStart time.Time `json:"window_start,omitzero"`
	WindowEnd   time.Time `json:"window_end,omitzero"`
	InWindow    int       `json:"records_in_window"`
	Matches     int       `json:"records_matching"`
	Signals     int       `json:"signals_published"`
	Duplicates  int       `json:"duplicates_skipped"`
	Truncated   int       `json:"truncated"`
	Warnings    []string  `json:"warnings,omitempty"`
	EOF         bool      `json:"eof,omitempty"`
	Replay      string    `json:"replay,omitempty"`
	// Stages holds, in an end-of-input status, every stage's counters since it started.
	Stages map[string]json.RawMessage `json:"stages,omitempty"`
}

// Service is a running windower.
type Service struct {
	cfg     Config
	js      jetstream.JetStream
	kv      jetstream.KeyValue
	pub     *natsutil.Publisher
	win     *Window
	log     *slog.Logger
	emitted map[string]time.Time // a cache of the KV bucket: ids known to be published, by run
	stats   Stats
	now     func() time.Time
}

// New prepares the windower on nc. The streams and the emitted-ids bucket must exist.
func New(ctx context.Context, cfg Config, nc *nats.Conn, log *slog.Logger) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	js, err := natsutil.JetStream(nc)
	if err != nil {
		return nil, err
	}
	kv, err := js.KeyValue(ctx, stream.EmittedBucket)
	if err != nil {
		return nil, fmt.Errorf("windower: key-value bucket %s: %w", stream.EmittedBucket, err)
	}
	return &Service{cfg: cfg, js: js, kv: kv, pub: natsutil.NewPublisher(js), win: NewWindow(cfg.Rule),
		log: log.With("stage", Stage, "rule_id", cfg.Rule.ID), emitted: map[string]time.Time{}, now: time.Now}, nil
}

// Stats returns the windower's counters.
func (s *Service) Stats() *Stats { return &s.stats }

// Run runs the windower on nc until ctx is done.
func Run(ctx context.Context, cfg Config, nc *nats.Conn, log *slog.Logger) error {
	s, err := New(ctx, cfg, nc, log)
	if err != nil {
		return err
	}
	return s.Run(ctx)
}

// Run consumes ENRICHED until ctx is done.
func (s *Service) Run(ctx context.Context) error {
	cons, err := natsutil.DurableConsumer(ctx, s.js, stream.Enriched, stream.WindowerConsumer)
	if err != nil {
		return err
	}
	s.log.Info("started", "clock", s.cfg.Clock, "interval", s.cfg.Rule.Interval, "from", s.cfg.Rule.From,
		"threshold", s.cfg.Rule.Threshold, "max_signals", s.cfg.Rule.MaxSignals)
	loop := natsutil.Loop{Consumer: cons, Handle: s.handle, Commit: s.pub.Flush}
	if s.cfg.Clock == ClockWall {
		loop.Tick = func(ctx context.Context, now time.Time) error {
			return s.runDue(ctx, s.win.Due(now, true))
		}
	}
	return loop.Run(ctx)
}

func (s *Service) handle(ctx context.Context, msg jetstream.Msg) error {
	h := msg.Headers()
	if control.IsControl(h) {
		m, err := control.Parse(h)
		if err != nil {
			s.log.Warn("ignoring control message", "err", err)
			return nil
		}
		if s.cfg.Clock != ClockWatermark {
			return nil
		}
		if err := s.runDue(ctx, s.win.Due(m.Watermark, false)); err != nil {
			return err
		}
		if m.Kind == control.KindEOF {
			if err := s.runDue(ctx, s.win.Drain()); err != nil {
				return err
			}
			s.log.Info("end of input", "replay", m.Replay)
			st := Status{RuleID: s.cfg.Rule.ID, EOF: true, Replay: m.Replay, Stages: map[string]json.RawMessage{}}
			for stage, js := range m.Stats {
				st.Stages[stage] = json.RawMessage(js)
			}
			own, err := json.Marshal(map[string]int64{"records": s.stats.Records.Load(), "runs": s.stats.Runs.Load(),
				"signals": s.stats.Signals.Load(), "duplicates": s.stats.Duplicates.Load(),
				"truncated": s.stats.Truncated.Load(), "too_late": s.stats.TooLate.Load()})
			if err != nil {
				return err
			}
			st.Stages[Stage] = own
			return s.status(st)
		}
		return nil
	}
	var r record.Record
	if err := json.Unmarshal(msg.Data(), &r); err != nil {
		dl := natsutil.DeadLetter{Stage: Stage, Reason: "undecodable enriched record: " + err.Error(), Data: msg.Data()}
		return s.pub.Publish(dl.Msg(stream.DLQSubject(Stage)), "")
	}
	s.stats.Records.Add(1)
	if !s.win.Add(r) {
		// Nothing is dropped silently: a record no run can cover any more is reported and kept
		// on the DLQ, from where it can be signalled by hand.
		s.stats.TooLate.Add(1)
		reason := fmt.Sprintf("too late for rule %s: bucket %s is outside the look-back of every run after %s",
			s.cfg.Rule.ID, r.BucketStart().Format(time.RFC3339), s.win.LastRun().Format(time.RFC3339))
		s.log.Warn("record too late", "record_id", r.ID, "record_score", r.RecordScore, "reason", reason)
		dl := natsutil.DeadLetter{Stage: Stage, Reason: reason, Data: msg.Data()}
		return s.pub.Publish(dl.Msg(stream.DLQSubject(Stage)), "")
	}
	return nil
}

// runDue executes the rule at each due time, in order.
func (s *Service) runDue(ctx context.Context, due []time.Time) error {
	for _, t := range due {
		if err := s.runAt(ctx, t); err != nil {
			return err
		}
	}
	return nil
}

// runAt executes the rule at t: the matches not signalled before, up to max_signals, become
// signals. De-duplication comes before the cap, so records already signalled never crowd new
// ones out of a run (Kibana caps first; see docs/differences.md).
func (s *Service) runAt(ctx context.Context, t time.Time) error {
	run := s.win.Run(t)
	st := Status{RuleID: s.cfg.Rule.ID, RunTime: t, WindowStart: run.WindowStart, WindowEnd: t,
		InWindow: run.InWindow, Matches: len(run.Matches)}
	var ids []string
	for i := range run.Matches {
		r := &run.Matches[i]
		id := SignalID(s.cfg.Rule.ID, r.ID)
		seen, err := s.wasEmitted(ctx, id)
		if err != nil {
			return err
		}
		if seen {
			st.Duplicates++
			continue
		}
		if len(ids) == s.cfg.Rule.MaxSignals {
			st.Truncated++
			continue
		}
		b, err := json.Marshal(Signal(&s.cfg.Rule, r, s.now(), t))
		if err != nil {
			return fmt.Errorf("windower: encode signal: %w", err)
		}
		m := nats.NewMsg(stream.SignalsSubject)
		m.Data = b
		if err := s.pub.Publish(m, id); err != nil {
			return err
		}
		ids = append(ids, id)
	}
	if st.Truncated > 0 {
		st.Warnings = append(st.Warnings, fmt.Sprintf("max signals reached: %d matching records left for later runs or never signalled", st.Truncated))
	}
	// The ids are remembered only once the signals are stored, so a crash in between repeats
	// a signal (JetStream's de-duplication window absorbs it) rather than losing one.
	if err := s.pub.Flush(ctx); err != nil {
		return err
	}
	for _, id := range ids {
		if _, err := s.kv.Put(ctx, id, []byte(t.UTC().Format(time.RFC3339))); err != nil {
			return fmt.Errorf("windower: remember signal %s: %w", id, err)
		}
		s.emitted[id] = t
	}
	// Records older than this run's window never come back, so neither do their ids.
	for id, at := range s.emitted {
		if at.Before(run.WindowStart) {
			delete(s.emitted, id)
		}
	}
	st.Signals = len(ids)
	s.stats.Runs.Add(1)
	s.stats.Signals.Add(int64(st.Signals))
	s.stats.Duplicates.Add(int64(st.Duplicates))
	s.stats.Truncated.Add(int64(st.Truncated))
	if st.Matches > 0 || len(st.Warnings) > 0 {
		s.log.Info("rule run", "run_time", t, "in_window", st.InWindow, "matches", st.Matches,
			"signals", st.Signals, "duplicates", st.Duplicates, "truncated", st.Truncated)
	}
	return s.status(st)
}

func (s *Service) wasEmitted(ctx context.Context, id string) (bool, error) {
	if _, ok := s.emitted[id]; ok {
		return true, nil
	}
	_, err := s.kv.Get(ctx, id)
	switch {
	case err == nil:
		s.emitted[id] = s.win.LastRun()
		return true, nil
	case errors.Is(err, jetstream.ErrKeyNotFound):
		return false, nil
	}
	return false, fmt.Errorf("windower: look up signal %s: %w", id, err)
}

func (s *Service) status(st Status) error {
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	m := nats.NewMsg(stream.StatusSubject(Stage))
	m.Data = b
	return s.pub.Publish(m, "")
}
