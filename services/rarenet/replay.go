package rarenet

import (
	"bufio"
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
	"github.com/rarenet/rarenet/services/ingest/format/auditd"
	"github.com/rarenet/rarenet/services/scorer"
	"github.com/rarenet/rarenet/services/windower"
	"github.com/rarenet/rarenet/shared/control"
	"github.com/rarenet/rarenet/shared/natsutil"
	"github.com/rarenet/rarenet/shared/stream"
)

// Limits of the replay driver's raw messages: many lines per message keeps JetStream's
// per-message cost off the hot path.
const (
	chunkLines   = 1000
	chunkBytes   = 1 << 20
	maxLineBytes = 4 << 20
)

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

	raw jetstream.Stream // for back-pressure
	id  string           // the replay's id, on every raw message
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
	sig, err := js.Stream(ctx, stream.Signals)
	if err != nil {
		return st, err
	}
	firstSignal := sig.CachedInfo().State.LastSeq + 1
	dlq, err := js.Stream(ctx, stream.DLQ)
	if err != nil {
		return st, err
	}
	firstDeadLetter := dlq.CachedInfo().State.LastSeq + 1
	if o.Pipeline.NoStages {
		noteUnattached(ctx, js, o.Pipeline.Streams.Partitions, o.Rejects)
	}

	if o.raw, err = js.Stream(ctx, stream.Raw); err != nil {
		return st, err
	}
	o.id = id
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
	if err := pub.Publish(eof.Msg(stream.RawSubject("control")), ""); err != nil {
		return st, err
	}
	if err := pub.Flush(ctx); err != nil {
		return st, err
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

// sendFile publishes one input as raw messages of many lines, each naming its source and
// first line, and returns the number of lines read. A message holds whole auditd events:
// ingest replicas decode each message on their own, so a full message is cut where
// auditd.Boundary allows (before the event that would not fit), and anywhere only when the
// whole message is one unfinished event.
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
	br := lineReader(in)
	var (
		lines     int64
		chunk     []byte
		chunkFrom int64 = 1
		inChunk   int
		bound     auditd.Boundary
		// The last place in the chunk where it may be cut: bytes and lines before it.
		safeBytes, safeLines int
	)
	// send publishes the first n lines (b bytes) of the chunk; the rest starts the next one.
	send := func(n, b int) error {
		if n == 0 {
			return nil
		}
		if o.Progress != nil {
			o.Progress.Add(int64(b) + 1)
		}
		m := nats.NewMsg(subject)
		m.Data = chunk[:b]
		m.Header.Set(control.HeaderSource, name)
		m.Header.Set(control.HeaderLine, strconv.FormatInt(chunkFrom, 10))
		if o.id != "" {
			m.Header.Set(control.HeaderReplay, o.id)
		}
		if err := pub.Publish(m, ""); err != nil {
			return err
		}
		if pub.Pending() >= flushEvery {
			if err := pub.Flush(ctx); err != nil {
				return err
			}
			if err := o.backPressure(ctx); err != nil {
				return err
			}
		}
		var rest []byte
		if b < len(chunk) {
			rest = append(rest, chunk[b+1:]...)
		}
		chunk, inChunk, chunkFrom = rest, inChunk-n, chunkFrom+int64(n)
		safeBytes, safeLines = 0, 0
		return nil
	}
	flush := func() error { return send(inChunk, len(chunk)) }
	// full sends the chunk, or only its events that are complete.
	full := func() error {
		if bound.Open() && safeLines > 0 {
			return send(safeLines, safeBytes)
		}
		return flush()
	}
	for {
		line, err := readLine(br)
		if err != nil && err != io.EOF {
			// The lines before the error go through the pipeline; the line it cut does not.
			if ferr := flush(); ferr != nil {
				return lines, ferr
			}
			return lines, &inputError{fmt.Errorf("%s:%d: %w", name, lines+1, err)}
		}
		if len(line) > 0 || err == nil {
			lines++
			if len(line) > maxLineBytes {
				// Too long for one message: dead-letter its head rather than stall the line.
				dl := natsutil.DeadLetter{Stage: DriverStage, Source: name, Line: lines, Format: format,
					Reason: fmt.Sprintf("%s:%d: line of %d bytes is longer than %d bytes; its first 64 KiB are kept", name, lines, len(line), maxLineBytes),
					Data:   line[:64<<10]}
				if err := flush(); err != nil {
					return lines, err
				}
				chunkFrom = lines + 1
				if err := pub.Publish(dl.Msg(stream.DLQSubject(DriverStage)), ""); err != nil {
					return lines, err
				}
			} else {
				if bound.Add(line) && inChunk > 0 {
					safeBytes, safeLines = len(chunk), inChunk
				}
				if inChunk > 0 {
					chunk = append(chunk, '\n')
				}
				chunk = append(chunk, line...)
				inChunk++
				if inChunk >= chunkLines || len(chunk) >= chunkBytes {
					if err := full(); err != nil {
						return lines, err
					}
				}
			}
		}
		if err == io.EOF {
			return lines, flush()
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

// copySignals writes every signal from sequence first to the end of the SIGNALS stream.
func copySignals(ctx context.Context, js jetstream.JetStream, first uint64, out io.Writer) (int64, error) {
	s, err := js.Stream(ctx, stream.Signals)
	if err != nil {
		return 0, err
	}
	info, err := s.Info(ctx)
	if err != nil {
		return 0, err
	}
	last := info.State.LastSeq
	if last < first {
		return 0, nil
	}
	c, err := s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
		DeliverPolicy: jetstream.DeliverByStartSequencePolicy, OptStartSeq: first,
	})
	if err != nil {
		return 0, err
	}
	bw := bufio.NewWriter(out)
	var n int64
	for {
		batch, err := c.Fetch(1000, jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			return n, err
		}
		for m := range batch.Messages() {
			if _, err := bw.Write(append(m.Data(), '\n')); err != nil {
				return n, err
			}
			n++
			md, err := m.Metadata()
			if err != nil {
				return n, err
			}
			if md.Sequence.Stream >= last {
				return n, bw.Flush()
			}
		}
		if err := batch.Error(); err != nil {
			return n, err
		}
	}
}
