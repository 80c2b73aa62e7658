package auditd

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/rarenet/rarenet/services/ingest/format"
	"github.com/rarenet/rarenet/services/ingest/format/auditd/testdata/reference"
)

// decodeWith feeds lines to dec as the ingest stage does, flushes it and returns a clone of
// every result. The line buffer is reused and overwritten after each Decode, so a decoder
// that kept a reference to it would show.
func decodeWith(dec format.Decoder, lines []string) []format.Result {
	var out []format.Result
	emit := func(r format.Result) { out = append(out, r.Clone()) }
	var buf []byte
	for i, l := range lines {
		buf = append(buf[:0], l...)
		dec.Decode(format.Line{Source: "diff", Num: int64(i + 1), Data: buf}, emit)
		for j := range buf {
			buf[j] = '#'
		}
	}
	dec.Flush(emit)
	return out
}

// differ returns what differs between the results of the reference decoder and this one,
// "" when nothing does.
func differ(want, got []format.Result) string {
	var b strings.Builder
	for i := 0; i < max(len(want), len(got)); i++ {
		if i >= len(want) || i >= len(got) {
			fmt.Fprintf(&b, "result %d: reference gives %d results, this decoder %d\n", i, len(want), len(got))
			break
		}
		w, g := want[i], got[i]
		if w.Source != g.Source || w.Line != g.Line || string(w.Raw) != string(g.Raw) || w.Format != g.Format {
			fmt.Fprintf(&b, "result %d: reference %s:%d %q, got %s:%d %q\n", i, w.Source, w.Line, w.Raw, g.Source, g.Line, g.Raw)
		}
		if (w.Event == nil) != (g.Event == nil) || w.Event != nil && !reflect.DeepEqual(*w.Event, *g.Event) {
			fmt.Fprintf(&b, "result %d (line %d): event\n  reference %+v\n  got       %+v\n", i, w.Line, w.Event, g.Event)
		}
		if errText(w.Err) != errText(g.Err) ||
			errors.Is(w.Err, format.ErrMalformed) != errors.Is(g.Err, format.ErrMalformed) ||
			errors.Is(w.Err, reference.ErrNoSockaddr) != errors.Is(g.Err, ErrNoSockaddr) {
			fmt.Fprintf(&b, "result %d (line %d): error\n  reference %v\n  got       %v\n", i, w.Line, w.Err, g.Err)
		}
	}
	return b.String()
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// checkSame decodes lines with the reference decoder and with this one and fails on any
// difference; it returns the number of results.
func checkSame(t *testing.T, lines []string) int {
	t.Helper()
	want := decodeWith(reference.New(), lines)
	got := decodeWith(New(), lines)
	if d := differ(want, got); d != "" {
		if len(d) > 4000 {
			d = d[:4000] + "..."
		}
		t.Errorf("results differ from the reference decoder's:\n%s", d)
	}
	return len(want)
}

// boundaryDiffers returns where Boundary and the reference's Boundary disagree on lines:
// whether a cut may come before a line, or whether an event is open after it. Every
// resetEvery lines (0: never) both are Reset, as a tailer does.
func boundaryDiffers(lines []string, resetEvery int) string {
	var want reference.Boundary
	var got Boundary
	for i, l := range lines {
		if resetEvery > 0 && i%resetEvery == resetEvery-1 {
			want.Reset()
			got.Reset()
		}
		w, g := want.Add([]byte(l)), got.Add([]byte(l))
		if w != g {
			return fmt.Sprintf("line %d %q: cut before it %v, reference %v", i+1, l, g, w)
		}
		if w, g := want.Open(), got.Open(); w != g {
			return fmt.Sprintf("line %d %q: open after it %v, reference %v", i+1, l, g, w)
		}
	}
	return ""
}

// TestDifferential checks that the decoder makes the same events and rejects, byte for byte
// and in the same order, as the reference decoder (the first version, kept in
// testdata/reference), and Boundary the same cuts, on the real samples, the generated
// history, a corpus of odd cases and damaged, interleaved mixes of them.
func TestDifferential(t *testing.T) {
	varied := variedEvents()
	inputs := []struct {
		name  string
		lines []string
		min   int // results expected at least, so that a broken input cannot pass
	}{
		{"real samples", realLines(t), 5},
		{"generated history", readGenerated(t), 5000},
		{"varied", joinEvents(varied), 100},
		{"connect lines", connectLines("node=h ", "1.000:1", -115, "0A0001BB00000000"+"20010DB8000000000000000000000001"), 1},
	}
	for seed := range uint64(8) {
		inputs = append(inputs, struct {
			name  string
			lines []string
			min   int
		}{fmt.Sprintf("mix %d", seed), mix(varied, seed, 5000), 200})
	}
	// An event that lost its EOE record stays open until maxPending newer events or
	// maxIdleLines lines have passed.
	lost := connectLines("node=a ", "5.000:1", 0, saddrV4)
	lost = lost[:len(lost)-1]
	for i := range 2 * maxPending {
		lost = append(lost, connectLines("node=b ", fmt.Sprintf("5.000:%d", i+2), 0, saddrV4)...)
	}
	lost = append(lost, connectLines("node=c ", "6.000:1", 0, saddrV4)[:2]...)
	for range maxIdleLines + 2 {
		lost = append(lost, "")
	}
	lost = append(lost, connectLines("node=c ", "7.000:1", 0, saddrV4)...)
	inputs = append(inputs, struct {
		name  string
		lines []string
		min   int
	}{"lost EOE", lost, 2*maxPending + 2})
	// Logs without EOE records (older kernels) group and cut differently.
	for _, in := range []struct {
		name  string
		lines []string
	}{{"mix without EOE", mix(varied, 100, 5000)}, {"generated without EOE", readGenerated(t)[:6000]}} {
		var lines []string
		for _, l := range in.lines {
			if !strings.Contains(l, "type=EOE ") {
				lines = append(lines, l)
			}
		}
		inputs = append(inputs, struct {
			name  string
			lines []string
			min   int
		}{in.name, lines, 200})
	}
	for _, in := range inputs {
		t.Run(in.name, func(t *testing.T) {
			for _, every := range []int{0, 97} {
				if d := boundaryDiffers(in.lines, every); d != "" {
					t.Errorf("Boundary (reset every %d lines) differs from the reference: %s", every, d)
				}
			}
			n := checkSame(t, in.lines)
			t.Logf("%d lines, %d results", len(in.lines), n)
			if n < in.min {
				t.Errorf("%d results, want at least %d", n, in.min)
			}
		})
	}
}

// FuzzDifferential feeds arbitrary text, split into lines, to the reference decoder and
// Boundary and to this package's, and fails where they differ.
func FuzzDifferential(f *testing.F) {
	for _, name := range []string{"auditd/go-libaudit-normal.log", "auditd/go-libaudit-rhel7.log"} {
		f.Add(strings.Join(readLines(f, name), "\n"))
	}
	f.Add(strings.Join(yamlAuditLines(f), "\n"))
	for _, e := range variedEvents() {
		f.Add(strings.Join(e, "\n"))
	}
	f.Add(strings.Join(readGenerated(f)[:60], "\n"))
	f.Fuzz(func(t *testing.T, data string) {
		lines := strings.Split(data, "\n")
		want := decodeWith(reference.New(), lines)
		got := decodeWith(New(), lines)
		if d := differ(want, got); d != "" {
			t.Errorf("results differ from the reference decoder's:\n%s", d)
		}
		if d := boundaryDiffers(lines, 7); d != "" {
			t.Errorf("Boundary differs from the reference: %s", d)
		}
	})
}
