package enricher

import (
	"reflect"
	"strings"
	"testing"

	"github.com/rarenet/rarenet/shared/record"
)

func TestIPClass(t *testing.T) {
	const metadata = "cloud instance metadata service"
	tests := []struct {
		ip, class, note string
	}{
		{"8.8.8.8", ClassPublic, ""},
		{"93.184.216.34", ClassPublic, ""},
		{"2606:4700:4700::1111", ClassPublic, ""},
		{"100.63.255.255", ClassPublic, ""}, // just below 100.64.0.0/10
		{"100.128.0.0", ClassPublic, ""},    // just above it
		{"10.1.2.3", ClassPrivate, ""},
		{"172.16.0.1", ClassPrivate, ""},
		{"172.31.255.255", ClassPrivate, ""},
		{"172.32.0.1", ClassPublic, ""},
		{"192.168.2.6", ClassPrivate, ""},
		{"fd12:3456::1", ClassPrivate, ""},
		{"127.0.0.1", ClassLoopback, ""},
		{"127.0.0.53", ClassLoopback, ""},
		{"::1", ClassLoopback, ""},
		{"169.254.1.1", ClassLinkLocal, ""},
		{"fe80::1", ClassLinkLocal, ""},
		{"fe80::1%eth0", ClassLinkLocal, ""},
		{"169.254.169.254", ClassLinkLocal, metadata},
		{"fd00:ec2::254", ClassPrivate, metadata}, // unique-local, not link-local
		{"3fff::1", ClassDocumentation, ""},
		{"::ffff:169.254.169.254", ClassLinkLocal, metadata},
		{"100.64.0.0", ClassCGNAT, ""},
		{"100.64.0.1", ClassCGNAT, ""},
		{"100.127.255.255", ClassCGNAT, ""},
		{"224.0.0.251", ClassMulticast, ""},
		{"239.255.255.250", ClassMulticast, ""},
		{"ff02::fb", ClassMulticast, ""},
		{"192.0.2.1", ClassDocumentation, ""},
		{"198.51.100.7", ClassDocumentation, ""},
		{"203.0.113.255", ClassDocumentation, ""},
		{"2001:db8::1", ClassDocumentation, ""},
		{"::ffff:203.0.113.9", ClassDocumentation, ""},
		{"198.18.0.1", ClassReserved, ""},
		{"198.19.255.255", ClassReserved, ""},
		{"240.0.0.1", ClassReserved, ""},
		{"255.255.255.255", ClassReserved, ""},
		{"0.1.2.3", ClassReserved, ""},
		{"192.0.0.8", ClassReserved, ""},
		{"0.0.0.0", ClassUnspecified, ""},
		{"::", ClassUnspecified, ""},
		{"::ffff:0.0.0.0", ClassUnspecified, ""},
		{"::ffff:10.0.0.1", ClassPrivate, ""},
		{"::ffff:8.8.8.8", ClassPublic, ""},
		{"::ffff:127.0.0.1", ClassLoopback, ""},
		{"::ffff:100.100.100.100", ClassCGNAT, ""},
		{"", ClassInvalid, ""},
		{"not-an-ip", ClassInvalid, ""},
		{"1.2.3", ClassInvalid, ""},
		{"256.1.1.1", ClassInvalid, ""},
		{"10.0.0.1:80", ClassInvalid, ""},
		{"[::1]", ClassInvalid, ""},
		{" 8.8.8.8", ClassInvalid, ""},
	}
	for _, tt := range tests {
		t.Run(tt.ip, func(t *testing.T) {
			class, note := IPClass(tt.ip)
			if class != tt.class || note != tt.note {
				t.Errorf("IPClass(%q) = %q, %q; want %q, %q", tt.ip, class, note, tt.class, tt.note)
			}
		})
	}
}

func TestPortService(t *testing.T) {
	tests := []struct {
		port int
		want string
	}{
		{22, "ssh"},
		{53, "dns"},
		{80, "http"},
		{443, "https"},
		{1389, "ldap-alt: log4shell lookups"},
		{3333, "stratum: mining pool"},
		{4444, "metasploit"},
		{6443, "kubernetes-api"},
		{8888, "http-alt"},
		{0, ""},
		{-1, ""},
		{31337, ""},
		{65535, ""},
	}
	for _, tt := range tests {
		if got := PortService(tt.port); got != tt.want {
			t.Errorf("PortService(%d) = %q, want %q", tt.port, got, tt.want)
		}
	}
}

func TestContextualize(t *testing.T) {
	tests := []struct {
		name string
		r    record.Record
		want *record.Context
	}{
		{name: "nothing to say", r: record.Record{}, want: nil},
		{
			name: "examples without destinations",
			r:    record.Record{Examples: []record.Example{{HostName: "h"}}},
			want: nil,
		},
		{
			name: "de-duplicated by address and port, in order",
			r: record.Record{
				Examples: []record.Example{
					{DestinationIP: "169.254.169.254", DestinationPort: 80},
					{DestinationIP: "10.0.0.5", DestinationPort: 22},
					{DestinationIP: "169.254.169.254", DestinationPort: 80},
					{DestinationIP: "10.0.0.5", DestinationPort: 4444},
					{DestinationIP: ""},
				},
				Influencers: []record.Influencer{
					{FieldName: "host.name", FieldValues: []string{"10.9.9.9"}},
					{FieldName: "destination.ip", FieldValues: []string{"10.0.0.5", "100.64.1.1", "100.64.1.1", "169.254.169.254"}},
				},
			},
			want: &record.Context{Destinations: []record.Destination{
				{IP: "169.254.169.254", Port: 80, IPClass: ClassLinkLocal, Service: "http", Note: "cloud instance metadata service"},
				{IP: "10.0.0.5", Port: 22, IPClass: ClassPrivate, Service: "ssh"},
				{IP: "10.0.0.5", Port: 4444, IPClass: ClassPrivate, Service: "metasploit"},
				{IP: "100.64.1.1", IPClass: ClassCGNAT},
			}},
		},
		{
			name: "influencers only",
			r: record.Record{Influencers: []record.Influencer{
				{FieldName: "destination.ip", FieldValues: []string{"2001:db8::1", "garbage"}},
			}},
			want: &record.Context{Destinations: []record.Destination{
				{IP: "2001:db8::1", IPClass: ClassDocumentation},
				{IP: "garbage", IPClass: ClassInvalid},
			}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Contextualize(&tt.r)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Contextualize\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

// TestDocumentationAddressesNameTheirRFC: "documentation" alone reads like a word of the
// reason; the reason says which RFC reserves the address.
func TestDocumentationAddressesNameTheirRFC(t *testing.T) {
	for _, tt := range []struct{ ip, fact string }{
		{"203.0.113.7", "203.0.113.7:4444 (metasploit), documentation address (RFC 5737)"},
		{"2001:db8::1", "[2001:db8::1]:4444 (metasploit), documentation address (RFC 3849)"},
		{"3fff::1", "[3fff::1]:4444 (metasploit), documentation address (RFC 9637)"},
		{"185.220.101.47", "185.220.101.47:4444 (metasploit), public"},
	} {
		class, note := IPClass(tt.ip)
		d := record.Destination{IP: tt.ip, Port: 4444, IPClass: class, Service: PortService(4444), Note: note}
		if got := destinationFact(&d); got != tt.fact {
			t.Errorf("%s: %q, want %q", tt.ip, got, tt.fact)
		}
	}
	if s := PortService(3333); strings.Count(s, "(") != 0 {
		t.Errorf("port 3333's service %q nests parentheses in the reason", s)
	}
}
