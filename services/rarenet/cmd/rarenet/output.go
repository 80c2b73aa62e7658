package main

import (
	"bytes"
	"fmt"
	"io"
	"os"

	"golang.org/x/term"
)

// signalsOutput opens where a command writes its signals: --out FILE, "-" for stdout as NDJSON,
// or "" for stdout, which on a terminal gets one readable line per signal (signalLine) rather
// than kilobytes of JSON each. close flushes and closes it.
func signalsOutput(cmd, out string) (w io.Writer, close func() error, err error) {
	switch out {
	case "-":
		return os.Stdout, func() error { return nil }, nil
	case "":
		if !term.IsTerminal(int(os.Stdout.Fd())) {
			return os.Stdout, func() error { return nil }, nil
		}
		fmt.Fprintf(os.Stderr, "%s: signals are shown one line each on a terminal; --out FILE (or a pipe) gives their JSON documents\n", cmd)
		r := &readableSignals{w: os.Stdout}
		return r, r.flush, nil
	}
	f, err := os.Create(out)
	if err != nil {
		return nil, nil, err
	}
	return f, f.Close, nil
}

// readableSignals takes signal documents, one JSON document a line, and writes a readable line
// for each.
type readableSignals struct {
	w    io.Writer
	line []byte
}

func (r *readableSignals) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			r.line = append(r.line, p...)
			break
		}
		r.line = append(r.line, p[:i]...)
		p = p[i+1:]
		if err := r.flush(); err != nil {
			return n - len(p), err
		}
	}
	return n, nil
}

// flush writes the line held, if any.
func (r *readableSignals) flush() error {
	if len(bytes.TrimSpace(r.line)) == 0 {
		r.line = r.line[:0]
		return nil
	}
	_, err := fmt.Fprintln(r.w, signalLine(r.line))
	r.line = r.line[:0]
	return err
}
