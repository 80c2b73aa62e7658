package tail

import (
	"bytes"
	"errors"
	"io"

	"github.com/rarenet/rarenet/services/ingest/format"
	"github.com/rarenet/rarenet/services/ingest/format/jsondoc"
)

// sniffBytes is how much of a file's start sniff looks at.
const sniffBytes = 64 << 10

// sniff tells, once per generation of a file, whether it holds JSON documents that span or
// share lines (jsondoc.Sniff), from its first bytes. It waits for the first line that is not
// blank to be complete: a line being written could look like the start of a pretty-printed
// document.
func (t *Tailer) sniff(f *follower) error {
	gen := Position{Dev: f.pos.Dev, Inode: f.pos.Inode, Generation: f.pos.Generation}
	if f.docsOf == gen && gen.Inode != 0 {
		return nil
	}
	f.docs = false
	if t.cfg.Format == format.Auditd {
		f.docsOf = gen
		return nil
	}
	head := make([]byte, sniffBytes)
	n, err := f.file.ReadAt(head, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	head = head[:n]
	if rest := bytes.TrimLeft(head, " \t\r\n\ufeff"); bytes.IndexByte(rest, '\n') < 0 && n < sniffBytes {
		return nil // no complete line yet: look again at the next read
	}
	f.docs, f.docsOf = jsondoc.Sniff(head, false), gen
	return nil
}

// between reports whether f may be cut right before line (a place between auditd events, or
// between JSON documents).
func (f *follower) between(line []byte) bool {
	if f.docs {
		return f.docBound.Add(line)
	}
	return f.bound.Add(line)
}

// open reports whether the last event or document read may still go on.
func (f *follower) open() bool {
	if f.docs {
		return f.docBound.Open()
	}
	return f.bound.Open()
}
