package ingest

import (
	"bytes"
	"runtime"
	"sync"
	"sync/atomic"
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

// partsPerWorker is how many parts a raw message is cut into for each worker, and partMin
// the least size of a part. The workers take the parts in turn, whichever is free, so a
// worker that the other stages of the machine leave waiting for a core holds up the merge by
// one small part, not by half the message: with one part per worker, the decoding of a 4 MiB
// message took 30 ms of wall time where its two parts took 18 ms each (the all-in-one's
// replay, where every stage shares the cores). In parts of a quarter of that, the 28-day ECS
// replay took 4.35 s against 4.66 s, the same CPU (docs/performance.md, item 26).
const (
	partsPerWorker = 4
	partMin        = 32 << 10
)

// worker decodes parts of raw messages with decoders of its own.
type worker struct {
	dec *Decoding
}

// part is a run of a raw message's lines, and what a worker made of it.
type part struct {
	data []byte
	line int64 // the number of its first line
	last bool  // the message's last part
	out  partOutput
}

// partOutput gathers what a worker made of a part, for handle to take in order.
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
			s.workers = append(s.workers, &worker{dec: dec})
		}
	}
	cut := splitLines(data, min(partsPerWorker*len(s.workers), max(len(s.workers), len(data)/partMin)))
	for len(s.parts) < len(cut) {
		s.parts = append(s.parts, &part{out: partOutput{partitions: s.partitions, batches: make([]event.BatchBuilder, s.partitions)}})
	}
	parts := s.parts[:len(cut)]
	for i, pt := range parts {
		pt.data, pt.line, pt.last = cut[i], line, i == len(cut)-1
		line += int64(bytes.Count(cut[i], []byte{'\n'})) + 1
		pt.out.reset()
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for _, w := range s.workers[:min(len(s.workers), len(parts))] {
		w.dec.SetHosts(s.dec.hosts)
		w.dec.SetAuthSource(s.dec.authSource)
		wg.Go(func() {
			for i := next.Add(1) - 1; i < int64(len(parts)); i = next.Add(1) - 1 {
				w.decode(parts[i], resolved, source)
			}
		})
	}
	wg.Wait()
	for _, pt := range parts {
		s.stats.Lines.Add(pt.out.stats.Lines)
		s.stats.Accepted.Add(pt.out.stats.Accepted)
		s.stats.Filtered.Add(pt.out.stats.Filtered)
		for p := range s.batches {
			s.batches[p].Append(&pt.out.batches[p])
		}
		for _, r := range pt.out.rejects {
			s.Reject(r) // counts it
		}
		if pt.out.latest.After(s.latest) {
			s.latest = pt.out.latest
		}
		if pt.out.latest.After(s.msgLatest) {
			s.msgLatest = pt.out.latest
		}
		pt.data = nil
	}
	return true
}

// decode decodes part pt, line by line, as handle would. A part other than the last ends
// where a newline was cut away: its last line counts even when empty, as it would in the
// whole message. What the worker's decoders hold is completed at the part's end (a part holds
// whole lines, and the formats decoded in parts have events of one line), so the part's
// output does not depend on which worker had the parts before it.
func (w *worker) decode(pt *part, name, source string) {
	data, line, out := pt.data, pt.line, &pt.out
	for {
		l := data
		i := bytes.IndexByte(data, '\n')
		if i >= 0 {
			l = data[:i]
		}
		if i < 0 && len(l) == 0 && pt.last {
			break
		}
		out.stats.Lines++
		w.dec.Line(name, source, line, bytes.TrimSuffix(l, []byte{'\r'}), out)
		line++
		if i < 0 {
			break
		}
		data = data[i+1:]
	}
	w.dec.Complete(out)
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
