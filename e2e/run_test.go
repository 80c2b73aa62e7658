package e2e

import (
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// TestRunLive starts `rarenet run` as a user would, publishes raw input on its embedded
// server, and checks the live pipeline takes it: a malformed line reaches the dead-letter
// subject with its original bytes and a reason naming source and line. SIGTERM stops it
// cleanly.
func TestRunLive(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the rarenet binary; skipped with -short")
	}
	bin := binaries(t)
	port := freePort(t)
	p := start(t, filepath.Join(bin, "rarenet"), "run", "--listen", "127.0.0.1:"+strconv.Itoa(port), "--data-dir", t.TempDir())
	waitPort(t, port)
	// The port opens before the streams exist: a core publish in between is stored nowhere.
	// rarenet run says where to publish once they do.
	waitOutput(t, p, "rarenet run: NATS on ")
	nc, err := nats.Connect("nats://127.0.0.1:" + strconv.Itoa(port))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	dlq, err := nc.SubscribeSync("rarenet.dlq.ingest")
	if err != nil {
		t.Fatal(err)
	}
	good := `{"@timestamp":"` + time.Now().UTC().Format(time.RFC3339) + `","event":{"category":["network"],"type":["start"]},"host":{"name":"h1","os":{"type":"linux"}},"process":{"name":"curl"},"destination":{"ip":"203.0.113.5","port":443}}`
	m := nats.NewMsg("rarenet.raw.ecs")
	m.Header.Set("Rarenet-Source", "live-test")
	m.Data = []byte(good + "\n{broken")
	if err := nc.PublishMsg(m); err != nil {
		t.Fatal(err)
	}
	got, err := dlq.NextMsg(30 * time.Second)
	if err != nil {
		t.Fatalf("no dead letter from the live pipeline: %v", err)
	}
	if string(got.Data) != "{broken" || !strings.HasPrefix(got.Header.Get("Rarenet-Reason"), "live-test:2: ") {
		t.Fatalf("dead letter %q with reason %q, want the original line and live-test:2", got.Data, got.Header.Get("Rarenet-Reason"))
	}
	p.stop()
	if p.err != nil {
		t.Fatalf("rarenet run did not stop cleanly on SIGTERM: %v", p.err)
	}
}
