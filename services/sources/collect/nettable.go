package collect

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
)

// Transport is the protocol of a socket table.
type Transport uint8

// Transports of the tables read.
const (
	TCP Transport = iota + 1
	UDP
)

func (t Transport) String() string {
	switch t {
	case TCP:
		return "tcp"
	case UDP:
		return "udp"
	}
	return "unknown"
}

// Socket states as the kernel prints them in /proc/net/tcp (include/net/tcp_states.h). UDP
// sockets use them too: a connected one is ESTABLISHED, an unconnected one CLOSE.
const (
	StateEstablished = 0x01
	StateSynSent     = 0x02
	StateClose       = 0x07
	StateListen      = 0x0A
)

// Socket is one row of /proc/net/{tcp,tcp6,udp,udp6}.
type Socket struct {
	Transport Transport
	Local     netip.AddrPort
	Remote    netip.AddrPort
	State     uint8
	UID       uint32
	Inode     uint64
}

// ErrMalformedTable is wrapped by ParseTable's error for rows that do not parse.
var ErrMalformedTable = errors.New("collect: malformed socket table row")

// ParseTable appends the sockets of a /proc/net/{tcp,tcp6,udp,udp6} table (its first line is
// the header) to dst. Rows that do not parse are skipped; the error names the first of them.
// It allocates nothing beyond growing dst.
//
// The kernel prints each address as the 32-bit words of the address in host byte order
// ("0100007F" is 127.0.0.1 on little-endian machines), and the port in hex.
func ParseTable(dst []Socket, data []byte, transport Transport) ([]Socket, error) {
	var firstErr error
	row := 0
	for len(data) > 0 {
		var line []byte
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			line, data = data, nil
		}
		row++
		if row == 1 || len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		s, ok := parseRow(line)
		if !ok {
			if firstErr == nil {
				firstErr = fmt.Errorf("%w: line %d: %.80q", ErrMalformedTable, row, line)
			}
			continue
		}
		s.Transport = transport
		dst = append(dst, s)
	}
	return dst, firstErr
}

// parseRow parses "sl local rem st tx:rx tr:when retrnsmt uid timeout inode ...".
func parseRow(line []byte) (Socket, bool) {
	var s Socket
	var f []byte
	field := 0
	for {
		f, line = nextField(line)
		if f == nil {
			return s, field > 9
		}
		var ok bool
		switch field {
		case 0:
			ok = len(f) > 1 && f[len(f)-1] == ':'
		case 1:
			s.Local, ok = parseAddrPort(f)
		case 2:
			s.Remote, ok = parseAddrPort(f)
		case 3:
			var v uint64
			v, ok = parseUint(f, 16, 8)
			s.State = uint8(v)
		case 7:
			var v uint64
			v, ok = parseUint(f, 10, 32)
			s.UID = uint32(v)
		case 9:
			s.Inode, ok = parseUint(f, 10, 64)
		default:
			ok = true
		}
		if !ok {
			return s, false
		}
		field++
		if field > 9 {
			return s, true
		}
	}
}

// nextField returns the next space-separated field of line and the rest; nil at the end.
func nextField(line []byte) (field, rest []byte) {
	i := 0
	for i < len(line) && (line[i] == ' ' || line[i] == '\t') {
		i++
	}
	if i == len(line) {
		return nil, nil
	}
	j := i
	for j < len(line) && line[j] != ' ' && line[j] != '\t' {
		j++
	}
	return line[i:j], line[j:]
}

// parseAddrPort parses "0100007F:0277" (IPv4) or 32 hex digits and a port (IPv6).
func parseAddrPort(f []byte) (netip.AddrPort, bool) {
	i := bytes.IndexByte(f, ':')
	if i < 0 {
		return netip.AddrPort{}, false
	}
	hexAddr, hexPort := f[:i], f[i+1:]
	port, ok := parseUint(hexPort, 16, 16)
	if !ok || len(hexPort) != 4 {
		return netip.AddrPort{}, false
	}
	var b [16]byte
	switch len(hexAddr) {
	case 8, 32:
	default:
		return netip.AddrPort{}, false
	}
	for w := 0; w*8 < len(hexAddr); w++ {
		v, ok := parseUint(hexAddr[w*8:w*8+8], 16, 32)
		if !ok {
			return netip.AddrPort{}, false
		}
		binary.NativeEndian.PutUint32(b[w*4:], uint32(v))
	}
	if len(hexAddr) == 8 {
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[:4])), uint16(port)), true
	}
	return netip.AddrPortFrom(netip.AddrFrom16(b), uint16(port)), true
}

// parseUint parses digits of base 10 or 16 into a number of at most bits bits, without
// allocating as strconv would for a []byte.
func parseUint(f []byte, base uint64, bits int) (uint64, bool) {
	if len(f) == 0 || len(f) > 20 {
		return 0, false
	}
	var v uint64
	for _, c := range f {
		var d uint64
		switch {
		case c >= '0' && c <= '9':
			d = uint64(c - '0')
		case base == 16 && c >= 'A' && c <= 'F':
			d = uint64(c-'A') + 10
		case base == 16 && c >= 'a' && c <= 'f':
			d = uint64(c-'a') + 10
		default:
			return 0, false
		}
		if v > (^uint64(0)-d)/base {
			return 0, false
		}
		v = v*base + d
	}
	if bits < 64 && v>>bits != 0 {
		return 0, false
	}
	return v, true
}
