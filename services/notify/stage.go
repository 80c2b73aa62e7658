package notify

import (
	"context"
	"log/slog"

	"github.com/nats-io/nats.go"

	"github.com/rarenet/rarenet/shared/service"
	"github.com/rarenet/rarenet/shared/stream"
)

// Describe is the notifier, its flags bound to o: what cmd/notify runs (and `rarenet notify`
// with its own flags).
func Describe(o *Options) service.Stage {
	return service.Stage{
		Name:     stream.NotifyStage,
		Summary:  "Delivers every signal to webhooks, chat, syslog, mail or a program, once each (docs/notify.md).",
		Register: o.RegisterFlags, Validate: o.Validate,
		Reads:     []string{stream.Signals},
		Writes:    []string{stream.DLQ},
		Stores:    []string{stream.NotifyBucket},
		Consumers: []service.Consumer{{Stream: stream.Signals, Durable: stream.NotifyConsumer}},
		New: func(ctx context.Context, nc *nats.Conn, log *slog.Logger, m *service.Metrics) (service.Runner, error) {
			cfg, err := o.Config()
			if err != nil {
				return nil, err
			}
			met := NewMetrics()
			for _, c := range met.Collectors() {
				if err := m.Register(c); err != nil {
					return nil, err
				}
			}
			n, err := New(cfg, log, met)
			if err != nil {
				return nil, err
			}
			return &runner{n: n, nc: nc, opts: o.RunOptions()}, nil
		},
	}
}

// runner runs a notifier on its connection and closes it when done.
type runner struct {
	n    *Notifier
	nc   *nats.Conn
	opts RunOptions
}

func (r *runner) Run(ctx context.Context) error {
	defer r.n.Close()
	return r.n.Run(ctx, r.nc, r.opts)
}
