package ecs

import (
	"testing"

	"github.com/rarenet/rarenet/services/ingest/format"
)

// FuzzDecode checks that no line makes the decoder panic and that every result is either an
// event or a reject.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		auditbeat7, auditdManager8, defendDotted,
		`{"_source":{"@timestamp":1,"process":{"name":"a"}}}`,
		`{"@timestamp":"yesterday"}`, `[]`, `{`, ``, `null`,
		`{"@timestamp":"2020-04-01T12:00:00Z","destination.port":"443","a":{"b.c":[1,{"d":null}]}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		d := New()
		emit := func(r format.Result) {
			if (r.Event == nil) == (r.Err == nil) {
				t.Fatalf("result with Event=%v Err=%v: want exactly one", r.Event, r.Err)
			}
		}
		d.Decode(format.Line{Source: "fuzz", Num: 1, Data: data}, emit)
		d.Flush(emit)
	})
}
