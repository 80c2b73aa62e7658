package jsondoc

// Boundary tells, line by line, where a file of JSON documents that span lines may be cut
// into raw messages without splitting a document, for the sources that publish a file as it
// grows (`rarenet tail`), as auditd.Boundary does for audit logs. It follows the nesting of
// brackets outside strings; a cut is safe before a line when every bracket opened before it
// is closed. The zero value is ready.
type Boundary struct {
	depth int
}

// Add takes the next line and reports whether the input may be cut right before it.
func (b *Boundary) Add(line []byte) bool {
	safe := b.depth == 0
	in := false
	for i := 0; i < len(line); i++ {
		switch c := line[i]; {
		case in && c == '\\':
			i++
		case c == '"':
			in = !in
		case in:
		case c == '{' || c == '[':
			b.depth++
		case c == '}' || c == ']':
			b.depth = max(b.depth-1, 0) // a stray closer is the decoder's to reject
		}
	}
	return safe
}

// Open reports whether a document is still open: the lines after may belong to it.
func (b *Boundary) Open() bool { return b.depth > 0 }

// Reset forgets what was added: the next line starts between documents.
func (b *Boundary) Reset() { b.depth = 0 }
