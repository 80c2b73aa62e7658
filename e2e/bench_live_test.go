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
	"github.com/rarenet/rarenet/services/ingest/rawpub"
	"github.com/rarenet/rarenet/shared/natsutil"
	"github.com/rarenet/rarenet/shared/stream"
)

// The live benchmark's load: bodies of liveLines ECS lines, sent by liveWorkers at once.
const (
	liveLines   = 1000
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
// (3 nodes, R3, two of every stage on the wall clock, ingest serving HTTP) take ECS events with
// current timestamps through POST /v1/events (NDJSON bodies of 1000 lines) and through
// rarenet.raw.ecs (JetStream async publishes of 1000-line messages), at steady rates stepped
// up (BENCH_LIVE_RATES, each held BENCH_LIVE_STEP). A rate is sustained when the input takes
// it (95% or more sent, no request or publish refused) while the consumer lag stays bounded:
// the RAW consumer's and the scorer's EVENTS consumers' undelivered messages (NumPending) stay
// under their limits and do not grow across the step. It reports the highest rate sustained
// for each pipeline and input; each ramp runs on a fresh pipeline and stops at the first rate
// not sustained.
//
//	make bench    (or: cd e2e && go test -run '^$' -bench 'BenchmarkLive$' -benchtime 1x -v .)
func BenchmarkLive(b *testing.B) {
	skipShort(b)
	env := loadBenchEnv(b)
	bin := benchBinaries(b)
	gen := newLiveLoad(b)
	b.Logf("live: rates %v events/s, %s each; sustained = >= %.0f%% of the rate sent, nothing refused, RAW pending <= %ds of input "+
		"(rate x %d / %d lines per message), EVENTS pending (all scorer consumers) <= %d messages, neither growing across the step "+
		"(growing: every sample of the last quarter above every sample of the first quarter and above a tenth of the limit)",
		env.liveRates, env.liveStep, liveMinAchieved*100, liveRawLagSeconds, liveRawLagSeconds, liveLines, liveEventsLag)

	for range b.N {
		type ramp struct {
			pipeline, input string
			steps           []liveStep
		}
		var ramps []ramp
		for _, pipeline := range []string{"all-in-one", "cluster"} {
			for _, input := range []string{"http", "nats"} {
				p := startLivePipeline(b, bin, pipeline == "cluster")
				steps := p.ramp(b, gen, input, env)
				p.close()
				ramps = append(ramps, ramp{pipeline, input, steps})
			}
		}
		b.Logf("live throughput (highest rate sustained %s; each ramp on a fresh pipeline):", env.liveStep)
		for _, r := range ramps {
			best, next := 0, ""
			for _, s := range r.steps {
				if s.ok {
					best = s.rate
				} else {
					next = fmt.Sprintf("; %s/s not sustained: %s", thousands(float64(s.rate)), s.why())
				}
			}
			if next == "" {
				next = "; the highest rate tried: set BENCH_LIVE_RATES to go further"
			}
			where := map[string]string{"http": "POST /v1/events", "nats": "rarenet.raw.ecs (JetStream)"}[r.input]
			b.Logf("  %-11s %-28s %s events/s%s", r.pipeline+",", where+":", thousands(float64(best)), next)
			b.ReportMetric(float64(best), r.pipeline+"-"+r.input+"-events/s")
		}
	}
}

// liveLoad makes request bodies of ECS lines from the default fleet's history with the
// current time as @timestamp: each line is kept as the text before and after its timestamp.
type liveLoad struct {
	before, after [][]byte
	next          atomic.Int64
}

// liveStamp stands for the timestamp in the generated lines; it is cut out of each.
var liveStamp = time.Date(1999, 12, 31, 23, 59, 59, 0, time.UTC)

func newLiveLoad(b *testing.B) *liveLoad {
	b.Helper()
	spec := history.Default()
	spec.Days = 1
	events := history.Events(spec)
	for i := range events {
		events[i].Time = liveStamp
	}
	var buf bytes.Buffer
	if err := history.WriteECS(&buf, events); err != nil {
		b.Fatal(err)
	}
	stamp := []byte(liveStamp.Format(time.RFC3339Nano))
	l := &liveLoad{}
	for line := range bytes.Lines(buf.Bytes()) {
		before, after, ok := bytes.Cut(bytes.TrimSuffix(line, []byte{'\n'}), stamp)
		if !ok {
			b.Fatalf("no timestamp %s in the generated line %s", stamp, line)
		}
		l.before, l.after = append(l.before, before), append(l.after, after)
	}
	return l
}

// body appends liveLines lines stamped now to dst, each ended by a newline unless last is
// false for the final one (a raw message carries no final newline).
func (l *liveLoad) body(dst []byte, finalNewline bool) []byte {
	stamp := time.Now().UTC().Format(time.RFC3339Nano)
	first := int(l.next.Add(liveLines)) - liveLines
	for k := range liveLines {
		i := (first + k) % len(l.before)
		dst = append(dst, l.before[i]...)
		dst = append(dst, stamp...)
		dst = append(dst, l.after[i]...)
		if k < liveLines-1 || finalNewline {
			dst = append(dst, '\n')
		}
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
		"--http-listen", "127.0.0.1:"+strconv.Itoa(httpPort), "--data-dir", b.TempDir())
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
		s := runLiveStep(b, mon, rate, env.liveStep, snd)
		b.Logf("  %s, %s: %s", p.name, input, s)
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
func runLiveStep(b *testing.B, js jetstream.JetStream, rate int, d time.Duration, snd liveSender) liveStep {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d+time.Minute)
	defer cancel()
	s := liveStep{rate: rate, rawLimit: uint64(max(rate*liveRawLagSeconds/liveLines, 10)), eventsLimit: liveEventsLag}
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
				sent.Add(liveLines)
			}
		})
	}
	sampleEvery := min(time.Second, d/10)
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
			raw, events, err := consumerLag(ctx, js)
			if err != nil {
				errOnce.Do(func() { s.firstErr = "reading the consumers' lag: " + err.Error() })
				continue
			}
			s.raw, s.events = append(s.raw, raw), append(s.events, events)
		}
	}()
	// Bodies are due at fixed times from the start, so a late one does not shift the rest; a
	// body due while every worker is busy is not sent: the input did not take the rate.
	interval := time.Duration(float64(time.Second) * liveLines / float64(rate))
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
	s.ok = s.achieved >= liveMinAchieved*float64(rate) && s.refused == 0 && len(s.raw) >= 4 &&
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

// consumerLag returns the undelivered messages of the ingest consumer on RAW and of the
// scorer's partition consumers on EVENTS, together.
func consumerLag(ctx context.Context, js jetstream.JetStream) (raw, events uint64, err error) {
	c, err := js.Consumer(ctx, stream.Raw, stream.IngestConsumer)
	if err != nil {
		return 0, 0, fmt.Errorf("consumer %s on %s: %w", stream.IngestConsumer, stream.Raw, err)
	}
	info, err := c.Info(ctx)
	if err != nil {
		return 0, 0, err
	}
	raw = info.NumPending
	s, err := js.Stream(ctx, stream.Events)
	if err != nil {
		return 0, 0, err
	}
	for ci := range s.ListConsumers(ctx).Info() {
		if strings.HasPrefix(ci.Name, "scorer-") {
			events += ci.NumPending
		}
	}
	return raw, events, nil
}

// liveSender sends one body of liveLines lines per call of send; finish ends a step and
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
		url := urls[int(turn.Add(1))%len(urls)] + "/v1/events?format=ecs"
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
		if resp.StatusCode != http.StatusAccepted || json.Unmarshal(body, &r) != nil || r.Accepted != liveLines {
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
		first := line.Add(liveLines) - liveLines + 1
		// A new body each time: the message stays with the publisher until acknowledged.
		_, err := js.PublishMsgAsync(rawpub.Message("ecs", "bench-live", first, gen.body(nil, false)))
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
