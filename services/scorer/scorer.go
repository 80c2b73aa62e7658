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
//
// Replicas: any number of scorer processes share the work. Each partition is owned by one
// replica at a time, and the model runs on one, by leases in the same KV bucket; replicas
// divide the partitions evenly and take over those of a replica that stops renewing its
// leases, resuming from the state above as a restart would (ownership.go).
package scorer

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rarenet/rarenet/services/scorer/rare"
	"github.com/rarenet/rarenet/shared/job"
	"github.com/rarenet/rarenet/shared/lease"
	"github.com/rarenet/rarenet/shared/natsutil"
	"github.com/rarenet/rarenet/shared/service"
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
	// JobFile is an anomaly detection job in Elastic's JSON layout (as the API returns it, or a
	// Kibana module's job file); it replaces Job (ResolveJob).
	JobFile string
	// JobID selects the job: a built-in job by id, or the id of JobFile or of ModuleDir's job
	// (ResolveJob). Empty keeps Job.
	JobID string
	// ModuleDir is a Kibana ML module folder (manifest.json and ml/); JobID names its job.
	ModuleDir string
	// BucketSpan, when positive, replaces the job's bucket span (--bucket-span).
	BucketSpan time.Duration
	// Profile is "faithful" (the reference's job) or "enhanced", which adds the
	// rare-on-this-host detector.
	Profile string
	// Normalizer names the ml-cpp record score normaliser: "8.4" (the default, Elastic 8.4
	// and later) or "7.x" (before 8.4); Validate sets Job.Normalizer from it.
	Normalizer string
	// LeaseTTL is how long a replica that stopped renewing its leases keeps its partitions
	// and the model before other replicas take them over (0: lease.DefaultTTL).
	LeaseTTL time.Duration
}

// RegisterFlags registers the stage's flags on fs.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	c.Job = RuleJob()
	service.ProfileFlag(fs, &c.Profile)
	fs.StringVar(&c.JobFile, "job", "", "anomaly detection job file in Elastic's JSON layout (as the API returns it, or a Kibana ML module's job file; rare by one field)")
	fs.StringVar(&c.JobID, "job-id", "", "the job: a built-in's id ("+strings.Join(job.BuiltinJobIDs(), ", ")+"), or the id of --job FILE or of --module DIR's job (default: "+job.JobV3EA+", the built-in rule's)")
	fs.StringVar(&c.ModuleDir, "module", "", "a Kibana ML module folder (manifest.json and ml/): run its job that --job-id names")
	service.BucketSpanFlag(fs, &c.BucketSpan)
	fs.Int64Var(&c.Job.WarmupBuckets, "warmup-buckets", 0, "write no records in the job's first N buckets (Elastic advises 20 buckets of data; 0 as the reference)")
	fs.StringVar(&c.Normalizer, "normalizer", "8.4", "record_score as ml-cpp computes it since Elastic 8.4 (8.4), or before (7.x: every raw score in the quantiles, percentiles per 30 minutes)")
	service.ClockFlag(fs, &c.Clock)
	service.AllowedLatenessFlag(fs, &c.AllowedLateness)
	service.LeaseTTLFlag(fs, &c.LeaseTTL)
}

// Validate checks the configuration.
func (c *Config) Validate() error {
	if err := c.ResolveJob(); err != nil {
		return err
	}
	switch c.Profile {
	case "", "faithful":
	case "enhanced":
		c.Job.HostRarity, c.Job.NewDestinations = true, true
	default:
		return fmt.Errorf("scorer: --profile: want faithful or enhanced, got %q", c.Profile)
	}
	if c.Normalizer != "" {
		v, err := rare.ParseNormalizerVersion(c.Normalizer)
		if err != nil {
			return fmt.Errorf("scorer: --normalizer: %w", err)
		}
		c.Job.Normalizer = v
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
	if c.LeaseTTL < 0 {
		return fmt.Errorf("scorer: --lease-ttl must not be negative, got %s", c.LeaseTTL)
	}
	return nil
}

func (c *Config) leaseTTL() time.Duration {
	if c.LeaseTTL == 0 {
		return lease.DefaultTTL
	}
	return c.LeaseTTL
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

// Service is a running scorer replica: the aggregators of the partitions it owns, and the
// model while it holds the model's lease.
type Service struct {
	cfg        Config
	js         jetstream.JetStream
	kv         jetstream.KeyValue    // stream.ScorerBucket: close marks, leases, members
	obj        jetstream.ObjectStore // stream.ModelStore: the model checkpoint
	log        *slog.Logger
	partitions int
	holder     string
	stats      Stats
	// modelBacklog holds the partitions back while the model is behind: one for all of them,
	// so that they ask the server once, not each (natsutil.Throttle).
	modelBacklog *natsutil.Throttle
	// owned and modelActive report what this replica runs, for tests and metrics.
	owned       atomic.Pointer[[]int]
	modelActive atomic.Bool
	noRelease   bool // tests: stop like a crash, keeping the leases and the membership
	maxClose    int  // tests: a partition close message's limit, below the server's
}

// New prepares a scorer replica on nc. The streams must exist; the scorer's stores are
// created (ensureStores).
// State is restored when the replica takes a partition or the model, in Run.
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
	if err := stream.AgreeLine(ctx, js, stream.Line{BucketSpan: cfg.Job.BucketSpan, AllowedLateness: cfg.AllowedLateness}); err != nil {
		return nil, fmt.Errorf("scorer: %w", err)
	}
	if err := ensureStores(ctx, js); err != nil {
		return nil, err
	}
	kv, err := js.KeyValue(ctx, stream.ScorerBucket)
	if err != nil {
		return nil, fmt.Errorf("scorer: key-value bucket %s: %w", stream.ScorerBucket, err)
	}
	obj, err := js.ObjectStore(ctx, stream.ModelStore)
	if err != nil {
		return nil, fmt.Errorf("scorer: object store %s: %w", stream.ModelStore, err)
	}
	holder := lease.Holder()
	s := &Service{cfg: cfg, js: js, kv: kv, obj: obj, partitions: p, holder: holder,
		log:          log.With("stage", Stage, "holder", holder),
		modelBacklog: natsutil.NewThrottle(js, stream.Buckets, stream.ModelConsumer)}
	s.owned.Store(&[]int{})
	return s, nil
}

// Stats returns the scorer's counters.
func (s *Service) Stats() *Stats { return &s.stats }

// Run takes a fair share of the partitions, and the model when no other replica runs it, and
// consumes their input until ctx is done or one of them fails. It takes over the partitions
// and the model of replicas that stop, and gives partitions up when replicas join. A graceful
// stop gives everything up at once for the other replicas.
func (s *Service) Run(ctx context.Context) error {
	s.log.Info("started", "job", s.cfg.Job.ID, "partitions", s.partitions, "clock", s.cfg.Clock, "lease_ttl", s.cfg.leaseTTL())
	if err := s.announce(ctx); err != nil {
		return err
	}
	r := newReplica(s)
	err := r.run(ctx)
	r.stopAll()
	if !s.noRelease {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		r.leave(rctx)
		cancel()
	}
	return err
}
