package ecs

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/rarenet/rarenet/services/ingest/format"
	"github.com/rarenet/rarenet/shared/event"
	"github.com/valyala/fastjson"
)

// outcome is what a decoder made of one line: nothing (a blank or bulk action line), an
// event, or a reject.
type outcome struct {
	ev  *event.Event
	err error
}

// differ decodes lines with one typed decoder, kept across lines so that its reused event,
// slices and interned strings are exercised, and compares each outcome with the reference
// decoder's.
type differ struct {
	t testing.TB
	d *Decoder
	n int64
}

func newDiffer(t testing.TB) *differ { return &differ{t: t, d: New()} }

func (df *differ) typed(line []byte) outcome {
	df.n++
	var got []format.Result
	df.d.Decode(format.Line{Source: "diff", Num: df.n, Data: line}, func(r format.Result) { got = append(got, r.Clone()) })
	switch len(got) {
	case 0:
		return outcome{}
	case 1:
		r := got[0]
		if !bytes.Equal(r.Raw, line) || r.Line != df.n || r.Source != "diff" {
			df.t.Fatalf("%s: raw %q line %d source %q", line, r.Raw, r.Line, r.Source)
		}
		if r.Event != nil {
			if want := (event.Origin{Source: "diff", Line: df.n, Format: format.ECS}); r.Event.Origin != want {
				df.t.Fatalf("%s: origin %+v", line, r.Event.Origin)
			}
			r.Event.Origin = event.Origin{}
		}
		return outcome{r.Event, r.Err}
	}
	df.t.Fatalf("%s: %d results", line, len(got))
	return outcome{}
}

func reference(line []byte) outcome {
	data := bytes.TrimSpace(line)
	if len(data) == 0 {
		return outcome{}
	}
	ev, err := refDecode(data)
	return outcome{ev, err}
}

// compare decodes line both ways and fails the test where they disagree. Reject reasons must
// match word for word, apart from the JSON library's own description of a syntax error.
// The one documented difference, nesting deeper than fastjson.MaxDepth, is checked apart.
func (df *differ) compare(line []byte) {
	df.t.Helper()
	got, want := df.typed(line), reference(line)
	if got.err != nil && strings.Contains(got.err.Error(), "too big depth") && nesting(line) >= fastjson.MaxDepth {
		return // rejected for its depth, as documented
	}
	switch {
	case (got.ev == nil) != (want.ev == nil) || (got.err == nil) != (want.err == nil):
		df.t.Fatalf("%s:\n typed     %+v %v\n reference %+v %v", line, got.ev, got.err, want.ev, want.err)
	case got.ev != nil && !reflect.DeepEqual(*got.ev, *want.ev):
		df.t.Fatalf("%s:\n typed     %+v\n reference %+v", line, *got.ev, *want.ev)
	case got.err != nil:
		if !errors.Is(got.err, format.ErrMalformed) {
			df.t.Fatalf("%s: %v does not wrap ErrMalformed", line, got.err)
		}
		const syntax = "expected a JSON object, got invalid JSON"
		g, w := got.err.Error(), want.err.Error()
		if strings.Contains(w, syntax) != strings.Contains(g, syntax) || !strings.Contains(w, syntax) && g != w {
			df.t.Fatalf("%s:\n typed     %v\n reference %v", line, g, w)
		}
	}
}

// nesting returns the deepest nesting of arrays and objects in a line, outside strings.
func nesting(line []byte) int {
	depth, deepest, inString := 0, 0, false
	for i := 0; i < len(line); i++ {
		switch c := line[i]; {
		case inString && c == '\\':
			i++
		case c == '"':
			inString = !inString
		case inString:
		case c == '[' || c == '{':
			depth++
			deepest = max(deepest, depth)
		case c == ']' || c == '}':
			depth--
		}
	}
	return deepest
}

// sampleLines reads the bundled sample history, the documents a replay decodes.
func sampleLines(t testing.TB) [][]byte {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "..", "..", "..", "testdata", "sample", "fleet-3d.ndjson.gz"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	z, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	return readLines(t, z)
}

func readLines(t testing.TB, r io.Reader) [][]byte {
	t.Helper()
	var out [][]byte
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		out = append(out, bytes.Clone(sc.Bytes()))
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// shipperLines reads testdata/shippers.ndjson: documents in the shapes Auditbeat, Auditd
// Manager and Elastic Defend write, as their public samples show them.
func shipperLines(t testing.TB) [][]byte {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "shippers.ndjson"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return readLines(t, f)
}

// seedLines are the documents of this package's tests, the shippers' shapes and a slice
// of the sample history.
func seedLines(t testing.TB) [][]byte {
	lines := [][]byte{[]byte(auditbeat7), []byte(auditdManager8), []byte(defendDotted)}
	lines = append(lines, shipperLines(t)...)
	return append(lines, sampleLines(t)[:200]...)
}

func TestDifferentialSample(t *testing.T) {
	df := newDiffer(t)
	for _, l := range sampleLines(t) {
		df.compare(l)
	}
}

func TestDifferentialShippers(t *testing.T) {
	lines := shipperLines(t)
	if len(lines) < 8 {
		t.Fatalf("only %d shipper documents", len(lines))
	}
	df := newDiffer(t)
	for _, l := range lines {
		df.compare(l)
		if out := reference(l); out.err != nil {
			t.Errorf("shipper document rejected: %v\n%s", out.err, l)
		}
	}
}

// TestDifferentialMutations rewrites the seed documents the ways ECS documents vary
// (flattened and mixed spellings, wrappers, nulls, numbers for strings and back, arrays,
// repeated keys, escapes) and the ways input breaks, and compares the two decoders on every
// variant, with one decoder kept across all of them.
func TestDifferentialMutations(t *testing.T) {
	variants := 6000
	if testing.Short() {
		variants = 2000
	}
	rng := rand.New(rand.NewPCG(12, 2026))
	seeds := seedLines(t)
	df := newDiffer(t)
	for range variants {
		var doc any
		if err := json.Unmarshal(seeds[rng.IntN(len(seeds))], &doc); err != nil {
			t.Fatal(err)
		}
		line := render(rng, mutate(rng, doc, 0))
		df.compare(line)
		df.compare(breakLine(rng, line))
	}
}

// mutate changes a decoded document at random, recursively.
func mutate(rng *rand.Rand, v any, depth int) any {
	switch x := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, e := range x {
			e = mutate(rng, e, depth+1)
			switch sub, isObj := e.(map[string]any); {
			case isObj && rng.IntN(4) == 0: // flatten one level into dotted keys
				for sk, se := range sub {
					out[k+"."+sk] = se
				}
				continue
			case rng.IntN(40) == 0:
				e = nil
			case rng.IntN(60) == 0:
				continue
			}
			out[k] = e
		}
		if depth == 0 && rng.IntN(10) == 0 {
			return map[string]any{"_index": "auditbeat-8.17.0", "_id": "x", "_source": out}
		}
		return out
	case string:
		switch rng.IntN(30) {
		case 0:
			return []any{x}
		case 1:
			return x + "\u00e9\\\"\t"
		case 2:
			return ""
		}
	case float64:
		switch rng.IntN(20) {
		case 0:
			return fmt.Sprint(x)
		case 1:
			return x + 0.5
		case 2:
			return -x
		case 3:
			return []any{x}
		case 4:
			return x * 1e6
		}
	case []any:
		switch rng.IntN(10) {
		case 0:
			return append(x, nil)
		case 1:
			return []any{}
		case 2:
			return append(x, true)
		case 3:
			return append(x, map[string]any{})
		}
	}
	return v
}

// render writes a document as JSON with its keys in random order, now and then a key
// twice, an escaped key, or an exponent.
func render(rng *rand.Rand, v any) []byte {
	var b bytes.Buffer
	var write func(v any)
	write = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			keys := make([]string, 0, len(x))
			for k := range x {
				keys = append(keys, k)
			}
			rng.Shuffle(len(keys), func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
			b.WriteByte('{')
			for i, k := range keys {
				if i > 0 {
					b.WriteByte(',')
				}
				if rng.IntN(25) == 0 { // an earlier value the later one must hide
					b.WriteString(`"` + k + `":"hidden",`)
				}
				if rng.IntN(50) == 0 && strings.Contains(k, ".") {
					b.WriteString(`"` + strings.Replace(k, ".", `\u002e`, 1) + `":`)
				} else {
					kb, _ := json.Marshal(k)
					b.Write(kb)
					b.WriteByte(':')
				}
				write(x[k])
			}
			b.WriteByte('}')
		case []any:
			b.WriteByte('[')
			for i, e := range x {
				if i > 0 {
					b.WriteByte(',')
				}
				write(e)
			}
			b.WriteByte(']')
		case float64:
			if rng.IntN(30) == 0 && x == float64(int64(x)) && x > 0 {
				fmt.Fprintf(&b, "%de0", int64(x))
				return
			}
			vb, _ := json.Marshal(x)
			b.Write(vb)
		default:
			vb, _ := json.Marshal(x)
			b.Write(vb)
		}
	}
	write(v)
	return b.Bytes()
}

// breakLine damages a line the ways input goes bad: cut short, a byte changed, a raw
// control character, a bad escape, a number JSON does not have, a number too large.
func breakLine(rng *rand.Rand, line []byte) []byte {
	b := bytes.Clone(line)
	i := rng.IntN(len(b))
	switch rng.IntN(8) {
	case 0:
		return b[:i]
	case 1:
		b[i] = "{}[]\",:0-.eE \\\x00\x1f\xff"[rng.IntN(17)]
		return b
	case 2:
		return insertAt(b, i, "\t\n")
	case 3:
		return insertAt(b, i, `\q`)
	case 4:
		return bytes.Replace(b, []byte(`:1`), []byte(`:01`), 1)
	case 5:
		return bytes.Replace(b, []byte(`:"`), []byte(`:NaN,"x":"`), 1)
	case 6:
		return bytes.Replace(b, []byte(`,"`), []byte(`,"big":1e400,"`), 1)
	}
	return append(b, " x"...)
}

func insertAt(b []byte, i int, s string) []byte {
	return append(b[:i], append([]byte(s), b[i:]...)...)
}

// FuzzDifferential compares the typed decoder with the reference on arbitrary lines.
func FuzzDifferential(f *testing.F) {
	for _, l := range seedLines(f)[:40] {
		f.Add(l)
	}
	for _, s := range []string{
		`{"_source":{"@timestamp":1,"process":{"name":"a"}}}`, `{"index":{}}`, `{"index":{},"index":1}`,
		`{"@timestamp":"2020-04-01T12:00:00Z","process.name":"a","process":{"name":"b"},"process.name":null}`,
		`{"@timestamp":"2020-04-01T12:00:00Z","host":{"os.type":"x","os":{"type":"y"}},"host.os":{"type":"z"}}`,
		`{"@timestamp":"2020-04-01T12:00:00Z","process":{"name":"\ud800x","args":["\u0061",1e2,true,null]}}`,
		`{"@timestamp":"1700000000000","destination.port":"443","source":{"port":[80]}}`, `[1e400]`, `"\u00e9"`,
		`{"@timestamp":"2020-04-01T12:00:00Z","host.name":"é","process":{"name":nan}}`,
		`{"@timestamp":"2020-04-01T12:00:00Z","user":{"id":-0},"process.pid":-0}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		df := newDiffer(t)
		df.compare(data)
		df.compare(data) // again, through the warm decoder
	})
}

// TestDepthLimit checks the one documented difference: a value nested in
// fastjson.MaxDepth arrays or objects is rejected for its depth (encoding/json allowed
// 10000), and one level less still decodes as before.
func TestDepthLimit(t *testing.T) {
	nest := func(levels int) string {
		return `{"@timestamp":1,"x":` + strings.Repeat("[", levels-1) + "1" + strings.Repeat("]", levels-1) + "}"
	}
	df := newDiffer(t)
	df.compare([]byte(nest(fastjson.MaxDepth - 1)))
	if out := df.typed([]byte(nest(fastjson.MaxDepth - 1))); out.ev == nil {
		t.Errorf("%d levels: %v", fastjson.MaxDepth-1, out.err)
	}
	out := df.typed([]byte(nest(fastjson.MaxDepth)))
	if out.err == nil || !strings.Contains(out.err.Error(), "too big depth") || !errors.Is(out.err, format.ErrMalformed) {
		t.Errorf("%d levels: %v, want a reject for the depth", fastjson.MaxDepth, out.err)
	}
	if ref := reference([]byte(nest(fastjson.MaxDepth))); ref.ev == nil {
		t.Errorf("the reference rejects %d levels too (%v): the limit is no longer a difference", fastjson.MaxDepth, ref.err)
	}
}
