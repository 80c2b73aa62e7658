// Package windower is the rule: every interval it takes the enriched anomaly records whose
// bucket lies in the look-back, keeps those at or above the anomaly threshold, orders them by
// score, skips those already signalled, excepted or suppressed, caps the run at max_signals
// and publishes signal documents on rarenet.signals.
//
// It runs on the wall clock in live mode and on the watermark of the records during a replay;
// both give the same signals for the same input. One windower per rule is active at a time,
// by a lease in the rarenet_windower bucket; others stand by and take over.
package windower

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rarenet/rarenet/shared/control"
	"github.com/rarenet/rarenet/shared/lease"
	"github.com/rarenet/rarenet/shared/natsutil"
	"github.com/rarenet/rarenet/shared/record"
	"github.com/rarenet/rarenet/shared/stream"
)

// Stage is the stage's name in dead letters, status and logs.
const Stage = "windower"

// ErrEmittedTTL is returned by New when the emitted-ids bucket forgets ids before the rule's
// look-back has passed them: a record would be signalled again.
var ErrEmittedTTL = errors.New("windower: the emitted-ids TTL must exceed the rule's look-back")

// Stats counts what the windower has done.
type Stats struct {
	Records, Runs, Signals, Duplicates, Excepted, Suppressed, Truncated, TooLate, LateSignals atomic.Int64
}

// Status is the report of one rule run, published on rarenet.status.windower and logged. An
// end-of-input status (EOF true) closes a replay.
type Status struct {
	RuleID      string    `json:"rule_id"`
	RunTime     time.Time `json:"run_time,omitzero"`
	StartedAt   time.Time `json:"started_at,omitzero"` // wall clock
	ExecutionID string    `json:"execution_uuid,omitempty"`
	WindowStart time.Time `json:"window_start,omitzero"`
	WindowEnd   time.Time `json:"window_end,omitzero"`
	// CatchUp marks a run of a missed interval, run late after downtime.
	CatchUp    bool `json:"catch_up,omitempty"`
	InWindow   int  `json:"records_in_window"`
	Matches    int  `json:"records_matching"`
	Signals    int  `json:"signals_published"`
	Duplicates int  `json:"duplicates_skipped"`
	Excepted   int  `json:"excepted"`
	Suppressed int  `json:"suppressed"`
	Truncated  int  `json:"truncated"`
	// LateSignals counts the signals of records that arrived too late for every run.
	LateSignals int `json:"late_signals,omitempty"`
	// Missed counts records forgotten unseen because their runs were skipped.
	Missed   int      `json:"missed,omitempty"`
	Warnings []string `json:"warnings,omitempty"`
	EOF      bool     `json:"eof,omitempty"`
	Replay   string   `json:"replay,omitempty"`
	// Stages holds, in an end-of-input status, every stage's counters since it started.
	Stages map[string]json.RawMessage `json:"stages,omitempty"`
}

// Service is a running windower.
type Service struct {
	cfg       Config
	js        jetstream.JetStream
	kv        jetstream.KeyValue // emitted ids
	exKV      jetstream.KeyValue
	pub       *natsutil.Publisher
	log       *slog.Logger
	lease     *lease.Lease
	stats     Stats
	active    atomic.Bool
	now       func() time.Time
	noRelease bool // tests: stop like a crash, without giving the lease up

	// Active state, reset at each activation.
	win      *Window
	st       *state
	ex       *exceptionWatch
	emitted  map[string]time.Time // a cache of the KV bucket: ids known to be published, by run
	supp     map[string]suppression
	warnings []string // for the next run's status
}

// New prepares the windower on nc. The streams must exist; the windower's own buckets are
// created (ensureStores).
func New(ctx context.Context, cfg Config, nc *nats.Conn, log *slog.Logger) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	js, err := natsutil.JetStream(nc)
	if err != nil {
		return nil, err
	}
	if ttl := cfg.emittedTTL(); ttl <= cfg.Rule.From {
		return nil, fmt.Errorf("%w: --emitted-ttl %s, look-back (from) of rule %s %s", ErrEmittedTTL, ttl, cfg.Rule.ID, cfg.Rule.From)
	}
	if err := ensureStores(ctx, js, cfg.emittedTTL()); err != nil {
		return nil, err
	}
	kv, err := js.KeyValue(ctx, stream.EmittedBucket)
	if err != nil {
		return nil, fmt.Errorf("windower: key-value bucket %s: %w", stream.EmittedBucket, err)
	}
	stateKV, err := js.KeyValue(ctx, stream.WindowerBucket)
	if err != nil {
		return nil, fmt.Errorf("windower: key-value bucket %s: %w", stream.WindowerBucket, err)
	}
	exKV, err := js.KeyValue(ctx, stream.ExceptionsBucket)
	if err != nil {
		return nil, fmt.Errorf("windower: key-value bucket %s: %w", stream.ExceptionsBucket, err)
	}
	holder := lease.Holder()
	log = log.With("stage", Stage, "rule_id", cfg.Rule.ID, "holder", holder)
	s := &Service{cfg: cfg, js: js, kv: kv, exKV: exKV, pub: natsutil.NewPublisher(js), log: log, now: time.Now,
		lease: lease.New(stateKV, "lease."+ruleKey(cfg.Rule.ID), holder, cfg.leaseTTL(), log)}
	s.st = newState(stateKV, s.pub, cfg.Rule.ID)
	s.reset()
	return s, nil
}

func (s *Service) reset() {
	s.win = NewWindow(s.cfg.Rule)
	s.st = newState(s.st.kv, s.pub, s.cfg.Rule.ID)
	s.emitted = map[string]time.Time{}
	s.supp = map[string]suppression{}
	s.warnings = nil
}

// Stats returns the windower's counters.
func (s *Service) Stats() *Stats { return &s.stats }

// Active reports whether this windower holds the lease and runs the rule.
func (s *Service) Active() bool { return s.active.Load() }

// Rule returns the rule the windower runs.
func (s *Service) Rule() Rule { return s.cfg.Rule }

func (s *Service) live() bool { return s.cfg.Clock == ClockWall }

// Run stands by until it holds the rule's lease, then consumes ENRICHED until ctx is done;
// when the lease is lost it stands by again.
func (s *Service) Run(ctx context.Context) error {
	if err := s.awaitJobs(ctx); err != nil || ctx.Err() != nil {
		return err
	}
	for {
		if err := s.lease.Acquire(ctx); err != nil {
			return nil // ctx is done
		}
		err := s.runActive(ctx)
		s.active.Store(false)
		if ctx.Err() != nil {
			if !s.noRelease {
				rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
				s.lease.Release(rctx)
				cancel()
			}
			return nil
		}
		if errors.Is(err, natsutil.ErrOutOfOrder) {
			// Still the holder: restore the memory and read on from a fresh consumer.
			s.log.Warn("taking the rule again from its stored state", "err", err)
			s.reset()
			continue
		}
		if !errors.Is(err, lease.ErrLost) {
			return err
		}
		s.log.Warn("lease lost: standing by", "err", err)
		s.reset()
	}
}

// runActive runs the rule while this windower holds the lease.
func (s *Service) runActive(ctx context.Context) error {
	actx, lost := context.WithCancelCause(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { s.lease.Hold(actx, lost) })
	defer func() { lost(nil); wg.Wait() }()
	s.active.Store(true)
	if err := s.activate(actx); err != nil {
		return lease.Cause(actx, err)
	}
	defer s.ex.stop()
	// A fresh consumer: the records and markers a windower that died left unacked come first,
	// in stream order, matching the memory just restored. With the shared consumer they came
	// back only after the ack wait, behind later markers whose runs passed them by: a record
	// handled by a windower killed before its commit was never signalled.
	cons, err := natsutil.FreshConsumer(actx, s.js, stream.Enriched, stream.WindowerConsumer)
	if err != nil {
		return lease.Cause(actx, err)
	}
	r := s.cfg.Rule
	s.log.Info("active", "rule", r.Name, "source", r.Source, "version", r.Version, "jobs", r.JobIDs,
		"clock", s.cfg.Clock, "interval", r.Interval, "from", r.From, "threshold", r.Threshold, "max_signals", r.MaxSignals,
		"last_run", timeOrNone(s.win.LastRun()), "pending", len(s.win.pending), "exceptions", len(s.ex.set), "suppress_for", s.cfg.SuppressFor)
	// In order: a record delivered after the marker behind it would miss its run (a delivery
	// lost on its way comes again only after the ack wait).
	loop := natsutil.Loop{Consumer: cons, Handle: s.handle, Commit: s.commit, InOrder: true}
	if s.live() {
		// Ticks come when the input is idle: a backlog (after downtime) is read first, then
		// every missed boundary runs over it.
		loop.Tick = func(ctx context.Context, now time.Time) error {
			if err := s.runDue(ctx, s.win.Due(s.now(), true), true); err != nil {
				return err
			}
			return s.st.save() // a tick comes after a commit: its runs' writes go out now
		}
	}
	return lease.Cause(actx, loop.Run(actx))
}

// activate restores a live windower's memory (the last run, the pending records) and bounds
// the catch-up, and starts watching the exceptions.
func (s *Service) activate(ctx context.Context) error {
	ex, err := watchExceptions(ctx, s.exKV, s.cfg.Rule.ID)
	if err != nil {
		return err
	}
	s.ex = ex
	// The memory is restored in both clock modes: a standby that takes over in the middle of
	// a replay goes on from the last run and the waiting records of the one it replaces.
	last, recs, err := s.st.load(ctx)
	if err != nil {
		ex.stop()
		return err
	}
	s.win.SetLastRun(last)
	for _, r := range recs {
		if !s.win.Add(r) {
			s.st.prune(r.ID)
		}
	}
	if last.IsZero() || !s.live() {
		return nil // a replay's runs follow its event time: there is no wall-clock gap to bound
	}
	interval := s.cfg.Rule.Interval
	now := s.now().Truncate(interval)
	if gap := now.Sub(last); gap > s.cfg.maxCatchUp() {
		from := now.Add(-s.cfg.maxCatchUp()).Truncate(interval)
		w := fmt.Sprintf("gap of %s since the last run at %s is longer than the max catch-up of %s: runs from %s to %s skipped",
			gap, last.Format(time.RFC3339), s.cfg.maxCatchUp(), last.Add(interval).Format(time.RFC3339), from.Format(time.RFC3339))
		s.log.Warn("catch-up bounded", "warning", w)
		s.warnings = append(s.warnings, w)
		s.win.SetLastRun(from)
	} else if gap > interval {
		s.log.Info("catching up", "last_run", last, "missed_runs", int(gap/interval)-1)
	}
	return nil
}

func (s *Service) commit(ctx context.Context) error {
	if err := s.st.save(); err != nil {
		return err
	}
	return s.pub.Flush(ctx)
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
		if err := s.runDue(ctx, s.win.Due(m.Watermark, false), false); err != nil {
			return err
		}
		if m.Kind == control.KindEOF {
			if err := s.runDue(ctx, s.win.Drain(), false); err != nil {
				return err
			}
			s.log.Info("end of input", "replay", m.Replay)
			if err := s.endOfInput(m); err != nil {
				return err
			}
			return s.forgetReplay(ctx)
		}
		return nil
	}
	var r record.Record
	if err := json.Unmarshal(msg.Data(), &r); err != nil {
		dl := natsutil.DeadLetter{Stage: Stage, Reason: "undecodable enriched record: " + err.Error(), Data: msg.Data()}
		return s.pub.Publish(dl.Msg(stream.DLQSubject(Stage)), "")
	}
	s.stats.Records.Add(1)
	if s.win.Add(r) {
		s.st.add(r)
		return nil
	}
	// Nothing is dropped silently: a record no run can cover any more is reported and kept on
	// the DLQ, and with --signal-late signalled by the next run.
	reason := fmt.Sprintf("too late for rule %s: bucket %s is outside the look-back of every run after %s",
		s.cfg.Rule.ID, r.BucketStart().Format(time.RFC3339), s.win.LastRun().Format(time.RFC3339))
	return s.tooLate(r, msg.Data(), reason)
}

// forgetReplay clears the memory of a finished replay, in the KV bucket and here: a replay is
// one-shot, and the next one starts from its own first record, however far back in time.
func (s *Service) forgetReplay(ctx context.Context) error {
	if err := s.pub.Flush(ctx); err != nil {
		return err
	}
	if err := s.st.clear(ctx); err != nil {
		return err
	}
	s.reset()
	return nil
}

func (s *Service) tooLate(r record.Record, data []byte, reason string) error {
	s.stats.TooLate.Add(1)
	if s.cfg.SignalLate {
		s.win.AddLate(r)
		reason += "; signalled by the next run (--signal-late)"
	}
	s.log.Warn("record too late", "record_id", r.ID, "record_score", r.RecordScore, "reason", reason)
	dl := natsutil.DeadLetter{Stage: Stage, Reason: reason, Data: data}
	return s.pub.Publish(dl.Msg(stream.DLQSubject(Stage)), "")
}

func (s *Service) endOfInput(m control.Marker) error {
	st := Status{RuleID: s.cfg.Rule.ID, EOF: true, Replay: m.Replay, Stages: map[string]json.RawMessage{}}
	for stage, js := range m.Stats {
		st.Stages[stage] = json.RawMessage(js)
	}
	own, err := json.Marshal(map[string]int64{"records": s.stats.Records.Load(), "runs": s.stats.Runs.Load(),
		"signals": s.stats.Signals.Load(), "duplicates": s.stats.Duplicates.Load(),
		"excepted": s.stats.Excepted.Load(), "suppressed": s.stats.Suppressed.Load(),
		"truncated": s.stats.Truncated.Load(), "too_late": s.stats.TooLate.Load(), "late_signals": s.stats.LateSignals.Load()})
	if err != nil {
		return err
	}
	st.Stages[Stage] = own
	return s.status(st)
}

// runDue executes the rule at each due time, in order; in live mode every run but the last is
// a catch-up over a missed interval.
func (s *Service) runDue(ctx context.Context, due []time.Time, live bool) error {
	for i, t := range due {
		if err := s.runAt(ctx, t, live && i < len(due)-1); err != nil {
			return err
		}
	}
	return nil
}

// timeOrNone is a time for the log, "none" for the zero time (year 1 reads as a bug).
func timeOrNone(t time.Time) any {
	if t.IsZero() {
		return "none"
	}
	return t
}
