package rarenet

import (
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/rarenet/rarenet/shared/stream"
)

// TestReplayKeepsServingTheConsole replays the bundled sample with the console on: once the
// signals are written the console serves them, and the replay returns when interrupted.
func TestReplayKeepsServingTheConsole(t *testing.T) {
	if testing.Short() {
		t.Skip("replays the sample; skipped with -short")
	}
	o := DefaultOptions()
	o.Streams = stream.Config{Partitions: 2, Replicas: 1, Memory: true}
	o.Console.Listen = "127.0.0.1:0"
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var listed int
	var url string
	ro := ReplayOptions{Pipeline: o, Files: []string{filepath.Join("..", "..", "testdata", "sample", "fleet-3d.ndjson.gz")},
		Out: new(discard),
		Finished: func(st Stats, consoleURL string) {
			url = consoleURL
			defer cancel() // as an interrupt would
			// The console reads the stream on its own: wait for it.
			for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
				resp, err := http.Get(consoleURL + "api/signals")
				if err != nil {
					t.Errorf("the console does not answer after the replay: %v", err)
					return
				}
				var l struct{ Total int }
				err = json.NewDecoder(resp.Body).Decode(&l)
				resp.Body.Close()
				if err == nil && l.Total == int(st.Signals) {
					listed = l.Total
					return
				}
			}
		}}
	st, err := Replay(ctx, ro)
	if err != nil {
		t.Fatal(err)
	}
	if st.Signals != 3 || listed != 3 {
		t.Fatalf("replay gave %d signals, the console listed %d; want 3 and 3", st.Signals, listed)
	}
	if _, err := http.Get(url + "healthz"); err == nil {
		t.Error("the console still answers after the replay returned")
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
