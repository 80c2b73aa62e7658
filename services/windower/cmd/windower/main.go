// Command windower runs the windower stage against a NATS server: the windower stage.
package main

import (
	"context"
	"log/slog"

	"github.com/nats-io/nats.go"

	"github.com/rarenet/rarenet/services/windower"
	"github.com/rarenet/rarenet/shared/service"
	"github.com/rarenet/rarenet/shared/stream"
)

func main() {
	var cfg windower.Config
	service.Run(service.Stage{
		Name:     windower.Stage,
		Summary:  "Runs the detection rule on interval boundaries over the enriched records and publishes the\nsignals on rarenet.signals.",
		Register: cfg.RegisterFlags, Validate: cfg.Validate,
		Consumers: []service.Consumer{{Stream: stream.Enriched, Durable: stream.WindowerConsumer}},
		Run: func(ctx context.Context, nc *nats.Conn, log *slog.Logger, m *service.Metrics) error {
			s, err := windower.New(ctx, cfg, nc, log)
			if err != nil {
				return err
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
			return s.Run(ctx)
		},
	})
}
