package stream

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Line holds the settings the stages of one pipeline must share, beside the partition count:
// ingest closes buckets with the span and lateness the scorer counts them with. The first
// stage that knows one records it in the EVENTS stream's metadata; a stage started with
// another refuses to run (AgreeLine), as one started with another --partitions does.
type Line struct {
	// BucketSpan is the job's bucket span (zero: not known to the stage, not checked).
	BucketSpan time.Duration
	// AllowedLateness is how far behind the latest event time an event still counts; zero is
	// a lateness like any other, recorded and checked.
	AllowedLateness time.Duration
}

// ErrLineMismatch is returned by AgreeLine when the pipeline recorded another setting.
var ErrLineMismatch = errors.New("the pipeline's streams were created with another setting")

// The metadata keys of the Line's settings, beside partitionsKey.
const (
	bucketSpanKey = "rarenet_bucket_span"
	latenessKey   = "rarenet_allowed_lateness"
)

// ownMetadata is the part of a stream's metadata rarenet wrote: the server adds its own keys,
// which an update must not send back.
func ownMetadata(md map[string]string) map[string]string {
	own := map[string]string{}
	for k, v := range md {
		if strings.HasPrefix(k, "rarenet_") {
			own[k] = v
		}
	}
	return own
}

// RecordedLine returns the settings the EVENTS stream recorded (zero where none is).
func RecordedLine(ctx context.Context, js jetstream.JetStream) (Line, error) {
	s, err := js.Stream(ctx, Events)
	if err != nil {
		return Line{}, fmt.Errorf("stream: %s: %w", Events, err)
	}
	md := s.CachedInfo().Config.Metadata
	var l Line
	for _, f := range []struct {
		key string
		p   *time.Duration
	}{{bucketSpanKey, &l.BucketSpan}, {latenessKey, &l.AllowedLateness}} {
		if v := md[f.key]; v != "" {
			if *f.p, err = time.ParseDuration(v); err != nil {
				return Line{}, fmt.Errorf("stream: %s metadata %s=%q: %w", Events, f.key, v, err)
			}
		}
	}
	return l, nil
}

// AgreeLine checks l against the settings EVENTS recorded and records those it lacks. It
// fails with ErrLineMismatch, naming the flag and both values, when one differs.
func AgreeLine(ctx context.Context, js jetstream.JetStream, l Line) error {
	return retryRace(ctx, func(ctx context.Context) error {
		s, err := js.Stream(ctx, Events)
		if err != nil {
			return fmt.Errorf("stream: %s: %w", Events, err)
		}
		cfg := s.CachedInfo().Config
		md := ownMetadata(cfg.Metadata)
		was := maps.Clone(md)
		for _, f := range []struct {
			key, flag string
			v         time.Duration
			known     bool
		}{{bucketSpanKey, "--bucket-span (the job's bucket span)", l.BucketSpan, l.BucketSpan > 0}, {latenessKey, "--allowed-lateness", l.AllowedLateness, true}} {
			if !f.known {
				continue
			}
			got, ok := md[f.key]
			if !ok {
				md[f.key] = f.v.String()
				continue
			}
			if recorded, err := time.ParseDuration(got); err != nil || recorded != f.v {
				return fmt.Errorf("%w: %s is %s here, but the pipeline (%s) was started with %s: every stage must agree; start this one with %s, or the whole pipeline on new streams",
					ErrLineMismatch, f.flag, f.v, Events, got, got)
			}
		}
		if maps.Equal(md, was) {
			return nil
		}
		cfg.Metadata = md
		_, err = js.UpdateStream(ctx, cfg)
		return err
	})
}
