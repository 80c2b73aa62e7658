// Command scorer runs the scorer stage against a NATS server: the scorer stage.
package main

import (
	"context"
	"log/slog"

	"github.com/nats-io/nats.go"

	"github.com/rarenet/rarenet/services/scorer"
	"github.com/rarenet/rarenet/shared/natsutil"
	"github.com/rarenet/rarenet/shared/service"
	"github.com/rarenet/rarenet/shared/stream"
)

func main() {
	var cfg scorer.Config
	service.Run(service.Stage{
		Name: scorer.Stage, Register: cfg.RegisterFlags, Validate: cfg.Validate,
		// The model's consumer's acknowledged count is the partition bucket closes applied.
		Consumers: []service.Consumer{{Stream: stream.Events, Durable: stream.ScorerConsumer}, {Stream: stream.Buckets, Durable: stream.ModelConsumer}},
		Run: func(ctx context.Context, nc *nats.Conn, log *slog.Logger, m *service.Metrics) error {
			s, err := scorer.New(ctx, cfg, nc, log)
			if err != nil {
				return err
			}
			st := s.Stats()
			m.Counter("events_total", "Events counted into buckets (events in).", st.Events.Load)
			m.Counter("late_total", "Events later than their closed bucket, sent to the dead-letter stream.", st.Late.Load)
			m.Counter("records_total", "Anomaly records published (out).", st.Records.Load)
			js, err := natsutil.JetStream(nc)
			if err != nil {
				return err
			}
			if err := m.Register(service.NewCheckpointAge(js, stream.ModelStore, scorer.CheckpointObject)); err != nil {
				return err
			}
			return s.Run(ctx)
		},
	})
}
