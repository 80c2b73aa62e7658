package natsutil

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/rarenet/rarenet/shared/syncbuf"
)

// TestConnectLogsAsyncErrors: a subscription that falls behind drops messages; the connection
// says so in the log, naming the subject, instead of leaving a stage to wait out an ack wait
// without a word.
func TestConnectLogsAsyncErrors(t *testing.T) {
	var logs syncbuf.Buffer
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&logs, nil)))
	t.Cleanup(func() { slog.SetDefault(prev) })
	nc, _ := startJetStream(t)
	sub, err := nc.SubscribeSync("slow.sub")
	if err != nil {
		t.Fatal(err)
	}
	if err := sub.SetPendingLimits(2, 1<<20); err != nil {
		t.Fatal(err)
	}
	for range 10 {
		if err := nc.Publish("slow.sub", []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		if s := logs.String(); strings.Contains(s, "slow consumer") && strings.Contains(s, "subject=slow.sub") &&
			strings.Contains(s, "connection=rarenet-test") {
			return
		}
	}
	t.Fatalf("no slow consumer logged; log:\n%s", logs.String())
}
