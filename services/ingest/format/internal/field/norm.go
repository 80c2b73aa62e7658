package field

import (
	"net/netip"
	"strings"
	"time"
)

// Basename returns the last element of a slash-separated path: the process.name of an
// executable path. Unlike path.Base it keeps "" as "" and never returns "." or "/".
func Basename(p string) string {
	p = strings.TrimRight(p, "/")
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[i+1:]
	}
	return p
}

// Canonical parses an IP address and returns its canonical text (Sysmon writes the
// unspecified IPv6 address as 0:0:0:0:0:0:0:0, Elasticsearch would store "::"). An IPv4
// address mapped into IPv6, as dual-stack sockets report it, becomes the IPv4 address: the
// connection goes to an IPv4 host. Brackets around an IPv6 address are accepted.
func Canonical(s string) (string, bool) {
	if len(s) > 2 && s[0] == '[' && s[len(s)-1] == ']' {
		s = s[1 : len(s)-1]
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return "", false
	}
	return a.Unmap().String(), true
}

// NetworkType returns the ECS network.type and the address family name of a canonical IP
// address, or "" for none.
func NetworkType(ip string) (typ, family string) {
	a, err := netip.ParseAddr(ip)
	switch {
	case err != nil:
		return "", ""
	case a.Is4():
		return "ipv4", "inet"
	}
	return "ipv6", "inet6"
}

// SplitArgs splits a command line on spaces. A double-quoted stretch stays one argument
// without its quotes, because Tetragon quotes the arguments that hold spaces; a backslash
// inside quotes escapes the next character. Unbalanced quotes run to the end.
func SplitArgs(s string) []string {
	var out []string
	var cur strings.Builder
	inArg, quoted := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quoted && c == '\\' && i+1 < len(s):
			i++
			cur.WriteByte(s[i])
		case c == '"':
			quoted, inArg = !quoted, true
		case c == ' ' && !quoted:
			if inArg {
				out = append(out, cur.String())
				cur.Reset()
				inArg = false
			}
		default:
			cur.WriteByte(c)
			inArg = true
		}
	}
	if inArg {
		out = append(out, cur.String())
	}
	return out
}

// RFC3339 parses an RFC 3339 time with optional fractional seconds and returns it in UTC.
func RFC3339(path, s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, Error(path, "an RFC 3339 time", Quote(s))
	}
	return t.UTC(), nil
}
