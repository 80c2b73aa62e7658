// Package rawpub builds the raw input messages that live sources (tail, collect, the HTTP
// endpoint, the sensor) publish on rarenet.raw.<format>: many lines per message (cut by
// package chunk), each message naming its source and the number of its first line in the
// headers ingest reads, as `rarenet replay` does.
package rawpub

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"

	"github.com/nats-io/nats.go"

	"github.com/rarenet/rarenet/services/ingest/format"
	"github.com/rarenet/rarenet/services/ingest/format/formats"
	"github.com/rarenet/rarenet/services/sources/chunk"
	"github.com/rarenet/rarenet/shared/control"
	"github.com/rarenet/rarenet/shared/rawdata"
	"github.com/rarenet/rarenet/shared/stream"
)

// Limits of a live source's raw message (chunk.Live, the zero limits of a chunk.Builder):
// many lines per message keeps JetStream's per-message cost off the hot path. MaxBytes leaves
// room for the headers within the 1 MiB maximum payload of a default nats-server, so a chunk
// fits any server; it is also the longest line a live source sends in one piece.
const (
	MaxLines = chunk.LiveLines
	MaxBytes = chunk.LiveBytes
)

// Message builds the raw message of data (lines separated by '\n') on the subject of format,
// with source and the number of its first line in the headers.
func Message(formatName, source string, firstLine int64, data []byte) *nats.Msg {
	return BoundMessage(formatName, "", source, firstLine, data)
}

// Subject is the raw subject of input of formatName: rarenet.raw.<format>, or, from a source
// that names itself (sourceName), rarenet.raw.<format>.<source>, the only subject a
// source-bound NATS user may publish on (deploy/nats/accounts.conf). Ingest binds the lines
// of such a subject to the source's host patterns.
func Subject(formatName, sourceName string) string {
	if sourceName == "" {
		return stream.RawSubject(formatName)
	}
	return stream.RawSubject(formatName) + "." + sourceName
}

// BoundMessage is Message on the subject naming sourceName (see Subject). The data of a
// message of many lines is compressed (rawdata): every copy the server makes of it (into the
// stream and its replicas, to disk, out to ingest) then moves several times fewer bytes, which
// costs less CPU than compressing does. The message keeps data itself when it is not.
func BoundMessage(formatName, sourceName, source string, firstLine int64, data []byte) *nats.Msg {
	m := nats.NewMsg(Subject(formatName, sourceName))
	rawdata.CompressAs(m, data, Codec(formatName, data))
	m.Header.Set(control.HeaderSource, source)
	m.Header.Set(control.HeaderLine, strconv.FormatInt(firstLine, 10))
	return m
}

// CheckFormat returns an error wrapping format.ErrUnknownFormat unless name is auto or one of
// the formats ingest decodes: a source that publishes on a subject nobody decodes would only
// fill the dead-letter stream.
func CheckFormat(name string) error {
	if name == format.Auto || slices.Contains(formats.Names(), name) {
		return nil
	}
	return fmt.Errorf("%w: %q (expected auto or one of %q)", format.ErrUnknownFormat, name, formats.Names())
}

// CheckSourceName returns an error unless name is empty or fits one subject token and a token
// file's NAME: letters, digits and _@- only.
func CheckSourceName(name string) error {
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '@' || r == '-') {
			return fmt.Errorf("source name %q: want letters, digits and _@- only (it is a subject token and a token file's NAME)", name)
		}
	}
	return nil
}

// Codec is the compression of a raw message of data (lines) in formatName, detected from its
// first line under auto: CodecOf.
func Codec(formatName string, data []byte) rawdata.Codec {
	if formatName == format.Auto {
		first := data
		if i := bytes.IndexByte(first, '\n'); i >= 0 {
			first = first[:i]
		}
		formatName = formats.Detect(first)
	}
	return CodecOf(formatName == format.Auditd)
}

// CodecOf is the compression of raw messages of auditd lines or of any other format, for the
// live sources and the replay driver alike: zstd for raw auditd logs, S2 for the rest. Raw
// auditd lines compress 8x with S2 and 19x with zstd, and the bytes saved paid for zstd's CPU
// (replays 1.10-1.12x all-in-one, 1.07-1.26x on the 3-node cluster); JSON documents compress
// 14x with S2 already, and zstd cost the all-in-one's replay 5-6% (docs/performance.md, items
// 22 and 28).
func CodecOf(auditd bool) rawdata.Codec {
	if auditd {
		return rawdata.Zstd
	}
	return rawdata.S2
}
