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
	// DatafeedFile is a datafeed in Elastic's JSON layout (a Kibana module's datafeed file as it
	// is); it replaces Datafeed.
	DatafeedFile string
	// All also writes the events the datafeed filter drops, with the reason in
	// rarenet.filtered.
	All    bool
	Stdin  io.Reader
	Out    io.Writer // normalized events, NDJSON
	Errors io.Writer // rejects, one "file:line: reason" per line
}

// NormalizeStats counts what Normalize did.
type NormalizeStats struct {
	Lines, Accepted, Filtered, Rejected int64
}

// Normalize runs the ingest stage alone, without NATS: it decodes the files and writes the
// normalized network events that pass the datafeed filter.
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
	bw := bufio.NewWriter(o.Out)
	defer bw.Flush()
	out := &normalizeOutput{o: o, w: bw, enc: json.NewEncoder(bw), st: &st}
	for _, name := range o.Files {
		if err := normalizeFile(name, o.Stdin, dec, out); err != nil {
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
	return st, bw.Flush()
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
		if len(line) > 0 || err == nil {
			num++
			out.st.Lines++
			dec.Line("", name, num, line, out)
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s:%d: %w", name, num+1, err)
		}
	}
}

type normalizeOutput struct {
	o   NormalizeOptions
	w   *bufio.Writer
	enc *json.Encoder
	st  *NormalizeStats
	err error
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
	if n.o.Errors != nil {
		fmt.Fprintf(n.o.Errors, "%s:%d: %v\n", r.Source, r.Line, r.Err)
	}
}

func (n *normalizeOutput) write(ev *event.Event) {
	if err := n.enc.Encode(ev); err != nil && n.err == nil {
		n.err = err
	}
}
