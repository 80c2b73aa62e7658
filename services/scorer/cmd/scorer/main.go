// Command scorer runs the scorer stage against a NATS server: events in, anomaly records out.
package main

import (
	"github.com/rarenet/rarenet/services/scorer"
	"github.com/rarenet/rarenet/shared/service"
)

func main() {
	var cfg scorer.Config
	service.Run(scorer.Describe(&cfg))
}
