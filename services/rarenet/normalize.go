package rarenet

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"

	"github.com/rarenet/rarenet/services/ingest"
	"github.com/rarenet/rarenet/services/ingest/datafeed"
	"github.com/rarenet/rarenet/services/ingest/format"
	"github.com/rarenet/rarenet/services/ingest/format/jsondoc"
	"github.com/rarenet/rarenet/shared/event"
)

// NormalizeOptions configures Normalize.
type NormalizeOptions struct {
	Files    []string
	Format   string
	Datafeed string
	// DatafeedFile is a datafeed in Elastic's JSON layout (a Kibana module's datafeed file as it
	// is); it replaces Datafeed.
	DatafeedFile string
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
	if o.DatafeedFile != "" {
		filter, err = datafeed.Load(o.DatafeedFile, "process.name")
	}
	if err != nil {
		return st, err
	}
	dec, err := ingest.NewDecoding(o.Format, filter)
	if err != nil {
		return st, err
	}
	if o.All {
		dec.ExplainFiltered() // each dropped event is written with why
	}
	bw := bufio.NewWriter(o.Out)
	defer bw.Flush()
	out := &normalizeOutput{o: o, w: bw, enc: json.NewEncoder(bw), st: &st, rejects: newRejectLog(o.Errors, o.AllRejects)}
	defer out.rejects.finish()
	for _, name := range o.Files {
		if err := normalizeFile(name, o.Format, o.Stdin, dec, out); err != nil {
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

func normalizeFile(name, formatName string, stdin io.Reader, dec *ingest.Decoding, out *normalizeOutput) error {
	in, err := openInput(name, stdin)
	if err != nil {
		return err
	}
	defer in.Close()
	br := lineReader(in)
	docs, err := jsonDocuments(br, formatName)
	if err != nil {
		return fmt.Errorf("%s:1: %w", name, err)
	}
	if docs {
		return normalizeDocs(name, br, dec, out)
	}
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

// normalizeDocs decodes an input of JSON documents that span or share lines, each at the line
// it starts on.
func normalizeDocs(name string, br *bufio.Reader, dec *ingest.Decoding, out *normalizeOutput) error {
	lines, err := jsondoc.Each(br, 0, func(d jsondoc.Doc) error {
		if d.Size > 0 {
			out.Reject(format.Result{Err: longDocument(d), Source: name, Line: d.Line, Raw: d.Data, Format: format.Auto})
			return nil
		}
		dec.Line("", name, d.Line, d.Data, out)
		return nil
	})
	out.st.Lines += lines
	if err != nil {
		// The document the error cut is incomplete: it is not decoded.
		return fmt.Errorf("%s:%d: %w", name, lines+1, err)
	}
	return nil
}

// longDocument is the reason a JSON document too long to keep is rejected.
func longDocument(d jsondoc.Doc) error {
	return fmt.Errorf("%w: JSON document of %d bytes is longer than %d bytes; its first 64 KiB are kept", format.ErrMalformed, d.Size, jsondoc.DefaultMaxDoc)
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
