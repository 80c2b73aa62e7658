package rarenet

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rarenet/rarenet/services/ingest"
	"github.com/rarenet/rarenet/services/ingest/format/formats"
	"github.com/rarenet/rarenet/services/ingest/format/jsondoc"
	"github.com/rarenet/rarenet/services/scorer"
	"github.com/rarenet/rarenet/services/sources/chunk"
	"github.com/rarenet/rarenet/services/sources/rawpub"
	"github.com/rarenet/rarenet/services/windower"
	"github.com/rarenet/rarenet/shared/control"
	"github.com/rarenet/rarenet/shared/natsutil"
	"github.com/rarenet/rarenet/shared/rawdata"
	"github.com/rarenet/rarenet/shared/stream"
)

// Limits of the replay driver's raw messages: many lines per message keeps JetStream's
// per-message cost off the hot path. Every raw message costs the pipeline more than its
// lines: a batch and a watermark per partition from ingest, a close per partition from the
// scorer. 4 MiB messages (where the server takes them) replayed the 28-day ECS history in
// ~20% less time than 1 MiB ones, 8 MiB no faster (docs/performance.md, item 14).
const (
	chunkLines   = 65536
	chunkBytes   = 4 << 20
	maxLineBytes = 4 << 20
)

// chunkLimits are the bounds of a replay's raw messages (tests make them small): lines, and
// bytes of them; a line longer than line is not sent. packed, when set, is the most bytes of
// lines a message may carry when S2 brings it under bytes (see packer).
type chunkLimits struct{ lines, bytes, line, packed int }

// chunk returns the limits of the chunks cut before packing.
func (l chunkLimits) chunk() chunk.Limits {
	return chunk.Limits{Lines: l.lines, Bytes: l.bytes, Line: l.line}
}

var defaultChunkLimits = chunkLimits{chunkLines, chunkBytes, maxLineBytes, 0}

// limitsFor returns the chunk limits for a server that takes messages of at most maxPayload
// bytes (headers included): a standalone nats-server takes 1 MiB by default, the embedded one
// 8 MiB. Lines longer than a message are dead letters. Where a message of chunkBytes does not
// fit, messages still carry up to chunkBytes of lines when they compress to fit.
func limitsFor(maxPayload int64) chunkLimits {
	room := int(maxPayload) - 4<<10 // the headers: source, line, replay id
	if maxPayload <= 0 || room < 64<<10 {
		return defaultChunkLimits
	}
	l := chunkLimits{lines: chunkLines, bytes: min(chunkBytes, room), line: min(maxLineBytes, room)}
	if room < chunkBytes {
		l.packed = chunkBytes
	}
	return l
}

// errWontFit is send's refusal of a chunk that does not compress under the message size.
var errWontFit = errors.New("compressed chunk larger than a message")

// packer sizes the chunks of lines so that compressed they fill a message: a server's 1 MiB
// max_payload holds several MiB of log lines once S2 has them, and every message costs the
// pipeline more than its lines. The next chunk may hold what the last one's ratio says fits
// in three quarters of a message. One that does not fit after all is cut again into chunks of
// at most a message's bytes, which fit uncompressed.
type packer struct {
	limits    chunkLimits
	c         *chunk.Reader
	auditdLog bool
}

// sent adapts the chunk size to a chunk of n bytes of lines that went out in wire bytes.
func (p *packer) sent(n, wire int) {
	if p.limits.packed == 0 || wire <= 0 {
		return
	}
	next := int(float64(n) * 0.75 * float64(p.limits.bytes) / float64(wire))
	p.c.SetBytes(max(p.limits.bytes, min(next, p.limits.packed)))
}

// recut sends a chunk that did not fit as chunks of at most a message's bytes, and starts
// the sizing again from there.
func (p *packer) recut(ch chunk.Chunk, send func(chunk.Chunk) error) error {
	p.c.SetBytes(p.limits.bytes)
	l := p.limits
	sub := chunk.NewReader(bufio.NewReaderSize(bytes.NewReader(ch.Data), l.bytes+1), l.chunk(), p.auditdLog)
	sub.SetLine(ch.FirstLine)
	for {
		sc, err := sub.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := send(sc); err != nil {
			return err
		}
	}
}

// The driver publishes at most aheadLimit raw messages and aheadBytes ahead of ingest: a
// replay of a month of logs then holds a few megabytes in the RAW stream, not the whole
// input, and its memory does not grow with the input.
const (
	flushEvery = 16
	aheadLimit = 256
	aheadBytes = 32 << 20
)

// DriverStage names the replay's driver on the dead letters it writes itself (lines too long
// for a message: their first 64 KiB are kept).
const DriverStage = "replay"

// ErrNoEOF is returned when the pipeline never reported the end of a replay.
var ErrNoEOF = errors.New("the pipeline did not report the end of the input")

// inputError is a failure to read the input (a file that cannot be opened, a truncated
// gzip): the replay stops reading, finishes what it sent and writes its signals, then
// reports it.
type inputError struct{ err error }

func (e *inputError) Error() string { return e.err.Error() }
func (e *inputError) Unwrap() error { return e.err }

// ReplayOptions configures a replay.
type ReplayOptions struct {
	Pipeline Options
	// Files are the inputs, "-" for standard input.
	Files []string
	// Format is auto, ecs or auditd.
	Format string
	// Stdin is read for "-".
	Stdin io.Reader
	// Out receives the signals, one JSON document per line.
	Out io.Writer
	// Progress, when not nil, is told of bytes read (a progress bar).
	Progress Progress
	// Timeout bounds the wait for the pipeline after the input is sent (0: no bound).
	Timeout time.Duration
	// Log receives the stages' logs; nil discards them.
	Log *slog.Logger
	// Rejects, when not nil, is told of the rejected input lines with their reasons once the
	// replay is done: the first of each kind, then how many more there were.
	Rejects io.Writer
	// Finished, when the pipeline serves the console, is called once the signals are
	// written, with the console's URL; the replay then keeps serving until ctx is done.
	Finished func(st Stats, consoleURL string)

	raw         jetstream.Stream // for back-pressure
	id          string           // the replay's id, on every raw message
	chunkLimits chunkLimits      // zero: defaultChunkLimits
}

// Progress is told how far the input has been read.
type Progress interface {
	Add(bytes int64)
	Finish()
}

// Stats is the summary of a replay, written by --stats.
type Stats struct {
	Read     int64   `json:"read"`
	Accepted int64   `json:"accepted"`
	Filtered int64   `json:"filtered"`
	Rejected int64   `json:"rejected"`
	Late     int64   `json:"late"`
	Records  int64   `json:"records"`
	Signals  int64   `json:"signals"`
	TooLate  int64   `json:"too_late"`
	Runs     int64   `json:"rule_runs"`
	Seconds  float64 `json:"seconds"`
	Replay   string  `json:"replay"`
	// PeakRSS is the replaying process's peak resident memory in bytes, where the system
	// tells it (Linux); set by the command, not by Replay.
	PeakRSS int64 `json:"peak_rss_bytes,omitempty"`
}

// Validate checks the options before anything is read or started: the format's name and that
// every input can be opened.
func (o *ReplayOptions) Validate() error {
	if err := CheckFormat(o.Format); err != nil {
		return err
	}
	return CheckInputs(o.Files)
}

// Replay pushes history through the pipeline in event time: it publishes the input on the raw
// subjects, then an end-of-input marker that makes every stage flush, waits for the windower
// to report the end, and writes the signals the replay produced. When the input cannot be read
// to its end, the signals of what was read are written before the error is returned. It
// returns ErrNothingAccepted when every line that decoded was rejected, and refuses (with
// ErrAttached) to start its stages on a server where another pipeline's stages run.
func Replay(ctx context.Context, o ReplayOptions) (Stats, error) {
	began := time.Now()
	id := uuid.NewString()
	st := Stats{Replay: id}
	if err := o.Validate(); err != nil {
		return st, err
	}
	// A replay's stages would share the consumers of a live pipeline's (and feed history into
	// its model); with --driver-only they are the point.
	o.Pipeline.Alone = !o.Pipeline.NoStages
	o.Pipeline.Scorer.Clock = scorer.ClockWatermark
	o.Pipeline.Windower.Clock = windower.ClockWatermark
	log := o.Log
	if log == nil {
		log = discardLogger()
	}
	p, err := Start(ctx, o.Pipeline, log)
	if err != nil {
		return st, err
	}
	defer p.Close()
	nc := p.Conn()
	js, err := natsutil.JetStream(nc)
	if err != nil {
		return st, err
	}
	// Subscribe before publishing, so the end-of-input status cannot be missed.
	statuses := make(chan *nats.Msg, 4096)
	sub, err := nc.ChanSubscribe(stream.StatusSubject(windower.Stage), statuses)
	if err != nil {
		return st, err
	}
	defer sub.Unsubscribe()
	sig, err := lookupStream(ctx, js, stream.Signals)
	if err != nil {
		return st, err
	}
	firstSignal := sig.CachedInfo().State.LastSeq + 1
	dlq, err := lookupStream(ctx, js, stream.DLQ)
	if err != nil {
		return st, err
	}
	firstDeadLetter := dlq.CachedInfo().State.LastSeq + 1
	if o.Pipeline.NoStages {
		noteUnattached(ctx, js, o.Pipeline.Streams.Partitions, o.Rejects)
	}
	if o.raw, err = lookupStream(ctx, js, stream.Raw); err != nil {
		return st, err
	}
	o.id = id
	if o.chunkLimits == (chunkLimits{}) {
		o.chunkLimits = limitsFor(nc.MaxPayload())
	}
	pub := natsutil.NewPublisher(js)
	var inputErr error
	for _, f := range o.Files {
		n, err := sendFile(ctx, pub, f, o)
		st.Read += n
		var ie *inputError
		if errors.As(err, &ie) {
			inputErr = err
			break
		}
		if err != nil {
			return st, err
		}
	}
	eof := control.Marker{Kind: control.KindEOF, Replay: id}
	if err := pub.PublishMarker(eof.Msg(stream.RawSubject("control"))); err != nil {
		return st, fmt.Errorf("replay: the end of the input: %w", err)
	}
	if err := pub.Flush(ctx); err != nil {
		return st, fmt.Errorf("replay: the end of the input: %w", err)
	}
	if o.Progress != nil {
		o.Progress.Finish()
	}
	end, err := waitEOF(ctx, p, statuses, id, o.Timeout)
	if err != nil {
		return st, err
	}
	collectStats(&st, end)
	if st.Signals, err = copySignals(ctx, js, firstSignal, o.Out); err != nil {
		return st, err
	}
	if st.Rejected > 0 && o.Rejects != nil {
		if err := showRejects(ctx, js, firstDeadLetter, o.Files, o.Rejects); err != nil {
			return st, err
		}
	}
	st.Seconds = time.Since(began).Seconds()
	if inputErr == nil {
		inputErr = nothingAccepted(st.Read, st.Accepted, st.Filtered, st.Rejected)
	}
	if p.Console != nil {
		if o.Finished != nil {
			o.Finished(st, p.Console.URL())
		}
		select {
		case <-ctx.Done():
		case <-p.Failed():
		}
	}
	return st, errors.Join(inputErr, p.Close())
}

// lookupStream returns the stream name. A cluster electing leaders leaves requests
// unanswered for a while: the driver waits for it as the stages do (natsutil.Retry).
func lookupStream(ctx context.Context, js jetstream.JetStream, name string) (s jetstream.Stream, err error) {
	err = natsutil.Retry(ctx, func(ctx context.Context) (err error) {
		s, err = js.Stream(ctx, name)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("replay: stream %s: %w", name, err)
	}
	return s, nil
}

// sendFile publishes one input as raw messages of many lines, each naming its source and
// first line, and returns the number of lines read. A message holds whole auditd events:
// ingest replicas decode each message on their own, so the chunk.Reader cuts auditd logs
// where auditd.Boundary allows.
func sendFile(ctx context.Context, pub *natsutil.Publisher, name string, o ReplayOptions) (int64, error) {
	in, err := openInput(name, o.Stdin)
	if err != nil {
		return 0, &inputError{err}
	}
	defer in.Close()
	format := o.Format
	if format == "" {
		format = "auto"
	}
	subject := stream.RawSubject(format)
	limits := o.chunkLimits
	if limits == (chunkLimits{}) {
		limits = defaultChunkLimits
	}
	br := bufio.NewReaderSize(in, max(limits.bytes, limits.packed)+1)
	auditdLog, err := isAuditd(br, format)
	if err != nil {
		return 0, &inputError{fmt.Errorf("%s: %w", name, err)}
	}
	docs := false
	if !auditdLog {
		if docs, err = jsonDocuments(br, format); err != nil {
			return 0, &inputError{fmt.Errorf("%s:1: %w", name, err)}
		}
	}
	// The message gets a copy: chunks are views of the reader's buffer. The codec is the live
	// sources' (rawpub.CodecOf: zstd for raw auditd logs, S2 for the rest).
	enc := rawdata.Encoder{Codec: rawpub.CodecOf(auditdLog)}
	wire := 0 // the size of the last message of lines sent
	send := func(ch chunk.Chunk) error {
		var m *nats.Msg
		if ch.Long != nil {
			// Too long for one message: dead-letter its head rather than stall the line.
			what := "line"
			if docs {
				what = "JSON document"
			}
			dl := natsutil.DeadLetter{Stage: DriverStage, Source: name, Line: ch.FirstLine, Format: format,
				Reason: fmt.Sprintf("%s:%d: %s of %d bytes is longer than %d bytes; its first 64 KiB are kept", name, ch.FirstLine, what, ch.LongSize, limits.line),
				Data:   ch.Long}
			m = dl.Msg(stream.DLQSubject(DriverStage))
		} else {
			m = nats.NewMsg(subject)
			enc.Compress(m, ch.Data)
			if limits.packed > 0 && len(m.Data) > limits.bytes {
				return errWontFit // a packed chunk that did not compress enough: cut again
			}
			wire = len(m.Data)
			m.Header.Set(control.HeaderSource, name)
			m.Header.Set(control.HeaderLine, strconv.FormatInt(ch.FirstLine, 10))
			if o.id != "" {
				m.Header.Set(control.HeaderReplay, o.id)
			}
		}
		if o.Progress != nil {
			o.Progress.Add(int64(len(ch.Data)+len(ch.Long)) + 1)
		}
		if err := pub.Publish(m, ""); err != nil {
			return fmt.Errorf("replay: %s:%d: %w", name, ch.FirstLine, err)
		}
		if pub.Pending() >= flushEvery {
			if err := pub.Flush(ctx); err != nil {
				return fmt.Errorf("replay: %s:%d: %w", name, ch.FirstLine, err)
			}
			if err := o.backPressure(ctx); err != nil {
				return err
			}
		}
		return nil
	}
	if docs {
		return sendDocs(br, name, limits, send)
	}
	c := chunk.NewReader(br, limits.chunk(), auditdLog)
	pk := packer{limits: limits, c: c, auditdLog: auditdLog}
	var lines int64
	for {
		ch, err := c.Next()
		if errors.Is(err, io.EOF) {
			return lines, nil
		}
		if err != nil {
			// The messages before the error went through the pipeline; the block it cut does not.
			return lines, &inputError{fmt.Errorf("%s:%d: %w", name, c.Line(), err)}
		}
		lines += int64(ch.Lines)
		err = send(ch)
		if errors.Is(err, errWontFit) {
			err = pk.recut(ch, send)
		} else if err == nil && ch.Long == nil {
			pk.sent(len(ch.Data), wire)
		}
		if err != nil {
			return lines, err
		}
	}
}

// sendDocs publishes an input of JSON documents that span or share lines (jsondoc) as raw
// messages of many documents, each on one line: the line it starts on, the lines between
// documents left blank, so that ingest numbers each document's line right. A document that
// starts on the line of the one before (the hits of a _search response on one line) starts
// a new message, which names that line. It returns the number of lines read. A chunk's data
// is reused once send returns: send copies what it keeps.
func sendDocs(br *bufio.Reader, name string, limits chunkLimits, send func(chunk.Chunk) error) (int64, error) {
	var ch chunk.Chunk
	var last int64
	var sendErr error // a publish failed: not the input's fault
	flush := func() error {
		if ch.Lines == 0 {
			return nil
		}
		c := ch
		ch = chunk.Chunk{Data: c.Data[:0]} // send copies what it publishes
		sendErr = send(c)
		return sendErr
	}
	lines, err := jsondoc.Each(br, limits.line, func(d jsondoc.Doc) error {
		if d.Size > 0 || len(d.Data) > limits.line {
			if err := flush(); err != nil {
				return err
			}
			head := bytes.Clone(d.Data[:min(len(d.Data), chunk.LongHead)])
			sendErr = send(chunk.Chunk{FirstLine: d.Line, Lines: 1, Long: head, LongSize: max(d.Size, len(d.Data))})
			return sendErr
		}
		gap := int(d.Line - last)
		if ch.Lines > 0 && (gap <= 0 || ch.Lines >= limits.lines || len(ch.Data)+gap+len(d.Data) > limits.bytes) {
			if err := flush(); err != nil {
				return err
			}
		}
		if ch.Lines == 0 {
			ch.FirstLine = d.Line
		} else {
			for range gap {
				ch.Data = append(ch.Data, '\n')
			}
		}
		ch.Data = append(ch.Data, d.Data...)
		ch.Lines++
		last = d.Line
		return nil
	})
	if sendErr != nil {
		return lines, sendErr
	}
	var inErr error
	if err != nil {
		// The documents before the error go through the pipeline; the one it cut does not.
		inErr = &inputError{fmt.Errorf("%s:%d: %w", name, lines+1, err)}
	}
	if err := flush(); err != nil {
		return lines, err
	}
	return lines, inErr
}

// isAuditd tells whether an input is an auditd log: by its format, or for auto by its first
// line that is not blank, as ingest detects it.
func isAuditd(br *bufio.Reader, format string) (bool, error) {
	if format != "auto" {
		return format == "auditd", nil
	}
	for n := 4096; ; n *= 4 {
		n = min(n, br.Size())
		head, err := br.Peek(n)
		for len(head) > 0 {
			line := head
			i := bytes.IndexByte(head, '\n')
			if i >= 0 {
				line, head = head[:i], head[i+1:]
			} else if err == nil {
				break // the line goes on past what was peeked
			} else {
				head = nil
			}
			if len(bytes.TrimSpace(line)) > 0 {
				return formats.Detect(line) == "auditd", nil
			}
		}
		switch {
		case err == nil && n < br.Size():
			continue
		case err == nil, errors.Is(err, io.EOF), errors.Is(err, bufio.ErrBufferFull):
			return false, nil // no line, or a first line longer than a message
		default:
			return false, err
		}
	}
}

// backPressure waits while the RAW stream holds more than aheadLimit messages or aheadBytes
// not yet consumed by ingest.
func (o *ReplayOptions) backPressure(ctx context.Context) error {
	if o.raw == nil {
		return nil
	}
	var failingSince time.Time
	for {
		info, err := o.raw.Info(ctx)
		switch {
		case err == nil:
			failingSince = time.Time{}
			if info.State.Msgs <= aheadLimit && info.State.Bytes <= aheadBytes {
				return nil
			}
		case ctx.Err() != nil:
			return ctx.Err()
		case failingSince.IsZero():
			// A cluster electing a leader or losing a node leaves requests unanswered for a
			// while: the replay waits for it as long as a stage's publisher would.
			failingSince = time.Now()
		case time.Since(failingSince) > natsutil.DefaultRetryFor:
			return fmt.Errorf("how far ingest is behind: %w", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(2 * time.Millisecond): // ingest takes about a millisecond a message
		}
	}
}

// readLine returns the next line without its newline; io.EOF comes with the last, unterminated
// line (or none).
func readLine(br *bufio.Reader) ([]byte, error) {
	var line []byte
	for {
		frag, err := br.ReadSlice('\n')
		line = append(line, frag...)
		switch {
		case err == nil:
			return line[:len(line)-1], nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		default:
			return line, err
		}
	}
}

// waitEOF waits for the windower's end-of-input status of replay id.
func waitEOF(ctx context.Context, p *Pipeline, statuses <-chan *nats.Msg, id string, timeout time.Duration) (windower.Status, error) {
	var deadline <-chan time.Time
	if timeout > 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		deadline = t.C
	}
	for {
		select {
		case m := <-statuses:
			var s windower.Status
			if err := json.Unmarshal(m.Data, &s); err != nil {
				continue
			}
			if s.EOF && s.Replay == id {
				return s, nil
			}
		case <-p.Failed():
			return windower.Status{}, p.Err()
		case <-deadline:
			return windower.Status{}, fmt.Errorf("%w within %s", ErrNoEOF, timeout)
		case <-ctx.Done():
			return windower.Status{}, ctx.Err()
		}
	}
}

// collectStats reads the stages' counters from the end-of-input status.
func collectStats(st *Stats, end windower.Status) {
	var in ingest.StatsSnapshot
	var sc scorer.StatsSnapshot
	var win map[string]int64
	_ = json.Unmarshal(end.Stages[ingest.Stage], &in)
	_ = json.Unmarshal(end.Stages[scorer.Stage], &sc)
	_ = json.Unmarshal(end.Stages[windower.Stage], &win)
	st.Accepted, st.Filtered, st.Rejected = in.Accepted, in.Filtered, in.Rejected
	st.Late, st.Records = sc.Late, sc.Records
	st.TooLate, st.Runs = win["too_late"], win["runs"]
}

// copySignals writes every signal from sequence first to the end of the SIGNALS stream. A
// read that fails as a cluster elects a leader is taken up again where it stopped.
func copySignals(ctx context.Context, js jetstream.JetStream, first uint64, out io.Writer) (int64, error) {
	var last uint64
	err := natsutil.Retry(ctx, func(ctx context.Context) error {
		s, err := js.Stream(ctx, stream.Signals)
		if err != nil {
			return err
		}
		info, err := s.Info(ctx)
		if err != nil {
			return err
		}
		last = info.State.LastSeq
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("replay: stream %s: %w", stream.Signals, err)
	}
	bw := bufio.NewWriter(out)
	var n int64
	next := first
	for next <= last {
		err := natsutil.Retry(ctx, func(ctx context.Context) error {
			c, err := js.OrderedConsumer(ctx, stream.Signals, jetstream.OrderedConsumerConfig{
				DeliverPolicy: jetstream.DeliverByStartSequencePolicy, OptStartSeq: next,
			})
			if err != nil {
				return err
			}
			// Ask for no more than are left: a fetch for more waits out its MaxWait (a
			// second at the end of every replay) for messages that will not come.
			batch, err := c.Fetch(int(min(last-next+1, 1000)), jetstream.FetchMaxWait(time.Second))
			if err != nil {
				return err
			}
			for m := range batch.Messages() {
				md, err := m.Metadata()
				if err != nil {
					return err
				}
				if md.Sequence.Stream < next || md.Sequence.Stream > last {
					continue
				}
				if _, err := bw.Write(append(m.Data(), '\n')); err != nil {
					return err
				}
				n++
				next = md.Sequence.Stream + 1
			}
			return batch.Error()
		})
		if err != nil {
			return n, fmt.Errorf("replay: read the signals from %s: %w", stream.Signals, err)
		}
	}
	return n, bw.Flush()
}
