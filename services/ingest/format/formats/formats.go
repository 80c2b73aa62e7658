// Package formats is the registry of input decoders: it maps a format name to a new
// Decoder and guesses the format of an input from its first line. It lives apart from
// package format because the decoders import format for its contract.
package formats

import (
	"fmt"

	"github.com/rarenet/rarenet/services/ingest/format"
	"github.com/rarenet/rarenet/services/ingest/format/auditd"
	"github.com/rarenet/rarenet/services/ingest/format/ecs"
	"github.com/rarenet/rarenet/services/ingest/format/falco"
	"github.com/rarenet/rarenet/services/ingest/format/osquery"
	"github.com/rarenet/rarenet/services/ingest/format/sysmon"
	"github.com/rarenet/rarenet/services/ingest/format/tetragon"
)

// Names returns the formats New accepts, for flag help and error messages.
func Names() []string {
	return []string{format.ECS, format.Auditd, format.Sysmon, format.Tetragon, format.Osquery, format.Falco}
}

// New returns a new Decoder for the named format. Names other than those of Names, including
// format.Auto (resolve it with Detect first), give an error wrapping format.ErrUnknownFormat.
func New(name string) (format.Decoder, error) {
	switch name {
	case format.ECS:
		return ecs.New(), nil
	case format.Auditd:
		return auditd.New(), nil
	case format.Sysmon:
		return sysmon.New(), nil
	case format.Tetragon:
		return tetragon.New(), nil
	case format.Osquery:
		return osquery.New(), nil
	case format.Falco:
		return falco.New(), nil
	}
	return nil, fmt.Errorf("%w: %q (expected one of %q)", format.ErrUnknownFormat, name, Names())
}
