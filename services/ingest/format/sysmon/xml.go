package sysmon

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/rarenet/rarenet/services/ingest/format"
)

// xmlEvent is the part of a Sysmon <Event> the decoder reads.
type xmlEvent struct {
	EventID  string
	Computer string
	Data     []xmlData // EventData, in order
}

// xmlData is one <Data Name="...">value</Data> of EventData.
type xmlData struct {
	Name, Value string
}

// errNotConnect ends the reading of an event whose EventID is not a network connect.
var errNotConnect = errors.New("not a network connect")

// readEvent reads the first <Event> element of data with a streaming decoder, so the
// EventID is known before the rest: syslog truncates long records (a process create with a
// long command line), and a truncated record that is not a connect is skipped, not
// rejected. It returns errNotConnect for such records. Text after the element (a syslog
// trailer) is ignored. Element names are matched without namespace, so Windows Sysmon's
// <Event xmlns=...> reads the same way; that is also why RawToken suffices, which skips
// namespace translation and end-tag matching and is a third faster than Token.
func readEvent(data []byte) (*xmlEvent, error) {
	dec := xml.NewDecoder(bytes.NewReader(data))
	var x xmlEvent
	var path []string // local names of the open elements
	var text strings.Builder
	for {
		tok, err := dec.RawToken()
		if err != nil {
			if x.EventID != "" && x.EventID != networkConnect {
				return nil, errNotConnect
			}
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, fmt.Errorf("%w: expected a well-formed Sysmon <Event> XML element: %v", format.ErrMalformed, err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			path = append(path, t.Name.Local)
			text.Reset()
			if at(path, "EventData", "Data") {
				x.Data = append(x.Data, xmlData{Name: attr(t, "Name")})
			}
		case xml.CharData:
			text.Write(t)
		case xml.EndElement:
			switch {
			case at(path, "System", "EventID"):
				x.EventID = strings.TrimSpace(text.String())
			case at(path, "System", "Computer"):
				x.Computer = strings.TrimSpace(text.String())
			case at(path, "EventData", "Data"):
				x.Data[len(x.Data)-1].Value = text.String()
			case at(path, "Event", "System") && x.EventID != "" && x.EventID != networkConnect:
				return nil, errNotConnect
			}
			path = path[:len(path)-1]
			text.Reset()
			if len(path) == 0 {
				return &x, nil
			}
		}
	}
}

// at reports whether the innermost open elements are parent and child, directly under the
// <Event> root.
func at(path []string, parent, child string) bool {
	n := len(path)
	if parent == "Event" {
		return n == 2 && path[1] == child
	}
	return n == 3 && path[1] == parent && path[2] == child
}

func attr(e xml.StartElement, name string) string {
	for _, a := range e.Attr {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

// data returns the value of the EventData field name, with Sysmon's "-" (no value) as "".
func (x *xmlEvent) data(name string) string {
	for _, d := range x.Data {
		if d.Name == name {
			if d.Value == "-" {
				return ""
			}
			return d.Value
		}
	}
	return ""
}
