package notify

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/leodido/go-syslog/v4/rfc5424"
)

// facilities are the syslog facility codes by name (RFC 5424, 6.2.1).
var facilities = map[string]uint8{
	"kern": 0, "user": 1, "mail": 2, "daemon": 3, "auth": 4, "syslog": 5, "lpr": 6, "news": 7,
	"uucp": 8, "cron": 9, "authpriv": 10, "ftp": 11, "ntp": 12, "security": 13, "console": 14,
	"local0": 16, "local1": 17, "local2": 18, "local3": 19, "local4": 20, "local5": 21, "local6": 22, "local7": 23,
}

// syslogSeverity maps a signal's severity to a syslog severity (RFC 5424, 6.2.1).
func syslogSeverity(s string) uint8 {
	switch s {
	case "critical":
		return 2
	case "high":
		return 3
	case "medium":
		return 4
	}
	return 5 // low, and anything else: notice
}

// sdID is the structured-data element of a signal. 32473 is the private enterprise number
// RFC 5612 reserves for documentation, which rarenet, holding none of its own, uses.
const sdID = "rarenet@32473"

// sdEscaper escapes a structured-data parameter value (RFC 5424, 6.3.3).
var sdEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, `]`, `\]`)

// syslogSender writes RFC 5424 messages to a syslog server over TCP or TLS, each framed by
// octet counting (RFC 6587, 3.4.1): its length in bytes, a space, the message. One
// connection is kept and made again after an error.
type syslogSender struct {
	addr     string
	tls      *tls.Config
	cef      bool
	facility uint8
	hostname string
	conn     net.Conn
}

func newSyslogSender(u *url.URL, d *DestinationConfig) (*syslogSender, error) {
	if u.Port() == "" {
		return nil, fmt.Errorf("%s needs host:port", u.Scheme)
	}
	s := &syslogSender{addr: u.Host, cef: d.Format == "cef", facility: facilities["local0"]}
	if d.Facility != "" {
		s.facility = facilities[d.Facility]
	}
	if u.Scheme == "syslog+tls" {
		tc, err := tlsConfig(d, u.Hostname())
		if err != nil {
			return nil, err
		}
		s.tls = tc
	}
	s.hostname, _ = os.Hostname()
	return s, nil
}

// Frame is one signal as an octet-counted RFC 5424 message.
func (s *syslogSender) frame(m *Message, sig *Signal, now time.Time) ([]byte, error) {
	msg := &rfc5424.SyslogMessage{}
	msg.SetPriority(s.facility*8 + syslogSeverity(sig.Severity))
	msg.SetVersion(1)
	msg.SetTimestamp(now.UTC().Format(time.RFC3339Nano))
	if s.hostname != "" {
		msg.SetHostname(s.hostname)
	}
	msg.SetAppname("rarenet")
	msg.SetMsgID("signal")
	params := [][2]string{
		{"id", sig.ID}, {"score", strconv.FormatFloat(sig.Score, 'f', 1, 64)}, {"severity", sig.Severity},
		{"host", sig.Host()}, {"process", sig.Process()}, {"user", sig.User()}, {"destination", sig.Destination()},
		{"rule", sig.RuleName}, {"time", sig.Time.UTC().Format(time.RFC3339)},
	}
	if sig.ConsoleLink != "" {
		params = append(params, [2]string{"link", sig.ConsoleLink})
	}
	for _, p := range params {
		if p[1] != "" {
			// The builder parses a value as it would appear in a message, escapes included,
			// and drops one that does not parse: give it escaped (RFC 5424, 6.3.3).
			msg.SetParameter(sdID, p[0], sdEscaper.Replace(p[1]))
		}
	}
	text := m.Text
	if s.cef {
		text = CEF(sig)
	}
	msg.SetMessage(text)
	out, err := msg.String()
	if err != nil {
		return nil, fmt.Errorf("%w: rfc5424: %w", ErrPermanent, err)
	}
	return []byte(strconv.Itoa(len(out)) + " " + out), nil
}

func (s *syslogSender) Send(ctx context.Context, m *Message) error {
	var buf []byte
	now := time.Now()
	for _, sig := range m.Signals {
		f, err := s.frame(m, sig, now)
		if err != nil {
			return err
		}
		buf = append(buf, f...)
	}
	if s.conn != nil && closedByPeer(s.conn) {
		s.conn.Close()
		s.conn = nil
	}
	if s.conn == nil {
		var d net.Dialer
		var c net.Conn
		var err error
		if s.tls != nil {
			td := tls.Dialer{NetDialer: &d, Config: s.tls}
			c, err = td.DialContext(ctx, "tcp", s.addr)
		} else {
			c, err = d.DialContext(ctx, "tcp", s.addr)
		}
		if err != nil {
			return fmt.Errorf("connect: %w", err)
		}
		s.conn = c
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = s.conn.SetWriteDeadline(dl)
	}
	if _, err := s.conn.Write(buf); err != nil {
		// Some frames may have gone: the retry sends the message again, and the receiver sees
		// the same id twice at worst.
		s.conn.Close()
		s.conn = nil
		return fmt.Errorf("write: %w", err)
	}
	return nil
}

func (s *syslogSender) Close() error {
	if s.conn != nil {
		err := s.conn.Close()
		s.conn = nil
		return err
	}
	return nil
}

// CEF is a signal in ArcSight's Common Event Format (v0): the header (vendor, product,
// version, signature id, name, severity 0-10) and extension fields of the CEF key dictionary.
func CEF(s *Signal) string {
	head := func(v string) string {
		return strings.NewReplacer(`\`, `\\`, `|`, `\|`, "\n", " ", "\r", " ").Replace(v)
	}
	ext := func(v string) string {
		return strings.NewReplacer(`\`, `\\`, `=`, `\=`, "\r\n", `\n`, "\n", `\n`, "\r", `\r`).Replace(v)
	}
	sev := map[string]int{"low": 3, "medium": 5, "high": 8, "critical": 10}[s.Severity]
	var b strings.Builder
	fmt.Fprintf(&b, "CEF:0|rarenet|rarenet|1|%s|%s|%d|", head(s.RuleID), head(s.RuleName), sev)
	fields := [][2]string{
		{"rt", strconv.FormatInt(s.Time.UnixMilli(), 10)},
		{"externalId", s.ID},
		{"shost", s.Host()},
		{"sproc", s.Process()},
		{"suser", s.User()},
		{"dst", first(s.Destinations)},
		{"cn1Label", "record_score"}, {"cn1", strconv.FormatFloat(s.Score, 'f', 1, 64)},
		{"cs1Label", "detector"}, {"cs1", s.Detector},
		{"msg", s.Reason},
	}
	if s.ConsoleLink != "" {
		fields = append(fields, [2]string{"cs2Label", "console"}, [2]string{"cs2", s.ConsoleLink})
	}
	sep := ""
	for _, f := range fields {
		if f[1] == "" {
			continue
		}
		b.WriteString(sep + f[0] + "=" + ext(f[1]))
		sep = " "
	}
	return b.String()
}

func first(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

// closedByPeer reports whether the server closed an idle connection: a write to it would
// still be taken by the kernel and lost. Syslog servers send nothing, so any read that does
// not time out at once means the connection is gone.
func closedByPeer(c net.Conn) bool {
	_ = c.SetReadDeadline(time.Now().Add(time.Millisecond))
	defer c.SetReadDeadline(time.Time{})
	var b [1]byte
	_, err := c.Read(b[:])
	var ne net.Error
	return !(errors.As(err, &ne) && ne.Timeout())
}
