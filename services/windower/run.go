package windower

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rarenet/rarenet/shared/natsutil"
	"github.com/rarenet/rarenet/shared/stream"
)

// runAt executes the rule at t. Of the matches, in order: those signalled before are
// skipped, then those an exception matches; up to max_signals of the rest are signalled,
// except those a suppression group already signalled within --suppress-for. De-duplication
// comes before the cap, so records already signalled never crowd new ones out of a run
// (Kibana caps first; see docs/differences.md).
func (s *Service) runAt(ctx context.Context, t time.Time, catchUp bool) error {
	rule := &s.cfg.Rule
	started := s.now()
	run := s.win.Run(t)
	for _, id := range run.Pruned {
		s.st.prune(id)
	}
	st := Status{RuleID: rule.ID, RunTime: t, StartedAt: started.UTC(), ExecutionID: ExecutionID(rule.ID, t),
		WindowStart: run.WindowStart, WindowEnd: t, CatchUp: catchUp, InWindow: run.InWindow, Matches: len(run.Matches),
		Warnings: s.warnings}
	s.warnings = nil
	exceptions := s.ex.current()
	var ids, suppressedIDs []string
	groups := map[string]suppression{}
	for i := range run.Matches {
		r := &run.Matches[i]
		id := SignalID(rule.ID, r.ID)
		seen, err := s.wasEmitted(ctx, id)
		if err != nil {
			return err
		}
		if seen {
			st.Duplicates++
			continue
		}
		if x := excepted(exceptions, r); x != nil {
			st.Excepted++
			s.log.Debug("excepted", "record_id", r.ID, "exception", x.ID)
			continue
		}
		if len(ids) == rule.MaxSignals {
			st.Truncated++
			continue
		}
		if s.cfg.SuppressFor > 0 {
			g := suppressGroup(r)
			sp, ok, err := s.suppression(ctx, g)
			if err != nil {
				return err
			}
			if ok && t.Before(sp.First.Add(s.cfg.SuppressFor)) {
				st.Suppressed++
				suppressedIDs = append(suppressedIDs, id)
				continue
			}
			sp = suppression{First: t, SignalID: id}
			s.supp[g], groups[g] = sp, sp
		}
		doc, err := Document(s.cfg.SignalFormat, rule, r, s.now(), t, run.Late[r.ID])
		if err != nil {
			return err
		}
		b, err := json.Marshal(doc)
		if err != nil {
			return fmt.Errorf("windower: encode signal: %w", err)
		}
		m := nats.NewMsg(stream.SignalsSubject)
		m.Data = b
		if err := s.pub.Publish(m, id); err != nil {
			return err
		}
		ids = append(ids, id)
		if run.Late[r.ID] {
			st.LateSignals++
		}
	}
	if st.Truncated > 0 {
		st.Warnings = append(st.Warnings, fmt.Sprintf("max signals reached: %d matching records left for later runs or never signalled", st.Truncated))
	}
	for _, r := range run.Missed {
		st.Missed++
		b, err := json.Marshal(&r)
		if err != nil {
			return err
		}
		reason := fmt.Sprintf("missed by rule %s: the runs covering bucket %s were skipped (catch-up bounded by --max-catch-up)",
			rule.ID, r.BucketStart().Format(time.RFC3339))
		if err := s.tooLate(r, b, reason); err != nil {
			return err
		}
	}
	if st.Missed > 0 {
		st.Warnings = append(st.Warnings, fmt.Sprintf("%d records missed: their runs were skipped", st.Missed))
	}
	// The ids are remembered only once the signals are stored, so a crash in between repeats
	// a signal (JetStream's de-duplication window absorbs it) rather than losing one. The
	// writes that follow go out with the stage's next Flush (its commit, before the input is
	// acknowledged): a run without signals costs no round trip of its own.
	if len(ids) > 0 {
		if err := s.pub.Flush(ctx); err != nil {
			return err
		}
	}
	stamp := []byte(t.UTC().Format(time.RFC3339))
	for _, id := range ids {
		if err := s.pub.Publish(natsutil.KVPut(s.kv, id, stamp), ""); err != nil {
			return fmt.Errorf("windower: remember signal %s: %w", id, err)
		}
		s.emitted[id] = t
	}
	// A suppressed record is remembered too: later runs see it as a duplicate, so it is
	// counted as suppressed once.
	for _, id := range suppressedIDs {
		if err := s.pub.Publish(natsutil.KVPut(s.kv, id, []byte("suppressed "+t.UTC().Format(time.RFC3339))), ""); err != nil {
			return fmt.Errorf("windower: remember suppressed signal %s: %w", id, err)
		}
		s.emitted[id] = t
	}
	for g, sp := range groups {
		if err := s.st.putSuppression(g, sp); err != nil {
			return err
		}
	}
	// The pending records it changed and its time are saved at the stage's commit (state.save).
	s.st.setLastRun(t)
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
	s.stats.Excepted.Add(int64(st.Excepted))
	s.stats.Suppressed.Add(int64(st.Suppressed))
	s.stats.Truncated.Add(int64(st.Truncated))
	s.stats.LateSignals.Add(int64(st.LateSignals))
	attrs := []any{"run_time", t, "window_start", st.WindowStart, "execution_uuid", st.ExecutionID, "catch_up", st.CatchUp,
		"in_window", st.InWindow, "matches", st.Matches, "signals", st.Signals, "duplicates", st.Duplicates,
		"excepted", st.Excepted, "suppressed", st.Suppressed, "truncated", st.Truncated, "late_signals", st.LateSignals,
		"missed", st.Missed}
	if len(st.Warnings) > 0 {
		s.log.Warn("rule run", append(attrs, "warnings", st.Warnings)...)
	} else {
		s.log.Info("rule run", attrs...)
	}
	return s.status(st)
}

func (s *Service) suppression(ctx context.Context, group string) (suppression, bool, error) {
	if sp, ok := s.supp[group]; ok {
		return sp, true, nil
	}
	sp, ok, err := s.st.getSuppression(ctx, group)
	if ok {
		s.supp[group] = sp
	}
	return sp, ok, err
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
