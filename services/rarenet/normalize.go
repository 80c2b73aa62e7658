package rarenet

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"

	"github.com/rarenet/rarenet/services/ingest"
	"github.com/rarenet/rarenet/services/ingest/datafeed"
	"github.com/rarenet/rarenet/services/ingest/format"
	"github.com/rarenet/rarenet/shared/event"
)

// NormalizeOptions configures Normalize.
type NormalizeOptions struct {
	Files    []string
	Format   string
	Datafeed string
	// All also writes the events the datafeed filter drops, with the reason in
	// rarenet.filtered.
	All   bool
	Stdin io.Reader
	Out   io.Writer // normalized events, NDJSON
	// Errors receives the rejected lines as "file:line: reason": the first of each kind of
	// reason, and at the end how many more there were (every one with AllRejects).
	Errors     io.Writer
	AllRejects bool
}

// NormalizeStats counts what Normalize did.
type NormalizeStats struct {
	Lines, Accepted, Filtered, Rejected int64
}

// Normalize runs the ingest stage alone, without NATS: it decodes the files and writes the
// normalized network events that pass the datafeed filter. It returns ErrNothingAccepted when
// every line it could decode was rejected.
func Normalize(o NormalizeOptions) (NormalizeStats, error) {
	var st NormalizeStats
	filter, err := datafeed.ByName(o.Datafeed)
	if err != nil {
		return st, err
	}
	dec, err := ingest.NewDecoding(o.Format, filter)
	if err != nil {
		return st, err
	}
	bw := bufio.NewWriter(o.Out)
	defer bw.Flush()
	out := &normalizeOutput{o: o, w: bw, enc: json.NewEncoder(bw), st: &st, rejects: newRejectLog(o.Errors, o.AllRejects)}
	defer out.rejects.finish()
	for _, name := range o.Files {
		if err := normalizeFile(name, o.Stdin, dec, out); err != nil {
			// What was read before the error is written, as a replay writes its signals.
			dec.Flush(out)
			return st, err
		}
		if out.err != nil {
			return st, out.err
		}
	}
	dec.Flush(out)
	if out.err != nil {
		return st, out.err
	}
	if err := bw.Flush(); err != nil {
		return st, err
	}
	return st, nothingAccepted(st.Lines, st.Accepted, st.Filtered, st.Rejected)
}

func normalizeFile(name string, stdin io.Reader, dec *ingest.Decoding, out *normalizeOutput) error {
	in, err := openInput(name, stdin)
	if err != nil {
		return err
	}
	defer in.Close()
	br := lineReader(in)
	var num int64
	for {
		line, err := readLine(br)
		if err != nil && err != io.EOF {
			// The line the error cut is incomplete: it is not decoded.
			return fmt.Errorf("%s:%d: %w", name, num+1, err)
		}
		if len(line) > 0 || err == nil {
			num++
			out.st.Lines++
			dec.Line("", name, num, line, out)
		}
		if err == io.EOF {
			return nil
		}
	}
}

type normalizeOutput struct {
	o       NormalizeOptions
	w       *bufio.Writer
	enc     *json.Encoder
	st      *NormalizeStats
	rejects *rejectLog
	err     error
}

func (n *normalizeOutput) Accept(ev *event.Event) {
	n.st.Accepted++
	n.write(ev)
}

func (n *normalizeOutput) Filtered(ev *event.Event, reason string) {
	n.st.Filtered++
	if n.o.All {
		ev.Origin.Filtered = reason
		n.write(ev)
	}
}

func (n *normalizeOutput) Reject(r format.Result) {
	n.st.Rejected++
	reason := "malformed"
	if r.Err != nil {
		reason = r.Err.Error()
	}
	n.rejects.add(fmt.Sprintf("%s:%d", r.Source, r.Line), reason)
}

func (n *normalizeOutput) write(ev *event.Event) {
	if err := n.enc.Encode(ev); err != nil && n.err == nil {
		n.err = err
	}
}
