// Command notify runs rarenet's notifier against a NATS server: every signal on
// rarenet.signals to the destinations of its routes, once (docs/notify.md).
package main

import (
	"context"
	"log/slog"

	"github.com/nats-io/nats.go"

	"github.com/rarenet/rarenet/services/notify"
	"github.com/rarenet/rarenet/shared/service"
	"github.com/rarenet/rarenet/shared/stream"
)

func main() {
	var o notify.Options
	service.Run(service.Stage{
		Name:     stream.NotifyStage,
		Summary:  "Delivers every signal to webhooks, chat, syslog, mail or a program, once each (docs/notify.md).",
		Register: o.RegisterFlags, Validate: o.Validate,
		Consumers: []service.Consumer{{Stream: stream.Signals, Durable: stream.NotifyConsumer}},
		Run: func(ctx context.Context, nc *nats.Conn, log *slog.Logger, m *service.Metrics) error {
			cfg, err := o.Config()
			if err != nil {
				return err
			}
			met := notify.NewMetrics()
			for _, c := range met.Collectors() {
				if err := m.Register(c); err != nil {
					return err
				}
			}
			n, err := notify.New(cfg, log, met)
			if err != nil {
				return err
			}
			defer n.Close()
			return n.Run(ctx, nc, o.RunOptions())
		},
	})
}
