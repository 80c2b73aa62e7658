package ingest

import (
	"bytes"
	"runtime"
	"sync"
	"time"

	"github.com/rarenet/rarenet/services/ingest/format"
	"github.com/rarenet/rarenet/shared/event"
	"github.com/rarenet/rarenet/shared/partition"
)

// Decoding a raw message is most of ingest's work (JSON parsing above all), and one stage
// goroutine would bound a replay to one core. So a large raw message of a format whose every
// line stands alone is cut into parts at line ends, the parts are decoded at once by
// workers, and their results are put together in the parts' order: the batches, dead
// letters and counters are those one goroutine would make, byte for byte, whatever the
// number of workers. Auditd logs, whose events span lines, are decoded in order.

// parallelMin is the least data worth cutting into parts.
const parallelMin = 64 << 10

// worker decodes parts of raw messages with decoders of its own.
type worker struct {
	dec  *Decoding
	out  partOutput
	data []byte // the part
	line int64  // the number of its first line
}

// partOutput gathers what a worker made of its part, for handle to take in order.
type partOutput struct {
	partitions int
	batches    []event.BatchBuilder
	rejects    []format.Result
	stats      StatsSnapshot
	latest     time.Time
}

func (o *partOutput) reset() {
	for p := range o.batches {
		o.batches[p].Reset()
	}
	clear(o.rejects)
	o.rejects, o.stats, o.latest = o.rejects[:0], StatsSnapshot{}, time.Time{}
}

// Accept implements Output.
func (o *partOutput) Accept(ev *event.Event) {
	o.stats.Accepted++
	o.batches[partition.Of(ev.Process.Name, o.partitions)].Add(ev)
	if ev.Timestamp.After(o.latest) {
		o.latest = ev.Timestamp
	}
}

// Filtered implements Output.
func (o *partOutput) Filtered(*event.Event, string) { o.stats.Filtered++ }

// Reject implements Output: the reject is kept, in order, for handle to dead-letter.
func (o *partOutput) Reject(r format.Result) {
	o.stats.Rejected++
	o.rejects = append(o.rejects, r.Clone())
}

// parallel decodes data, the lines of source from line on in format name, in parts, and
// reports false when it is not worth it (small data, one worker) or not possible (a format
// whose events span lines, or a source whose format is not known yet).
func (s *Service) parallel(name, source string, line int64, data []byte) bool {
	if len(data) < parallelMin || s.decoders < 2 {
		return false
	}
	resolved, ok := s.dec.Resolved(name, source)
	if !ok || resolved == format.Auditd {
		return false
	}
	if s.workers == nil {
		filter, err := s.cfg.Filter()
		if err != nil {
			return false
		}
		for range s.decoders {
			// Each worker has a filter of its own (Config.Filter makes a new one each time):
			// a filter compiles its query on first use.
			dec, err := NewDecoding(format.Auto, filter)
			if err != nil {
				return false
			}
			s.workers = append(s.workers, &worker{dec: dec,
				out: partOutput{partitions: s.partitions, batches: make([]event.BatchBuilder, s.partitions)}})
		}
	}
	parts := splitLines(data, len(s.workers))
	var wg sync.WaitGroup
	for i, part := range parts {
		w := s.workers[i]
		w.data, w.line = part, line
		line += int64(bytes.Count(part, []byte{'\n'})) + 1
		w.out.reset()
		w.dec.SetHosts(s.dec.hosts)
		w.dec.SetAuthSource(s.dec.authSource)
		last := i == len(parts)-1
		wg.Go(func() { w.decode(resolved, source, last) })
	}
	wg.Wait()
	for _, w := range s.workers[:len(parts)] {
		s.stats.Lines.Add(w.out.stats.Lines)
		s.stats.Accepted.Add(w.out.stats.Accepted)
		s.stats.Filtered.Add(w.out.stats.Filtered)
		for p := range s.batches {
			s.batches[p].Append(&w.out.batches[p])
		}
		for _, r := range w.out.rejects {
			s.Reject(r) // counts it
		}
		if w.out.latest.After(s.latest) {
			s.latest = w.out.latest
		}
		if w.out.latest.After(s.msgLatest) {
			s.msgLatest = w.out.latest
		}
		w.data = nil
	}
	return true
}

// decode decodes the worker's part, line by line, as handle would. A part other than the
// last ends where a newline was cut away: its last line counts even when empty, as it
// would in the whole message.
func (w *worker) decode(name, source string, last bool) {
	data, line := w.data, w.line
	for {
		l := data
		i := bytes.IndexByte(data, '\n')
		if i >= 0 {
			l = data[:i]
		}
		if i < 0 && len(l) == 0 && last {
			break
		}
		w.out.stats.Lines++
		w.dec.Line(name, source, line, bytes.TrimSuffix(l, []byte{'\r'}), &w.out)
		line++
		if i < 0 {
			break
		}
		data = data[i+1:]
	}
	w.dec.Complete(&w.out)
}

// splitLines cuts data into at most n parts of about equal size, at line ends; the parts
// hold every line once, in order (a newline between two parts belongs to neither).
func splitLines(data []byte, n int) [][]byte {
	parts := make([][]byte, 0, n)
	for k := n; k > 1 && len(data) > 0; k-- {
		at := len(data) / k
		i := bytes.IndexByte(data[at:], '\n')
		if i < 0 {
			break
		}
		parts = append(parts, data[:at+i])
		data = data[at+i+1:]
	}
	return append(parts, data)
}

// defaultDecoders is how many workers decode a raw message's parts: one per core.
func defaultDecoders() int { return runtime.GOMAXPROCS(0) }

// Resolved is the format of source's decoder, once it is known: given, or detected from the
// source's first line.
func (d *Decoding) Resolved(formatName, source string) (string, bool) {
	if formatName == "" {
		formatName = d.format
	}
	if formatName != format.Auto {
		return formatName, true
	}
	name, ok := d.names[formatName+"\x00"+source]
	return name, ok
}
