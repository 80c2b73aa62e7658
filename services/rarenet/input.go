package rarenet

import (
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/rarenet/rarenet/services/ingest/format"
	"github.com/rarenet/rarenet/services/ingest/format/formats"
)

// ErrTruncatedGzip is returned when a gzip input ends in the middle of its compressed data (a
// copy cut short, a log rotated while it was being compressed).
var ErrTruncatedGzip = errors.New("truncated gzip: the file ends in the middle of its compressed data")

// CheckFormat checks an input format's name: auto or one the decoders know.
func CheckFormat(name string) error {
	if name == "" || name == format.Auto {
		return nil
	}
	if _, err := formats.New(name); err != nil {
		names := append([]string{format.Auto}, formats.Names()...)
		return fmt.Errorf("--format %q: want %s or %s", name, strings.Join(names[:len(names)-1], ", "), names[len(names)-1])
	}
	return nil
}

// CheckInputs checks that every input file can be opened, before a command starts working on
// the first: a typo in the third name is reported at once.
func CheckInputs(files []string) error {
	for _, name := range files {
		if name == "-" {
			continue
		}
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		fi, err := f.Stat()
		f.Close()
		if err != nil {
			return err
		}
		if fi.IsDir() {
			return fmt.Errorf("%s is a directory: give the files in it", name)
		}
	}
	return nil
}

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
		}{gzipInput{zr}, rc}, nil
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

// gzipInput reads a gzip stream and names its truncation.
type gzipInput struct{ zr *gzip.Reader }

func (g gzipInput) Read(p []byte) (int, error) {
	n, err := g.zr.Read(p)
	if errors.Is(err, io.ErrUnexpectedEOF) {
		err = ErrTruncatedGzip
	}
	return n, err
}
