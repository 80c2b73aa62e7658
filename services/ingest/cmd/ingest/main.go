// Command ingest runs the ingest stage against a NATS server: raw input in, normalized,
// filtered, partitioned network events out.
package main

import (
	"context"
	"log/slog"

	"github.com/nats-io/nats.go"

	"github.com/rarenet/rarenet/services/ingest"
	"github.com/rarenet/rarenet/shared/service"
)

func main() {
	var cfg ingest.Config
	service.Main(ingest.Stage, cfg.RegisterFlags, cfg.Validate, func(ctx context.Context, nc *nats.Conn, log *slog.Logger) error {
		return ingest.Run(ctx, cfg, nc, log)
	})
}
