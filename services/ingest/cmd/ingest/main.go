// Command ingest runs the ingest stage against a NATS server: raw input in, normalized,
// filtered, partitioned network events out.
package main

import (
	"context"
	"log/slog"

	"github.com/nats-io/nats.go"

	"github.com/rarenet/rarenet/services/ingest"
	"github.com/rarenet/rarenet/shared/service"
	"github.com/rarenet/rarenet/shared/stream"
)

func main() {
	var cfg ingest.Config
	service.Run(service.Stage{
		Name:     ingest.Stage,
		Summary:  "Decodes raw input (rarenet.raw.<format>) into ECS network events, applies the datafeed filter\nand routes each event to its partition; bad input goes to the dead-letter stream with its reason.",
		Register: cfg.RegisterFlags, Validate: cfg.Validate,
		Consumers: []service.Consumer{{Stream: stream.Raw, Durable: stream.IngestConsumer}},
		Run: func(ctx context.Context, nc *nats.Conn, log *slog.Logger, m *service.Metrics) error {
			s, err := ingest.New(ctx, cfg, nc, log)
			if err != nil {
				return err
			}
			st := s.Stats()
			m.Counter("lines_total", "Raw input lines read (events in).", st.Lines.Load)
			m.Counter("events_total", "Network events accepted and published (events out).", st.Accepted.Load)
			m.Counter("filtered_total", "Events the datafeed filter dropped.", st.Filtered.Load)
			m.Counter("rejects_total", "Lines rejected to the dead-letter stream.", st.Rejected.Load)
			h := s.HTTPStats()
			m.CounterVec("http_requests_total", "Requests to the HTTP input by token name (empty: none valid) and status code.", []string{"token", "code"}, h.Requests)
			m.CounterVec("http_lines_total", "Lines the HTTP input stored, by token name.", []string{"token"}, h.Lines)
			return s.Run(ctx)
		},
	})
}
