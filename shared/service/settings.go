package service

import (
	"flag"
	"time"

	"github.com/rarenet/rarenet/shared/lease"
	"github.com/rarenet/rarenet/shared/natsutil"
)

// The settings several stages share, each defined once here: its flag's name, default and
// meaning. A stage registers those it uses, bound to its own configuration's field; where one
// process runs several stages (the all-in-one), the flag is registered once and sets every
// stage's field (cli.Command joins them), so no copy is made by hand. The ones that must agree
// across processes (bucket span, lateness) are also checked against the pipeline's record
// (stream.AgreeLine).

// DefaultBucketSpan is the bucket span of the built-in jobs, taken by an ingest that knows
// neither the job nor a span the pipeline recorded.
const DefaultBucketSpan = 15 * time.Minute

// BucketSpanFlag registers --bucket-span.
func BucketSpanFlag(fs *flag.FlagSet, p *time.Duration) {
	sharedDuration(fs, p, "bucket-span", 0, "the job's bucket span: 0 takes the job's (15m for the built-ins); a separate ingest takes the one "+
		"the pipeline recorded, else 15m")
}

// AllowedLatenessFlag registers --allowed-lateness.
func AllowedLatenessFlag(fs *flag.FlagSet, p *time.Duration) {
	sharedDuration(fs, p, "allowed-lateness", time.Minute, "how far behind the latest event time an event may arrive and still count "+
		"(out-of-order hosts, interleaved logs); live, also how long after a bucket's end on the wall clock")
}

// ProfileFlag registers --profile.
func ProfileFlag(fs *flag.FlagSet, p *string) {
	sharedString(fs, p, "profile", "faithful", "faithful (as the reference) or enhanced (fewer false positives from schedules and rollouts; "+
		"rare-on-this-host and new-destination detectors)")
}

// ClockFlag registers --clock.
func ClockFlag(fs *flag.FlagSet, p *string) {
	sharedString(fs, p, "clock", "wall", "what closes buckets and schedules rule runs: wall (live: the wall clock too) or watermark "+
		"(replay: event time only)")
}

// LeaseTTLFlag registers --lease-ttl.
func LeaseTTLFlag(fs *flag.FlagSet, p *time.Duration) {
	sharedDuration(fs, p, "lease-ttl", lease.DefaultTTL, "a standby replica takes over the work (partitions, the model, the enricher's "+
		"or the windower's turn) of one that has not renewed its lease for this long")
}

// AckWaitFlag registers --ack-wait.
func AckWaitFlag(fs *flag.FlagSet, p *time.Duration) {
	sharedDuration(fs, p, "ack-wait", natsutil.DefaultAckWait, "how long an unacknowledged input message waits before it is delivered "+
		"again, to any replica (the messages of a replica that died)")
}

// sharedDuration registers a duration flag that other stages' fields may join.
func sharedDuration(fs *flag.FlagSet, p *time.Duration, name string, def time.Duration, usage string) {
	*p = def
	fs.Var(&joined[time.Duration]{ps: []*time.Duration{p}, parse: time.ParseDuration, format: time.Duration.String}, name, usage)
}

// sharedString registers a string flag that other stages' fields may join.
func sharedString(fs *flag.FlagSet, p *string, name, def, usage string) {
	*p = def
	fs.Var(&joined[string]{ps: []*string{p}, parse: func(s string) (string, error) { return s, nil }, format: func(s string) string { return s }}, name, usage)
}

// joined is a flag value bound to one field of each stage that uses it.
type joined[T any] struct {
	ps     []*T
	parse  func(string) (T, error)
	format func(T) string
}

func (v *joined[T]) String() string {
	if v == nil || len(v.ps) == 0 {
		return ""
	}
	return v.format(*v.ps[0])
}

func (v *joined[T]) Set(s string) error {
	x, err := v.parse(s)
	if err != nil {
		return err
	}
	for _, p := range v.ps {
		*p = x
	}
	return nil
}

// Join binds other's fields to v (cli.Joiner): they take v's value now and every value set
// later. It reports false for a value of another kind.
func (v *joined[T]) Join(other flag.Value) bool {
	o, ok := other.(*joined[T])
	if !ok {
		return false
	}
	for _, p := range o.ps {
		*p = *v.ps[0]
	}
	v.ps = append(v.ps, o.ps...)
	return true
}
