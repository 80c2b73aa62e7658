package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rarenet/rarenet/e2e/history"
	"github.com/rarenet/rarenet/services/sources/rawpub"
	"github.com/rarenet/rarenet/shared/natsutil"
	"github.com/rarenet/rarenet/shared/stream"
)

// The live benchmark's load: bodies of as many events as fill a raw message (rawpub.MaxLines
// lines and rawpub.MaxBytes bytes, with room for the time stamps), as a shipper under load
// sends them (Vector's and Fluent Bit's HTTP outputs send bodies of megabytes), by
// liveWorkers at once.
const (
	liveWorkers = 16
	// liveRawLagSeconds bounds the RAW consumer's backlog: at most this many seconds of input
	// at the step's rate.
	liveRawLagSeconds = 5
	// liveEventsLag bounds the scorer consumers' backlog on EVENTS, together: half the
	// backlog at which ingest is throttled (natsutil.ThrottleBacklog), so a sustained rate
	// never leans on the back-pressure.
	liveEventsLag = natsutil.ThrottleBacklog / 2
	// liveMinAchieved is the share of a step's rate the input must take for the step to count.
	liveMinAchieved = 0.95
)

// BenchmarkLive is issue 12's fourth figure: the all-in-one (`rarenet run`) and the cluster
// (3 nodes, R3, two of every stage on the wall clock, ingest serving HTTP) take events with
// current timestamps, as ECS NDJSON and as raw auditd, through POST /v1/events (bodies of up to
// 1000 lines) and through rarenet.raw.<format> (JetStream async publishes of the same
// bodies), at steady rates stepped up (BENCH_LIVE_RATES, each held BENCH_LIVE_STEP). A rate is
// sustained when the input takes it (95% or more sent, no request or publish refused) while
// the consumer lag stays bounded: the RAW consumer's and the scorer's EVENTS consumers'
// undelivered messages (NumPending) stay under their limits and do not grow across the step.
// It reports the highest rate sustained for each pipeline, input and format; each ramp runs on
// a fresh pipeline and stops at the first rate not sustained. The target is issue 12's fleet:
// 10,000 hosts at ~10 connects a second, 100,000 events/s; the ratio is to raw JetStream async
// publish (natscli, as figure 1) measured in the same run.
//
//	make bench    (or: cd e2e && go test -run '^$' -bench 'BenchmarkLive$' -benchtime 1x -v .)
func BenchmarkLive(b *testing.B) {
	skipShort(b)
	env := loadBenchEnv(b)
	bin := benchBinaries(b)
	formats := []string{"ecs", "auditd"}
	gens := map[string]*liveLoad{}
	for _, format := range formats {
		gens[format] = newLiveLoad(b, format)
	}
	b.Logf("live: rates %v events/s, %s each; sustained = >= %.0f%% of the rate sent, nothing refused, RAW pending <= %ds of input "+
		"(in bodies of %d ECS or %d auditd events, one raw message each), EVENTS pending (all scorer consumers) <= %d messages, neither growing across the step "+
		"(growing: every sample of the last quarter above every sample of the first quarter and above a tenth of the limit)",
		env.liveRates, env.liveStep, liveMinAchieved*100, liveRawLagSeconds, gens["ecs"].perBody, gens["auditd"].perBody, liveEventsLag)

	for range b.N {
		type ramp struct {
			pipeline, input, format string
			steps                   []liveStep
		}
		var ramps []ramp
		for _, format := range formats {
			for _, pipeline := range []string{"all-in-one", "cluster"} {
				for _, input := range []string{"http", "nats"} {
					if !env.liveSelected(format, pipeline, input) {
						continue
					}
					p := startLivePipeline(b, bin, pipeline == "cluster")
					steps := p.ramp(b, gens[format], input, env)
					p.close()
					ramps = append(ramps, ramp{pipeline, input, format, steps})
				}
			}
		}
		// The baseline, after the ramps so that it does not warm the machine for them.
		url := startNATSServer(b, bin)
		base, _ := natsBenchPub(b, bin, url, 200_000)
		b.Logf("baseline: nats bench js pub async --size 256 --storage file --msgs 200000: %s msgs/s", thousands(base))
		const target = 100_000
		b.Logf("live throughput (highest rate sustained %s; each ramp on a fresh pipeline):", env.liveStep)
		for _, r := range ramps {
			best, next := 0, ""
			for _, s := range r.steps {
				if s.ok {
					best = s.rate
				} else {
					next = fmt.Sprintf("%s/s not sustained: %s", thousands(float64(s.rate)), s.why())
				}
			}
			if next == "" {
				next = "the highest rate tried: set BENCH_LIVE_RATES to go further"
			}
			where := map[string]string{"http": "POST /v1/events", "nats": "rarenet.raw." + r.format + " (JetStream)"}[r.input]
			b.Logf("  %-7s %-11s %-33s %s events/s; %s", r.format, r.pipeline+",", where+":", thousands(float64(best)), next)
			b.ReportMetric(float64(best), r.format+"-"+r.pipeline+"-"+r.input+"-events/s")
			reportFigure(figureRow{figure: "4 live, " + r.pipeline + ", " + where, format: r.format,
				measured: thousands(float64(best)) + " events/s", baseline: thousands(base) + " msgs/s (nats bench js pub async)",
				ratio: fmt.Sprintf("%.2f", float64(best)/base), target: ">= " + thousands(target) + " events/s",
				notes: fmt.Sprintf("highest of %v held %s each with bounded lag; next: %s", env.liveRates, env.liveStep, next)},
				best >= target)
		}
	}
}

// liveLoad makes bodies of events from the default fleet's history, in one format, stamped
// with the current time: each event is kept as its text cut around its timestamp.
type liveLoad struct {
	format string
	// parts holds each event's text, cut where its timestamps go.
	parts [][][]byte
	// perBody is the events in a body; lines the lines of perBody events.
	perBody, lines int
	next           atomic.Int64
}

// liveStamp stands for the time in the generated events; it is cut out of each.
var liveStamp = time.Date(1999, 12, 31, 23, 59, 59, 0, time.UTC)

func newLiveLoad(b testing.TB, format string) *liveLoad {
	b.Helper()
	spec := history.Default()
	spec.Days = 1
	events := history.Events(spec)
	for i := range events {
		events[i].Time = liveStamp
	}
	l := &liveLoad{format: format}
	switch format {
	case "ecs":
		var buf bytes.Buffer
		if err := history.WriteECS(&buf, events); err != nil {
			b.Fatal(err)
		}
		stamp := []byte(liveStamp.Format(time.RFC3339Nano))
		for line := range bytes.Lines(buf.Bytes()) {
			parts := bytes.Split(line, stamp)
			if len(parts) != 2 {
				b.Fatalf("want one timestamp %s in the generated line %s", stamp, line)
			}
			l.parts = append(l.parts, parts)
		}
	case "auditd":
		// An event is the records of one connect, one line each, all stamped
		// msg=audit(<seconds>.<ms>:<serial>); the writer numbers the serials from 1000.
		const records = 6
		for i := range events {
			var buf bytes.Buffer
			if err := history.WriteAuditd(&buf, events[i:i+1]); err != nil {
				b.Fatal(err)
			}
			stamp := []byte(fmt.Sprintf("msg=audit(%d.000:1000)", liveStamp.Unix()))
			parts := bytes.Split(buf.Bytes(), stamp)
			if len(parts) != records+1 || bytes.Count(buf.Bytes(), []byte{'\n'}) != records {
				b.Fatalf("want %d records stamped %s in the generated event:\n%s", records, stamp, buf.Bytes())
			}
			l.parts = append(l.parts, parts)
		}
	default:
		b.Fatalf("no live load for format %q", format)
	}
	// A body holds as many events as a raw message takes, the longest of them stamped with
	// the longest time stamp: bodies cycle through the events.
	const stampRoom = 48 // msg=audit(<10 digits>.<3>:<up to 20 digits>), or RFC 3339 with ns
	longest, records := 0, len(l.parts[0])-1
	for _, parts := range l.parts {
		size := (len(parts) - 1) * stampRoom
		for _, p := range parts {
			size += len(p)
		}
		longest = max(longest, size)
	}
	l.perBody = min(rawpub.MaxLines/records, rawpub.MaxBytes/longest)
	l.lines = l.perBody * records
	return l
}

// body appends perBody events stamped now to dst, each line ended by a newline but for the
// last when finalNewline is false (a raw message carries no final newline).
func (l *liveLoad) body(dst []byte, finalNewline bool) []byte {
	now := time.Now().UTC()
	var stamp []byte
	if l.format == "ecs" {
		stamp = []byte(now.Format(time.RFC3339Nano))
	}
	first := l.next.Add(int64(l.perBody)) - int64(l.perBody)
	for k := range int64(l.perBody) {
		if l.format == "auditd" {
			// A serial of its own for each event: auditd's records of one event share it.
			stamp = fmt.Appendf(stamp[:0], "msg=audit(%d.%03d:%d)", now.Unix(), now.Nanosecond()/1e6, 1000+first+k)
		}
		parts := l.parts[(first+k)%int64(len(l.parts))]
		for j, p := range parts {
			if j > 0 {
				dst = append(dst, stamp...)
			}
			dst = append(dst, p...)
		}
	}
	if !finalNewline {
		dst = bytes.TrimSuffix(dst, []byte{'\n'})
	}
	return dst
}

// livePipeline is a running live pipeline: the all-in-one or a cluster stack.
type livePipeline struct {
	name     string
	natsURL  string
	httpURLs []string
	close    func()
}

// startLivePipeline starts `rarenet run` with its embedded server listening and an HTTP input,
// or a 3-node cluster with two of every stage on the wall clock, each ingest serving HTTP.
func startLivePipeline(b *testing.B, bin string, cluster bool) *livePipeline {
	b.Helper()
	if cluster {
		counts := stageCounts{2, 2, 2, 2}
		s := startStack(b, bin, counts, true)
		return &livePipeline{name: "cluster (3 nodes, R3, " + counts.String() + ")", natsURL: s.c.url(), httpURLs: s.httpURLs, close: s.close}
	}
	port, httpPort := freePort(b), freePort(b)
	p := start(b, filepath.Join(bin, "rarenet"), "run", "--listen", "127.0.0.1:"+strconv.Itoa(port),
		"--http-listen", "127.0.0.1:"+strconv.Itoa(httpPort), "--http-rate", "0", "--data-dir", b.TempDir()) // as the cluster's ingest
	// It says where to publish once every stage runs.
	waitOutput(b, p, "rarenet run: NATS on")
	waitPort(b, port)
	waitPort(b, httpPort)
	return &livePipeline{name: "all-in-one", natsURL: "nats://127.0.0.1:" + strconv.Itoa(port),
		httpURLs: []string{"http://127.0.0.1:" + strconv.Itoa(httpPort)}, close: p.stop}
}

// liveStep is the outcome of one rate held for one step.
type liveStep struct {
	rate     int
	achieved float64 // events/s sent and accepted
	refused  int64
	firstErr string
	// raw and events are the samples of the consumers' undelivered messages.
	raw, events           []uint64
	rawLimit, eventsLimit uint64
	rawGrew, eventsGrew   bool
	deadLetters           uint64
	ok                    bool
}

func (s liveStep) String() string {
	last := func(v []uint64) uint64 {
		if len(v) == 0 {
			return 0
		}
		return v[len(v)-1]
	}
	grew := func(g bool) string {
		if g {
			return ", GROWING"
		}
		return ""
	}
	line := fmt.Sprintf("%s/s: sent %s/s, RAW pending max %d end %d (limit %d%s), EVENTS pending max %d end %d (limit %d%s), %d refused, %d dead letters",
		thousands(float64(s.rate)), thousands(s.achieved), slices.Max(append(s.raw, 0)), last(s.raw), s.rawLimit, grew(s.rawGrew),
		slices.Max(append(s.events, 0)), last(s.events), s.eventsLimit, grew(s.eventsGrew), s.refused, s.deadLetters)
	if s.firstErr != "" {
		line += " (first: " + s.firstErr + ")"
	}
	if s.ok {
		return line + ": sustained"
	}
	return line + ": NOT SUSTAINED (" + s.why() + ")"
}

// why says what made a step not sustained.
func (s liveStep) why() string {
	var r []string
	if s.achieved < liveMinAchieved*float64(s.rate) {
		r = append(r, fmt.Sprintf("the input took %.0f%% of the rate", s.achieved/float64(s.rate)*100))
	}
	if s.refused > 0 {
		r = append(r, fmt.Sprintf("%d bodies refused", s.refused))
	}
	if s.deadLetters > 0 {
		r = append(r, fmt.Sprintf("%d dead letters (input lost)", s.deadLetters))
	}
	if len(s.raw) < 4 {
		r = append(r, fmt.Sprintf("%d lag samples, too few", len(s.raw)))
	} else {
		if slices.Max(s.raw) > s.rawLimit {
			r = append(r, "RAW lag over its limit")
		}
		if slices.Max(s.events) > s.eventsLimit {
			r = append(r, "EVENTS lag over its limit")
		}
	}
	if s.rawGrew {
		r = append(r, "RAW lag growing")
	}
	if s.eventsGrew {
		r = append(r, "EVENTS lag growing")
	}
	return strings.Join(r, "; ")
}

// ramp holds each rate for a step, in order, until one is not sustained.
func (p *livePipeline) ramp(b *testing.B, gen *liveLoad, input string, env benchEnv) []liveStep {
	b.Helper()
	nc, err := nats.Connect(p.natsURL)
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	mon, err := jetstream.New(nc)
	if err != nil {
		b.Fatal(err)
	}
	var snd liveSender
	switch input {
	case "http":
		snd = httpSender(p.httpURLs, gen)
	case "nats":
		snd, err = natsSender(p.natsURL, gen)
		if err != nil {
			b.Fatal(err)
		}
	}
	defer snd.close()
	var steps []liveStep
	for _, rate := range env.liveRates {
		s := runLiveStep(b, mon, gen, rate, env.liveStep, snd)
		b.Logf("  %s, %s, %s: %s", gen.format, p.name, input, s)
		steps = append(steps, s)
		if !s.ok {
			break
		}
	}
	// A pipeline that drops its input has a lag of nothing: the events must have got through.
	if info, err := mon.Stream(context.Background(), stream.Events); err != nil {
		b.Fatalf("%s: no %s stream after the ramp: %v", p.name, stream.Events, err)
	} else if info.CachedInfo().State.LastSeq == 0 {
		b.Fatalf("%s: ingest published no event from %s input: the lag measured nothing", p.name, input)
	}
	return steps
}

// runLiveStep sends bodies at rate events/s for d, sampling the consumers' lag meanwhile.
func runLiveStep(b *testing.B, js jetstream.JetStream, gen *liveLoad, rate int, d time.Duration, snd liveSender) liveStep {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d+time.Minute)
	defer cancel()
	s := liveStep{rate: rate, rawLimit: uint64(max(rate*liveRawLagSeconds/gen.perBody, 10)), eventsLimit: liveEventsLag}
	var sent, refused atomic.Int64
	var errOnce sync.Once
	tokens := make(chan struct{}, liveWorkers)
	var wg sync.WaitGroup
	for range liveWorkers {
		wg.Go(func() {
			for range tokens {
				if err := snd.send(ctx); err != nil {
					refused.Add(1)
					errOnce.Do(func() { s.firstErr = err.Error() })
					continue
				}
				sent.Add(int64(gen.perBody))
			}
		})
	}
	sampleEvery := min(time.Second, d/10)
	probe := &lagProbe{js: js}
	stopSampling := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		t := time.NewTicker(sampleEvery)
		defer t.Stop()
		for {
			select {
			case <-stopSampling:
				return
			case <-t.C:
			}
			raw, events, err := probe.sample(ctx)
			if err != nil {
				errOnce.Do(func() { s.firstErr = "reading the consumers' lag: " + err.Error() })
				continue
			}
			s.raw, s.events = append(s.raw, raw), append(s.events, events)
		}
	}()
	// Bodies are due at fixed times from the start, so a late one does not shift the rest; a
	// body due while every worker is busy is not sent: the input did not take the rate.
	interval := time.Duration(float64(time.Second) * float64(gen.perBody) / float64(rate))
	began := time.Now()
	for i := 0; ; i++ {
		at := began.Add(time.Duration(i) * interval)
		if at.Sub(began) >= d {
			break
		}
		time.Sleep(time.Until(at))
		select {
		case tokens <- struct{}{}:
		default:
		}
	}
	close(tokens)
	wg.Wait()
	if n, err := snd.finish(ctx); err != nil {
		refused.Add(int64(n))
		errOnce.Do(func() { s.firstErr = err.Error() })
	}
	s.achieved = float64(sent.Load()) / max(time.Since(began), d).Seconds()
	close(stopSampling)
	<-sampled
	s.refused = refused.Load()
	s.rawGrew, s.eventsGrew = growing(s.raw, s.rawLimit), growing(s.events, s.eventsLimit)
	if info, err := js.Stream(ctx, stream.DLQ); err == nil {
		s.deadLetters = info.CachedInfo().State.Msgs
	}
	s.ok = s.achieved >= liveMinAchieved*float64(rate) && s.refused == 0 && s.deadLetters == 0 && len(s.raw) >= 4 &&
		slices.Max(s.raw) <= s.rawLimit && slices.Max(s.events) <= s.eventsLimit && !s.rawGrew && !s.eventsGrew
	return s
}

// growing tells a backlog that keeps growing from one that comes and goes: every sample of
// the last quarter of the step is above every sample of the first quarter, and above a tenth
// of the limit (a handful of messages in flight is no backlog).
func growing(samples []uint64, limit uint64) bool {
	q := len(samples) / 4
	if q == 0 {
		return false
	}
	first, last := samples[:q], samples[len(samples)-q:]
	return slices.Min(last) > slices.Max(first) && slices.Min(last) > limit/10
}

// lagProbe reads the undelivered messages of the ingest consumer on RAW and of the scorer's
// partition consumers on EVENTS, together. It looks the consumer and the stream up once, so
// that a sample costs two requests and a loaded cluster still answers several times a step.
type lagProbe struct {
	js     jetstream.JetStream
	raw    jetstream.Consumer
	events jetstream.Stream
}

func (p *lagProbe) sample(ctx context.Context) (raw, events uint64, err error) {
	if p.raw == nil {
		if p.raw, err = p.js.Consumer(ctx, stream.Raw, stream.IngestConsumer); err != nil {
			return 0, 0, fmt.Errorf("consumer %s on %s: %w", stream.IngestConsumer, stream.Raw, err)
		}
	}
	if p.events == nil {
		if p.events, err = p.js.Stream(ctx, stream.Events); err != nil {
			return 0, 0, fmt.Errorf("stream %s: %w", stream.Events, err)
		}
	}
	info, err := p.raw.Info(ctx)
	if err != nil {
		return 0, 0, err
	}
	list := p.events.ListConsumers(ctx)
	for ci := range list.Info() {
		if strings.HasPrefix(ci.Name, "scorer-") {
			events += ci.NumPending
		}
	}
	if err := list.Err(); err != nil {
		return 0, 0, fmt.Errorf("consumers of %s: %w", stream.Events, err)
	}
	return info.NumPending, events, nil
}

// liveSender sends one body (liveLoad.body) per call of send; finish ends a step and
// returns how many sends were refused after send returned (JetStream's late acks) and the
// first reason.
type liveSender struct {
	send   func(context.Context) error
	finish func(context.Context) (refused int, err error)
	close  func()
}

// httpSender posts bodies to the HTTP inputs in turn; a request counts only when answered 202
// with every line accepted.
func httpSender(urls []string, gen *liveLoad) liveSender {
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		MaxIdleConnsPerHost: liveWorkers, MaxConnsPerHost: liveWorkers}}
	var turn atomic.Int64
	bufs := sync.Pool{New: func() any { return new([]byte) }}
	send := func(ctx context.Context) error {
		buf := bufs.Get().(*[]byte)
		defer bufs.Put(buf)
		*buf = gen.body((*buf)[:0], true)
		url := urls[int(turn.Add(1))%len(urls)] + "/v1/events?format=" + gen.format
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(*buf))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/x-ndjson")
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		var r struct {
			Accepted int `json:"accepted"`
		}
		if resp.StatusCode != http.StatusAccepted || json.Unmarshal(body, &r) != nil || r.Accepted != gen.lines {
			return fmt.Errorf("POST %s: %s %s", url, resp.Status, bytes.TrimSpace(body))
		}
		return nil
	}
	return liveSender{send: send, finish: func(context.Context) (int, error) { return 0, nil }, close: client.CloseIdleConnections}
}

// natsSender publishes bodies as raw messages on rarenet.raw.ecs, as a live source does, with
// JetStream async publishes in a bounded window; finish waits for the step's acks.
func natsSender(url string, gen *liveLoad) (liveSender, error) {
	nc, err := nats.Connect(url)
	if err != nil {
		return liveSender{}, err
	}
	var mu sync.Mutex
	var nacked int
	var firstNack error
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(256),
		jetstream.WithPublishAsyncErrHandler(func(_ jetstream.JetStream, _ *nats.Msg, err error) {
			mu.Lock()
			defer mu.Unlock()
			if nacked++; firstNack == nil {
				firstNack = err
			}
		}))
	if err != nil {
		nc.Close()
		return liveSender{}, err
	}
	var line atomic.Int64
	send := func(context.Context) error {
		first := line.Add(int64(gen.lines)) - int64(gen.lines) + 1
		// A new body each time: the message stays with the publisher until acknowledged.
		_, err := js.PublishMsgAsync(rawpub.Message(gen.format, "bench-live", first, gen.body(nil, false)))
		return err
	}
	finish := func(ctx context.Context) (int, error) {
		defer func() { mu.Lock(); nacked, firstNack = 0, nil; mu.Unlock() }()
		select {
		case <-js.PublishAsyncComplete():
		case <-time.After(10 * time.Second):
			n := js.PublishAsyncPending()
			return n, fmt.Errorf("%d publishes not acknowledged 10s after the step", n)
		case <-ctx.Done():
			return js.PublishAsyncPending(), ctx.Err()
		}
		mu.Lock()
		defer mu.Unlock()
		if firstNack != nil {
			return nacked, fmt.Errorf("publish not acknowledged: %w", firstNack)
		}
		return 0, nil
	}
	return liveSender{send: send, finish: finish, close: nc.Close}, nil
}
