// Package scorer is the rarity-scoring stage: it keeps Elastic's `rare` by process.name model
// over 15-minute event-time buckets, closes buckets as the watermark passes them, and
// publishes an anomaly record for every value whose probability is below 0.035.
//
// The watermark comes from ingest, in band on every partition; in live mode an idle scorer
// also advances on the wall clock. Events for a closed bucket are late: they go to the DLQ.
package scorer

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rarenet/rarenet/shared/control"
	"github.com/rarenet/rarenet/shared/event"
	"github.com/rarenet/rarenet/shared/natsutil"
	"github.com/rarenet/rarenet/shared/record"
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
}

// RegisterFlags registers the stage's flags on fs.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	c.Job = DefaultJob()
	fs.StringVar(&c.Job.ID, "job-id", c.Job.ID, "anomaly detection job id, written into records")
	fs.DurationVar(&c.Job.BucketSpan, "bucket-span", c.Job.BucketSpan, "the job's bucket span")
	fs.Int64Var(&c.Job.WarmupBuckets, "warmup-buckets", 0, "write no records in the job's first N buckets (Elastic advises 20 buckets of data; 0 as the reference)")
	fs.StringVar(&c.Clock, "clock", ClockWall, "what closes buckets: wall (live: the wall clock too) or watermark (replay: event time only)")
	fs.DurationVar(&c.AllowedLateness, "allowed-lateness", time.Minute, "live mode: how long after a bucket's end late events are still taken")
}

// Validate checks the configuration.
func (c *Config) Validate() error {
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

// Stats counts what the scorer has done.
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

// Service is a running scorer.
type Service struct {
	cfg        Config
	js         jetstream.JetStream
	pub        *natsutil.Publisher
	det        *Detector
	log        *slog.Logger
	partitions int
	watermark  time.Time
	announced  time.Time         // the completeness last published on ANOMALIES
	eofs       map[string][]bool // per replay, the partitions whose end of input arrived
	stats      Stats
}

// New prepares the scorer on nc. The streams must exist.
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
	det, err := NewDetector(cfg.Job)
	if err != nil {
		return nil, err
	}
	return &Service{cfg: cfg, js: js, pub: natsutil.NewPublisher(js), det: det, log: log.With("stage", Stage),
		partitions: p, eofs: map[string][]bool{}}, nil
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

// Run consumes every partition of EVENTS until ctx is done.
func (s *Service) Run(ctx context.Context) error {
	cons, err := natsutil.DurableConsumer(ctx, s.js, stream.Events, stream.ScorerConsumer, stream.EventsWildcard)
	if err != nil {
		return err
	}
	s.log.Info("started", "job", s.cfg.Job.ID, "partitions", s.partitions, "clock", s.cfg.Clock)
	loop := natsutil.Loop{Consumer: cons, Handle: s.handle, Commit: s.pub.Flush}
	if s.cfg.Clock == ClockWall {
		loop.Tick = func(ctx context.Context, now time.Time) error {
			return s.advance(now.Add(-s.cfg.AllowedLateness))
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
		if m.Kind == control.KindEOF {
			return s.endOfInput(m)
		}
		return s.advance(m.Watermark)
	}
	data := msg.Data()
	for len(data) > 0 {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		if len(line) == 0 {
			continue
		}
		var ev event.Event
		if err := json.Unmarshal(line, &ev); err != nil {
			s.deadLetter("undecodable event: "+err.Error(), &ev, line)
			continue
		}
		s.stats.Events.Add(1)
		if err := s.det.Add(&ev); err != nil {
			s.stats.Late.Add(1)
			s.deadLetter(err.Error(), &ev, line)
		}
	}
	return nil
}

func (s *Service) deadLetter(reason string, ev *event.Event, line []byte) {
	dl := natsutil.DeadLetter{Stage: Stage, Reason: reason, Source: ev.Origin.Source, Line: ev.Origin.Line,
		Format: ev.Origin.Format, Data: bytes.Clone(line)}
	if err := s.pub.Publish(dl.Msg(stream.DLQSubject(Stage)), ""); err != nil {
		s.log.Error("dead letter not published", "err", err, "reason", reason)
	}
}

// advance moves the watermark and publishes the records of every bucket it closes, then the
// new completeness for the stages downstream.
func (s *Service) advance(wm time.Time) error {
	if !wm.After(s.watermark) {
		return nil
	}
	s.watermark = wm
	recs := s.det.CloseBefore(wm)
	s.stats.Records.Add(int64(len(recs)))
	return s.publish(recs, control.Marker{Kind: control.KindWatermark})
}

// endOfInput closes every bucket once every partition has delivered the replay's end.
func (s *Service) endOfInput(m control.Marker) error {
	seen := s.eofs[m.Replay]
	if seen == nil {
		seen = make([]bool, s.partitions)
		s.eofs[m.Replay] = seen
	}
	if m.Partition >= 0 && m.Partition < len(seen) {
		seen[m.Partition] = true
	}
	for _, ok := range seen {
		if !ok {
			return nil
		}
	}
	delete(s.eofs, m.Replay)
	s.log.Info("end of input: closing every bucket", "replay", m.Replay)
	recs := s.det.CloseAll()
	s.stats.Records.Add(int64(len(recs)))
	stats, err := json.Marshal(s.stats.Snapshot())
	if err != nil {
		return err
	}
	eof := control.Marker{Kind: control.KindEOF, Replay: m.Replay, Stats: m.Stats}
	if eof.Stats == nil {
		eof.Stats = map[string]string{}
	}
	eof.Stats[Stage] = string(stats)
	return s.publish(recs, eof)
}

// publish sends records and then the marker carrying the detector's completeness.
func (s *Service) publish(recs []record.Record, marker control.Marker) error {
	for i := range recs {
		b, err := json.Marshal(&recs[i])
		if err != nil {
			return fmt.Errorf("scorer: encode record: %w", err)
		}
		m := nats.NewMsg(stream.AnomaliesSubject)
		m.Data = b
		if err := s.pub.Publish(m, recs[i].ID); err != nil {
			return err
		}
	}
	complete := s.det.Complete()
	if marker.Kind == control.KindWatermark && !complete.After(s.announced) {
		return nil
	}
	s.announced = complete
	marker.Watermark = complete
	return s.pub.Publish(marker.Msg(stream.AnomaliesSubject), "")
}
