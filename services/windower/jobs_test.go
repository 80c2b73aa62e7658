package windower

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rarenet/rarenet/shared/control"
	"github.com/rarenet/rarenet/shared/natstest"
	"github.com/rarenet/rarenet/shared/natsutil"
	"github.com/rarenet/rarenet/shared/stream"
)

func TestCheckJobs(t *testing.T) {
	rule := DefaultRule()
	if err := CheckJobs(&rule, []string{"v3_linux_anomalous_network_activity_ea"}); err != nil {
		t.Error(err)
	}
	err := CheckJobs(&rule, []string{"v3_linux_anomalous_network_activity"})
	if !errors.Is(err, ErrJobNotProduced) {
		t.Fatalf("err = %v", err)
	}
	for _, part := range []string{"names machine_learning_job_id v3_linux_anomalous_network_activity_ea",
		"the scorer runs v3_linux_anomalous_network_activity", "builtin:current", "--job-id"} {
		if !strings.Contains(err.Error(), part) {
			t.Errorf("%q lacks %q", err, part)
		}
	}
}

// runUnannounced starts a windower on a pipeline whose scorer has announced nothing yet.
func runUnannounced(t *testing.T, h *harness, cfg Config) (*Service, chan error) {
	t.Helper()
	nc, err := natsutil.Connect("", h.srv, Stage)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	svc, err := New(h.ctx, cfg, nc, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(h.ctx)
	t.Cleanup(cancel)
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	return svc, done
}

// TestWindowerWaitsForTheScorer: a windower started before the scorer waits for its
// announcement and then runs, naming the job's results index in its signals.
func TestWindowerWaitsForTheScorer(t *testing.T) {
	h := startServer(t)
	signals := h.reader(t, stream.Signals)
	svc, done := runUnannounced(t, h, testConfig(ClockWatermark))
	h.publishRecord(t, recOn("10:00", "nc", 80, "h1"))
	h.marker(t, wmAt("10:30"))
	time.Sleep(500 * time.Millisecond)
	if svc.Stats().Records.Load() != 0 || svc.Active() {
		t.Fatal("the windower read records before a scorer announced its job")
	}
	kv := natstest.KeyValue(t, h.ctx, h.js, stream.ScorerBucket)
	// A custom results_index_name: Elasticsearch writes to .ml-anomalies-custom-<name>.
	err := stream.AnnounceJobs(h.ctx, kv, stream.Jobs{Jobs: []stream.JobInfo{{ID: job, ResultsIndex: ".ml-anomalies-custom-linux"}}})
	if err != nil {
		t.Fatal(err)
	}
	h.marker(t, control.Marker{Kind: control.KindEOF, Watermark: clock("10:30"), Replay: "r"})
	doc := signals.signalDocs(t, 1)[0]
	anc := doc["kibana.alert.ancestors"].([]any)[0].(map[string]any)
	if anc["index"] != ".ml-anomalies-custom-linux" {
		t.Errorf("ancestor %v, want the announced results index", anc)
	}
	select {
	case err := <-done:
		t.Fatalf("Run returned %v", err)
	default:
	}
}

// TestWindowerRefusesAJobNoScorerRuns: the scorer runs another job; after --scorer-wait the
// windower fails, naming both.
func TestWindowerRefusesAJobNoScorerRuns(t *testing.T) {
	h := startServer(t)
	h.announce(t, "v3_linux_anomalous_network_activity")
	cfg := testConfig(ClockWatermark)
	cfg.ScorerWait = 600 * time.Millisecond
	_, done := runUnannounced(t, h, cfg)
	select {
	case err := <-done:
		if !errors.Is(err, ErrJobNotProduced) || !strings.Contains(err.Error(), "the scorer runs v3_linux_anomalous_network_activity (") {
			t.Fatalf("Run = %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not fail")
	}
}

// TestWindowerReopensTheScorersBucket: a windower that opened the scorer's bucket while it
// still allowed direct gets (the scorer creates it, then turns them off) gets no answer to
// its reads afterwards; it opens the bucket again and runs once the scorer announces, well
// before its --scorer-wait.
func TestWindowerReopensTheScorersBucket(t *testing.T) {
	h := startServer(t)
	kv := natstest.KeyValue(t, h.ctx, h.js, stream.ScorerBucket) // direct gets on, as just created
	cfg := testConfig(ClockWatermark)
	cfg.ScorerWait = time.Minute
	svc, done := runUnannounced(t, h, cfg)
	time.Sleep(300 * time.Millisecond) // the windower has opened the bucket and found no announcement
	if err := stream.EnsureLeaderKeyValue(h.ctx, h.js, stream.Config{Memory: true}, jetstream.KeyValueConfig{Bucket: stream.ScorerBucket}); err != nil {
		t.Fatal(err)
	}
	err := stream.AnnounceJobs(h.ctx, kv, stream.Jobs{Jobs: []stream.JobInfo{{ID: job, ResultsIndex: ".ml-anomalies-shared"}}})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !svc.Active() {
		select {
		case err := <-done:
			t.Fatalf("Run returned %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("the windower did not see the announcement within 10s of it: its handle of the scorer's bucket gets no answers")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
