package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/rarenet/rarenet/shared/control"
	"github.com/rarenet/rarenet/shared/natstest"
	"github.com/rarenet/rarenet/shared/stream"
)

// startListeningJetStream starts an embedded server on a free port with the pipeline's
// streams and returns its URL, for commands that connect by URL.
func startListeningJetStream(t *testing.T) (string, jetstream.JetStream, context.Context) {
	t.Helper()
	ts := natstest.Start(t)
	ts.Pipeline(t, 2)
	return ts.Srv.ClientURL(), ts.JS, ts.Ctx
}

// rawLines returns every line stored on the RAW stream as "subject source:line text".
func rawLines(t *testing.T, ctx context.Context, js jetstream.JetStream) []string {
	t.Helper()
	s, err := js.Stream(ctx, stream.Raw)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for seq := info.State.FirstSeq; info.State.Msgs > 0 && seq <= info.State.LastSeq; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		first := m.Header.Get(control.HeaderSource) + ":" + m.Header.Get(control.HeaderLine)
		for i, l := range strings.Split(natstest.RawText(t, m.Header, m.Data), "\n") {
			prefix := m.Subject + " " + first
			if i > 0 {
				prefix = m.Subject + " +" // only the first line's number is in the headers
			}
			out = append(out, prefix+" "+l)
		}
	}
	return out
}

// waitFor polls until cond holds or 20 seconds pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// runInBackground runs a command until the test ends and checks it stops cleanly.
func runInBackground(t *testing.T, ctx context.Context, cmd func(context.Context) error) (stop func()) {
	t.Helper()
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- cmd(runCtx) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("command stopped with %v", err)
		}
	}
	t.Cleanup(stop)
	return stop
}
