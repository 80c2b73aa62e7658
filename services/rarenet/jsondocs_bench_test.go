package rarenet

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"testing"

	"github.com/rarenet/rarenet/services/sources/chunk"
)

// BenchmarkNDJSONShape measures what telling an input's shape adds to an NDJSON file's
// replay: jsonDocuments once, against the chunker cutting the file (the fast path it keeps).
// Compare ns/op of the two: the look is paid once per file.
func BenchmarkNDJSONShape(b *testing.B) {
	var file bytes.Buffer
	for i := range 20000 { // about 5 MB, a small history
		fmt.Fprintf(&file, `{"@timestamp":"2026-03-02T10:%02d:%02dZ","event":{"category":["network"],"type":["start"]},"host":{"name":"h%d","os":{"type":"linux"}},"process":{"name":"p%d"},"user":{"name":"u%d"},"destination":{"ip":"203.0.113.%d","port":443}}`+"\n", i/60%60, i%60, i%7, i%13, i%5, i%250)
	}
	limits := defaultChunkLimits
	br := bufio.NewReaderSize(nil, limits.bytes+1)
	b.Run("shape", func(b *testing.B) {
		for b.Loop() {
			br.Reset(bytes.NewReader(file.Bytes()))
			if docs, err := jsonDocuments(br, "auto"); docs || err != nil {
				b.Fatal(docs, err)
			}
		}
	})
	b.Run("chunker", func(b *testing.B) {
		for b.Loop() {
			br.Reset(bytes.NewReader(file.Bytes()))
			c := chunk.NewReader(br, limits.chunk(), false)
			for {
				if _, err := c.Next(); err == io.EOF {
					break
				} else if err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}
