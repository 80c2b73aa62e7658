// Command enricher runs the enricher stage against a NATS server: the enricher stage.
package main

import (
	"context"
	"log/slog"

	"github.com/nats-io/nats.go"

	"github.com/rarenet/rarenet/services/enricher"
	"github.com/rarenet/rarenet/shared/service"
	"github.com/rarenet/rarenet/shared/stream"
)

func main() {
	var cfg enricher.Config
	service.Run(service.Stage{
		Name:     enricher.Stage,
		Summary:  "Adds the investigation guide's context to every anomaly record: destination class and service,\nAS and country, reverse DNS, the process's history.",
		Register: cfg.RegisterFlags, Validate: cfg.Validate,
		Consumers: []service.Consumer{{Stream: stream.Anomalies, Durable: stream.EnricherConsumer}},
		Run: func(ctx context.Context, nc *nats.Conn, log *slog.Logger, m *service.Metrics) error {
			s, err := enricher.New(cfg, nc, log)
			if err != nil {
				return err
			}
			st := s.Stats()
			m.Counter("records_total", "Anomaly records enriched and published (in and out).", st.Records.Load)
			m.Counter("rejects_total", "Records rejected to the dead-letter stream.", st.Rejected.Load)
			m.Counter("summaries_total", "Bucket summaries applied to the process history.", st.Summaries.Load)
			m.Gauge("active", "1 while this enricher holds the lease and consumes; standbys report 0.", func() float64 {
				if s.Active() {
					return 1
				}
				return 0
			})
			if err := m.Register(newGeoIPAge(s)); err != nil {
				return err
			}
			return s.Run(ctx)
		},
	})
}
