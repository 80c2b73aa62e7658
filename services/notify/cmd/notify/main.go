// Command notify runs rarenet's notifier against a NATS server: every signal on
// rarenet.signals to the destinations of its routes, once (docs/notify.md).
package main

import (
	"github.com/rarenet/rarenet/services/notify"
	"github.com/rarenet/rarenet/shared/service"
)

func main() {
	var o notify.Options
	service.Run(notify.Describe(&o))
}
