package chunk

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"testing"
)

// BenchmarkReaderAuditd cuts a raw auditd log of 20,000 three-record events with a replay's
// limits (4 MiB messages), asking auditd.Boundary about every line; it should not allocate
// per chunk: chunks are views of the reader's buffer.
func BenchmarkReaderAuditd(b *testing.B) {
	var file bytes.Buffer
	for i := range 20000 {
		stamp := fmt.Sprintf("1700000000.%03d:%d", i%1000, 10+i)
		file.WriteString("type=SYSCALL msg=audit(" + stamp + "): arch=c000003e syscall=42 success=yes exit=0 a0=3 a1=7ffd items=0 ppid=1 pid=2 comm=\"curl\" exe=\"/usr/bin/curl\"\n")
		file.WriteString("type=SOCKADDR msg=audit(" + stamp + "): saddr=0200005DC0A8010A0000000000000000\n")
		file.WriteString("type=EOE msg=audit(" + stamp + "):\n")
	}
	lim := Limits{Lines: 65536, Bytes: 4 << 20, Line: 4 << 20}
	br := bufio.NewReaderSize(nil, lim.Bytes+1)
	b.ReportAllocs()
	b.SetBytes(int64(file.Len()))
	for b.Loop() {
		br.Reset(bytes.NewReader(file.Bytes()))
		c := NewReader(br, lim, true)
		for {
			if _, err := c.Next(); err == io.EOF {
				break
			} else if err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkBuilder gathers 20,000 ECS lines into live chunks as a sensor's publisher does
// (Room, Add, Take), each chunk's buffer sized once (SizeHint): one allocation per chunk.
func BenchmarkBuilder(b *testing.B) {
	var lines [][]byte
	n := 0
	for i := range 20000 {
		l := fmt.Appendf(nil, `{"@timestamp":"2026-03-02T10:%02d:%02dZ","event":{"category":["network"],"type":["start"]},"host":{"name":"h%d"},"destination":{"ip":"203.0.113.%d","port":443}}`, i/60%60, i%60, i%7, i%250)
		lines = append(lines, l)
		n += len(l) + 1
	}
	b.ReportAllocs()
	b.SetBytes(int64(n))
	for b.Loop() {
		c := Builder{Next: 1, SizeHint: n}
		for _, l := range lines {
			if !c.Room(len(l)) {
				c.Take()
				c.SizeHint = n
			}
			if c.Add(l) {
				c.Take()
				c.SizeHint = n
			}
		}
		c.Take()
	}
}
