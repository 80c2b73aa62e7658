// Package enricher is the enrichment stage: it adds to each anomaly record the context that
// answers the investigation guide (for now: destination IP class and port service), and
// passes the stream's watermarks on unchanged.
package enricher

import (
	"context"
	"encoding/json"
	"flag"
	"log/slog"
	"sync/atomic"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rarenet/rarenet/shared/control"
	"github.com/rarenet/rarenet/shared/natsutil"
	"github.com/rarenet/rarenet/shared/record"
	"github.com/rarenet/rarenet/shared/stream"
)

// Stage is the stage's name in dead letters, status and logs.
const Stage = "enricher"

// Config configures the enricher. It has no settings yet; GeoIP databases and reverse DNS
// will live here.
type Config struct{}

// RegisterFlags registers the stage's flags on fs.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {}

// Validate checks the configuration.
func (c *Config) Validate() error { return nil }

// Stats counts what the enricher has done.
type Stats struct {
	Records, Rejected atomic.Int64
}

// Service is a running enricher.
type Service struct {
	cfg   Config
	js    jetstream.JetStream
	pub   *natsutil.Publisher
	log   *slog.Logger
	stats Stats
}

// New prepares the enricher on nc.
func New(cfg Config, nc *nats.Conn, log *slog.Logger) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	js, err := natsutil.JetStream(nc)
	if err != nil {
		return nil, err
	}
	return &Service{cfg: cfg, js: js, pub: natsutil.NewPublisher(js), log: log.With("stage", Stage)}, nil
}

// Stats returns the enricher's counters.
func (s *Service) Stats() *Stats { return &s.stats }

// Run runs the enricher on nc until ctx is done.
func Run(ctx context.Context, cfg Config, nc *nats.Conn, log *slog.Logger) error {
	s, err := New(cfg, nc, log)
	if err != nil {
		return err
	}
	return s.Run(ctx)
}

// Run consumes ANOMALIES until ctx is done.
func (s *Service) Run(ctx context.Context) error {
	cons, err := natsutil.DurableConsumer(ctx, s.js, stream.Anomalies, stream.EnricherConsumer)
	if err != nil {
		return err
	}
	s.log.Info("started")
	loop := natsutil.Loop{Consumer: cons, Handle: s.handle, Commit: s.pub.Flush}
	return loop.Run(ctx)
}

func (s *Service) handle(ctx context.Context, msg jetstream.Msg) error {
	if control.IsControl(msg.Headers()) {
		out := nats.NewMsg(stream.EnrichedSubject)
		out.Header = msg.Headers()
		if out.Header.Get(control.HeaderKind) == control.KindEOF {
			stats, err := json.Marshal(map[string]int64{"records": s.stats.Records.Load(), "rejected": s.stats.Rejected.Load()})
			if err != nil {
				return err
			}
			out.Header.Set(control.HeaderStatsPrefix+Stage, string(stats))
		}
		return s.pub.Publish(out, "")
	}
	var r record.Record
	if err := json.Unmarshal(msg.Data(), &r); err != nil {
		s.stats.Rejected.Add(1)
		dl := natsutil.DeadLetter{Stage: Stage, Reason: "undecodable anomaly record: " + err.Error(), Data: msg.Data()}
		return s.pub.Publish(dl.Msg(stream.DLQSubject(Stage)), "")
	}
	r.Context = Contextualize(&r)
	b, err := json.Marshal(&r)
	if err != nil {
		return err
	}
	out := nats.NewMsg(stream.EnrichedSubject)
	out.Data = b
	s.stats.Records.Add(1)
	return s.pub.Publish(out, r.ID)
}
