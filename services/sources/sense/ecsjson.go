package sense

import (
	"strconv"
	"time"
	"unicode/utf8"
)

// appendJSON appends d as JSON, field for field what encoding/json writes for it (its tags,
// omitempty and omitzero included; TestAppendJSONMatchesEncodingJSON compares them), without
// reflection: the sensor writes one per connect, and encoding/json costs several times the
// rest of a record's work.
func (d *document) appendJSON(b []byte) []byte {
	b = append(b, `{"@timestamp":"`...)
	b = d.Timestamp.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","event":{"kind":`...)
	b = appendString(b, d.Event.Kind)
	b = append(b, `,"category":`...)
	b = appendStrings(b, d.Event.Category)
	b = append(b, `,"type":`...)
	b = appendStrings(b, d.Event.Type)
	b = appendField(b, "action", d.Event.Action)
	b = appendField(b, "outcome", d.Event.Outcome)
	b = appendField(b, "module", d.Event.Module)
	b = appendField(b, "dataset", d.Event.Dataset)
	b = append(b, `},"agent":{"type":`...)
	b = appendString(b, d.Agent.Type)
	b = append(b, `},"host":{`...)
	if d.Host.Name != "" {
		b = append(b, `"name":`...)
		b = appendString(b, d.Host.Name)
		b = append(b, ',')
	}
	b = append(b, `"os":{"type":`...)
	b = appendString(b, d.Host.OS.Type)
	b = append(b, `}},"process":{"name":`...)
	p := &d.Process
	b = appendString(b, p.Name)
	b = append(b, `,"pid":`...)
	b = strconv.AppendUint(b, uint64(p.PID), 10)
	b = append(b, `,"thread":{"id":`...)
	b = strconv.AppendUint(b, uint64(p.Thread.ID), 10)
	b = append(b, '}')
	if p.Executable != "" {
		b = appendField(b, "executable", p.Executable)
	}
	if len(p.Args) > 0 {
		b = append(b, `,"args":`...)
		b = appendStrings(b, p.Args)
	}
	if p.WorkingDirectory != "" {
		b = appendField(b, "working_directory", p.WorkingDirectory)
	}
	if p.Parent.PID != 0 {
		b = append(b, `,"parent":{"pid":`...)
		b = strconv.AppendUint(b, uint64(p.Parent.PID), 10)
		b = append(b, '}')
	}
	b = append(b, '}')
	if d.User != (docUser{}) {
		b = append(b, `,"user":{"id":`...)
		b = appendString(b, d.User.ID)
		if d.User.Name != "" {
			b = appendField(b, "name", d.User.Name)
		}
		b = append(b, '}')
	}
	if d.Group != (docGroup{}) {
		b = append(b, `,"group":{"id":`...)
		b = appendString(b, d.Group.ID)
		b = append(b, '}')
	}
	if d.Source != (docAddr{}) {
		b = appendAddr(append(b, `,"source":`...), d.Source)
	}
	b = appendAddr(append(b, `,"destination":`...), d.Destination)
	b = append(b, `,"network":{"type":`...)
	b = appendString(b, d.Network.Type)
	if d.Network.Transport != "" {
		b = appendField(b, "transport", d.Network.Transport)
	}
	b = appendField(b, "direction", d.Network.Direction)
	b = appendField(b, "family", d.Network.Family)
	b = append(b, '}')
	if d.Container != (docID{}) {
		b = append(b, `,"container":{"id":`...)
		b = appendString(b, d.Container.ID)
		b = append(b, '}')
	}
	if d.Error != (docError{}) {
		b = append(b, `,"error":{"code":`...)
		b = appendString(b, d.Error.Code)
		b = append(b, '}')
	}
	s := &d.Rarenet.Sense
	b = append(b, `,"rarenet":{"sense":{"probe":`...)
	b = appendString(b, s.Probe)
	b = appendField(b, "hook", s.Hook)
	b = append(b, `,"result":`...)
	b = strconv.AppendInt(b, int64(s.Result), 10)
	if s.CgroupID != 0 {
		b = append(b, `,"cgroup_id":`...)
		b = strconv.AppendUint(b, s.CgroupID, 10)
	}
	if s.NetNS != 0 {
		b = append(b, `,"netns":`...)
		b = strconv.AppendUint(b, uint64(s.NetNS), 10)
	}
	return append(b, "}}}"...)
}

// appendAddr appends a source or destination object, leaving out empty members.
func appendAddr(b []byte, a docAddr) []byte {
	b = append(b, '{')
	if a.IP != "" {
		b = append(b, `"ip":`...)
		b = appendString(b, a.IP)
	}
	if a.Port != 0 {
		if a.IP != "" {
			b = append(b, ',')
		}
		b = append(b, `"port":`...)
		b = strconv.AppendUint(b, uint64(a.Port), 10)
	}
	return append(b, '}')
}

// appendField appends ,"name":"value".
func appendField(b []byte, name, value string) []byte {
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, '"', ':')
	return appendString(b, value)
}

func appendStrings(b []byte, ss []string) []byte {
	if ss == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, s)
	}
	return append(b, ']')
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string: quotes, backslashes and control characters
// escaped, invalid UTF-8 replaced by U+FFFD, as encoding/json does (process arguments and
// paths are bytes, not always text).
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
