// Command windower runs the windower stage against a NATS server: the windower stage.
package main

import (
	"context"
	"log/slog"

	"github.com/nats-io/nats.go"

	"github.com/rarenet/rarenet/services/windower"
	"github.com/rarenet/rarenet/shared/service"
)

func main() {
	var cfg windower.Config
	service.Main(windower.Stage, cfg.RegisterFlags, cfg.Validate, func(ctx context.Context, nc *nats.Conn, log *slog.Logger) error {
		return windower.Run(ctx, cfg, nc, log)
	})
}
