// Package scorer is the rarity-scoring stage: it keeps Elastic's `rare` by process.name model
// over 15-minute event-time buckets, closes buckets as the watermark passes them, and
// publishes an anomaly record for every value whose probability is below 0.035.
//
// The stage has two halves joined by the BUCKETS stream. Partition aggregators bucket the
// events of their partitions and, when the watermark closes buckets, publish one summary per
// partition (values, counts, influencers, examples). The model takes the union of every
// partition's summary of a bucket once all partitions are closed through it, and scores it.
// Event volume is spread over partitions; the model only ever sees distinct values per bucket,
// and sees all of them, so results do not depend on the partition count.
//
// Durability: an aggregator acks an event message only once every bucket it touched is
// closed and published, and remembers in a KV bucket how far each partition is closed (to tell
// a redelivered event from a late one). The model checkpoints its state to an object store and
// acks the summaries the checkpoint covers. A restart resumes from there: nothing is lost or
// counted twice, and what is republished carries the same message ids.
package scorer

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rarenet/rarenet/shared/job"
	"github.com/rarenet/rarenet/shared/natsutil"
	"github.com/rarenet/rarenet/shared/stream"
)

// Stage is the stage's name in dead letters, status and logs.
const Stage = "scorer"

// Clock modes: buckets close on the watermark only, or also on the wall clock.
const (
	ClockWatermark = "watermark"
	ClockWall      = "wall"
)

// Config configures the scorer.
type Config struct {
	Job Job
	// Clock is ClockWall for live data (buckets also close when the wall clock passes their
	// end plus AllowedLateness) or ClockWatermark for replays (event time only).
	Clock string
	// AllowedLateness is how long after a bucket's end, on the wall clock, events are still
	// taken in live mode.
	AllowedLateness time.Duration
	// JobFile is an anomaly detection job in Elastic's JSON layout; it replaces Job's id,
	// bucket span, by-field and influencers (ApplyJobFile).
	JobFile string
	// Profile is "faithful" (the reference's job) or "enhanced", which adds the
	// rare-on-this-host detector.
	Profile string
}

// ApplyJobFile loads JobFile, when set, into Job.
func (c *Config) ApplyJobFile() error {
	if c.JobFile == "" {
		return nil
	}
	j, err := job.LoadJob(c.JobFile)
	if err != nil {
		return err
	}
	warmup := c.Job.WarmupBuckets
	c.Job = FromJob(j)
	c.Job.WarmupBuckets = warmup
	c.JobFile = ""
	return nil
}

// RegisterFlags registers the stage's flags on fs.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	c.Job = DefaultJob()
	fs.StringVar(&c.Profile, "profile", "faithful", "faithful (as the reference) or enhanced (fewer false positives from schedules and rollouts; rare-on-this-host detector)")
	fs.StringVar(&c.JobFile, "job", "", "anomaly detection job file in Elastic's JSON layout (rare by one field); default: the reference's v3 job")
	fs.StringVar(&c.Job.ID, "job-id", c.Job.ID, "anomaly detection job id, written into records")
	fs.DurationVar(&c.Job.BucketSpan, "bucket-span", c.Job.BucketSpan, "the job's bucket span")
	fs.Int64Var(&c.Job.WarmupBuckets, "warmup-buckets", 0, "write no records in the job's first N buckets (Elastic advises 20 buckets of data; 0 as the reference)")
	fs.StringVar(&c.Clock, "clock", ClockWall, "what closes buckets: wall (live: the wall clock too) or watermark (replay: event time only)")
	fs.DurationVar(&c.AllowedLateness, "allowed-lateness", time.Minute, "live mode: how long after a bucket's end late events are still taken")
}

// Validate checks the configuration.
func (c *Config) Validate() error {
	if err := c.ApplyJobFile(); err != nil {
		return err
	}
	switch c.Profile {
	case "", "faithful":
	case "enhanced":
		c.Job.HostRarity = true
	default:
		return fmt.Errorf("scorer: --profile: want faithful or enhanced, got %q", c.Profile)
	}
	if c.Clock != ClockWall && c.Clock != ClockWatermark {
		return fmt.Errorf("scorer: clock must be %s or %s, got %q", ClockWall, ClockWatermark, c.Clock)
	}
	if c.Job.BucketSpan <= 0 || c.Job.ID == "" || c.Job.ByField == "" {
		return fmt.Errorf("scorer: the job needs an id, a by-field and a positive bucket span")
	}
	if c.AllowedLateness < 0 {
		return fmt.Errorf("scorer: allowed lateness must not be negative")
	}
	return nil
}

// Stats counts what the scorer has done since it started.
type Stats struct {
	Events, Late, Records atomic.Int64
}

// StatsSnapshot is a copy of Stats.
type StatsSnapshot struct {
	Events  int64 `json:"events"`
	Late    int64 `json:"late"`
	Records int64 `json:"records"`
}

// Snapshot copies the counters.
func (s *Stats) Snapshot() StatsSnapshot {
	return StatsSnapshot{s.Events.Load(), s.Late.Load(), s.Records.Load()}
}

// Service is a running scorer: the aggregators of every partition and the model.
type Service struct {
	cfg   Config
	js    jetstream.JetStream
	log   *slog.Logger
	agg   *aggregating
	model *modelling
	stats Stats
}

// New prepares the scorer on nc and restores its state. The streams must exist.
func New(ctx context.Context, cfg Config, nc *nats.Conn, log *slog.Logger) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	js, err := natsutil.JetStream(nc)
	if err != nil {
		return nil, err
	}
	p, err := stream.Partitions(ctx, js)
	if err != nil {
		return nil, err
	}
	s := &Service{cfg: cfg, js: js, log: log.With("stage", Stage)}
	if s.agg, err = newAggregating(ctx, s, p); err != nil {
		return nil, err
	}
	if s.model, err = newModelling(ctx, s, p); err != nil {
		return nil, err
	}
	return s, nil
}

// Stats returns the scorer's counters.
func (s *Service) Stats() *Stats { return &s.stats }

// Run runs the scorer on nc until ctx is done.
func Run(ctx context.Context, cfg Config, nc *nats.Conn, log *slog.Logger) error {
	s, err := New(ctx, cfg, nc, log)
	if err != nil {
		return err
	}
	return s.Run(ctx)
}

// Run consumes EVENTS (the aggregators) and BUCKETS (the model) until ctx is done or one of
// them fails.
func (s *Service) Run(ctx context.Context) error {
	// A restart must see its unacknowledged input again at once, not after the ack wait:
	// recreating the durable consumers of the work queues delivers it from the first message
	// not yet acknowledged. (One scorer owns all partitions; several would each own theirs.)
	events, err := freshConsumer(ctx, s.js, stream.Events, stream.ScorerConsumer, stream.EventsWildcard)
	if err != nil {
		return err
	}
	buckets, err := freshConsumer(ctx, s.js, stream.Buckets, stream.ModelConsumer, stream.BucketsWildcard)
	if err != nil {
		return err
	}
	s.log.Info("started", "job", s.cfg.Job.ID, "partitions", s.agg.partitions, "clock", s.cfg.Clock,
		"model_buckets", s.model.rarity.Modelled() != noBucket)
	aggLoop := natsutil.Loop{Consumer: events, Handle: s.agg.handle, Commit: s.agg.commit, Retain: s.agg.retain,
		Throttle: natsutil.NewThrottle(s.js, stream.Buckets, stream.ModelConsumer).Wait}
	if s.cfg.Clock == ClockWall {
		aggLoop.Tick = func(ctx context.Context, now time.Time) error {
			return s.agg.closeAllBefore(now.Add(-s.cfg.AllowedLateness))
		}
	}
	modelLoop := natsutil.Loop{Consumer: buckets, Handle: s.model.handle, Commit: s.model.commit,
		Throttle: natsutil.NewThrottle(s.js, stream.Anomalies, stream.EnricherConsumer).Wait}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, l := range []*natsutil.Loop{&aggLoop, &modelLoop} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if errs[i] = l.Run(ctx); errs[i] != nil {
				cancel()
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func freshConsumer(ctx context.Context, js jetstream.JetStream, streamName, name, filter string) (jetstream.Consumer, error) {
	if err := js.DeleteConsumer(ctx, streamName, name); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
		return nil, fmt.Errorf("scorer: reset consumer %s: %w", name, err)
	}
	return natsutil.DurableConsumer(ctx, js, streamName, name, filter)
}

// publishJSON publishes v on subject with the message id.
func publishJSON(pub *natsutil.Publisher, subject, id string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("scorer: encode %T: %w", v, err)
	}
	m := nats.NewMsg(subject)
	m.Data = b
	return pub.Publish(m, id)
}
