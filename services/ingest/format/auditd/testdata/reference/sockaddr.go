package reference

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"strconv"

	"github.com/rarenet/rarenet/shared/event"
)

// Address families (linux/socket.h) a SOCKADDR record may carry.
const (
	afUnspec  = 0
	afUnix    = 1
	afInet    = 2
	afInet6   = 10
	afNetlink = 16
)

// parseSockaddr decodes a SOCKADDR record's saddr: the raw struct sockaddr the process
// passed to connect, hex-encoded. The family is in host byte order of the traced arch; the
// port and addresses are in network byte order. Families other than inet, inet6, unix and
// netlink keep only their number, so later stages can still say why they were dropped.
func parseSockaddr(saddr string, arch uint32, archKnown bool) (event.Endpoint, event.Network, error) {
	var dst event.Endpoint
	var nw event.Network
	b, ok := decodeHex(saddr)
	if !ok {
		return dst, nw, fmt.Errorf("%w: SOCKADDR saddr: expected hex, got %q", ErrNoSockaddr, excerpt(saddr))
	}
	if len(b) < 2 {
		return dst, nw, fmt.Errorf("%w: SOCKADDR saddr: expected at least 2 bytes, got %d", ErrNoSockaddr, len(b))
	}
	var fam uint16
	if archKnown && arch&archLE == 0 {
		fam = binary.BigEndian.Uint16(b)
	} else {
		fam = binary.LittleEndian.Uint16(b)
	}
	switch fam {
	case afInet:
		if len(b) < 8 {
			return dst, nw, shortSockaddr("AF_INET", 8, len(b))
		}
		dst.Port = int(binary.BigEndian.Uint16(b[2:4]))
		dst.IP = netip.AddrFrom4([4]byte(b[4:8])).String()
		nw.Type, nw.Family = "ipv4", "inet"
	case afInet6:
		if len(b) < 24 {
			return dst, nw, shortSockaddr("AF_INET6", 24, len(b))
		}
		dst.Port = int(binary.BigEndian.Uint16(b[2:4]))
		dst.IP = netip.AddrFrom16([16]byte(b[8:24])).String()
		nw.Type, nw.Family = "ipv6", "inet6"
	case afUnix:
		dst.Path = unixPath(b[2:])
		nw.Family = "unix"
	case afNetlink:
		nw.Family = "netlink"
	case afUnspec:
		nw.Family = "unspec"
	default:
		nw.Family = "af_" + strconv.Itoa(int(fam))
	}
	return dst, nw, nil
}

func shortSockaddr(family string, want, got int) error {
	return fmt.Errorf("%w: SOCKADDR saddr: expected at least %d bytes for %s, got %d", ErrNoSockaddr, want, family, got)
}

// unixPath returns a sun_path as ss(8) shows it: up to the first NUL, and for an abstract
// socket (leading NUL) "@" and the name. The kernel logs the whole buffer the process
// passed, so bytes after the NUL are often garbage.
func unixPath(p []byte) string {
	abstract := len(p) > 0 && p[0] == 0
	if abstract {
		p = p[1:]
	}
	for i, c := range p {
		if c == 0 {
			p = p[:i]
			break
		}
	}
	if abstract {
		return "@" + string(p)
	}
	return string(p)
}
