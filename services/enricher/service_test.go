package enricher

import (
	"context"
	"encoding/json"
	"flag"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rarenet/rarenet/shared/control"
	"github.com/rarenet/rarenet/shared/record"
	"github.com/rarenet/rarenet/shared/stream"
)

// anomalyInput is what the scorer would publish for five buckets: a summary of every bucket
// (before its records), one rare record, a bad message, and a watermark.
func anomalyInput(t *testing.T) []*nats.Msg {
	var msgs []*nats.Msg
	data := func(v any) {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		m := nats.NewMsg(stream.AnomaliesSubject)
		m.Data = b
		msgs = append(msgs, m)
	}
	sshd := func(hosts ...string) record.ValueSummary {
		return record.ValueSummary{Value: "sshd", EventCount: 3, Hosts: hosts, Users: []string{"root"}, Destinations: []record.Endpoint{{IP: "10.0.0.2", Port: 22}}}
	}
	data(summary(bk(0), sshd("web-01", "web-02", "web-03")))
	data(summary(bk(1), sshd("web-01")))
	data(summary(bk(3), sshd("web-02")))
	data(summary(bk(4), sshd("web-01"), record.ValueSummary{Value: "perl", EventCount: 1, Hosts: []string{"web-03"}, Users: []string{"www-data"},
		Destinations: []record.Endpoint{{IP: "185.220.101.47", Port: 443}}}))
	data(record.Record{ID: "job_record_perl", JobID: "job", ResultType: "record", Timestamp: bk(4), BucketSpan: 900, ByFieldName: "process.name",
		ByFieldValue: "perl", Probability: 1e-4, RecordScore: 80, Explanation: record.Explanation{FirstOccurrence: true, BucketsModelled: 5},
		Influencers: []record.Influencer{{FieldName: "host.name", FieldValues: []string{"web-03"}}, {FieldName: "user.name", FieldValues: []string{"www-data"}}},
		Examples:    []record.Example{{HostName: "web-03", UserName: "www-data", Executable: "/usr/bin/perl", DestinationIP: "185.220.101.47", DestinationPort: 443}}})
	bad := nats.NewMsg(stream.AnomaliesSubject)
	bad.Data = []byte("{not json")
	msgs = append(msgs, bad)
	msgs = append(msgs, control.Marker{Kind: control.KindWatermark, Watermark: time.UnixMilli(bk(5))}.Msg(stream.AnomaliesSubject))
	return msgs
}

// runEnricher runs the enricher over msgs on a fresh server and returns what it wrote on
// ENRICHED, and how many dead letters.
func runEnricher(t *testing.T, cfg Config, msgs []*nats.Msg) ([]*jetstream.RawStreamMsg, uint64) {
	nc, js := startJetStream(t)
	ctx := testContext(t)
	if err := stream.Ensure(ctx, js, stream.Config{Partitions: 1, Replicas: 1, Memory: true}); err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		if _, err := js.PublishMsg(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	s, err := New(cfg, nc, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- s.Run(runCtx) }()
	enriched, err := js.Stream(ctx, stream.Enriched)
	if err != nil {
		t.Fatal(err)
	}
	cons, err := js.Stream(ctx, stream.Anomalies)
	if err != nil {
		t.Fatal(err)
	}
	for { // until every input is acknowledged (the work queue is then empty)
		info, err := cons.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if info.State.Msgs == 0 {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("enricher stopped: %v", err)
		case <-ctx.Done():
			t.Fatal("the enricher never acknowledged its input")
		case <-time.After(10 * time.Millisecond):
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	info, err := enriched.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []*jetstream.RawStreamMsg
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq; seq++ {
		m, err := enriched.GetMsg(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	dlq, err := js.Stream(ctx, stream.DLQ)
	if err != nil {
		t.Fatal(err)
	}
	dinfo, err := dlq.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if s.Stats().Summaries.Load() != 4 {
		t.Errorf("%d summaries applied, want 4", s.Stats().Summaries.Load())
	}
	return out, dinfo.State.Msgs
}

func TestServiceEnrichesFromHistory(t *testing.T) {
	asnPath, cityPath := testGeoIP(t)
	cfg := Config{GeoIPASN: asnPath, GeoIPCity: cityPath}
	out, dead := runEnricher(t, cfg, anomalyInput(t))
	if dead != 1 {
		t.Errorf("%d dead letters, want 1 (the undecodable message)", dead)
	}
	if len(out) != 2 {
		t.Fatalf("%d messages on ENRICHED, want the record and the watermark", len(out))
	}
	if !control.IsControl(out[1].Header) {
		t.Error("the watermark was not passed on after the record")
	}
	var r record.Record
	if err := json.Unmarshal(out[0].Data, &r); err != nil {
		t.Fatal(err)
	}
	const want = "perl connected in 0 of 4 earlier buckets; first seen in this bucket on web-03; 1 of 3 hosts; first time as www-data; " +
		"185.220.101.47:443 (https), public, AS60729 Stiftung Erneuerbare Freiheit, Berlin DE, never before"
	if r.Context == nil || r.Context.Why == nil || r.Context.Why.Text != want {
		t.Fatalf("why\n got %+v\nwant %q", r.Context, want)
	}

	// The same input gives the same bytes.
	again, _ := runEnricher(t, cfg, anomalyInput(t))
	if string(again[0].Data) != string(out[0].Data) {
		t.Errorf("two runs differ:\n%s\n%s", out[0].Data, again[0].Data)
	}
}

func TestConfigFlags(t *testing.T) {
	var c Config
	fs := newFlagSet()
	c.RegisterFlags(fs)
	if err := fs.Parse([]string{"--geoip-asn", "a.mmdb", "--geoip-city", "c.mmdb", "--rdns", "--rdns-timeout", "150ms", "--rdns-concurrency", "4"}); err != nil {
		t.Fatal(err)
	}
	if c.GeoIPASN != "a.mmdb" || c.GeoIPCity != "c.mmdb" || !c.RDNS || c.RDNSConfig.Timeout != 150*time.Millisecond || c.RDNSConfig.Concurrency != 4 {
		t.Errorf("flags gave %+v", c)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
	c.RDNSConfig.Timeout = -1
	if err := c.Validate(); err == nil {
		t.Error("a negative timeout validated")
	}
	if err := (&Config{}).Validate(); err != nil {
		t.Errorf("the zero Config must be valid: %v", err)
	}
}

func newFlagSet() *flag.FlagSet { return flag.NewFlagSet("enricher", flag.ContinueOnError) }
