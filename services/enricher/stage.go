package enricher

import (
	"context"
	"log/slog"

	"github.com/nats-io/nats.go"

	"github.com/rarenet/rarenet/shared/service"
	"github.com/rarenet/rarenet/shared/stream"
)

// Describe is the enricher stage, its flags bound to cfg: what cmd/enricher runs alone and
// the all-in-one runs with the other stages.
func Describe(cfg *Config) service.Stage {
	return service.Stage{
		Name:     Stage,
		Summary:  "Adds the investigation guide's context to every anomaly record: destination class and service,\nAS and country, reverse DNS, the process's history.",
		Register: cfg.RegisterFlags, Validate: cfg.Validate,
		Reads:     []string{stream.Anomalies},
		Writes:    []string{stream.Enriched, stream.DLQ},
		Stores:    []string{stream.HistoryBucket},
		Consumers: []service.Consumer{{Stream: stream.Anomalies, Durable: stream.EnricherConsumer}},
		New: func(ctx context.Context, nc *nats.Conn, log *slog.Logger, m *service.Metrics) (service.Runner, error) {
			s, err := New(*cfg, nc, log)
			if err != nil {
				return nil, err
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
				return nil, err
			}
			return s, nil
		},
	}
}
