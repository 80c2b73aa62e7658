package rarenet

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rarenet/rarenet/shared/natsutil"
	"github.com/rarenet/rarenet/shared/service"
	"github.com/rarenet/rarenet/shared/stream"
)

// TestTargetsSplitTheLine runs the line as two all-in-ones, ingest and scorer in one and
// enricher and windower in the other against its server, as `rarenet run --target` does: each
// runs only its stages, serves only their metrics, and a third started with another
// --allowed-lateness than the line recorded is refused.
func TestTargetsSplitTheLine(t *testing.T) {
	base := func() Options {
		o := DefaultOptions()
		o.Streams = stream.Config{Partitions: 2, Replicas: 1, Memory: true}
		return o
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	log := slog.New(slog.DiscardHandler)
	first := base()
	first.Listen, first.Targets = "127.0.0.1:0", []string{"ingest", "scorer"}
	p1, err := Start(ctx, first, log)
	if err != nil {
		t.Fatal(err)
	}
	defer p1.Close()
	second := base()
	second.NATSURL, second.Targets = p1.Server().ClientURL(), []string{"enricher", "windower"}
	p2, err := Start(ctx, second, log)
	if err != nil {
		t.Fatal(err)
	}
	defer p2.Close()
	if p1.Ingest == nil || p1.Scorer == nil || p1.Enricher != nil || p1.Windower != nil ||
		p2.Ingest != nil || p2.Scorer != nil || p2.Enricher == nil || p2.Windower == nil {
		t.Fatalf("stages run: first %v %v %v %v, second %v %v %v %v",
			p1.Ingest != nil, p1.Scorer != nil, p1.Enricher != nil, p1.Windower != nil,
			p2.Ingest != nil, p2.Scorer != nil, p2.Enricher != nil, p2.Windower != nil)
	}
	// Ingest took the span from the scorer's job; the line recorded it.
	js, err := natsutil.JetStream(p1.Conn())
	if err != nil {
		t.Fatal(err)
	}
	if l, err := stream.RecordedLine(ctx, js); err != nil || l.BucketSpan != 15*time.Minute || l.AllowedLateness != time.Minute {
		t.Errorf("the line recorded %+v, %v; want the job's 15m and a minute", l, err)
	}
	metrics := func(p *Pipeline) string {
		rec := httptest.NewRecorder()
		service.Handler(p.Ready, p.Metrics).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		b, _ := io.ReadAll(rec.Body)
		return string(b)
	}
	m1, m2 := metrics(p1), metrics(p2)
	for _, c := range []struct {
		metrics, name string
		want          bool
	}{
		{m1, "rarenet_ingest_lines_total", true}, {m1, "rarenet_scorer_records_total", true},
		{m1, "rarenet_windower_", false}, {m1, `consumer="ingest"`, true},
		{m2, "rarenet_windower_signals_total", true}, {m2, "rarenet_enricher_records_total", true},
		{m2, "rarenet_ingest_", false},
	} {
		if strings.Contains(c.metrics, c.name) != c.want {
			t.Errorf("/metrics has %s: %v, want %v", c.name, !c.want, c.want)
		}
	}
	third := base()
	third.NATSURL, third.Targets = p1.Server().ClientURL(), []string{"ingest"}
	third.Ingest.AllowedLateness = 2 * time.Minute
	if p3, err := Start(ctx, third, log); !errors.Is(err, stream.ErrLineMismatch) {
		if err == nil {
			p3.Close()
		}
		t.Fatalf("an ingest with another lateness: %v, want ErrLineMismatch", err)
	}
}
