package rarenet

import (
	"bufio"
	"compress/gzip"
	"fmt"
	"io"
	"os"
)

// openInput opens a file ("-" is stdin) and decompresses it when it is gzip, as rotated audit
// logs and exported archives often are.
func openInput(name string, stdin io.Reader) (io.ReadCloser, error) {
	var rc io.ReadCloser
	if name == "-" {
		if stdin == nil {
			stdin = os.Stdin
		}
		rc = io.NopCloser(stdin)
	} else {
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		rc = f
	}
	br := bufio.NewReaderSize(rc, 1<<20)
	magic, _ := br.Peek(2)
	if len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			rc.Close()
			return nil, fmt.Errorf("%s: gzip: %w", name, err)
		}
		return struct {
			io.Reader
			io.Closer
		}{zr, rc}, nil
	}
	return struct {
		io.Reader
		io.Closer
	}{br, rc}, nil
}

// lineReader reads lines of any length from an input.
func lineReader(r io.Reader) *bufio.Reader {
	if br, ok := r.(*bufio.Reader); ok {
		return br
	}
	return bufio.NewReaderSize(r, 1<<20)
}
