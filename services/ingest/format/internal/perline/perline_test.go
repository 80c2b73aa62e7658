package perline

import (
	"errors"
	"testing"

	"github.com/rarenet/rarenet/services/ingest/format"
	"github.com/rarenet/rarenet/shared/event"
)

// TestDecode checks what every line decoder relies on: blank lines give nothing, an error
// gives one reject with the line's bytes, and each event gets its origin, the default module
// and dataset unless it set its own, and bytes of its own.
func TestDecode(t *testing.T) {
	errBad := errors.New("bad")
	parse := func(data []byte, dst []*event.Event) ([]*event.Event, error) {
		switch string(data) {
		case "bad":
			return dst, errBad
		case "two":
			return append(dst, &event.Event{}, &event.Event{Event: event.Meta{Dataset: "own"}}), nil
		}
		return dst, nil
	}
	d := New("fmt", "mod", "mod.default", parse)
	var rs []format.Result
	emit := func(r format.Result) { rs = append(rs, r.Clone()) }
	for i, l := range []string{"", "  \t", "bad", "none", "two"} {
		d.Decode(format.Line{Source: "s", Num: int64(i + 1), Data: []byte(l)}, emit)
	}
	d.Flush(emit)
	if len(rs) != 3 {
		t.Fatalf("got %d results, want 3", len(rs))
	}
	if !errors.Is(rs[0].Err, errBad) || rs[0].Line != 3 || string(rs[0].Raw) != "bad" {
		t.Errorf("reject %+v", rs[0])
	}
	for i, wantDataset := range []string{"mod.default", "own"} {
		r := rs[i+1]
		e := r.Event
		if e.Origin != (event.Origin{Source: "s", Line: 5, Format: "fmt"}) || e.Event.Module != "mod" || e.Event.Dataset != wantDataset {
			t.Errorf("event %d: origin %+v module %q dataset %q", i, e.Origin, e.Event.Module, e.Event.Dataset)
		}
	}
	rs[1].Raw[0] = 'X'
	if string(rs[2].Raw) != "two" {
		t.Error("two results of one line share their Raw bytes")
	}
}
