// Command genhistory writes the deterministic fleet history of the end-to-end tests and
// benchmarks, for trying rarenet by hand.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/rarenet/rarenet/e2e/history"
)

func main() {
	s := history.Default()
	format := flag.String("format", "ecs", "ecs or auditd")
	flag.IntVar(&s.Days, "days", s.Days, "days of history")
	flag.IntVar(&s.Hosts, "hosts", s.Hosts, "hosts in the fleet")
	flag.IntVar(&s.PerBucket, "per-bucket", s.PerBucket, "connections per active process, host and bucket")
	flag.Parse()
	events := history.Events(s)
	var err error
	switch *format {
	case "ecs":
		err = history.WriteECS(os.Stdout, events)
	case "auditd":
		err = history.WriteAuditd(os.Stdout, events)
	default:
		err = fmt.Errorf("unknown format %q", *format)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "genhistory:", err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "genhistory: %d events\n", len(events))
}
