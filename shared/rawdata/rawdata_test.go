package rawdata

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/klauspost/compress/s2"
	"github.com/nats-io/nats.go"

	"github.com/rarenet/rarenet/shared/control"
)

func TestRoundTrip(t *testing.T) {
	line := `{"@timestamp":"2026-03-02T00:00:00.43Z","process":{"name":"curl"},"destination":{"ip":"203.0.113.7","port":443}}` + "\n"
	for _, data := range [][]byte{nil, []byte("short line"), []byte(strings.Repeat(line, 1000))} {
		m := nats.NewMsg("rarenet.raw.ecs")
		Compress(m, data)
		compressed := m.Header.Get(control.HeaderCompression) != ""
		if compressed != (len(data) >= MinCompress) {
			t.Errorf("%d bytes: compressed %v", len(data), compressed)
		}
		if compressed && len(m.Data) >= len(data)/4 {
			t.Errorf("%d bytes of repeated lines compressed to %d", len(data), len(m.Data))
		}
		got, err := Data(m.Header, m.Data)
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("%d bytes: round trip gave %d bytes, %v", len(data), len(got), err)
		}
	}
}

func TestIncompressibleStaysPlain(t *testing.T) {
	data := make([]byte, 64<<10)
	for i := range data {
		data[i] = byte(i*2654435761>>13) ^ byte(i>>7)
	}
	m := nats.NewMsg("rarenet.raw.ecs")
	Compress(m, data)
	if got, err := Data(m.Header, m.Data); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("round trip: %v", err)
	}
}

func TestRefusals(t *testing.T) {
	s2h := nats.Header{control.HeaderCompression: []string{control.CompressionS2}}
	// A bomb: a few bytes that claim to decompress to more than MaxDecoded.
	bomb := s2.Encode(nil, make([]byte, MaxDecoded+1))
	for _, c := range []struct {
		name string
		h    nats.Header
		data []byte
		want error
	}{
		{"corrupt", s2h, []byte("not s2 at all, just text"), ErrCorrupt},
		{"truncated", s2h, s2.Encode(nil, bytes.Repeat([]byte("abc"), 10000))[:20], ErrCorrupt},
		{"bomb", s2h, bomb, ErrTooLarge},
		{"unknown", nats.Header{control.HeaderCompression: []string{"zstd"}}, []byte("x"), ErrUnknown},
	} {
		if _, err := Data(c.h, c.data); !errors.Is(err, c.want) || !strings.Contains(err.Error(), control.HeaderCompression) {
			t.Errorf("%s: %v, want %v naming the header", c.name, err, c.want)
		}
	}
}

// FuzzData checks that no input makes Data panic or return more than MaxDecoded bytes.
func FuzzData(f *testing.F) {
	f.Add(s2.Encode(nil, []byte(strings.Repeat("type=SYSCALL msg=audit(1.0:1): ", 200))))
	f.Add([]byte("plain"))
	f.Fuzz(func(t *testing.T, data []byte) {
		out, err := Data(nats.Header{control.HeaderCompression: []string{control.CompressionS2}}, data)
		if err == nil && len(out) > MaxDecoded {
			t.Fatalf("%d bytes out", len(out))
		}
	})
}

// TestEncoderDecoderReuse checks the buffer-reusing pair: each message owns its bytes (the
// input and the encoder's scratch are overwritten after), and a decoder's output is right for
// each message in turn, from one buffer.
func TestEncoderDecoderReuse(t *testing.T) {
	var enc Encoder
	var dec Decoder
	in := make([]byte, 0, 64<<10)
	var msgs []*nats.Msg
	var want [][]byte
	for i, n := range []int{10, 100 << 10, 5000, 40 << 10, 0} { // growing and shrinking
		in = in[:0]
		for len(in) < n {
			in = fmt.Appendf(in, `{"n":%d,"process":{"name":"curl"}}`+"\n", i)
		}
		in = in[:n]
		m := nats.NewMsg("rarenet.raw.ecs")
		enc.Compress(m, in)
		if len(in) > 0 && len(m.Data) > 0 && &m.Data[0] == &in[0] {
			t.Fatalf("%d bytes: the message shares the input's memory", n)
		}
		msgs, want = append(msgs, m), append(want, bytes.Clone(in))
		clear(in) // the caller reuses its buffer
	}
	for i, m := range msgs {
		got, err := dec.Data(m.Header, m.Data)
		if err != nil || !bytes.Equal(got, want[i]) {
			t.Errorf("message %d (%d bytes): decoded %d bytes, %v", i, len(want[i]), len(got), err)
		}
	}
	if _, err := dec.Data(nats.Header{control.HeaderCompression: {control.CompressionS2}}, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}); !errors.Is(err, ErrTooLarge) && !errors.Is(err, ErrCorrupt) {
		t.Errorf("a corrupt message: %v, want a refusal", err)
	}
}

// TestAppend checks that Append leaves what dst holds, compresses only what pays, stays in
// dst's memory when MaxAppend bytes of room were made, and decodes back to the data.
func TestAppend(t *testing.T) {
	line := `{"@timestamp":"2026-03-02T00:00:00.43Z","process":{"name":"curl"},"destination":{"ip":"203.0.113.7","port":443}}` + "\n"
	random := make([]byte, 8<<10)
	for i := range random {
		random[i] = byte(i*7919%251 + i/251)
	}
	for _, c := range []struct {
		name       string
		data       []byte
		compressed bool
	}{
		{"short", []byte("short line"), false},
		{"lines", []byte(strings.Repeat(line, 200)), true},
		{"incompressible", s2.Encode(nil, random), false},
	} {
		prefix := []byte("earlier message")
		dst := make([]byte, len(prefix), len(prefix)+MaxAppend(len(c.data)))
		copy(dst, prefix)
		out, compressed := Append(dst, c.data)
		if compressed != c.compressed {
			t.Errorf("%s: compressed %v, want %v", c.name, compressed, c.compressed)
		}
		if &out[0] != &dst[0] || !bytes.Equal(out[:len(prefix)], prefix) {
			t.Errorf("%s: the earlier message moved or changed", c.name)
		}
		m := nats.NewMsg("rarenet.events.0")
		m.Data = out[len(prefix):]
		if compressed {
			Mark(m)
		}
		got, err := Data(m.Header, m.Data)
		if err != nil || !bytes.Equal(got, c.data) {
			t.Errorf("%s: round trip gave %d bytes of %d, %v", c.name, len(got), len(c.data), err)
		}
	}
}
