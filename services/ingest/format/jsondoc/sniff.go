package jsondoc

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
)

// Sniff tells from the head of an input (its first bytes, as many as a reader buffers)
// whether its JSON documents span lines or share them, so that the document reader (Each)
// must read it: true for a top-level array, a first document that does not end on its first
// line (pretty-printed), one followed by more on the same line (concatenated), and an
// Elasticsearch _search response. NDJSON and the text formats (auditd, Sysmon XML) are false,
// and so is a first line that is broken JSON followed by a line starting another object (an
// NDJSON file with a bad first line: its lines are rejected one by one, as they should be).
// eof says head is the whole input. It runs once per input.
func Sniff(head []byte, eof bool) bool {
	head = bytes.TrimLeft(bytes.TrimPrefix(head, []byte("\ufeff")), " \t\r\n")
	if len(head) == 0 {
		return false
	}
	switch head[0] {
	case '[':
		return true
	case '{':
	default:
		return false
	}
	first, rest, newline := bytes.Cut(head, []byte{'\n'})
	if !newline && !eof {
		return false // a first line longer than the head: NDJSON's lines may be long, pretty JSON's are not
	}
	dec := json.NewDecoder(bytes.NewReader(first))
	var doc struct {
		Hits *struct {
			Hits json.RawMessage `json:"hits"`
		} `json:"hits"`
	}
	switch err := dec.Decode(&doc); {
	case err == nil:
		if doc.Hits != nil && len(doc.Hits.Hits) > 0 && doc.Hits.Hits[0] == '[' {
			return true // a _search response
		}
		return len(bytes.TrimSpace(first[dec.InputOffset():])) > 0 // concatenated on one line
	case errors.Is(err, io.ErrUnexpectedEOF):
		// The first object goes on past its line: pretty-printed, unless the next line starts
		// another object (a broken first line of NDJSON).
		for len(rest) > 0 {
			var line []byte
			line, rest, _ = bytes.Cut(rest, []byte{'\n'})
			if line = bytes.TrimSpace(line); len(line) > 0 {
				return line[0] != '{'
			}
		}
		return true
	default:
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) { // a "hits" that is not an object: still a document
			return len(bytes.TrimSpace(first[dec.InputOffset():])) > 0
		}
		return false // broken JSON: the decoder rejects the line
	}
}
