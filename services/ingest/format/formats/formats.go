// Package formats is the registry of input decoders: it maps a format name to a new
// Decoder and guesses the format of an input from its first line. It lives apart from
// package format because the decoders import format for its contract.
package formats

import (
	"bytes"
	"fmt"

	"github.com/rarenet/rarenet/services/ingest/format"
	"github.com/rarenet/rarenet/services/ingest/format/auditd"
	"github.com/rarenet/rarenet/services/ingest/format/ecs"
)

// Names returns the formats New accepts, for flag help and error messages.
func Names() []string { return []string{format.ECS, format.Auditd} }

// New returns a new Decoder for the named format. Names other than those of Names, including
// format.Auto (resolve it with Detect first), give an error wrapping format.ErrUnknownFormat.
func New(name string) (format.Decoder, error) {
	switch name {
	case format.ECS:
		return ecs.New(), nil
	case format.Auditd:
		return auditd.New(), nil
	}
	return nil, fmt.Errorf("%w: %q (expected one of %q)", format.ErrUnknownFormat, name, Names())
}

// auditMarker occurs in every audit record header, with or without a node= prefix.
var auditMarker = []byte("msg=audit(")

// Detect guesses the format of an input from its first non-empty line: ECS for a JSON
// object, auditd for an audit record, "" when it cannot tell.
func Detect(firstLine []byte) string {
	line := bytes.TrimLeft(firstLine, " \t\r\n\ufeff")
	switch {
	case len(line) > 0 && line[0] == '{':
		return format.ECS
	case bytes.Contains(line, auditMarker):
		return format.Auditd
	}
	return ""
}
