// Command windower runs the windower stage against a NATS server: enriched records in, the
// rule's signals out.
package main

import (
	"github.com/rarenet/rarenet/services/windower"
	"github.com/rarenet/rarenet/shared/service"
)

func main() {
	var cfg windower.Config
	service.Run(windower.Describe(&cfg))
}
