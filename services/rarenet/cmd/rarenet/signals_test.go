package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/rarenet/rarenet/services/console"
	"github.com/rarenet/rarenet/shared/natsembed"
	"github.com/rarenet/rarenet/shared/natsutil"
	"github.com/rarenet/rarenet/shared/stream"
	"github.com/rarenet/rarenet/shared/syncbuf"
)

func TestSignalsPrintsEachSignal(t *testing.T) {
	srv, err := natsembed.Start(natsembed.Config{StoreDir: t.TempDir(), Port: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
	nc, err := natsutil.Connect(srv.ClientURL(), nil, "test")
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := natsutil.JetStream(nc)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := stream.Ensure(ctx, js, stream.Config{Partitions: 1, Replicas: 1, Memory: true}); err != nil {
		t.Fatal(err)
	}
	doc8 := map[string]any{
		"kibana.alert.original_time": "2024-01-01T10:00:00Z", "record_score": 63.5, "by_field_value": "nc",
		"host.name": []string{"h1", "h2"}, "user.name": []string{"bob"}, "destination.ip": []string{"203.0.113.7"},
		"kibana.alert.reason": "Unusual network activity: nc.",
	}
	doc7 := map[string]any{
		"signal":       map[string]any{"original_time": "2024-01-01T11:00:00Z", "reason": "Unusual network activity: perl."},
		"record_score": 91.0, "by_field_value": "perl", "host.name": []string{"h3"}, "rarenet.late": true,
	}
	for _, asJSON := range []bool{false, true} {
		var out syncbuf.Buffer
		wctx, stop := context.WithCancel(ctx)
		ready := make(chan struct{})
		done := make(chan error, 1)
		go func() { done <- watchSignals(wctx, nc, &out, watchOptions{asJSON: asJSON}, ready) }()
		<-ready
		for _, d := range []map[string]any{doc8, doc7} {
			b, _ := json.Marshal(d)
			if _, err := js.Publish(ctx, stream.SignalsSubject, b); err != nil {
				t.Fatal(err)
			}
		}
		deadline := time.Now().Add(10 * time.Second)
		for strings.Count(out.String(), "\n") < 2 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		stop()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(out.String()), "\n")
		if len(lines) != 2 {
			t.Fatalf("json=%v: %d lines: %q", asJSON, len(lines), out.String())
		}
		if asJSON {
			var d map[string]any
			if err := json.Unmarshal([]byte(lines[0]), &d); err != nil || d["by_field_value"] != "nc" {
				t.Errorf("--json line %q: %v", lines[0], err)
			}
			continue
		}
		want := []string{
			"2024-01-01T10:00:00Z  score  63.5  process nc  host h1,h2  user bob  destination 203.0.113.7  Unusual network activity: nc.",
			"2024-01-01T11:00:00Z  score  91.0  process perl  host h3  user -  destination -  Unusual network activity: perl.  (late)",
		}
		for i, w := range want {
			if lines[i] != w {
				t.Errorf("line %d\n got %q\nwant %q", i, lines[i], w)
			}
		}
	}
}

// TestSignalsReflectTriage checks that --json prints each signal with the workflow status the
// console keeps, and --from start prints the signals the stream already holds.
func TestSignalsReflectTriage(t *testing.T) {
	srv, err := natsembed.Start(natsembed.Config{StoreDir: t.TempDir(), Port: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
	nc, err := natsutil.Connect(srv.ClientURL(), nil, "test")
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := natsutil.JetStream(nc)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cfg := stream.Config{Partitions: 1, Replicas: 1, Memory: true}
	if err := stream.Ensure(ctx, js, cfg); err != nil {
		t.Fatal(err)
	}
	docs := []string{
		`{"kibana.alert.uuid":"sig-a","kibana.alert.workflow_status":"open","kibana.alert.original_time":"2024-01-01T10:00:00Z","by_field_value":"nc","record_score":70}`,
		`{"kibana.alert.uuid":"sig-b","kibana.alert.workflow_status":"open","kibana.alert.original_time":"2024-01-01T11:00:00Z","by_field_value":"perl","record_score":80}`,
		`{"signal":{"id":"sig-c","status":"open","original_time":"2024-01-01T12:00:00Z"},"by_field_value":"bash","record_score":90}`,
	}
	for _, d := range docs {
		if _, err := js.Publish(ctx, stream.SignalsSubject, []byte(d)); err != nil {
			t.Fatal(err)
		}
	}
	// No console ever ran: the documents as they are.
	read := func(o watchOptions, n int) []string {
		t.Helper()
		var out syncbuf.Buffer
		wctx, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		ready := make(chan struct{})
		go func() { done <- watchSignals(wctx, nc, &out, o, ready) }()
		<-ready
		deadline := time.Now().Add(10 * time.Second)
		for strings.Count(out.String(), "\n") < n && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		stop()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		return strings.Split(strings.TrimSpace(out.String()), "\n")
	}
	if lines := read(watchOptions{asJSON: true, fromStart: true}, 3); len(lines) != 3 || lines[0] != docs[0] || lines[2] != docs[2] {
		t.Fatalf("--from start without a console: %q", lines)
	}
	// The console's triage.
	if err := console.EnsureTriageKV(ctx, js, cfg); err != nil {
		t.Fatal(err)
	}
	kv, err := console.TriageKV(ctx, js)
	if err != nil {
		t.Fatal(err)
	}
	for id, st := range map[string]string{"sig-b": console.StatusAcknowledged, "sig-c": console.StatusClosed} {
		if err := console.SetStatus(ctx, nc, kv, &console.Triage{ID: id, Status: st, By: "test"}); err != nil {
			t.Fatal(err)
		}
	}
	lines := read(watchOptions{asJSON: true, fromStart: true}, 3)
	if len(lines) != 3 {
		t.Fatalf("%d lines: %q", len(lines), lines)
	}
	want := []string{"open", "acknowledged", "closed"}
	for i, l := range lines {
		var d map[string]any
		if err := json.Unmarshal([]byte(l), &d); err != nil {
			t.Fatal(err)
		}
		got := d["kibana.alert.workflow_status"]
		if sig, ok := d["signal"].(map[string]any); ok {
			got = sig["status"]
		}
		if got != want[i] {
			t.Errorf("signal %d: workflow status %v, want %s", i, got, want[i])
		}
	}
	if lines[0] != docs[0] {
		t.Errorf("an untriaged signal was rewritten: %s", lines[0])
	}
	lines = read(watchOptions{fromStart: true}, 3)
	if len(lines) != 3 || !strings.HasSuffix(lines[1], "  [acknowledged]") || strings.Contains(lines[0], "[") {
		t.Errorf("readable lines: %q", lines)
	}
}
