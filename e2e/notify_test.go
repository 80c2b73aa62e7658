package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/rarenet/rarenet/shared/natsutil"
	"github.com/rarenet/rarenet/shared/stream"
)

// TestNotifierSurvivesSIGKILL runs the notify binary against a standalone nats-server and a
// webhook receiver, SIGKILLs it at random points while it delivers a stream of signals and
// restarts it each time. Every signal must reach the receiver, and by idempotency key none
// twice, but for the one message in flight at each kill (sent, answered, not yet recorded in
// the notifier's bucket): the receiver counts arrivals per key.
func TestNotifierSurvivesSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("builds binaries and kills processes; skipped with -short")
	}
	bin := binaries(t)
	port := freePort(t)
	url := "nats://127.0.0.1:" + strconv.Itoa(port)
	start(t, filepath.Join(bin, "nats-server"), "-js", "-a", "127.0.0.1", "-p", strconv.Itoa(port), "-sd", t.TempDir())
	waitPort(t, port)
	nc, err := natsutil.Connect(url, nil, "test")
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := natsutil.JetStream(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if err := stream.Ensure(ctx, js, stream.Config{Partitions: 8, Replicas: 1}); err != nil {
		t.Fatal(err)
	}

	// The receiver: every arrival in order, answered after a few milliseconds of work.
	var mu sync.Mutex
	var arrivals []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.ReadAll(r.Body); err != nil {
			return // the sender died mid-request: nothing received
		}
		time.Sleep(2 * time.Millisecond)
		mu.Lock()
		arrivals = append(arrivals, r.Header.Get("Idempotency-Key"))
		mu.Unlock()
	}))
	defer srv.Close()
	received := func() []string { mu.Lock(); defer mu.Unlock(); return append([]string(nil), arrivals...) }

	// The signals: the sample's kworkerds signal under n ids, published before the notifier
	// starts (it reads from the first, --from all) and while it runs.
	const n = 300
	base := sampleSignal(t)
	docs := make([][]byte, n)
	for i := range docs {
		base["kibana.alert.uuid"] = fmt.Sprintf("00000000-0000-5000-8000-%012d", i)
		docs[i], _ = json.Marshal(base)
	}
	publish := func(from, to int) error {
		for i := from; i < to; i++ {
			if _, err := js.Publish(ctx, stream.SignalsSubject, docs[i], jetstream.WithMsgID(strconv.Itoa(i))); err != nil {
				return err
			}
		}
		return nil
	}
	if err := publish(0, n/2); err != nil {
		t.Fatal(err)
	}

	args := []string{"--nats-url", url, "--to", "webhook+" + srv.URL + "/hook", "--from", "all", "--ack-wait", "2s"}
	notifier := start(t, filepath.Join(bin, "notify"), args...)
	published := make(chan error, 1)
	go func() { published <- publish(n/2, n) }()

	seed := uint64(time.Now().UnixNano())
	t.Logf("kill seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, seed>>1))
	var inFlight []string // the last arrival when each kill settled
	for kills := 0; kills < 3; kills++ {
		// Each kill comes after a random number of arrivals within its quarter of the
		// signals, not after a time: a fast machine delivers all of them in well under a
		// second.
		target := kills*n/4 + n/20 + rng.IntN(n/6)
		for deadline := time.Now().Add(30 * time.Second); len(received()) < target && time.Now().Before(deadline); {
			time.Sleep(time.Millisecond)
		}
		if len(received()) >= n {
			break
		}
		if err := notifier.cmd.Process.Kill(); err != nil {
			t.Fatalf("SIGKILL notify: %v", err)
		}
		<-notifier.done
		time.Sleep(100 * time.Millisecond) // a request the notifier had written is recorded now
		if got := received(); len(got) > 0 {
			inFlight = append(inFlight, got[len(got)-1])
		}
		before := len(received())
		t.Logf("kill %d after %d arrivals", kills+1, before)
		notifier = start(t, filepath.Join(bin, "notify"), args...)
		// The next kill comes once the restarted notifier delivers again: mid-stream.
		for deadline := time.Now().Add(30 * time.Second); len(received()) == before && time.Now().Before(deadline); {
			time.Sleep(10 * time.Millisecond)
		}
	}
	if err := <-published; err != nil {
		t.Fatal(err)
	}
	if len(inFlight) == 0 {
		t.Fatal("every signal arrived before the first kill: the test proved nothing")
	}

	count := map[string]int{}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		clear(count)
		for _, k := range received() {
			count[k]++
		}
		if len(count) >= n || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if len(count) != n {
		t.Fatalf("%d of %d signals arrived after %d kills", len(count), n, len(inFlight))
	}
	for k, c := range count {
		if c == 1 {
			continue
		}
		allowed := false
		for _, f := range inFlight {
			allowed = allowed || f == k
		}
		if c > 2 || !allowed {
			t.Errorf("signal %s arrived %d times; only the one in flight at a kill may arrive twice (%v)", k, c, inFlight)
		}
	}
	t.Logf("%d signals, %d arrivals, %d kills", len(count), len(received()), len(inFlight))
}

// sampleSignal is the first signal of the notifier's test data (the bundled sample's
// kworkerds).
func sampleSignal(t *testing.T) map[string]any {
	t.Helper()
	f, err := os.Open(filepath.Join(repoRoot(t), "services", "notify", "testdata", "signals.ndjson"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	if !sc.Scan() {
		t.Fatal("no signal in services/notify/testdata/signals.ndjson")
	}
	var d map[string]any
	if err := json.Unmarshal(sc.Bytes(), &d); err != nil {
		t.Fatal(err)
	}
	return d
}
