// Command scorer runs the scorer stage against a NATS server: the scorer stage.
package main

import (
	"context"
	"log/slog"

	"github.com/nats-io/nats.go"

	"github.com/rarenet/rarenet/services/scorer"
	"github.com/rarenet/rarenet/shared/service"
)

func main() {
	var cfg scorer.Config
	service.Main(scorer.Stage, cfg.RegisterFlags, cfg.Validate, func(ctx context.Context, nc *nats.Conn, log *slog.Logger) error {
		return scorer.Run(ctx, cfg, nc, log)
	})
}
