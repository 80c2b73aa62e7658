package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/time/rate"

	"github.com/rarenet/rarenet/shared/natsutil"
	"github.com/rarenet/rarenet/shared/stream"
)

// Defaults of a destination's delivery.
const (
	DefaultMaxAttempts = 5
	DefaultBackoff     = time.Second
	DefaultMaxBackoff  = time.Minute
	DefaultTimeout     = 30 * time.Second
	// maxDigest bounds the signals of one digest message: a rule run's max_signals (100).
	maxDigest = 100
	// maxAckPending bounds the signals held at once (waiting for a digest, a rate limit or a
	// retry); each destination's queue holds at most one item per held signal.
	maxAckPending = 1000
)

// HeaderDestination names, on a dead letter, the destination that gave the signal up.
const HeaderDestination = "Rarenet-Destination"

// Notifier delivers signals to destinations. Build it with New; Run reads rarenet.signals.
type Notifier struct {
	cfg     *Config
	dests   []*destination
	routes  []*route
	log     *slog.Logger
	metrics *Metrics
	kv      jetstream.KeyValue
	js      jetstream.JetStream
	// holding maps the messages being delivered to their pending state (jetstream.Msg to
	// *pending); the loop keeps them unacknowledged while they are in it.
	holding sync.Map
}

// destination is a destination at run time: its sender, limits, templates per route, and
// the queue its worker reads.
type destination struct {
	name, kind  string
	url         string // redacted
	sender      Sender
	limiter     *rate.Limiter
	maxAttempts int
	backoff     time.Duration
	maxBackoff  time.Duration
	timeout     time.Duration
	templates   map[string]*templates // by route name
	queue       chan *item
}

// pending is a signal being delivered: acknowledged once every destination it is routed to
// has it (or has dead-lettered it).
type pending struct {
	msg       jetstream.Msg
	sig       *Signal
	received  time.Time
	remaining atomic.Int32
}

// item is a pending signal on its way to one destination through one route.
type item struct {
	p     *pending
	route *route
}

// New builds a notifier from its configuration: it reads the destinations' secrets, parses
// every template and renders each once with a sample signal, so a template error stops the
// start, not a delivery.
func New(cfg *Config, log *slog.Logger, m *Metrics) (*Notifier, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if m == nil {
		m = NewMetrics()
	}
	n := &Notifier{cfg: cfg, log: log, metrics: m}
	for i := range cfg.Routes {
		n.routes = append(n.routes, &route{RouteConfig: cfg.Routes[i]})
	}
	sample, err := SampleSignal(cfg.ConsoleURL)
	if err != nil {
		return nil, err
	}
	for i := range cfg.Destinations {
		dc := &cfg.Destinations[i]
		d, err := newDestination(dc, n.routes, sample)
		if err != nil {
			n.Close()
			return nil, fmt.Errorf("%w: destination %s: %w", ErrConfig, dc.Name, err)
		}
		n.dests = append(n.dests, d)
	}
	return n, nil
}

func newDestination(dc *DestinationConfig, routes []*route, sample *Signal) (*destination, error) {
	raw, err := dc.resolveURL()
	if err != nil {
		return nil, err
	}
	kind, err := kindOf(raw)
	if err != nil {
		return nil, err
	}
	d := &destination{name: dc.Name, kind: kind, url: redact(raw), templates: map[string]*templates{},
		maxAttempts: cmp(dc.MaxAttempts, DefaultMaxAttempts), backoff: cmp(dc.Backoff, DefaultBackoff),
		maxBackoff: cmp(dc.MaxBackoff, DefaultMaxBackoff), timeout: cmp(dc.Timeout, DefaultTimeout),
		queue: make(chan *item, maxAckPending+1)}
	if dc.Rate != "" {
		lim, _ := parseRate(dc.Rate) // checked by Validate
		d.limiter = rate.NewLimiter(lim, max(dc.Burst, 1))
	}
	for _, r := range routes {
		if !slices.Contains(r.To, dc.Name) {
			continue
		}
		t, err := parseTemplates(kind, dc, &r.RouteConfig)
		if err != nil {
			return nil, err
		}
		if err := t.render(kind, &Message{Key: sample.ID, Signals: []*Signal{sample}, Route: r.Name}, dc.Name); err != nil {
			return nil, fmt.Errorf("route %s: %w", r.Name, err)
		}
		d.templates[r.Name] = t
	}
	if d.sender, err = NewSender(dc); err != nil {
		return nil, err
	}
	return d, nil
}

func cmp[T int | time.Duration](v, def T) T {
	if v > 0 {
		return v
	}
	return def
}

// Close releases the destinations' connections.
func (n *Notifier) Close() {
	for _, d := range n.dests {
		if d.sender != nil {
			_ = d.sender.Close()
		}
	}
}

// Destinations lists the destinations as name and redacted URL, for the start-up log.
func (n *Notifier) Destinations() []string {
	out := make([]string, len(n.dests))
	for i, d := range n.dests {
		out[i] = d.name + "=" + d.url
	}
	return out
}

// RunOptions are the notifier's settings beyond the configuration file.
type RunOptions struct {
	// AckWait is how long a signal held by a notifier that died waits before it is delivered
	// again (to this notifier restarted, or another replica).
	AckWait time.Duration
	// DeliverAll makes a new consumer start at the first signal of the stream instead of the
	// next one published. An existing consumer resumes where it was.
	DeliverAll bool
	// SentTTL is how long a confirmed delivery is remembered.
	SentTTL time.Duration
}

// Run reads rarenet.signals through the durable consumer NotifyConsumer and delivers each
// signal until ctx is done.
func (n *Notifier) Run(ctx context.Context, nc *nats.Conn, o RunOptions) error {
	js, err := natsutil.JetStream(nc)
	if err != nil {
		return err
	}
	n.js = js
	if o.SentTTL <= 0 {
		o.SentTTL = 30 * 24 * time.Hour
	}
	signals, err := n.waitForSignals(ctx, js)
	if err != nil {
		return err
	}
	// The bucket is stored and replicated as the signals it remembers.
	sc := signals.CachedInfo().Config
	streams := stream.Config{Replicas: sc.Replicas, Memory: sc.Storage == jetstream.MemoryStorage}
	err = stream.EnsureKeyValue(ctx, js, streams, jetstream.KeyValueConfig{
		Bucket:      stream.NotifyBucket,
		Description: "signals each destination of the notifier confirmed",
		TTL:         o.SentTTL,
	})
	if err != nil {
		return fmt.Errorf("notify: %w", err)
	}
	if n.kv, err = js.KeyValue(ctx, stream.NotifyBucket); err != nil {
		return fmt.Errorf("notify: %s: %w", stream.NotifyBucket, err)
	}
	cons, err := n.consumer(ctx, js, o)
	if err != nil {
		return err
	}
	workers, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan struct{}, len(n.dests))
	for _, d := range n.dests {
		go func() { n.work(workers, d); done <- struct{}{} }()
	}
	defer func() {
		cancel()
		for range n.dests {
			<-done
		}
	}()
	n.log.Info("notifier running", "destinations", strings.Join(n.Destinations(), " "), "routes", len(n.routes))
	loop := &natsutil.Loop{
		Consumer: cons,
		Handle:   n.handle,
		// A signal stays unacknowledged, reported in progress, until every destination has it.
		Retain:   func(m jetstream.Msg) bool { return n.held(m) },
		MaxBatch: 100,
	}
	return loop.Run(ctx)
}

// waitForSignals waits for the SIGNALS stream, which the pipeline's stages create.
func (n *Notifier) waitForSignals(ctx context.Context, js jetstream.JetStream) (jetstream.Stream, error) {
	for logged := false; ; {
		s, err := js.Stream(ctx, stream.Signals)
		if err == nil {
			return s, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if !logged {
			n.log.Info("waiting for the signals stream", "stream", stream.Signals, "err", err)
			logged = true
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// consumer creates or updates the notifier's durable consumer. An existing consumer keeps
// its deliver policy: it resumes where it was.
func (n *Notifier) consumer(ctx context.Context, js jetstream.JetStream, o RunOptions) (jetstream.Consumer, error) {
	cfg := jetstream.ConsumerConfig{
		Durable:        stream.NotifyConsumer,
		Description:    "rarenet notifier: signals to destinations",
		AckPolicy:      jetstream.AckExplicitPolicy,
		AckWait:        cmp(o.AckWait, natsutil.DefaultAckWait),
		MaxAckPending:  maxAckPending,
		DeliverPolicy:  jetstream.DeliverNewPolicy,
		FilterSubjects: []string{stream.SignalsSubject},
	}
	if o.DeliverAll {
		cfg.DeliverPolicy = jetstream.DeliverAllPolicy
	}
	var c jetstream.Consumer
	err := natsutil.Retry(ctx, func(ctx context.Context) error {
		if old, err := js.Consumer(ctx, stream.Signals, stream.NotifyConsumer); err == nil {
			cfg.DeliverPolicy = old.CachedInfo().Config.DeliverPolicy
			cfg.OptStartSeq, cfg.OptStartTime = old.CachedInfo().Config.OptStartSeq, old.CachedInfo().Config.OptStartTime
		}
		var err error
		c, err = js.CreateOrUpdateConsumer(ctx, stream.Signals, cfg)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("notify: consumer %s on %s: %w", stream.NotifyConsumer, stream.Signals, err)
	}
	return c, nil
}

// handle routes one signal: to each destination of the first matching route naming it.
func (n *Notifier) handle(ctx context.Context, msg jetstream.Msg) error {
	n.metrics.Signals.Inc()
	sig, err := ParseSignal(msg.Data())
	if err != nil {
		n.metrics.Rejected.Inc()
		n.log.Warn("not a signal: dead-lettered", "err", err)
		return n.deadLetter(ctx, stream.NotifyRejectSubject, "", msg.Data(), err.Error(), "")
	}
	sig.ConsoleLink = consoleLink(n.cfg.ConsoleURL, sig.ID)
	p := &pending{msg: msg, sig: sig, received: time.Now()}
	type target struct {
		d  *destination
		it *item
	}
	var targets []target
	for _, r := range n.routes {
		if !r.matches(sig) {
			continue
		}
		for _, d := range n.dests {
			if slices.Contains(r.To, d.name) && !slices.ContainsFunc(targets, func(t target) bool { return t.d == d }) {
				targets = append(targets, target{d, &item{p: p, route: r}})
			}
		}
	}
	if len(targets) == 0 {
		n.metrics.Unrouted.Inc()
		return nil
	}
	p.remaining.Store(int32(len(targets)))
	n.holding.Store(msg, p)
	for _, t := range targets {
		t.d.queue <- t.it // never blocks: a queue holds up to maxAckPending items
	}
	return nil
}

// held reports whether a message is still being delivered.
func (n *Notifier) held(m jetstream.Msg) bool {
	_, ok := n.holding.Load(m)
	return ok
}

// finish records that one destination is done with a signal (confirmed or dead-lettered);
// the last one lets the loop acknowledge it.
func (n *Notifier) finish(p *pending) {
	if p.remaining.Add(-1) == 0 {
		n.holding.Delete(p.msg)
	}
}

// work delivers the items of one destination in order: at once, or gathered into a digest
// per route and rule run.
func (n *Notifier) work(ctx context.Context, d *destination) {
	type batch struct {
		route *route
		items []*item
		due   time.Time
	}
	var batches []*batch
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		next := time.Hour
		if len(batches) > 0 {
			next = time.Until(batches[0].due)
		}
		timer.Reset(max(next, 0))
		select {
		case <-ctx.Done():
			return
		case it := <-d.queue:
			if it.route.Digest <= 0 {
				n.deliver(ctx, d, it.route, []*item{it})
				continue
			}
			i := slices.IndexFunc(batches, func(b *batch) bool {
				s := b.items[0].p.sig
				return b.route == it.route && s.RuleID == it.p.sig.RuleID && s.RuleRun == it.p.sig.RuleRun
			})
			if i < 0 {
				batches = append(batches, &batch{route: it.route, due: time.Now().Add(it.route.Digest)})
				i = len(batches) - 1
			}
			b := batches[i]
			b.items = append(b.items, it)
			if len(b.items) >= maxDigest {
				batches = slices.Delete(batches, i, i+1)
				n.deliver(ctx, d, b.route, b.items)
			}
		case <-timer.C:
			for len(batches) > 0 && !time.Now().Before(batches[0].due) {
				b := batches[0]
				batches = batches[1:]
				n.deliver(ctx, d, b.route, b.items)
			}
		}
	}
}

// digestNamespace is the uuid v5 namespace of digest idempotency keys. Never change it.
var digestNamespace = uuid.MustParse("6b1e3c52-8d4f-5a17-9e20-3f7c1d9a4b68")

// messageKey is a message's idempotency key: the signal's id, or a uuid v5 of a digest's
// sorted ids (the same digest made again after a restart gets the same key).
func messageKey(sigs []*Signal) string {
	if len(sigs) == 1 {
		return sigs[0].ID
	}
	ids := make([]string, len(sigs))
	for i, s := range sigs {
		ids[i] = s.ID
	}
	slices.Sort(ids)
	return uuid.NewSHA1(digestNamespace, []byte(strings.Join(ids, ","))).String()
}

// sentKey is the key of a confirmed delivery in NotifyBucket.
func sentKey(destination, id string) string { return "sent." + destination + "." + id }

// deliver sends one message (a signal or a digest) to d: skipping what d confirmed before,
// waiting for the rate limit, retrying with backoff, and dead-lettering after the last
// attempt or a permanent failure. It returns when every item is finished, or when ctx is done
// (the items then stay unacknowledged and come again).
func (n *Notifier) deliver(ctx context.Context, d *destination, r *route, items []*item) {
	var todo []*item
	for _, it := range items {
		if n.confirmed(ctx, d.name, it.p.sig.ID) {
			n.metrics.Skipped.WithLabelValues(d.name).Inc()
			n.finish(it.p)
			continue
		}
		todo = append(todo, it)
	}
	if len(todo) == 0 {
		return
	}
	m := &Message{Route: r.Name}
	for _, it := range todo {
		m.Signals = append(m.Signals, it.p.sig)
	}
	m.Key = messageKey(m.Signals)
	log := n.log.With("destination", d.name, "key", m.Key, "signals", len(m.Signals))
	if err := d.templates[r.Name].render(d.kind, m, d.name); err != nil {
		n.giveUp(ctx, d, todo, fmt.Errorf("%w: %w", ErrPermanent, err), log)
		return
	}
	wait := d.backoff
	for attempt := 1; ; attempt++ {
		if d.limiter != nil {
			if err := d.limiter.Wait(ctx); err != nil {
				return
			}
		}
		actx, cancel := context.WithTimeout(ctx, d.timeout)
		began := time.Now()
		err := d.sender.Send(actx, m)
		cancel()
		if err == nil {
			n.metrics.Latency.WithLabelValues(d.name).Observe(time.Since(began).Seconds())
			break
		}
		if ctx.Err() != nil {
			return
		}
		n.metrics.Failed.WithLabelValues(d.name).Inc()
		if errors.Is(err, ErrPermanent) || attempt >= d.maxAttempts {
			n.giveUp(ctx, d, todo, fmt.Errorf("attempt %d of %d: %w", attempt, d.maxAttempts, err), log)
			return
		}
		var ra *retryAfterError
		pause := wait/2 + rand.N(wait/2+1) // jitter: replicas and destinations do not retry in step
		if errors.As(err, &ra) {
			pause = min(ra.after, d.maxBackoff)
		}
		log.Warn("delivery failed: retrying", "attempt", attempt, "in", pause.String(), "err", err)
		n.metrics.Retried.WithLabelValues(d.name).Inc()
		select {
		case <-ctx.Done():
			return
		case <-time.After(pause):
		}
		wait = min(2*wait, d.maxBackoff)
	}
	n.metrics.Messages.WithLabelValues(d.name).Inc()
	for _, it := range todo {
		n.remember(ctx, d.name, it.p.sig.ID, log)
		n.metrics.Sent.WithLabelValues(d.name).Inc()
		n.metrics.Delay.WithLabelValues(d.name).Observe(time.Since(it.p.received).Seconds())
		n.finish(it.p)
	}
	log.Debug("delivered")
}

// confirmed reports whether d confirmed the signal before. A bucket that cannot be read
// counts as not confirmed: sending twice is better than not at all.
func (n *Notifier) confirmed(ctx context.Context, destination, id string) bool {
	var found bool
	_ = natsutil.Retry(ctx, func(ctx context.Context) error {
		_, err := n.kv.Get(ctx, sentKey(destination, id))
		found = err == nil
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			return nil
		}
		return err
	})
	return found
}

// remember records a confirmed delivery. A failure is logged: the signal is acknowledged all
// the same, so only a redelivery of it (a crash before the acknowledgement) could send it
// again.
func (n *Notifier) remember(ctx context.Context, destination, id string, log *slog.Logger) {
	err := natsutil.Retry(ctx, func(ctx context.Context) error {
		_, err := n.kv.Put(ctx, sentKey(destination, id), []byte(time.Now().UTC().Format(time.RFC3339Nano)))
		return err
	})
	if err != nil && ctx.Err() == nil {
		log.Error("could not remember a confirmed delivery", "id", id, "err", err)
	}
}

// giveUp puts each signal of a failed message on the destination's dead-letter subject, with
// the original bytes and the reason, and finishes it. A dead letter that cannot be stored is
// tried again until it is, or until ctx is done: the signal is never acknowledged without it.
func (n *Notifier) giveUp(ctx context.Context, d *destination, items []*item, reason error, log *slog.Logger) {
	log.Error("delivery given up: dead-lettered", "subject", stream.NotifyDLQSubject(d.name), "err", reason)
	for _, it := range items {
		for {
			err := n.deadLetter(ctx, stream.NotifyDLQSubject(d.name), d.name, it.p.sig.Raw, reason.Error(), it.p.sig.ID)
			if err == nil {
				break
			}
			if ctx.Err() != nil {
				return
			}
			log.Error("could not store a dead letter: trying again", "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Second):
			}
		}
		n.metrics.DeadLetters.WithLabelValues(d.name).Inc()
		n.finish(it.p)
	}
}

// deadLetter stores the original bytes on subject with the reason. The message id makes a
// second dead letter of the same signal for the same destination (after a restart) a
// duplicate JetStream drops.
func (n *Notifier) deadLetter(ctx context.Context, subject, destination string, data []byte, reason, id string) error {
	msg := natsutil.DeadLetter{Stage: stream.NotifyStage, Reason: reason, Data: data}.Msg(subject)
	var opts []jetstream.PublishOpt
	if destination != "" {
		msg.Header.Set(HeaderDestination, destination)
		opts = append(opts, jetstream.WithMsgID("notify-"+destination+"-"+id))
	}
	return natsutil.Retry(ctx, func(ctx context.Context) error {
		_, err := n.js.PublishMsg(ctx, msg, opts...)
		return err
	})
}
