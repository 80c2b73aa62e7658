package console

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"html/template"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/rarenet/rarenet/services/enricher"
	"github.com/rarenet/rarenet/shared/stream"
)

// Charts are SVG drawn on the server: no chart library, nothing to fetch, readable without
// JavaScript. Strips are drawn in a 1000-unit-wide box stretched to the page's width; their
// labels are HTML beside or below them, so text never stretches.

const stripWidth = 1000.0

// esc escapes text for SVG content and attributes.
func esc(s string) string { return template.HTMLEscapeString(s) }

// timelineChart draws the matching signals per bin; each bar links to its bin's range.
func timelineChart(res Result, v url.Values) (template.HTML, []string) {
	n := len(res.Bins)
	if n == 0 {
		return "", nil
	}
	peak := slices.Max(res.Bins)
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="timeline" viewBox="0 0 %d 60" preserveAspectRatio="none" role="img" aria-label="signals per %s">`, n*10, binName(res.BinWidth))
	for i, c := range res.Bins {
		start := res.First.Add(time.Duration(i) * res.BinWidth)
		end := start.Add(res.BinWidth)
		h := 0.0
		if peak > 0 {
			h = 56 * float64(c) / float64(peak)
		}
		if c > 0 {
			h = max(h, 3)
		}
		href := withParam(withoutPage(v, "from", start.Format("2006-01-02T15:04")), "to", end.Format("2006-01-02T15:04"))
		label := fmt.Sprintf("%s: %d signal%s", start.Format("2006-01-02 15:04"), c, plural(c))
		fmt.Fprintf(&b, `<a href="%s"><rect class="bg" x="%d" y="0" width="10" height="60"><title>%s</title></rect>`, esc(href), i*10, esc(label))
		if c > 0 {
			cls := "bar"
			if i < len(res.BinMax) {
				cls += " " + Band(res.BinMax[i])
				label += fmt.Sprintf(", highest score %.1f", res.BinMax[i])
			}
			fmt.Fprintf(&b, `<rect class="%s" x="%d" y="%.2f" width="8" height="%.2f"><title>%s</title></rect>`, cls, i*10+1, 60-h, h, esc(label))
		}
		b.WriteString(`</a>`)
	}
	b.WriteString(`</svg>`)
	last := res.First.Add(time.Duration(n) * res.BinWidth)
	mid := res.First.Add(time.Duration(n/2) * res.BinWidth)
	axis := []string{res.First.Format("2006-01-02 15:04"), mid.Format("01-02 15:04"), last.Format("2006-01-02 15:04")}
	return template.HTML(b.String()), axis
}

func withoutPage(v url.Values, key, value string) url.Values {
	q, _ := url.ParseQuery(strings.TrimPrefix(withParam(v, key, value), "/?"))
	return q
}

func binName(w time.Duration) string {
	switch {
	case w == time.Hour:
		return "hour"
	case w == 24*time.Hour:
		return "day"
	case w == 7*24*time.Hour:
		return "week"
	case w%(24*time.Hour) == 0:
		return fmt.Sprintf("%d days", w/(24*time.Hour))
	}
	return fmt.Sprintf("%d hours", w/time.Hour)
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// activity is a process's activity over its history: one strip for the fleet (the runs of
// buckets in which it connected), one per host (first to last seen, shaded by how many of
// those buckets it was active in, with its signals), and the signals.
type activity struct {
	Process   string
	From, To  time.Time
	Rows      []activityRow
	Axis      []string
	Note      string
	Span      time.Duration
	Active    int64
	Buckets   int64
	FirstSeen time.Time
	LastSeen  time.Time
	Hosts     int
	Fleet     int
	Dropped   int64
}

type activityRow struct {
	Label  string
	Detail string
	SVG    template.HTML
}

// maxHostRows bounds the per-host strips; the hosts seen most recently are kept.
const maxHostRows = 24

// readHistory reads a process's entry and the fleet's from the enricher's bucket; nil entries
// when the bucket or the entry does not exist.
func (s *Server) readHistory(ctx context.Context, name string) (*enricher.Entry, *enricher.Fleet, error) {
	kv, err := s.js.KeyValue(ctx, stream.HistoryBucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	st := enricher.NewStore(kv)
	e, err := st.Process(ctx, name)
	if err != nil {
		return nil, nil, err
	}
	f, err := st.Fleet(ctx)
	if err != nil {
		return nil, nil, err
	}
	if e.SpanMS == 0 {
		e = nil
	}
	if f.SpanMS == 0 {
		f = nil
	}
	return e, f, nil
}

// processActivity draws the activity of a process; current, when not empty, is the id of the
// signal whose page shows it (drawn stronger).
func (s *Server) processActivity(ctx context.Context, name, current string) *activity {
	a := &activity{Process: name}
	sigs := s.ix.Of(name)
	entry, fleet, err := s.readHistory(ctx, name)
	if err != nil {
		a.Note = "the history could not be read: " + err.Error()
		s.log.Warn("reading the history", "process", name, "err", err)
	}
	span := 15 * time.Minute
	switch {
	case entry != nil:
		span = time.Duration(entry.SpanMS) * time.Millisecond
	case fleet != nil:
		span = time.Duration(fleet.SpanMS) * time.Millisecond
	}
	a.Span = span
	// The axis: the whole history of the fleet, and every signal of the process.
	var from, to time.Time
	widen := func(t0, t1 time.Time) {
		if from.IsZero() || t0.Before(from) {
			from = t0
		}
		if t1.After(to) {
			to = t1
		}
	}
	if fleet != nil {
		widen(time.UnixMilli(fleet.First).UTC(), time.UnixMilli(fleet.Last).UTC().Add(span))
	}
	if entry != nil && len(entry.Episodes) > 0 {
		widen(time.UnixMilli(entry.First).UTC(), time.UnixMilli(entry.Episodes[len(entry.Episodes)-1].End).UTC())
	}
	for _, sg := range sigs {
		widen(sg.Time, sg.Time.Add(span))
	}
	if from.IsZero() || !to.After(from) {
		a.Note = cmp.Or(a.Note, "no activity known for this process")
		return a
	}
	a.From, a.To = from, to
	x := func(t time.Time) float64 { return stripWidth * float64(t.Sub(from)) / float64(to.Sub(from)) }
	w := func(t0, t1 time.Time) float64 { return max(x(t1)-x(t0), 1.5) }
	// One mark per strip unit at most: a process with thousands of signals draws a bounded
	// strip; the current signal is always drawn, last, on top.
	marks := func(b *strings.Builder, host string) {
		var drawn [int(stripWidth) + 1]bool
		var cur *Summary
		for i := range sigs {
			sg := &sigs[i]
			if host != "" && !slices.Contains(sg.Hosts, host) {
				continue
			}
			if sg.ID == current {
				cur = sg
				continue
			}
			col := min(max(int(x(sg.Time)), 0), int(stripWidth))
			if drawn[col] {
				continue
			}
			drawn[col] = true
			fmt.Fprintf(b, `<rect class="sig" x="%.2f" y="0" width="%.2f" height="16"><title>signal %s, score %.1f</title></rect>`,
				x(sg.Time), max(w(sg.Time, sg.Time.Add(span)), 4), esc(sg.Time.Format("2006-01-02 15:04")), sg.Score)
		}
		if cur != nil {
			sg := cur
			cls := "sig current"
			fmt.Fprintf(b, `<rect class="%s" x="%.2f" y="0" width="%.2f" height="16"><title>this signal, %s, score %.1f</title></rect>`,
				cls, x(sg.Time), max(w(sg.Time, sg.Time.Add(span)), 4), esc(sg.Time.Format("2006-01-02 15:04")), sg.Score)
		}
	}
	open := func(b *strings.Builder) {
		b.WriteString(`<svg class="strip" viewBox="0 0 1000 16" preserveAspectRatio="none" role="img">`)
		b.WriteString(`<rect class="track" x="0" y="0" width="1000" height="16"/>`)
	}
	if entry != nil {
		var b strings.Builder
		open(&b)
		for _, ep := range entry.Episodes {
			t0, t1 := time.UnixMilli(ep.Start).UTC(), time.UnixMilli(ep.End).UTC()
			fmt.Fprintf(&b, `<rect class="run" x="%.2f" y="2" width="%.2f" height="12"><title>%s to %s: %d bucket%s</title></rect>`,
				x(t0), w(t0, t1), t0.Format("2006-01-02 15:04"), t1.Format("2006-01-02 15:04"), int(t1.Sub(t0)/span), plural(int(t1.Sub(t0)/span)))
		}
		marks(&b, "")
		b.WriteString(`</svg>`)
		a.Active = entry.ActiveBefore(to.UnixMilli() + 1)
		a.FirstSeen = time.UnixMilli(entry.First).UTC()
		if n := len(entry.Episodes); n > 0 {
			a.LastSeen = time.UnixMilli(entry.Episodes[n-1].End).UTC().Add(-span)
		}
		a.Dropped = entry.DroppedBuckets
		a.Hosts = len(entry.Hosts)
		a.Rows = append(a.Rows, activityRow{Label: "all hosts", Detail: fmt.Sprintf("%d active bucket%s", a.Active, plural(int(a.Active))), SVG: template.HTML(b.String())})
	} else {
		var b strings.Builder
		open(&b)
		marks(&b, "")
		b.WriteString(`</svg>`)
		a.Rows = append(a.Rows, activityRow{Label: "signals", Detail: fmt.Sprintf("%d", len(sigs)), SVG: template.HTML(b.String())})
		if a.Note == "" {
			a.Note = "no history of this process in " + stream.HistoryBucket + ": only its signals are drawn"
		}
	}
	if fleet != nil {
		a.Fleet = len(fleet.Hosts)
		a.Buckets = int64(to.Sub(from) / span)
	}
	// One strip per host: those of the history, most recently seen first, and those only
	// the signals name.
	type hostSpan struct {
		name          string
		first, last   time.Time
		buckets       int64
		fromSignalsOf bool
	}
	var hosts []hostSpan
	seen := map[string]bool{}
	if entry != nil {
		for h, sn := range entry.Hosts {
			hosts = append(hosts, hostSpan{name: h, first: time.UnixMilli(sn.First).UTC(), last: time.UnixMilli(sn.Last).UTC(), buckets: sn.Buckets})
			seen[h] = true
		}
	}
	for _, sg := range sigs {
		for _, h := range sg.Hosts {
			if !seen[h] {
				seen[h] = true
				hosts = append(hosts, hostSpan{name: h, first: sg.Time, last: sg.Time, fromSignalsOf: true})
			}
		}
	}
	slices.SortFunc(hosts, func(p, q hostSpan) int { return cmp.Or(q.last.Compare(p.last), strings.Compare(p.name, q.name)) })
	if len(hosts) > maxHostRows {
		a.Note = strings.TrimSpace(a.Note + fmt.Sprintf(" %d more hosts not drawn.", len(hosts)-maxHostRows))
		hosts = hosts[:maxHostRows]
	}
	slices.SortFunc(hosts, func(p, q hostSpan) int { return cmp.Or(p.first.Compare(q.first), strings.Compare(p.name, q.name)) })
	for _, h := range hosts {
		var b strings.Builder
		open(&b)
		detail := "in signals only"
		if !h.fromSignalsOf {
			end := h.last.Add(span)
			slots := max(int64(end.Sub(h.first)/span), 1)
			density := 0.25 + 0.75*float64(h.buckets)/float64(slots)
			fmt.Fprintf(&b, `<rect class="host" x="%.2f" y="4" width="%.2f" height="8" fill-opacity="%.2f"><title>%s: first %s, last %s, %d active bucket%s</title></rect>`,
				x(h.first), w(h.first, end), min(density, 1), esc(h.name), h.first.Format("2006-01-02 15:04"), h.last.Format("2006-01-02 15:04"), h.buckets, plural(int(h.buckets)))
			detail = fmt.Sprintf("%d bucket%s since %s", h.buckets, plural(int(h.buckets)), h.first.Format("01-02 15:04"))
		}
		marks(&b, h.name)
		b.WriteString(`</svg>`)
		a.Rows = append(a.Rows, activityRow{Label: h.name, Detail: detail, SVG: template.HTML(b.String())})
	}
	mid := from.Add(to.Sub(from) / 2)
	a.Axis = []string{from.Format("2006-01-02 15:04"), mid.Format("01-02 15:04"), to.Format("2006-01-02 15:04")}
	return a
}
