package ecs

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"unsafe"

	"github.com/rarenet/rarenet/services/ingest/format"
)

// TestPrecedence checks the typed decoder's choice among a field's spellings against
// TestLookup's rule, written out: the whole key first, then shorter prefixes as objects
// before longer ones, null as absent, and a repeated key's last value.
func TestPrecedence(t *testing.T) {
	const ts = `"@timestamp":"2020-04-01T12:00:00Z",`
	tests := []struct {
		name, doc, want string
	}{
		{"whole key over nested", `{` + ts + `"host":{"os":{"type":"nested"}},"host.os.type":"whole"}`, "whole"},
		{"shorter prefix first", `{` + ts + `"host.os":{"type":"longer"},"host":{"os.type":"half"}}`, "half"},
		{"shorter prefix, then its nesting", `{` + ts + `"host.os":{"type":"longer"},"host":{"os":{"type":"nested"}}}`, "nested"},
		{"longer prefix when the shorter lacks it", `{` + ts + `"host.os":{"type":"longer"},"host":{"name":"h"}}`, "longer"},
		{"null is absent", `{` + ts + `"host.os.type":null,"host":{"os":{"type":"nested"}}}`, "nested"},
		{"a group that is not an object", `{` + ts + `"host":"x","host.os":{"type":"longer"}}`, "longer"},
		{"repeated key: the last wins", `{` + ts + `"host.os.type":"first","host.os.type":"last"}`, "last"},
		{"repeated key: a last null hides", `{` + ts + `"host.os.type":"first","host":{"os":{"type":"nested"}},"host.os.type":null}`, "nested"},
		{"repeated group: the last object wins whole", `{` + ts + `"host":{"os":{"type":"first"}},"host":{"name":"h"}}`, ""},
		{"escaped dot is a dot", `{` + ts + `"host\u002eos.type":"escaped","host":{"os":{"type":"nested"}}}`, "escaped"},
		{"empty segment names nothing", `{` + ts + `"host..os.type":"x","host.os.":{"type":"y"}}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs := decodeLines(t, []string{tt.doc})
			if len(rs) != 1 || rs[0].Err != nil {
				t.Fatalf("results %+v", rs)
			}
			if got := rs[0].Event.Host.OS.Type; got != tt.want {
				t.Errorf("host.os.type = %q, want %q", got, tt.want)
			}
			var m map[string]any
			if err := json.Unmarshal([]byte(tt.doc), &m); err != nil {
				t.Fatal(err)
			}
			if v, _ := lookup(m, "host.os.type"); fmt.Sprint(v) != tt.want && !(v == nil && tt.want == "") {
				t.Errorf("the reference lookup gives %v: the table is wrong", v)
			}
		})
	}
}

// TestSpellingOrder checks precedes against the order lookup tries a three-segment name's
// spellings in: whole, a.(b.c), a.(b.(c)), (a.b).c.
func TestSpellingOrder(t *testing.T) {
	order := []spelling{0b00, 0b01, 0b11, 0b10}
	for i, a := range order {
		for j, b := range order {
			if got := a.precedes(b); got != (i < j) {
				t.Errorf("%02b precedes %02b = %v, want %v", a, b, got, i < j)
			}
		}
	}
}

// TestInternedStringsKeep checks that an event's strings stay as they were after the
// decoder has gone on through more distinct values than its table holds (they may be kept
// without a copy), and that a repeated value is one string, not a copy per event, while
// values seen once flood the table.
func TestInternedStringsKeep(t *testing.T) {
	d := New()
	var first string
	var firstArgs []string
	hosts := map[string]*byte{}
	for i := range 3 * maxInternSlots {
		line := fmt.Sprintf(`{"@timestamp":%d,"process":{"name":"p%d","args":["a%d","b"]},"host.name":"h%d"}`, 1700000000000+i, i, i, i%7)
		d.Decode(format.Line{Source: "s", Num: int64(i + 1), Data: []byte(line)}, func(r format.Result) {
			if r.Err != nil {
				t.Fatalf("%s: %v", line, r.Err)
			}
			if got, want := r.Event.Process.Name, fmt.Sprintf("p%d", i); got != want {
				t.Fatalf("line %d: process.name %q, want %q", i+1, got, want)
			}
			h := r.Event.Host.Name
			if p, ok := hosts[h]; ok && p != unsafe.StringData(h) && i > maxInternSlots {
				t.Fatalf("line %d: host.name %q is a new copy", i+1, h)
			}
			hosts[h] = unsafe.StringData(h)
			if i == 0 {
				first, firstArgs = r.Event.Process.Name, r.Event.Process.Args // kept without a copy
				firstArgs = append([]string(nil), firstArgs...)               // the slice is reused, its strings are not
			}
		})
	}
	if first != "p0" || strings.Join(firstArgs, " ") != "a0 b" {
		t.Errorf("kept strings changed: %q %q", first, firstArgs)
	}
	if len(hosts) != 7 {
		t.Errorf("%d host names, want 7", len(hosts))
	}
}
