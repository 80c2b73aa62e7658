// Command enricher runs the enricher stage against a NATS server: anomaly records in, the
// same records with the investigation guide's context out.
package main

import (
	"github.com/rarenet/rarenet/services/enricher"
	"github.com/rarenet/rarenet/shared/service"
)

func main() {
	var cfg enricher.Config
	service.Run(enricher.Describe(&cfg))
}
