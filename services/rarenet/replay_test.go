package rarenet

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/rarenet/rarenet/shared/control"
	"github.com/rarenet/rarenet/shared/natstest"
	"github.com/rarenet/rarenet/shared/natsutil"
	"github.com/rarenet/rarenet/shared/rawdata"
	"github.com/rarenet/rarenet/shared/stream"
)

// TestSendFileCutsBetweenEvents checks that the replay's raw messages hold whole auditd events
// (ingest replicas decode each on its own), number their lines right, and carry the replay's
// id.
func TestSendFileCutsBetweenEvents(t *testing.T) {
	ts := natstest.Start(t)
	ts.Pipeline(t, 1)
	var b strings.Builder
	// One single-record event first, so that the messages fill up in the middle of events.
	b.WriteString("type=USER_ACCT msg=audit(1699999999.000:1): pid=1 uid=0\n")
	const chunkLines = 1000 // the test's limit, which the file must pass several times
	events := chunkLines/4*3 + 5
	for i := range events {
		stamp := fmt.Sprintf("1700000000.%03d:%d", i%1000, 10+i)
		b.WriteString("type=SYSCALL msg=audit(" + stamp + "): arch=c000003e syscall=42 success=yes exit=0 pid=7 comm=\"curl\" exe=\"/usr/bin/curl\"\n")
		b.WriteString("type=SOCKADDR msg=audit(" + stamp + "): saddr=0200005DC0A8010A0000000000000000\n")
		b.WriteString("type=PROCTITLE msg=audit(" + stamp + "): proctitle=6375726C\n")
		b.WriteString("type=EOE msg=audit(" + stamp + "):\n")
	}
	path := filepath.Join(t.TempDir(), "audit.log")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	pub := natsutil.NewPublisher(ts.JS)
	n, err := sendFile(ts.Ctx, pub, path, ReplayOptions{Format: "auditd", id: "r-1", chunkLimits: chunkLimits{chunkLines, 1 << 20, 4 << 20, 0}})
	if err != nil {
		t.Fatal(err)
	}
	if err := pub.Flush(ts.Ctx); err != nil {
		t.Fatal(err)
	}
	if want := int64(1 + 4*events); n != want {
		t.Errorf("sendFile read %d lines, want %d", n, want)
	}
	msgs := rawMessages(t, ts)
	if len(msgs) < 4 {
		t.Fatalf("%d raw messages, want the file cut into at least 4", len(msgs))
	}
	next := int64(1)
	for _, m := range msgs {
		seq := m.seq
		lines := strings.Split(string(m.text), "\n")
		first, _ := strconv.ParseInt(m.header.Get(control.HeaderLine), 10, 64)
		if first != next || m.header.Get(control.HeaderReplay) != "r-1" {
			t.Errorf("message %d: first line %d (want %d), replay %q", seq, first, next, m.header.Get(control.HeaderReplay))
		}
		if len(lines) > chunkLines {
			t.Errorf("message %d has %d lines, more than %d", seq, len(lines), chunkLines)
		}
		if last := lines[len(lines)-1]; !strings.HasPrefix(last, "type=EOE") {
			t.Errorf("message %d ends with %q: an event is cut", seq, last)
		}
		next += int64(len(lines))
	}
	if next != n+1 {
		t.Errorf("the messages hold %d lines, want %d", next-1, n)
	}
}

// TestSendFilePacks checks that where a message holds fewer bytes than a packed chunk, the
// replay sends chunks of lines that compress to fit: more lines than a message's bytes, none
// larger than a message on the wire, and every line once, in order, with auditd events whole.
// Lines that do not compress (random text) are cut again into chunks that fit as they are.
func TestSendFilePacks(t *testing.T) {
	const wire = 16 << 10
	lim := chunkLimits{lines: 1 << 20, bytes: wire, line: wire, packed: 256 << 10}
	rnd := rand.New(rand.NewPCG(1, 2))
	random := func(n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte('!' + rnd.IntN(94))
		}
		return string(b)
	}
	var ecs, audit strings.Builder
	for i := range 4000 {
		if i >= 1500 && i < 2500 { // a stretch that does not compress: the packed chunk is cut again
			fmt.Fprintf(&ecs, `{"@timestamp":"2024-01-01T00:00:00Z","message":%q}`+"\n", random(200))
		} else {
			fmt.Fprintf(&ecs, `{"@timestamp":"2024-01-01T00:00:00Z","process":{"name":"curl","pid":%d},"destination":{"ip":"10.0.0.%d"}}`+"\n", i, i%250)
		}
		stamp := fmt.Sprintf("1700000000.%03d:%d", i%1000, 10+i)
		comm := "curl"
		if i >= 1500 && i < 2500 {
			comm = random(150)
		}
		fmt.Fprintf(&audit, "type=SYSCALL msg=audit(%s): arch=c000003e syscall=42 success=yes exit=0 pid=7 comm=%q exe=\"/usr/bin/curl\"\n", stamp, comm)
		fmt.Fprintf(&audit, "type=SOCKADDR msg=audit(%s): saddr=0200005DC0A8010A0000000000000000\n", stamp)
		fmt.Fprintf(&audit, "type=EOE msg=audit(%s):\n", stamp)
	}
	for _, tc := range []struct {
		format, text string
		codec        string // of the compressed messages
	}{{"ecs", ecs.String(), control.CompressionS2}, {"auditd", audit.String(), control.CompressionZstd}} {
		t.Run(tc.format, func(t *testing.T) {
			ts := natstest.Start(t)
			ts.Pipeline(t, 1)
			path := filepath.Join(t.TempDir(), "input")
			if err := os.WriteFile(path, []byte(tc.text), 0o644); err != nil {
				t.Fatal(err)
			}
			pub := natsutil.NewPublisher(ts.JS)
			n, err := sendFile(ts.Ctx, pub, path, ReplayOptions{Format: tc.format, id: "r-1", chunkLimits: lim})
			if err != nil {
				t.Fatal(err)
			}
			if err := pub.Flush(ts.Ctx); err != nil {
				t.Fatal(err)
			}
			want := strings.Split(strings.TrimSuffix(tc.text, "\n"), "\n")
			if n != int64(len(want)) {
				t.Errorf("sendFile read %d lines, want %d", n, len(want))
			}
			var got []string
			packed, plain := 0, 0
			for _, m := range rawMessages(t, ts) {
				seq := m.seq
				if m.wire > wire {
					t.Errorf("message %d: %d bytes, more than %d", seq, m.wire, wire)
				}
				if c := m.header.Get(control.HeaderCompression); c != "" && c != tc.codec {
					t.Errorf("message %d compressed with %s, want %s", seq, c, tc.codec)
				}
				if len(m.text) > wire {
					packed++
				} else {
					plain++
				}
				lines := strings.Split(string(m.text), "\n")
				if first, _ := strconv.ParseInt(m.header.Get(control.HeaderLine), 10, 64); first != int64(len(got)+1) {
					t.Errorf("message %d: first line %d, want %d", seq, first, len(got)+1)
				}
				if tc.format == "auditd" && !strings.HasPrefix(lines[len(lines)-1], "type=EOE") {
					t.Errorf("message %d ends with %.40q: an event is cut", seq, lines[len(lines)-1])
				}
				got = append(got, lines...)
			}
			if !slices.Equal(got, want) {
				t.Errorf("the messages hold %d lines, not the input's %d in order", len(got), len(want))
			}
			if packed == 0 || plain == 0 {
				t.Errorf("%d messages with more lines than fit uncompressed and %d with fewer: want both", packed, plain)
			}
		})
	}
}

// rawMessage is a message of the RAW stream as ingest reads it.
type rawMessage struct {
	seq    uint64
	header nats.Header
	wire   int    // the size of its data as stored
	text   []byte // its data decompressed
}

// rawMessages reads every message of the RAW stream, in order, decompressing each; it fails
// the test on one that does not decompress.
func rawMessages(t *testing.T, ts *natstest.Server) []rawMessage {
	t.Helper()
	raw, err := ts.JS.Stream(ts.Ctx, stream.Raw)
	if err != nil {
		t.Fatal(err)
	}
	info, err := raw.Info(ts.Ctx)
	if err != nil {
		t.Fatal(err)
	}
	var msgs []rawMessage
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq; seq++ {
		m, err := raw.GetMsg(ts.Ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		text, err := rawdata.Data(m.Header, m.Data)
		if err != nil {
			t.Fatalf("message %d: %v", seq, err)
		}
		msgs = append(msgs, rawMessage{seq: seq, header: m.Header, wire: len(m.Data), text: text})
	}
	return msgs
}
