package rawdata

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
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

// TestMessageOwnsItsData: whatever the codec and size (too small to compress, incompressible,
// compressed), the message's data is its own, so a source may reuse its buffer while the
// message waits for its ack (and may be sent again).
func TestMessageOwnsItsData(t *testing.T) {
	rnd := make([]byte, 64<<10)
	for i := range rnd {
		rnd[i] = byte(rand.IntN(256))
	}
	for _, c := range []Codec{S2, Zstd} {
		for _, data := range [][]byte{[]byte("short line"), rnd, bytes.Repeat([]byte("a line of text\n"), 1000)} {
			buf := bytes.Clone(data)
			m := nats.NewMsg("rarenet.raw.ecs")
			CompressAs(m, buf, c)
			for i := range buf {
				buf[i] = 'x'
			}
			got, err := Data(m.Header, m.Data)
			if err != nil || !bytes.Equal(got, data) {
				t.Errorf("codec %v, %d bytes: the message's data changed with the caller's buffer (err %v)", c, len(data), err)
			}
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
	zh := nats.Header{control.HeaderCompression: []string{control.CompressionZstd}}
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
		{"zstd corrupt", zh, []byte("not zstd at all, just text"), ErrCorrupt},
		{"zstd truncated", zh, zstdOf(bytes.Repeat([]byte("abcdefgh"), 100000))[:40], ErrCorrupt},
		{"zstd bomb", zh, zstdOf(make([]byte, MaxDecoded+1)), ErrTooLarge},
		{"zstd bomb, size not declared", zh, zstdStreamed(t, MaxDecoded+1), ErrTooLarge},
		{"zstd bomb of two frames", zh, append(zstdOf(make([]byte, MaxDecoded/2+1)), zstdOf(make([]byte, MaxDecoded/2+1))...), ErrTooLarge},
		{"unknown", nats.Header{control.HeaderCompression: []string{"lz4"}}, []byte("x"), ErrUnknown},
	} {
		if _, err := Data(c.h, c.data); !errors.Is(err, c.want) || !strings.Contains(err.Error(), control.HeaderCompression) {
			t.Errorf("%s: %v, want %v naming the header", c.name, err, c.want)
		}
	}
}

// zstdOf is data as one zstd frame that declares its size.
func zstdOf(data []byte) []byte {
	e, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest))
	if err != nil {
		panic(err)
	}
	defer e.Close()
	return e.EncodeAll(data, nil)
}

// zstdStreamed is n zero bytes as a zstd stream that does not declare its size.
func zstdStreamed(t testing.TB, n int) []byte {
	var b bytes.Buffer
	e, err := zstd.NewWriter(&b, zstd.WithEncoderLevel(zstd.SpeedFastest))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Write(make([]byte, n)); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	var h zstd.Header
	if err := h.Decode(b.Bytes()); err != nil || h.HasFCS {
		t.Fatalf("the streamed frame declares its size (%v) or does not parse: %v", h.HasFCS, err)
	}
	return b.Bytes()
}

// TestZstdRoundTrip checks the zstd Encoder on log lines (smaller than S2 makes them),
// incompressible data (kept plain) and short data (kept plain), decoded by Data and by a
// Decoder.
func TestZstdRoundTrip(t *testing.T) {
	r := rand.New(rand.NewChaCha8([32]byte{7}))
	var lines []byte
	for i := range 4000 {
		comm := []string{"curl", "sshd", "nginx", "python3"}[r.IntN(4)]
		lines = fmt.Appendf(lines, `type=SYSCALL msg=audit(%d.%03d:%d): arch=c000003e syscall=42 success=yes exit=0 a0=%x pid=%d comm=%q exe="/usr/bin/%s"`+"\n",
			1772409600+i/10, r.IntN(1000), 8812+i, r.Uint32(), 1000+r.IntN(30000), comm, comm)
	}
	random := make([]byte, 64<<10)
	rand.NewChaCha8([32]byte{7}).Read(random)
	zenc, senc := Encoder{Codec: Zstd}, Encoder{}
	var dec Decoder
	for _, c := range []struct {
		name string
		data []byte
		want string
	}{
		{"lines", lines, control.CompressionZstd},
		{"incompressible", random, ""},
		{"short", []byte("short line"), ""},
	} {
		m := nats.NewMsg("rarenet.raw.auditd")
		zenc.Compress(m, c.data)
		if got := m.Header.Get(control.HeaderCompression); got != c.want {
			t.Errorf("%s: %s %q, want %q", c.name, control.HeaderCompression, got, c.want)
		}
		if c.want != "" {
			s := nats.NewMsg("rarenet.raw.auditd")
			senc.Compress(s, c.data)
			if len(m.Data) >= len(s.Data) {
				t.Errorf("%s: zstd %d bytes, not smaller than S2's %d", c.name, len(m.Data), len(s.Data))
			}
		}
		for _, decode := range []func(nats.Header, []byte) ([]byte, error){Data, dec.Data} {
			if got, err := decode(m.Header, m.Data); err != nil || !bytes.Equal(got, c.data) {
				t.Errorf("%s: round trip gave %d bytes of %d, %v", c.name, len(got), len(c.data), err)
			}
		}
	}
}

// FuzzData checks that no input makes Data panic or return more than MaxDecoded bytes, for
// either compression.
func FuzzData(f *testing.F) {
	f.Add(s2.Encode(nil, []byte(strings.Repeat("type=SYSCALL msg=audit(1.0:1): ", 200))), false)
	f.Add(zstdOf([]byte(strings.Repeat("type=SYSCALL msg=audit(1.0:1): ", 200))), true)
	f.Add([]byte("plain"), false)
	f.Add([]byte("plain"), true)
	f.Fuzz(func(t *testing.T, data []byte, zstd bool) {
		c := control.CompressionS2
		if zstd {
			c = control.CompressionZstd
		}
		out, err := Data(nats.Header{control.HeaderCompression: []string{c}}, data)
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
