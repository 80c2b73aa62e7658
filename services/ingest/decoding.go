package ingest

import (
	"bytes"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/rarenet/rarenet/services/ingest/datafeed"
	"github.com/rarenet/rarenet/services/ingest/format"
	"github.com/rarenet/rarenet/services/ingest/format/formats"
	"github.com/rarenet/rarenet/shared/event"
	"github.com/rarenet/rarenet/shared/tokens"
)

// Output receives what Decoding makes of its input. The event and the reject are only valid
// during the call (decoders reuse them): an Output that keeps one copies it (Event.Clone,
// format.Result.Clone).
type Output interface {
	// Accept takes an event that passed the datafeed filter.
	Accept(ev *event.Event)
	// Filtered takes an event the datafeed filter dropped, with the reason when the Decoding
	// explains what it drops (ExplainFiltered), else "".
	Filtered(ev *event.Event, reason string)
	// Reject takes input that could not be decoded.
	Reject(r format.Result)
}

// Decoding turns lines from any number of sources into filtered events: one decoder per
// source (auditd events span lines), the format fixed or detected from each source's first
// line. It is the ingest stage without NATS, shared by the service and `rarenet normalize`.
//
// Decoding is not safe for concurrent use.
type Decoding struct {
	filter   datafeed.Filter
	format   string
	decoders map[string]format.Decoder
	names    map[string]string // the format of each decoder, by key
	touched  []string          // the keys given lines since the last Complete
	// The decoder of the last line, its key's parts and emit function; touched holds its key.
	last                   format.Decoder
	lastFormat, lastSource string
	lastName               string
	lastOut                Output
	lastEmitFn             format.Emit
	// hosts, when set, holds the host patterns the events decoded now must match: those of
	// the source named in the raw subject (SetHosts).
	hosts *tokens.Entry
	// authSource, when set, is the source that vouched for the lines decoded now: the one
	// the raw subject names (SetAuthSource).
	authSource string
	// explain gives Output.Filtered the reason of each event dropped (ExplainFiltered).
	explain bool
}

// ExplainFiltered has the Decoding say why the datafeed filter dropped each event it gives
// Output.Filtered (`rarenet normalize --all` writes it); the ingest stage only counts them.
func (d *Decoding) ExplainFiltered() { d.explain = true }

// SetAuthSource stamps the events decoded from now on with the source that vouched for
// them (event.Origin.AuthSource; "" for none).
func (d *Decoding) SetAuthSource(name string) { d.authSource = name }

// SetHosts binds the lines decoded from now on to e's host patterns (nil: any host); an
// event of another host is rejected, wrapping ErrForeignHost.
func (d *Decoding) SetHosts(e *tokens.Entry) { d.hosts = e }

// NewDecoding returns a Decoding for input of the given format (format.Auto detects it per
// source).
func NewDecoding(formatName string, filter datafeed.Filter) (*Decoding, error) {
	if formatName == "" {
		formatName = format.Auto
	}
	if formatName != format.Auto {
		if _, err := formats.New(formatName); err != nil {
			return nil, err
		}
	}
	return &Decoding{filter: filter, format: formatName, decoders: map[string]format.Decoder{}, names: map[string]string{}}, nil
}

// Line decodes one line of source. formatName overrides the Decoding's format when not empty
// (the raw subject names the format).
func (d *Decoding) Line(formatName, source string, num int64, data []byte, out Output) {
	if formatName == "" {
		formatName = d.format
	}
	// Lines come in runs from one source: the last decoder serves them without a lookup.
	if d.last != nil && formatName == d.lastFormat && source == d.lastSource {
		d.last.Decode(format.Line{Source: source, Num: num, Data: data}, d.lastEmit(out))
		return
	}
	key := formatName + "\x00" + source
	dec := d.decoders[key]
	if dec == nil {
		name := formatName
		if name == format.Auto {
			if len(bytes.TrimSpace(data)) == 0 {
				return
			}
			name = formats.Detect(data)
			if name == "" {
				out.Reject(format.Result{
					Err:    fmt.Errorf("%w: cannot detect the format: expected an auditd record (type=... msg=audit(...)), Sysmon for Linux XML, or a JSON object from ECS, Tetragon, osquery or Falco", format.ErrMalformed),
					Source: source, Line: num, Raw: bytes.Clone(data), Format: format.Auto,
				})
				return
			}
		}
		var err error
		if dec, err = formats.New(name); err != nil {
			out.Reject(format.Result{Err: err, Source: source, Line: num, Raw: bytes.Clone(data)})
			return
		}
		d.decoders[key] = dec
		d.names[key] = name
	}
	if n := len(d.touched); n == 0 || d.touched[n-1] != key && !slices.Contains(d.touched, key) {
		d.touched = append(d.touched, key)
	}
	d.last, d.lastFormat, d.lastSource, d.lastName, d.lastOut, d.lastEmitFn = dec, formatName, source, d.names[key], nil, nil
	dec.Decode(format.Line{Source: source, Num: num, Data: data}, d.lastEmit(out))
}

// lastEmit returns the emit function of the last decoder for out, made once per run of
// lines rather than once per line.
func (d *Decoding) lastEmit(out Output) format.Emit {
	if d.lastEmitFn == nil || d.lastOut != out {
		d.lastEmitFn, d.lastOut = d.emit(out, d.lastName), out
	}
	return d.lastEmitFn
}

// Flush completes what every source has pending, in a stable order of sources, at the end
// of the input.
func (d *Decoding) Flush(out Output) {
	keys := make([]string, 0, len(d.decoders))
	for k := range d.decoders {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		d.decoders[k].Flush(d.emit(out, d.names[k]))
		delete(d.decoders, k)
		delete(d.names, k)
	}
	d.touched = d.touched[:0]
	d.last, d.lastOut, d.lastEmitFn = nil, nil, nil
}

// Complete completes what the sources seen since the last Complete have pending, in a stable
// order of sources, and keeps their decoders (and detected formats) for the lines to come.
// Ingest calls it at the end of each raw message: a raw message holds whole events.
func (d *Decoding) Complete(out Output) {
	sort.Strings(d.touched)
	for _, k := range d.touched {
		if dec := d.decoders[k]; dec != nil {
			dec.Flush(d.emit(out, d.names[k]))
		}
	}
	d.touched = d.touched[:0]
	d.last = nil // the next line registers its source in touched again
}

// The range of event times: buckets, watermarks and event batches count Unix nanoseconds in
// an int64.
var (
	minTime = time.Date(1678, 1, 1, 0, 0, 0, 0, time.UTC)
	maxTime = time.Date(2261, 12, 31, 23, 59, 59, 0, time.UTC)
)

func (d *Decoding) emit(out Output, name string) format.Emit {
	return func(r format.Result) {
		r.Format = name
		if r.Err != nil || r.Event == nil {
			if r.Err == nil {
				r.Err = fmt.Errorf("%w: decoder returned neither event nor error", format.ErrMalformed)
			}
			out.Reject(r)
			return
		}
		if t := r.Event.Timestamp; t.Before(minTime) || t.After(maxTime) {
			r.Err = fmt.Errorf("%w: @timestamp %s is outside the years 1678-2261 that event time is kept in (nanoseconds since 1970 in 64 bits)",
				format.ErrMalformed, t.Format(time.RFC3339Nano))
			out.Reject(r)
			return
		}
		r.Event.Origin.AuthSource = d.authSource
		if d.hosts != nil && !d.hosts.AllowsHost(r.Event.Host.Name) {
			r.Err = foreignHost(d.hosts, r.Event.Host.Name)
			out.Reject(r)
			return
		}
		if d.filter.Drops(r.Event) {
			reason := ""
			if d.explain {
				reason = d.filter.Reason(r.Event)
			}
			out.Filtered(r.Event, reason)
			return
		}
		out.Accept(r.Event)
	}
}
