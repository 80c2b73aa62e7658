// Package control defines the in-band messages and headers that stages pass along with the
// data: watermarks (event time up to which a stream is complete), the end-of-input marker of a
// replay, and the headers of dead letters and raw input.
//
// Markers travel on the same subjects as the data they follow, so JetStream's per-publisher
// ordering guarantees that a stage has seen every message before a marker when it sees the
// marker.
package control

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
)

// Header names.
const (
	// HeaderKind marks a control message; its value is KindWatermark or KindEOF. Data messages
	// do not carry it.
	HeaderKind = "Rarenet-Control"
	// HeaderWatermark holds the watermark in Unix milliseconds.
	HeaderWatermark = "Rarenet-Watermark"
	// HeaderReplay holds the id of the replay an end-of-input marker belongs to; `rarenet
	// replay` also sets it on the raw messages of the replay.
	HeaderReplay = "Rarenet-Replay"
	// HeaderPartition holds the partition an end-of-input marker was published on.
	HeaderPartition = "Rarenet-Partition"
	// HeaderSource names the input (file name, "-" for stdin, or a source id).
	HeaderSource = "Rarenet-Source"
	// HeaderLine holds the 1-based number of the first line of a raw message or dead letter.
	HeaderLine = "Rarenet-Line"
	// HeaderReason says why a message is a dead letter.
	HeaderReason = "Rarenet-Reason"
	// HeaderStage names the stage that dead-lettered a message.
	HeaderStage = "Rarenet-Stage"
	// HeaderFormat names the input format of a raw message or dead letter.
	HeaderFormat = "Rarenet-Format"
	// HeaderAuthSource names the source that vouched for a dead letter's raw input (the
	// source its raw subject named: rarenet.raw.<format>.<source>), so that a re-submission
	// goes back on that subject and keeps it.
	HeaderAuthSource = "Rarenet-Auth-Source"
	// HeaderSummaries, on an anomaly record, holds how many bucket summary messages the scorer
	// published for the record's bucket (before its records): an enricher replica enriches
	// the record once that many are in the shared history.
	HeaderSummaries = "Rarenet-Summaries"
	// HeaderEncoding names the encoding of a message's data when it is not JSON:
	// EncodingMsgpack for bucket summaries between scorer and enricher.
	HeaderEncoding = "Rarenet-Encoding"
	// HeaderCompression names the compression of a raw message's data: CompressionS2 or
	// CompressionZstd (see shared/rawdata). Raw messages without it are plain text.
	HeaderCompression = "Rarenet-Compression"
	// HeaderStatsPrefix starts the headers in which each stage adds its counters (JSON) to an
	// end-of-input marker as it passes, so the end of a replay reports the whole pipeline.
	HeaderStatsPrefix = "Rarenet-Stats-"
	// EncodingMsgpack is HeaderEncoding's value for msgpack data (generated codecs).
	EncodingMsgpack = "msgpack"
	// CompressionS2 is HeaderCompression's value for S2 block compression
	// (github.com/klauspost/compress/s2).
	CompressionS2 = "s2"
	// CompressionZstd is HeaderCompression's value for a zstd frame
	// (github.com/klauspost/compress/zstd).
	CompressionZstd = "zstd"
)

// Kinds of control message.
const (
	KindWatermark = "watermark"
	KindEOF       = "eof"
)

// ErrBadMarker is returned for a control message whose headers do not parse.
var ErrBadMarker = errors.New("control: malformed control message")

// Marker is a decoded control message.
type Marker struct {
	Kind      string
	Watermark time.Time // zero for EOF markers that carry none
	Replay    string
	Partition int
	// Stats holds each stage's counters as JSON, by stage name (end-of-input markers only).
	Stats map[string]string
}

// IsControl reports whether h belongs to a control message.
func IsControl(h nats.Header) bool { return h != nil && h.Get(HeaderKind) != "" }

// Parse decodes the control headers.
func Parse(h nats.Header) (Marker, error) {
	m := Marker{Kind: h.Get(HeaderKind), Replay: h.Get(HeaderReplay)}
	switch m.Kind {
	case KindWatermark, KindEOF:
	default:
		return m, fmt.Errorf("%w: %s %q", ErrBadMarker, HeaderKind, m.Kind)
	}
	if v := h.Get(HeaderWatermark); v != "" {
		ms, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return m, fmt.Errorf("%w: %s %q is not Unix milliseconds", ErrBadMarker, HeaderWatermark, v)
		}
		m.Watermark = time.UnixMilli(ms).UTC()
	} else if m.Kind == KindWatermark {
		return m, fmt.Errorf("%w: watermark without %s", ErrBadMarker, HeaderWatermark)
	}
	if v := h.Get(HeaderPartition); v != "" {
		p, err := strconv.Atoi(v)
		if err != nil {
			return m, fmt.Errorf("%w: %s %q is not a number", ErrBadMarker, HeaderPartition, v)
		}
		m.Partition = p
	}
	for k, v := range h {
		if len(k) > len(HeaderStatsPrefix) && strings.EqualFold(k[:len(HeaderStatsPrefix)], HeaderStatsPrefix) && len(v) > 0 {
			if m.Stats == nil {
				m.Stats = map[string]string{}
			}
			m.Stats[strings.ToLower(k[len(HeaderStatsPrefix):])] = v[0]
		}
	}
	return m, nil
}

// Msg builds the control message for m on subject.
func (m Marker) Msg(subject string) *nats.Msg {
	msg := nats.NewMsg(subject)
	msg.Header.Set(HeaderKind, m.Kind)
	if !m.Watermark.IsZero() {
		msg.Header.Set(HeaderWatermark, strconv.FormatInt(m.Watermark.UnixMilli(), 10))
	}
	if m.Replay != "" {
		msg.Header.Set(HeaderReplay, m.Replay)
	}
	if m.Kind == KindEOF {
		msg.Header.Set(HeaderPartition, strconv.Itoa(m.Partition))
	}
	for stage, js := range m.Stats {
		msg.Header.Set(HeaderStatsPrefix+stage, js)
	}
	return msg
}
