package stream

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestAgreeLine: the first stage records the settings; one that agrees starts, one that does
// not is refused with both values named; Ensure, run by every stage, keeps the record.
func TestAgreeLine(t *testing.T) {
	js := startJetStream(t)
	ctx := context.Background()
	cfg := Config{Partitions: 2, Replicas: 1, Memory: true}
	if err := Ensure(ctx, js, cfg); err != nil {
		t.Fatal(err)
	}
	if l, err := RecordedLine(ctx, js); err != nil || l != (Line{}) {
		t.Fatalf("a new pipeline records %+v, %v; want nothing", l, err)
	}
	// An ingest that knows the lateness only, then a scorer that knows both.
	if err := AgreeLine(ctx, js, Line{AllowedLateness: time.Minute}); err != nil {
		t.Fatal(err)
	}
	if err := AgreeLine(ctx, js, Line{BucketSpan: 15 * time.Minute, AllowedLateness: time.Minute}); err != nil {
		t.Fatal(err)
	}
	if err := Ensure(ctx, js, cfg); err != nil {
		t.Fatal(err)
	}
	want := Line{BucketSpan: 15 * time.Minute, AllowedLateness: time.Minute}
	if l, err := RecordedLine(ctx, js); err != nil || l != want {
		t.Fatalf("recorded %+v, %v; want %+v (kept by Ensure)", l, err, want)
	}
	if p, err := Partitions(ctx, js); err != nil || p != 2 {
		t.Fatalf("partitions %d, %v after AgreeLine; want 2", p, err)
	}
	for _, c := range []struct {
		l    Line
		flag string
	}{
		{Line{BucketSpan: 5 * time.Minute, AllowedLateness: time.Minute}, "--bucket-span"},
		{Line{BucketSpan: 15 * time.Minute}, "--allowed-lateness"}, // no lateness is a lateness
		{Line{BucketSpan: 15 * time.Minute, AllowedLateness: 2 * time.Minute}, "--allowed-lateness"},
	} {
		err := AgreeLine(ctx, js, c.l)
		if !errors.Is(err, ErrLineMismatch) || !strings.Contains(err.Error(), c.flag) {
			t.Errorf("AgreeLine(%+v) = %v; want ErrLineMismatch naming %s", c.l, err, c.flag)
		}
	}
	if l, _ := RecordedLine(ctx, js); l != want {
		t.Errorf("a refused stage changed the record to %+v", l)
	}
}
