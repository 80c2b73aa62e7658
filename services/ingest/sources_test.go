package ingest

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/rarenet/rarenet/shared/control"
	"github.com/rarenet/rarenet/shared/natstest"
	"github.com/rarenet/rarenet/shared/stream"
	"github.com/rarenet/rarenet/shared/tokens"
)

// A subject naming its source binds the lines to the source's host patterns; the subjects
// without one work as before.
func TestBoundSources(t *testing.T) {
	ts := natstest.Start(t)
	ts.Pipeline(t, testPartitions)
	tokenPath := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(tokenPath, []byte("web-shipper-2 "+tokens.Hash("a")+" web-*\ncollector "+tokens.Hash("b")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := Config{Datafeed: "rarenet", BucketSpan: 15 * time.Minute, AllowedLateness: time.Minute, HTTP: HTTPInput{Tokens: tokenPath}}
	svc, err := New(ts.Ctx, cfg, ts.Conn(t, Stage), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	eventsSub := subscribe(t, ts.NC, stream.EventsWildcard)
	dlqSub := subscribe(t, ts.NC, stream.DLQSubject(Stage))
	runCtx, stop := context.WithCancel(ts.Ctx)
	done := make(chan error, 1)
	go func() { done <- svc.Run(runCtx) }()
	t.Cleanup(func() { stop(); <-done })

	ev := func(host, process string) string {
		return `{"@timestamp":"2024-05-01T10:00:00Z","event":{"action":"connected-to"},"host":{"name":"` + host +
			`","os":{"type":"linux"}},"process":{"name":"` + process + `"},"destination":{"ip":"203.0.113.7","port":443}}`
	}
	publish := func(subject, source, data string) {
		t.Helper()
		m := nats.NewMsg(subject)
		m.Header.Set(control.HeaderSource, source)
		m.Header.Set(control.HeaderLine, "1")
		m.Data = []byte(data)
		if _, err := ts.JS.PublishMsg(ts.Ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	publish("rarenet.raw.ecs.web-shipper-2", "/var/log/x.json", ev("web-1", "curl")+"\n"+ev("db-1", "socat"))
	publish("rarenet.raw.ecs.stranger", "s", ev("web-1", "nc"))
	publish("rarenet.raw.auto.collector", "c", ev("db-7", "wget"))
	publish("rarenet.raw.ecs", "legacy.ndjson", ev("db-1", "perl"))
	// A header naming a source proves nothing: anyone who may publish raw input may write it.
	publish("rarenet.raw.ecs", "web-shipper-2", ev("web-9", "nmap"))

	got := map[string]string{}
	for len(got) < 4 {
		m, err := eventsSub.NextMsg(10 * time.Second)
		if err != nil {
			t.Fatalf("events so far %v: %v", got, err)
		}
		if control.IsControl(m.Header) {
			continue
		}
		evs := natstest.Batch(t, m.Header, m.Data)
		for _, e := range evs {
			got[e.Process.Name] = e.Host.Name + " from " + e.Origin.Source + ", vouched for by " + e.Origin.AuthSource
		}
	}
	want := map[string]string{"curl": "web-1 from web-shipper-2, vouched for by web-shipper-2", "wget": "db-7 from collector, vouched for by collector",
		"perl": "db-1 from legacy.ndjson, vouched for by ", "nmap": "web-9 from web-shipper-2, vouched for by "}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("event of %s: %q, want %q", k, got[k], v)
		}
	}
	if _, ok := got["socat"]; ok {
		t.Error("web-shipper-2's event of host db-1 was taken")
	}
	reasons := map[string]string{}
	for range 2 {
		m, err := dlqSub.NextMsg(10 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		reasons[m.Header.Get(control.HeaderSource)] = m.Header.Get(control.HeaderReason) + " | " + string(m.Data)
	}
	if r := reasons["web-shipper-2"]; !strings.Contains(r, `web-shipper-2:2: `+ErrForeignHost.Error()+`: host.name "db-1", and source web-shipper-2 may only send events of hosts web-*`) || !strings.Contains(r, "socat") {
		t.Errorf("the dead letter of the foreign host: %q", r)
	}
	if r := reasons["stranger"]; !strings.Contains(r, `names source "stranger", which is not in `+tokenPath) || !strings.Contains(r, `"nc"`) {
		t.Errorf("the dead letter of the unknown source: %q", r)
	}
	if st := svc.Stats().Snapshot(); st.Rejected != 2 || st.Accepted != 4 {
		t.Errorf("stats %+v, want 4 accepted and 2 rejected", st)
	}
	if !errors.Is(foreignHost(&tokens.Entry{Name: "x"}, ""), ErrForeignHost) {
		t.Error("foreignHost does not wrap ErrForeignHost")
	}
}
