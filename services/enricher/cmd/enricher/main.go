// Command enricher runs the enricher stage against a NATS server: the enricher stage.
package main

import (
	"context"
	"log/slog"

	"github.com/nats-io/nats.go"

	"github.com/rarenet/rarenet/services/enricher"
	"github.com/rarenet/rarenet/shared/service"
)

func main() {
	var cfg enricher.Config
	service.Main(enricher.Stage, cfg.RegisterFlags, cfg.Validate, func(ctx context.Context, nc *nats.Conn, log *slog.Logger) error {
		return enricher.Run(ctx, cfg, nc, log)
	})
}
