// Package ingest is the ingest stage: it decodes raw input from the RAW stream into
// normalized network events, applies the job's datafeed filter, and routes each event to the
// partition of its process.name on the EVENTS stream. Bad input goes to the DLQ with its
// original bytes and the reason.
//
// Replicas share one durable consumer. Each raw message is decoded on its own (a raw message
// holds whole events: auditd records pending at its end are completed there), and the
// watermark and end-of-input markers wait until every raw message before theirs is done,
// whichever replica had it (see docs/pipeline.md, "Markers").
package ingest

import (
	"bytes"
	"cmp"
	"context"
	"flag"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rarenet/rarenet/services/ingest/datafeed"
	"github.com/rarenet/rarenet/services/ingest/format"
	"github.com/rarenet/rarenet/services/sources/httpin"
	"github.com/rarenet/rarenet/shared/control"
	"github.com/rarenet/rarenet/shared/event"
	"github.com/rarenet/rarenet/shared/natsutil"
	"github.com/rarenet/rarenet/shared/partition"
	"github.com/rarenet/rarenet/shared/rawdata"
	"github.com/rarenet/rarenet/shared/service"
	"github.com/rarenet/rarenet/shared/stream"
	"github.com/rarenet/rarenet/shared/tokens"
)

// Stage is the stage's name in dead letters, status and logs.
const Stage = "ingest"

// Config configures the ingest stage.
type Config struct {
	// Datafeed names the built-in datafeed filter: rarenet (default), v1 or v3.
	Datafeed string
	// DatafeedFile is a datafeed in Elastic's JSON layout; it replaces Datafeed.
	DatafeedFile string
	// BucketSpan is the model's bucket span; ingest announces its watermark to every
	// partition each time the watermark enters a new bucket.
	BucketSpan time.Duration
	// AllowedLateness is how far behind the latest event time seen an event may be and still
	// count: the watermark is the latest event time minus this.
	AllowedLateness time.Duration
	// HTTPListen, when set, is the address of the HTTP input (POST /v1/events, see package
	// httpin) that this stage serves beside its consumer.
	HTTPListen string
	// HTTP is the HTTP input's access control: tokens, TLS, limits.
	HTTP HTTPInput
	// AckWait is how long the consumer waits for a replica's ack before delivering a raw
	// message again, to any replica: how long a dead replica's messages wait (0: natsutil.DefaultAckWait).
	AckWait time.Duration
	// Decoders is how many goroutines decode the parts of a large raw message (0: one per
	// core); the results do not depend on it.
	Decoders int
}

// RegisterFlags registers the stage's flags on fs.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.Datafeed, "datafeed", "rarenet", "datafeed filter: rarenet (both generations' vocabulary, non-network sockets and all loopback dropped), v1 or v3 (the reference's, as shipped)")
	fs.StringVar(&c.DatafeedFile, "datafeed-file", "", "datafeed file in Elastic's JSON layout (its query); replaces --datafeed")
	service.BucketSpanFlag(fs, &c.BucketSpan)
	service.AllowedLatenessFlag(fs, &c.AllowedLateness)
	fs.StringVar(&c.HTTPListen, "http-listen", "", "serve the HTTP input (POST /v1/events, NDJSON; GET /healthz) on this address, e.g. 127.0.0.1:8089; empty: none")
	c.HTTP.RegisterFlags(fs)
	service.AckWaitFlag(fs, &c.AckWait)
	fs.IntVar(&c.Decoders, "decoders", 0, "goroutines that decode the parts of a large raw message (0: one per core); results do not depend on it")
}

// Validate checks the configuration.
func (c *Config) Validate() error {
	if _, err := c.Filter(); err != nil {
		return err
	}
	if c.BucketSpan < 0 {
		return fmt.Errorf("ingest: --bucket-span must not be negative, got %s", c.BucketSpan)
	}
	if c.AllowedLateness < 0 {
		return fmt.Errorf("ingest: allowed lateness must not be negative, got %s", c.AllowedLateness)
	}
	if c.Decoders < 0 {
		return fmt.Errorf("ingest: decoders must not be negative, got %d", c.Decoders)
	}
	if c.AckWait < 0 {
		return fmt.Errorf("ingest: ack wait must not be negative, got %s", c.AckWait)
	}
	return c.HTTP.Validate(c.HTTPListen)
}

// Filter returns the datafeed filter the configuration names.
func (c *Config) Filter() (datafeed.Filter, error) {
	if c.DatafeedFile != "" {
		return datafeed.Load(c.DatafeedFile, "process.name")
	}
	return datafeed.ByName(c.Datafeed)
}

// pullBytes is how much raw input ingest buffers ahead of decoding, on a server that takes
// messages of up to maxPayload bytes: two of the largest messages, so that the next is at
// hand when one is decoded (the embedded server's 8 MiB limit: 16 MiB). A prefetch of a
// thousand raw messages of up to a megabyte each held half a gigabyte during a replay; and
// replicas share the input, so what one holds ahead the others wait for (the markers of their
// messages wait for its acks at the Barrier): with 16 MiB on a cluster's 1 MiB messages, each
// of two ingests took sixteen messages in turn.
func pullBytes(maxPayload int64) int {
	return int(2 * max(maxPayload, 1<<20))
}

// commitBytes is how much event batch data ingest publishes before it commits (waits for the
// acks, acks its raw input) even when fewer than the loop's MaxBatch raw messages were handled:
// a raw message of a replay is a megabyte of lines, so a thousand of them held ~100 MB of
// batches for their acks, live heap that grew with the input (the collector then ran back to
// back against a replay's memory budget) until ingest found its input idle.
const commitBytes = 8 << 20

// Stats counts what ingest has done. Read it with Snapshot.
type Stats struct {
	Lines, Accepted, Filtered, Rejected atomic.Int64
}

// StatsSnapshot is a copy of Stats.
type StatsSnapshot struct {
	Lines    int64 `json:"lines"`
	Accepted int64 `json:"accepted"`
	Filtered int64 `json:"filtered"`
	Rejected int64 `json:"rejected"`
}

// Snapshot copies the counters.
func (s *Stats) Snapshot() StatsSnapshot {
	return StatsSnapshot{s.Lines.Load(), s.Accepted.Load(), s.Filtered.Load(), s.Rejected.Load()}
}

func (a StatsSnapshot) plus(b StatsSnapshot) StatsSnapshot {
	return StatsSnapshot{a.Lines + b.Lines, a.Accepted + b.Accepted, a.Filtered + b.Filtered, a.Rejected + b.Rejected}
}

func (a StatsSnapshot) minus(b StatsSnapshot) StatsSnapshot {
	return StatsSnapshot{a.Lines - b.Lines, a.Accepted - b.Accepted, a.Filtered - b.Filtered, a.Rejected - b.Rejected}
}

// Service is a running ingest stage.
type Service struct {
	cfg Config
	js  jetstream.JetStream
	pub *natsutil.Publisher
	dec *Decoding
	// raw decompresses raw messages into one buffer: nothing keeps a message's text past its
	// handling (events are encoded into batches, dead letters copy their lines).
	raw        rawdata.Decoder
	log        *slog.Logger
	partitions int
	batches    []event.BatchBuilder // per partition: the events of the raw message being handled
	latest     time.Time            // the latest event time seen
	msgLatest  time.Time            // the latest event time of the raw message being handled
	marked     int64                // the bucket of the watermark last announced
	err        error                // the first publish error inside an Output callback
	stats      Stats
	httpStats  httpin.Stats
	// tokens binds the sources named in raw subjects to their host patterns (--http-tokens).
	tokens *tokens.File

	// Markers wait at a barrier: every raw message before theirs must be done (see markers.go).
	bar     *natsutil.Barrier
	waiting []held        // markers not yet published, in input order
	held    natsutil.Held // their raw messages, kept unacked until they are
	// What this replica saw of each replay, shared in the ingest bucket for the end of input.
	kv       jetstream.KeyValue
	replica  string
	shares   map[string]*share
	maxBatch int // of the loop; 0: its default
	// decoders is how many workers decode the parts of a large raw message (parallel.go).
	decoders int
	workers  []*worker
	parts    []*part // the parts of the raw message being decoded, and their outputs
	onHandle func()  // tests: called after each raw message handled

	// batchBuf holds the encoded batches published since the last commit (the last of the
	// buffers they fill); a commit whose publishes are all acknowledged frees it for the next
	// (markers.go).
	batchBuf []byte
	batchRaw []byte // a batch's encoding before compression, reused
}

// batchChunk is the size of the buffers event batches are encoded into: msgp asks for room
// for the largest encoding of a batch (~210 bytes an event, where ~60 are used), so a buffer
// holds many batches; ingest commits (and frees it) every commitBytes of them.
const batchChunk = 4 << 20

// New prepares the stage on nc. The streams must exist (stream.Ensure).
func New(ctx context.Context, cfg Config, nc *nats.Conn, log *slog.Logger) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	js, err := natsutil.JetStream(nc)
	if err != nil {
		return nil, err
	}
	p, err := stream.Partitions(ctx, js)
	if err != nil {
		return nil, err
	}
	if cfg.BucketSpan == 0 {
		// The job's span, as the scorer recorded it; the built-ins' when no scorer has yet.
		line, err := stream.RecordedLine(ctx, js)
		if err != nil {
			return nil, fmt.Errorf("ingest: %w", err)
		}
		cfg.BucketSpan = cmp.Or(line.BucketSpan, service.DefaultBucketSpan)
	}
	if err := stream.AgreeLine(ctx, js, stream.Line{BucketSpan: cfg.BucketSpan, AllowedLateness: cfg.AllowedLateness}); err != nil {
		return nil, fmt.Errorf("ingest: %w", err)
	}
	filter, err := cfg.Filter()
	if err != nil {
		return nil, err
	}
	dec, err := NewDecoding(format.Auto, filter)
	if err != nil {
		return nil, err
	}
	var tf *tokens.File
	if cfg.HTTP.Tokens != "" {
		if tf, err = tokens.Open(cfg.HTTP.Tokens, log); err != nil {
			return nil, fmt.Errorf("--http-tokens: %w", err)
		}
	}
	return &Service{
		tokens: tf,
		cfg:    cfg, js: js, pub: natsutil.NewPublisher(js), dec: dec, log: log.With("stage", Stage),
		partitions: p, batches: make([]event.BatchBuilder, p), marked: -1 << 62,
		held: natsutil.Held{}, replica: replicaID(), shares: map[string]*share{},
		decoders: cmp.Or(cfg.Decoders, defaultDecoders()),
	}, nil
}

// Stats returns the stage's counters.
func (s *Service) Stats() *Stats { return &s.stats }

// HTTPStats returns the HTTP input's counters by token name.
func (s *Service) HTTPStats() *httpin.Stats { return &s.httpStats }

// Run consumes the RAW stream until ctx is done.
func (s *Service) Run(ctx context.Context) error {
	var err error
	if s.kv, err = s.ingestBucket(ctx); err != nil {
		return err
	}
	cons, err := natsutil.DurableConsumerAckWait(ctx, s.js, stream.Raw, stream.IngestConsumer, s.cfg.AckWait)
	if err != nil {
		return err
	}
	s.bar = natsutil.NewBarrier(cons)
	s.log.Info("started", "partitions", s.partitions, "datafeed", s.dec.filter.Name, "replica", s.replica)
	if s.tokens != nil {
		watchCtx, stopWatch := context.WithCancel(ctx)
		defer stopWatch()
		go s.tokens.Watch(watchCtx)
	}
	if s.cfg.HTTPListen != "" {
		// The HTTP input is a source like any other: it publishes on RAW, which this loop
		// consumes; it lives here only so one process serves both.
		in, err := httpin.Listen(s.cfg.HTTPListen, s.js, s.cfg.HTTP.config(&s.httpStats, s.tokens), s.log)
		if err != nil {
			return err
		}
		defer in.Close()
	}
	handle := s.handle
	if s.onHandle != nil {
		handle = func(ctx context.Context, msg jetstream.Msg) error {
			err := s.handle(ctx, msg)
			s.onHandle()
			return err
		}
	}
	loop := natsutil.Loop{Consumer: cons, Handle: handle, Commit: s.commit, Retain: s.held.Retain, Release: s.release, MaxBatch: s.maxBatch, Idle: natsutil.BarrierIdle,
		PullBytes: pullBytes(s.js.Conn().MaxPayload()), Full: func() bool { return s.pub.PendingBytes() >= commitBytes },
		Throttle: natsutil.NewThrottle(s.js, stream.Events, stream.ScorerPartitionConsumers(s.partitions)...).Wait}
	return loop.Run(ctx)
}

func (s *Service) handle(ctx context.Context, msg jetstream.Msg) error {
	meta, err := msg.Metadata()
	if err != nil {
		return fmt.Errorf("ingest: message metadata: %w", err)
	}
	seq := meta.Sequence.Stream
	h := msg.Headers()
	if control.IsControl(h) {
		return s.handleControl(ctx, seq, h)
	}
	formatName := strings.TrimPrefix(msg.Subject(), stream.RawPrefix)
	source := h.Get(control.HeaderSource)
	if source == "" {
		source = msg.Subject()
	}
	line, _ := strconv.ParseInt(h.Get(control.HeaderLine), 10, 64)
	if line < 1 {
		line = 1
	}
	before := s.stats.Snapshot()
	s.msgLatest = time.Time{}
	// A subject naming its source (rarenet.raw.<format>.<source>) binds the lines to the
	// source's host patterns, or dead-letters the message whole.
	formatName, source, bound := s.bindSource(formatName, source, line, msg.Data())
	defer s.dec.SetHosts(nil)
	defer s.dec.SetAuthSource("")
	var data []byte
	if bound {
		var err error
		if data, err = s.raw.Data(h, msg.Data()); err != nil {
			// The whole message is lost to decoding: it is dead-lettered as it came.
			s.stats.Lines.Add(1)
			s.Reject(format.Result{Source: source, Line: line, Format: formatName, Raw: msg.Data(), Err: err})
			data = nil
		}
	}
	if s.parallel(formatName, source, line, data) {
		data = nil
	}
	for len(data) > 0 {
		l := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			l, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		l = bytes.TrimSuffix(l, []byte{'\r'})
		s.stats.Lines.Add(1)
		s.dec.Line(formatName, source, line, l, s)
		line++
	}
	// A raw message holds whole events (sources cut auditd logs between events), so what is
	// pending at its end is complete: it goes out with this message, and is acked with it,
	// whichever replica handles the next message of the source.
	s.dec.Complete(s)
	c := s.contribution(h.Get(control.HeaderReplay), before)
	if err := s.publishBatches("raw-" + strconv.FormatUint(seq, 10)); err != nil {
		return err
	}
	return s.markWatermark(ctx, seq, c)
}

// handleControl completes pending input at the end of a replay; the end-of-input marker
// follows on every partition once every raw message before it is done.
func (s *Service) handleControl(ctx context.Context, seq uint64, h nats.Header) error {
	m, err := control.Parse(h)
	if err != nil || m.Kind != control.KindEOF {
		if err != nil {
			s.log.Warn("ignoring control message", "err", err)
		}
		s.bar.Done(seq)
		return nil
	}
	before := s.stats.Snapshot()
	s.msgLatest = time.Time{}
	s.dec.Flush(s)
	c := s.contribution(m.Replay, before)
	if err := s.publishBatches("eof-" + m.Replay); err != nil {
		return err
	}
	return s.hold(ctx, held{seq: seq, eof: &m, share: c})
}

// publishBatches sends each partition's events as one event batch (event.Batch). idBase
// makes the message ids deterministic, so a redelivered raw message is de-duplicated by
// JetStream.
func (s *Service) publishBatches(idBase string) error {
	if s.err != nil {
		return s.err
	}
	for p := range s.batches {
		bb := &s.batches[p]
		if bb.Len() == 0 {
			continue
		}
		var err error
		s.batchRaw, err = bb.AppendMsg(s.batchRaw[:0])
		bb.Reset()
		if err != nil {
			return fmt.Errorf("ingest: encode the events of partition %d: %w", p, err)
		}
		// Batches go one after another in batchBuf until the commit, S2-compressed (rawdata):
		// the publisher keeps each message until it is acknowledged, and may publish it again
		// until then. A full buffer stays with the messages in it, and a new one is started:
		// growing it would copy them.
		if need := rawdata.MaxAppend(len(s.batchRaw)); cap(s.batchBuf)-len(s.batchBuf) < need {
			s.batchBuf = make([]byte, 0, max(batchChunk, need))
		}
		start := len(s.batchBuf)
		data, compressed := rawdata.Append(s.batchBuf, s.batchRaw)
		s.batchBuf = data
		m := nats.NewMsg(stream.EventsSubject(p))
		m.Data = data[start:len(data):len(data)] // a later batch may grow batchBuf: this one keeps its bytes
		if compressed {
			rawdata.Mark(m)
		}
		if err := s.pub.Publish(m, idBase+"-"+strconv.Itoa(p)); err != nil {
			return err
		}
	}
	return nil
}

// markWatermark announces the watermark when event time has entered a new bucket with the raw
// message seq. The watermark is this replica's: the latest event time it has seen up to this
// message, minus the allowed lateness. One ingest alone would have seen at least as much, so
// it would have announced at least this; with the barrier, no event becomes late that would
// not be late with one ingest.
func (s *Service) markWatermark(ctx context.Context, seq uint64, c contribution) error {
	var watermark time.Time
	bucket := s.marked
	if !s.latest.IsZero() {
		watermark = s.latest.Add(-s.cfg.AllowedLateness)
		bucket = watermark.UnixNano() / int64(s.cfg.BucketSpan)
	}
	if bucket <= s.marked {
		s.account(c)
		s.bar.Done(seq)
		return nil
	}
	s.marked = bucket
	return s.hold(ctx, held{seq: seq, watermark: watermark, share: c})
}

// Accept implements Output: the event joins its partition's batch.
func (s *Service) Accept(ev *event.Event) {
	s.stats.Accepted.Add(1)
	s.batches[partition.Of(ev.Process.Name, s.partitions)].Add(ev)
	if ev.Timestamp.After(s.latest) {
		s.latest = ev.Timestamp
	}
	if ev.Timestamp.After(s.msgLatest) {
		s.msgLatest = ev.Timestamp
	}
}

// Filtered implements Output: filtered events are counted, not forwarded.
func (s *Service) Filtered(*event.Event, string) { s.stats.Filtered.Add(1) }

// Reject implements Output: the original bytes go to the DLQ with the reason.
func (s *Service) Reject(r format.Result) {
	s.stats.Rejected.Add(1)
	reason := "malformed"
	if r.Err != nil {
		reason = r.Err.Error()
	}
	// The reason names the place too, so it reads on its own wherever it is shown.
	reason = fmt.Sprintf("%s:%d: %s", r.Source, r.Line, reason)
	dl := natsutil.DeadLetter{Stage: Stage, Reason: reason, Source: r.Source, Line: r.Line, Format: r.Format,
		AuthSource: s.dec.authSource, Data: bytes.Clone(r.Raw)}
	if err := s.pub.Publish(dl.Msg(stream.DLQSubject(Stage)), ""); err != nil && s.err == nil {
		s.err = fmt.Errorf("ingest: dead letter: %w", err)
	}
}
