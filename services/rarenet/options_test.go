package rarenet

import (
	"flag"
	"strings"
	"testing"
	"time"

	"github.com/rarenet/rarenet/services/scorer"
	"github.com/rarenet/rarenet/services/windower"
	"github.com/rarenet/rarenet/shared/stream"
)

// TestNewOptions: with no flags, each stage is as its own flags leave it; a shared setting
// given once sets every stage that has it; what is not a stage flag is refused.
func TestNewOptions(t *testing.T) {
	o := DefaultOptions()
	var want Options
	for _, st := range want.Describe() {
		st.Register(flag.NewFlagSet(st.Name, flag.ContinueOnError))
	}
	if o.Scorer.Job.ID != scorer.RuleJob().ID || o.Windower.Rule.ID != windower.DefaultRule().ID ||
		o.Ingest.Datafeed != want.Ingest.Datafeed || o.Ingest.AllowedLateness != time.Minute || o.Scorer.AllowedLateness != time.Minute ||
		o.Scorer.Clock != scorer.ClockWall || o.Windower.Clock != windower.ClockWall || o.Windower.EmittedTTL != windower.DefaultEmittedTTL ||
		o.Scorer.LeaseTTL != want.Scorer.LeaseTTL || o.Enricher.LeaseTTL != want.Scorer.LeaseTTL || o.Ingest.BucketSpan != 0 ||
		o.Streams != (stream.Config{Partitions: stream.DefaultPartitions, Replicas: 1}) {
		t.Fatalf("DefaultOptions() = %+v; want every stage at its flags' defaults", o)
	}

	o, err := NewOptions("--allowed-lateness", "2m", "--profile", "enhanced", "--ack-wait", "5s", "--bucket-span", "30m")
	if err != nil {
		t.Fatal(err)
	}
	if o.Ingest.AllowedLateness != 2*time.Minute || o.Scorer.AllowedLateness != 2*time.Minute ||
		o.Scorer.Profile != "enhanced" || o.Enricher.Profile != "enhanced" ||
		o.Ingest.AckWait != 5*time.Second || o.Enricher.AckWait != 5*time.Second ||
		o.Ingest.BucketSpan != 30*time.Minute || o.Scorer.BucketSpan != 30*time.Minute {
		t.Fatalf("a shared setting given once did not set every stage that has it: %+v", o)
	}

	for _, bad := range [][]string{{"--no-such-flag"}, {"--allowed-lateness", "soon"}, {"events.ndjson"}} {
		if _, err := NewOptions(bad...); err == nil || !strings.Contains(err.Error(), strings.TrimPrefix(bad[len(bad)-1], "--")) {
			t.Errorf("NewOptions(%q) = %v; want an error naming it", bad, err)
		}
	}
}
