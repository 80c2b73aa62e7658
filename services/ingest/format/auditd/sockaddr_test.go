package auditd

import (
	"errors"
	"testing"

	"github.com/rarenet/rarenet/services/ingest/format"
	"github.com/rarenet/rarenet/shared/event"
)

const (
	archX8664 = 0xc000003e
	archS390x = 0x80000016
)

func TestParseSockaddr(t *testing.T) {
	tests := []struct {
		name    string
		saddr   string
		arch    uint32
		dst     event.Endpoint
		network event.Network
	}{
		{"inet", "02000050A9FEA9FE0000000000000000", archX8664,
			event.Endpoint{IP: "169.254.169.254", Port: 80}, event.Network{Type: "ipv4", Family: "inet"}},
		{"inet lower case", "020001bb0a000001", archX8664,
			event.Endpoint{IP: "10.0.0.1", Port: 443}, event.Network{Type: "ipv4", Family: "inet"}},
		{"inet6", "0A0001BB0000000020010DB8000000000000000000000001" + "00000000", archX8664,
			event.Endpoint{IP: "2001:db8::1", Port: 443}, event.Network{Type: "ipv6", Family: "inet6"}},
		{"inet6 mapped v4", "0A000035" + "00000000" + "00000000000000000000FFFF7F000035" + "00000000", archX8664,
			event.Endpoint{IP: "::ffff:127.0.0.53", Port: 53}, event.Network{Type: "ipv6", Family: "inet6"}},
		{"inet6 any", "0A000016000000000000000000000000000000000000000000000000", archX8664,
			event.Endpoint{IP: "::", Port: 22}, event.Network{Type: "ipv6", Family: "inet6"}},
		{"unix with garbage after NUL", "01002F7661722F72756E2F6E7363642F736F636B65740000603B7B47FC7F", archX8664,
			event.Endpoint{Path: "/var/run/nscd/socket"}, event.Network{Family: "unix"}},
		{"unix abstract", "0100" + "00" + "2F746D702F2E5831312D756E69782F5830", archX8664,
			event.Endpoint{Path: "@/tmp/.X11-unix/X0"}, event.Network{Family: "unix"}},
		{"unix unnamed", "0100", archX8664, event.Endpoint{}, event.Network{Family: "unix"}},
		{"netlink", "100000000000000000000000", archX8664, event.Endpoint{}, event.Network{Family: "netlink"}},
		{"unspec", "00000000000000000000000000000000", archX8664, event.Endpoint{}, event.Network{Family: "unspec"}},
		{"other family", "11000000", archX8664, event.Endpoint{}, event.Network{Family: "af_17"}},
		{"big-endian inet", "00020050C0A80001", archS390x,
			event.Endpoint{IP: "192.168.0.1", Port: 80}, event.Network{Type: "ipv4", Family: "inet"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dst, nw, err := parseSockaddr(tt.saddr, tt.arch, true)
			if err != nil {
				t.Fatal(err)
			}
			if dst != tt.dst || nw != tt.network {
				t.Errorf("got %+v %+v, want %+v %+v", dst, nw, tt.dst, tt.network)
			}
		})
	}
}

func TestParseSockaddrErrors(t *testing.T) {
	tests := []struct{ name, saddr string }{
		{"not hex", "zz00"},
		{"odd length", "020"},
		{"empty", ""},
		{"one byte", "02"},
		{"short inet", "02000050A9FE"},
		{"short inet6", "0A000016000000000000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := parseSockaddr(tt.saddr, archX8664, true)
			if !errors.Is(err, ErrNoSockaddr) || !errors.Is(err, format.ErrMalformed) {
				t.Errorf("err = %v, want ErrNoSockaddr and ErrMalformed", err)
			}
		})
	}
}
