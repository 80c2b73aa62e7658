package jsondoc

import "bytes"

// Piece is part of an input laid out one document per line.
type Piece struct {
	// FirstLine is the number of Data's first line.
	FirstLine int64
	// Data holds documents, each on the line of the input it starts on, blank lines
	// between.
	Data []byte
}

// Align lays out the documents of data, whose first line is number first, one per line,
// each on the line it starts on, so that a reader that numbers lines from first names each
// document's line. Documents that share a line start new pieces. Input that is not a JSON
// document comes as it is (Doc.Data), for the decoder to reject; a document longer than
// maxDoc comes as its head, which the decoder rejects too.
func Align(data []byte, first int64, maxDoc int) []Piece {
	var pieces []Piece
	var cur *Piece
	var last int64
	_, _ = Each(bytes.NewReader(data), maxDoc, func(d Doc) error {
		line := first + d.Line - 1
		if cur == nil || line <= last {
			pieces = append(pieces, Piece{FirstLine: line})
			cur = &pieces[len(pieces)-1]
		} else {
			for range line - last {
				cur.Data = append(cur.Data, '\n')
			}
		}
		cur.Data = append(cur.Data, d.Data...)
		last = line
		return nil
	})
	return pieces
}
