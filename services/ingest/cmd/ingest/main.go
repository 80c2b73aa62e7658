// Command ingest runs the ingest stage against a NATS server: raw input in, normalized,
// filtered, partitioned network events out.
package main

import (
	"github.com/rarenet/rarenet/services/ingest"
	"github.com/rarenet/rarenet/shared/service"
)

func main() {
	var cfg ingest.Config
	service.Run(ingest.Describe(&cfg))
}
