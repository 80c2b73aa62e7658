package windower

import (
	"context"
	"log/slog"

	"github.com/nats-io/nats.go"

	"github.com/rarenet/rarenet/shared/service"
	"github.com/rarenet/rarenet/shared/stream"
)

// Describe is the windower stage, its flags bound to cfg: what cmd/windower runs alone and
// the all-in-one runs with the other stages.
func Describe(cfg *Config) service.Stage {
	return service.Stage{
		Name:     Stage,
		Summary:  "Runs the detection rule on interval boundaries over the enriched records and publishes the\nsignals on rarenet.signals.",
		Register: cfg.RegisterFlags, Validate: cfg.Validate,
		Reads:     []string{stream.Enriched},
		Writes:    []string{stream.Signals, stream.Status, stream.DLQ},
		Stores:    []string{stream.EmittedBucket, stream.WindowerBucket, stream.ExceptionsBucket},
		Consumers: []service.Consumer{{Stream: stream.Enriched, Durable: stream.WindowerConsumer}},
		New: func(ctx context.Context, nc *nats.Conn, log *slog.Logger, m *service.Metrics) (service.Runner, error) {
			s, err := New(ctx, *cfg, nc, log)
			if err != nil {
				return nil, err
			}
			st := s.Stats()
			m.Counter("records_total", "Enriched records read (in).", st.Records.Load)
			m.Counter("runs_total", "Rule runs.", st.Runs.Load)
			m.Counter("signals_total", "Signals published (out).", st.Signals.Load)
			m.Counter("duplicates_total", "Signals skipped as already published.", st.Duplicates.Load)
			m.Counter("truncated_total", "Signals over a run's max_signals.", st.Truncated.Load)
			m.Counter("too_late_total", "Records that arrived after every run that could include them.", st.TooLate.Load)
			m.Gauge("active", "1 while this windower holds the rule's lease; standbys report 0.", func() float64 {
				if s.Active() {
					return 1
				}
				return 0
			})
			return s, nil
		},
	}
}
