package ingest

import (
	"errors"
	"fmt"
	"strings"

	"github.com/rarenet/rarenet/services/ingest/format"
	"github.com/rarenet/rarenet/shared/tokens"
)

// Errors of input from a source bound to its hosts.
var (
	// ErrForeignHost is wrapped by the reject of an event whose host.name its source may not
	// speak for.
	ErrForeignHost = errors.New("an event of a host its source may not send events for")
	// ErrUnknownSource is wrapped by the reject of a raw message whose subject names a source
	// the token file does not know.
	ErrUnknownSource = errors.New("a source the token file does not name")
)

func foreignHost(e *tokens.Entry, host string) error {
	if host == "" {
		return fmt.Errorf("%w: no host.name, and source %s may only send events of hosts %s", ErrForeignHost, e.Name, strings.Join(e.Hosts, " "))
	}
	return fmt.Errorf("%w: host.name %q, and source %s may only send events of hosts %s", ErrForeignHost, host, e.Name, strings.Join(e.Hosts, " "))
}

// bindSource reads the source a raw subject names after its format (rarenet.raw.<format>.<source>:
// the NATS accounts let each source publish only on subjects naming it). The lines are then
// that source's, whatever their header says, and bound to its host patterns in the token file
// (--http-tokens); with no such entry they are all dead-lettered (ok false). Their events
// carry the source as authenticated (Origin.AuthSource): the subject is the one thing about a
// raw message that the NATS accounts bind, and the HTTP input publishes a token's lines on
// its name's subject too. A subject without a source (rarenet.raw.<format>) leaves
// everything as it was.
func (s *Service) bindSource(subjectTail, source string, line int64, data []byte) (formatName, boundSource string, ok bool) {
	formatName, named, found := strings.Cut(subjectTail, ".")
	if !found || named == "" {
		return subjectTail, source, true
	}
	s.dec.SetAuthSource(named)
	if s.tokens == nil {
		return formatName, named, true
	}
	e := s.tokens.Set().ByName(named)
	if e == nil {
		s.Reject(format.Result{
			Err:    fmt.Errorf("%w: the subject names source %q, which is not in %s: nothing of the message was taken", ErrUnknownSource, named, s.tokens.Path()),
			Source: named, Line: line, Raw: data, Format: formatName,
		})
		return formatName, named, false
	}
	if len(e.Hosts) > 0 {
		s.dec.SetHosts(e)
	}
	return formatName, named, true
}
