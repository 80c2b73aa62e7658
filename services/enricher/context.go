package enricher

import (
	"net/netip"
	"strconv"

	"github.com/rarenet/rarenet/shared/record"
)

// IP classes, as the investigation guide asks "is this destination expected?".
const (
	ClassPublic        = "public"
	ClassPrivate       = "private"
	ClassLoopback      = "loopback"
	ClassLinkLocal     = "link-local"
	ClassCGNAT         = "cgnat"
	ClassMulticast     = "multicast"
	ClassReserved      = "reserved"
	ClassDocumentation = "documentation"
	ClassUnspecified   = "unspecified"
	ClassInvalid       = "invalid"
)

// Special-purpose ranges (IANA IPv4/IPv6 Special-Purpose Address Registries, RFC 6890) that
// netip does not classify.
var (
	cgnat         = netip.MustParsePrefix("100.64.0.0/10")                                                                                                   // RFC 6598
	benchmarking  = netip.MustParsePrefix("198.18.0.0/15")                                                                                                   // RFC 2544
	reservedV4    = netip.MustParsePrefix("240.0.0.0/4")                                                                                                     // RFC 1112
	thisNetwork   = netip.MustParsePrefix("0.0.0.0/8")                                                                                                       // RFC 791
	ietfProtocol  = netip.MustParsePrefix("192.0.0.0/24")                                                                                                    // RFC 6890
	docV6         = netip.MustParsePrefix("2001:db8::/32")                                                                                                   // RFC 3849
	docV6New      = netip.MustParsePrefix("3fff::/20")                                                                                                       // RFC 9637
	docV4         = []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24"), netip.MustParsePrefix("198.51.100.0/24"), netip.MustParsePrefix("203.0.113.0/24")} // RFC 5737
	cloudMetadata = netip.MustParseAddr("169.254.169.254")
	awsMetadataV6 = netip.MustParseAddr("fd00:ec2::254")
)

// IPClass returns the class of a destination address, and a note for addresses an analyst
// must not miss (the cloud instance metadata service: a credential-theft target).
func IPClass(ip string) (class, note string) {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ClassInvalid, ""
	}
	a = a.Unmap()
	switch a {
	case cloudMetadata:
		return ClassLinkLocal, "cloud instance metadata service"
	case awsMetadataV6: // a unique-local address (fd00::/8)
		return ClassPrivate, "cloud instance metadata service"
	}
	switch {
	case a.IsUnspecified():
		return ClassUnspecified, ""
	case a.IsLoopback():
		return ClassLoopback, ""
	case a.IsMulticast():
		return ClassMulticast, ""
	case a.IsLinkLocalUnicast():
		return ClassLinkLocal, ""
	case docV6.Contains(a) || docV6New.Contains(a):
		return ClassDocumentation, ""
	case a.Is4() && (docV4[0].Contains(a) || docV4[1].Contains(a) || docV4[2].Contains(a)):
		return ClassDocumentation, ""
	case cgnat.Contains(a):
		return ClassCGNAT, ""
	case a.IsPrivate():
		return ClassPrivate, ""
	case benchmarking.Contains(a) || reservedV4.Contains(a) || thisNetwork.Contains(a) || ietfProtocol.Contains(a) || a == netip.MustParseAddr("255.255.255.255"):
		return ClassReserved, ""
	}
	return ClassPublic, ""
}

// DocumentationRFC returns the RFC that reserves a documentation address (RFC 5737, 3849 or
// 9637), or "" for any other address: the reason names it, since "documentation" alone reads
// like a word of the reason, not a class of address.
func DocumentationRFC(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ""
	}
	a = a.Unmap()
	switch {
	case docV6.Contains(a):
		return "RFC 3849"
	case docV6New.Contains(a):
		return "RFC 9637"
	case a.Is4() && (docV4[0].Contains(a) || docV4[1].Contains(a) || docV4[2].Contains(a)):
		return "RFC 5737"
	}
	return ""
}

// services names well-known ports (IANA Service Name and Transport Protocol Port Number
// Registry), plus the ports attackers' tooling favours, so an analyst sees "4444 (metasploit)".
var services = map[int]string{
	20: "ftp-data", 21: "ftp", 22: "ssh", 23: "telnet", 25: "smtp", 53: "dns", 67: "dhcp",
	69: "tftp", 80: "http", 88: "kerberos", 110: "pop3", 111: "rpcbind", 123: "ntp",
	135: "msrpc", 137: "netbios-ns", 139: "netbios-ssn", 143: "imap", 161: "snmp", 389: "ldap",
	443: "https", 445: "smb", 465: "smtps", 514: "syslog", 587: "submission", 636: "ldaps",
	853: "dns-over-tls", 873: "rsync", 993: "imaps", 995: "pop3s", 1080: "socks", 1194: "openvpn",
	1389: "ldap-alt: log4shell lookups", 1433: "mssql", 1521: "oracle", 2049: "nfs",
	2375: "docker", 2376: "docker-tls", 2379: "etcd", 3128: "http-proxy", 3306: "mysql",
	3389: "rdp", 4444: "metasploit", 5432: "postgresql", 5601: "kibana", 5671: "amqps",
	5672: "amqp", 5900: "vnc", 5985: "winrm", 5986: "winrm-tls", 6379: "redis", 6443: "kubernetes-api",
	6667: "irc", 8080: "http-alt", 8200: "vault", 8443: "https-alt", 8888: "http-alt",
	9000: "http-alt", 9092: "kafka", 9200: "elasticsearch", 9418: "git", 10250: "kubelet",
	11211: "memcached", 27017: "mongodb", 3333: "stratum: mining pool", 14444: "stratum: mining pool",
}

// PortService returns the name of a destination port, or "".
func PortService(port int) string { return services[port] }

// Contextualize answers the guide's first question for each distinct destination of the
// record's examples and influencers.
func Contextualize(r *record.Record) *record.Context {
	seen := map[string]bool{}   // ip|port
	seenIP := map[string]bool{} // ip
	var out []record.Destination
	add := func(ip string, port int) {
		key := ip + "|" + strconv.Itoa(port)
		if ip == "" || seen[key] {
			return
		}
		seen[key], seenIP[ip] = true, true
		class, note := IPClass(ip)
		out = append(out, record.Destination{IP: ip, Port: port, IPClass: class, Service: PortService(port), Note: note})
	}
	for _, e := range r.Examples {
		add(e.DestinationIP, e.DestinationPort)
	}
	for _, inf := range r.Influencers {
		if inf.FieldName == "destination.ip" {
			for _, ip := range inf.FieldValues {
				if !seenIP[ip] {
					add(ip, 0)
				}
			}
		}
	}
	if len(out) == 0 {
		return nil
	}
	return &record.Context{Destinations: out}
}
