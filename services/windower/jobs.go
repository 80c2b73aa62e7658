package windower

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	mljob "github.com/rarenet/rarenet/shared/job"
	"github.com/rarenet/rarenet/shared/stream"
)

// ErrJobNotProduced is returned when the rule names an anomaly detection job that no scorer
// produces: the rule would never see a record, and would stay silent.
var ErrJobNotProduced = errors.New("windower: the rule names a job no scorer produces")

// DefaultScorerWait is how long a windower waits by default for a scorer to announce the
// rule's jobs.
const DefaultScorerWait = 2 * time.Minute

// CheckJobs reports, with ErrJobNotProduced, the jobs of the rule that are not among produced.
func CheckJobs(rule *Rule, produced []string) error {
	var missing []string
	for _, j := range rule.JobIDs {
		if !slices.Contains(produced, j) {
			missing = append(missing, j)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	have := "none"
	if len(produced) > 0 {
		have = strings.Join(produced, ", ")
	}
	return fmt.Errorf("%w: rule %s (%s, from %s) names machine_learning_job_id %s; the scorer runs %s (choose its job with --job-id, "+
		"--job FILE or --module DIR, or load the rule that names it)", ErrJobNotProduced, rule.Name, rule.ID, rule.Source,
		strings.Join(missing, ", "), have)
}

// awaitJobs waits until a scorer has announced every job of the rule (stream.JobsKey, in
// the scorer's bucket, which the first scorer to start creates),
// checking again after 10ms, then twice as long each time up to a quarter second, so that a
// windower may start before the scorer and one started with it (`rarenet run`) consumes as
// soon as the scorer announced (clients, a replay refused against a live pipeline among them,
// see its consumers at once). It
// fails with ErrJobNotProduced when the announcement still lacks one after the wait, and
// takes each job's results index from it for the signals' ancestors.
func (s *Service) awaitJobs(ctx context.Context) error {
	var kv jetstream.KeyValue // the scorer's bucket, once a scorer has created it
	wait := s.cfg.ScorerWait
	if wait == 0 {
		wait = DefaultScorerWait
	}
	start := time.Now()
	var announced stream.Jobs
	var lastErr error
	var warned time.Time
	pause := 10 * time.Millisecond
	for {
		var jobs stream.Jobs
		var err error
		if kv == nil {
			kv, err = s.js.KeyValue(ctx, stream.ScorerBucket)
			if errors.Is(err, jetstream.ErrBucketNotFound) {
				kv, err = nil, stream.ErrNoJobs // no scorer has started yet
			}
		}
		if kv != nil {
			jobs, err = stream.ReadJobs(ctx, kv)
		}
		switch {
		case err == nil:
			announced, lastErr = jobs, nil
			if CheckJobs(&s.cfg.Rule, jobs.IDs()) == nil {
				s.cfg.Rule.ResultsIndex = map[string]string{}
				for _, j := range jobs.Jobs {
					if j.ResultsIndex != "" && j.ResultsIndex != mljob.ResultsIndex("") {
						s.cfg.Rule.ResultsIndex[j.ID] = j.ResultsIndex
					}
				}
				s.log.Info("the scorer runs the rule's jobs", "jobs", jobs.IDs(), "scorer", jobs.Holder)
				return nil
			}
		case !errors.Is(err, stream.ErrNoJobs):
			// A passing fault of the server: ask again, on a handle opened again. One opened
			// while the scorer was creating its bucket still asks for direct gets, which the
			// scorer then turns off (stream.EnsureLeaderKeyValue): none would answer it.
			lastErr, kv = err, nil
		}
		if time.Since(start) >= wait {
			err := CheckJobs(&s.cfg.Rule, announced.IDs())
			if lastErr != nil {
				err = fmt.Errorf("%w (last read: %w)", err, lastErr)
			}
			return fmt.Errorf("after waiting %s for a scorer's announcement: %w", wait, err)
		}
		if time.Since(warned) > 30*time.Second {
			warned = time.Now()
			s.log.Warn("waiting for a scorer that runs the rule's jobs", "jobs", s.cfg.Rule.JobIDs, "announced", announced.IDs(),
				"waited", time.Since(start).Round(time.Second), "wait", wait)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(pause):
		}
		pause = min(2*pause, 250*time.Millisecond)
	}
}
