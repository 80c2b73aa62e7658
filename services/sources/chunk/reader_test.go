package chunk

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
)

// chunkAll cuts input with the given limits and returns the chunks.
func chunkAll(t *testing.T, input string, auditdLog bool, lim Limits) []Chunk {
	t.Helper()
	c := NewReader(bufio.NewReaderSize(strings.NewReader(input), lim.Bytes+1), lim, auditdLog)
	var out []Chunk
	for {
		ch, err := c.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		ch.Data = bytes.Clone(ch.Data) // a view of the reader's buffer until the next call
		out = append(out, ch)
	}
}

// TestChunkerKeepsEveryLine checks, on inputs of random lines (empty ones, CRLF, no final
// newline, lines longer than a message and than the longest kept), that the chunks hold
// every line once, in order, numbered right, within the limits.
func TestChunkerKeepsEveryLine(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	lim := Limits{Lines: 7, Bytes: 64, Line: 200}
	for round := range 300 {
		var lines []string
		for range r.IntN(40) {
			var l string
			switch r.IntN(10) {
			case 0:
				l = ""
			case 1:
				l = strings.Repeat("x", 65+r.IntN(100)) // longer than a message
			case 2:
				l = strings.Repeat("y", 201+r.IntN(300)) // longer than any line kept
			case 3:
				l = fmt.Sprintf("crlf %d\r", r.IntN(1000))
			default:
				l = fmt.Sprintf("{\"n\":%d,\"pad\":%q}", r.IntN(1e6), strings.Repeat("z", r.IntN(30)))
			}
			lines = append(lines, l)
		}
		input := strings.Join(lines, "\n")
		if r.IntN(2) == 0 && len(lines) > 0 {
			input += "\n"
		}
		next := int64(1)
		var got []string
		for _, ch := range chunkAll(t, input, false, lim) {
			if ch.FirstLine != next {
				t.Fatalf("round %d: chunk starts at line %d, want %d", round, ch.FirstLine, next)
			}
			if ch.Long != nil {
				if ch.Lines != 1 || ch.LongSize <= lim.Line || len(lines[next-1]) != ch.LongSize || !strings.HasPrefix(lines[next-1], string(ch.Long)) {
					t.Fatalf("round %d: long line %d: %d lines, size %d", round, next, ch.Lines, ch.LongSize)
				}
				got = append(got, lines[next-1]) // counted, not sent: its dead letter holds the head
			} else {
				if ch.Lines > lim.Lines || (len(ch.Data) > lim.Bytes && ch.Lines > 1) {
					t.Fatalf("round %d: chunk of %d lines, %d bytes, beyond the limits", round, ch.Lines, len(ch.Data))
				}
				parts := strings.Split(string(ch.Data), "\n")
				if len(parts) != ch.Lines {
					t.Fatalf("round %d: chunk says %d lines, holds %d", round, ch.Lines, len(parts))
				}
				got = append(got, parts...)
			}
			next += int64(ch.Lines)
		}
		// A line is what a newline ends, or the last bytes of the input: "a\n" is one line.
		var want []string
		if input != "" {
			want = strings.Split(strings.TrimSuffix(input, "\n"), "\n")
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") || len(got) != len(want) {
			t.Fatalf("round %d: lines\n got %q\nwant %q", round, got, want)
		}
	}
}

// TestChunkerCutsAuditdBetweenEvents checks that an auditd log is cut only after an event's
// EOE record when one fits, and anywhere only when none does.
func TestChunkerCutsAuditdBetweenEvents(t *testing.T) {
	var b strings.Builder
	for i := range 50 {
		stamp := fmt.Sprintf("1700000000.%03d:%d", i, 10+i)
		b.WriteString("type=SYSCALL msg=audit(" + stamp + "): arch=c000003e syscall=42 success=yes exit=0\n")
		b.WriteString("type=SOCKADDR msg=audit(" + stamp + "): saddr=0200005DC0A8010A0000000000000000\n")
		b.WriteString("type=EOE msg=audit(" + stamp + "):\n")
	}
	for _, lim := range []Limits{{Lines: 10, Bytes: 1 << 20, Line: 1 << 20}, {Lines: 1000, Bytes: 700, Line: 1 << 20}} {
		chunks := chunkAll(t, b.String(), true, lim)
		if len(chunks) < 5 {
			t.Fatalf("limits %+v: %d chunks", lim, len(chunks))
		}
		total := 0
		for i, ch := range chunks {
			total += ch.Lines
			lines := strings.Split(string(ch.Data), "\n")
			if !strings.HasPrefix(lines[len(lines)-1], "type=EOE") {
				t.Errorf("limits %+v: chunk %d ends inside an event: %q", lim, i, lines[len(lines)-1])
			}
		}
		if total != 150 {
			t.Errorf("limits %+v: %d lines, want 150", lim, total)
		}
	}
	// One event longer than a message: cut anywhere, since nowhere else will do.
	long := strings.Repeat("type=EXECVE msg=audit(1700000000.000:9): a0=\"x\"\n", 20)
	chunks := chunkAll(t, long, true, Limits{Lines: 5, Bytes: 1 << 20, Line: 1 << 20})
	if len(chunks) != 4 {
		t.Errorf("an event of 20 records in messages of 5 lines: %d chunks, want 4", len(chunks))
	}
}

// failingReader returns its data, then err (as a truncated gzip does).
type failingReader struct {
	data string
	err  error
}

func (f *failingReader) Read(p []byte) (int, error) {
	if f.data == "" {
		return 0, f.err
	}
	n := copy(p, f.data)
	f.data = f.data[n:]
	return n, nil
}

// TestChunkerSendsLinesBeforeAReadError checks that the whole lines read before an input's
// read error are chunked before the error is returned, and the line it cut is not.
func TestChunkerSendsLinesBeforeAReadError(t *testing.T) {
	broken := errors.New("unexpected EOF")
	for _, auditdLog := range []bool{false, true} {
		in := &failingReader{data: "a 1\nb 2\nc 3\nhalf a li", err: broken}
		c := NewReader(bufio.NewReaderSize(in, 65), Limits{Lines: 2, Bytes: 64, Line: 200}, auditdLog)
		var got []string
		var err error
		for err == nil {
			var ch Chunk
			if ch, err = c.Next(); err == nil {
				got = append(got, string(ch.Data))
			}
		}
		if !errors.Is(err, broken) {
			t.Fatalf("auditd %v: error %v, want %v", auditdLog, err, broken)
		}
		if all := strings.Join(got, "\n"); !strings.HasPrefix(all, "a 1\nb 2\nc 3") {
			t.Errorf("auditd %v: chunks %q, want the three whole lines first", auditdLog, got)
		}
	}
}
