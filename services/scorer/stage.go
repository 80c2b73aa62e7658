package scorer

import (
	"context"
	"log/slog"

	"github.com/nats-io/nats.go"

	"github.com/rarenet/rarenet/shared/natsutil"
	"github.com/rarenet/rarenet/shared/service"
	"github.com/rarenet/rarenet/shared/stream"
)

// Describe is the scorer stage, its flags bound to cfg: what cmd/scorer runs alone and the
// all-in-one runs with the other stages.
func Describe(cfg *Config) service.Stage {
	return service.Stage{
		Name:     Stage,
		Summary:  "Counts the events into buckets, partition by partition, and runs the rare model over every\nclosed bucket; writes an anomaly record for each rare process.name.",
		Register: cfg.RegisterFlags, Validate: cfg.Validate,
		Reads:  []string{stream.Events, stream.Buckets},
		Writes: []string{stream.Buckets, stream.Anomalies, stream.DLQ},
		Stores: []string{stream.ScorerBucket, stream.ModelStore},
		// The model's consumer's acknowledged count is the partition bucket closes applied.
		Consumers: []service.Consumer{{Stream: stream.Buckets, Durable: stream.ModelConsumer}},
		// One consumer per partition, whichever replica owns it.
		PartitionConsumers: func(partitions int) []service.Consumer {
			var cs []service.Consumer
			for _, name := range stream.ScorerPartitionConsumers(partitions) {
				cs = append(cs, service.Consumer{Stream: stream.Events, Durable: name})
			}
			return cs
		},
		New: func(ctx context.Context, nc *nats.Conn, log *slog.Logger, m *service.Metrics) (service.Runner, error) {
			s, err := New(ctx, *cfg, nc, log)
			if err != nil {
				return nil, err
			}
			st := s.Stats()
			m.Counter("events_total", "Events counted into buckets (events in).", st.Events.Load)
			m.Counter("late_total", "Events later than their closed bucket, sent to the dead-letter stream.", st.Late.Load)
			m.Counter("records_total", "Anomaly records published (out).", st.Records.Load)
			m.Gauge("partitions_owned", "Partitions this replica owns by lease.", func() float64 { return float64(len(s.Partitions())) })
			m.Gauge("model_active", "1 while this replica holds the model's lease and runs it; standbys report 0.", func() float64 {
				if s.ModelActive() {
					return 1
				}
				return 0
			})
			js, err := natsutil.JetStream(nc)
			if err != nil {
				return nil, err
			}
			if err := m.Register(service.NewCheckpointAge(js, stream.ModelStore, CheckpointObject)); err != nil {
				return nil, err
			}
			return s, nil
		},
	}
}
