package ingest

import (
	"context"
	"log/slog"

	"github.com/nats-io/nats.go"

	"github.com/rarenet/rarenet/shared/service"
	"github.com/rarenet/rarenet/shared/stream"
)

// Describe is the ingest stage, its flags bound to cfg: what cmd/ingest runs alone and the
// all-in-one runs with the other stages.
func Describe(cfg *Config) service.Stage {
	return service.Stage{
		Name:     Stage,
		Summary:  "Decodes raw input (rarenet.raw.<format>) into ECS network events, applies the datafeed filter\nand routes each event to its partition; bad input goes to the dead-letter stream with its reason.",
		Register: cfg.RegisterFlags, Validate: cfg.Validate,
		Reads:     []string{stream.Raw},
		Writes:    []string{stream.Events, stream.DLQ},
		Stores:    []string{stream.IngestBucket},
		Consumers: []service.Consumer{{Stream: stream.Raw, Durable: stream.IngestConsumer}},
		New: func(ctx context.Context, nc *nats.Conn, log *slog.Logger, m *service.Metrics) (service.Runner, error) {
			s, err := New(ctx, *cfg, nc, log)
			if err != nil {
				return nil, err
			}
			st := s.Stats()
			m.Counter("lines_total", "Raw input lines read (events in).", st.Lines.Load)
			m.Counter("events_total", "Network events accepted and published (events out).", st.Accepted.Load)
			m.Counter("filtered_total", "Events the datafeed filter dropped.", st.Filtered.Load)
			m.Counter("rejects_total", "Lines rejected to the dead-letter stream.", st.Rejected.Load)
			h := s.HTTPStats()
			m.CounterVec("http_requests_total", "Requests to the HTTP input by token name (empty: none valid) and status code.", []string{"token", "code"}, h.Requests)
			m.CounterVec("http_lines_total", "Lines the HTTP input stored, by token name.", []string{"token"}, h.Lines)
			return s, nil
		},
	}
}
