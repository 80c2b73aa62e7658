package jsondoc

import (
	"bytes"
	"testing"
)

// FuzzEach: whatever the input, Each neither panics nor loses a line: documents come in the
// order of their lines, within the input's lines, and a document without Err is one line.
func FuzzEach(f *testing.F) {
	for _, s := range []string{
		"{\n \"a\": [1, {\"b\": \"}\"}]\n}\n{\"c\": 2}",
		`{"hits":{"hits":[{"_source":{"a":1}},{"_id":"x"}]}}`,
		"[{\"a\":1},\n{\"b\":\n",
		"\ufeff{\"a\":\"\\\"\"}{}[]]}, hello\n{",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var last int64
		lines, err := Each(bytes.NewReader(in), 1<<10, func(d Doc) error {
			if d.Line < last || d.Line < 1 {
				t.Fatalf("document at line %d after one at line %d", d.Line, last)
			}
			if d.Err == nil && bytes.IndexByte(d.Data, '\n') >= 0 {
				t.Fatalf("document of more than one line: %q", d.Data)
			}
			last = d.Line
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if want := int64(bytes.Count(in, []byte{'\n'})); lines < want || lines > want+1 || last > lines {
			t.Fatalf("%d lines read of %d newlines, last document at line %d", lines, want, last)
		}
	})
}
