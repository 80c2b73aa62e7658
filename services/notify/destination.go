package notify

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/time/rate"
)

// ErrPermanent is wrapped by a delivery error that trying again cannot mend (a webhook's 400,
// a chat channel that does not exist): the message goes to the dead-letter subject at once.
var ErrPermanent = errors.New("notify: permanent failure")

// Message is one delivery to one destination: a signal, or the digest of a rule run's signals.
type Message struct {
	// Key is the idempotency key: the signal's id, or for a digest a uuid v5 of its ids.
	Key     string
	Signals []*Signal
	// Text is the rendered message (the route's or the destination's template); Subject the
	// rendered mail subject.
	Text    string
	Subject string
	// Body is a webhook's whole body rendered from its body template; empty for the default
	// envelope.
	Body  string
	Route string
}

// IDs are the message's signal ids.
func (m *Message) IDs() []string {
	ids := make([]string, len(m.Signals))
	for i, s := range m.Signals {
		ids[i] = s.ID
	}
	return ids
}

// Sender delivers messages of one kind. Send returns nil only once the destination confirmed
// the message (a 2xx, an SMTP 250, a syslog frame written in full, a program's exit 0).
type Sender interface {
	Send(ctx context.Context, m *Message) error
	Close() error
}

// Kinds of destination, by URL scheme.
const (
	KindWebhook    = "webhook"
	KindSlack      = "slack"
	KindMattermost = "mattermost"
	KindSyslog     = "syslog"
	KindSMTP       = "smtp"
	KindExec       = "exec"
	KindStdout     = "stdout"
)

// kindOf returns the destination kind of a URL.
func kindOf(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("not a URL: %w", errors.Unwrap(err))
	}
	switch u.Scheme {
	case "webhook+https", "webhook+http":
		return KindWebhook, nil
	case "slack+https", "slack+http":
		return KindSlack, nil
	case "mattermost+https", "mattermost+http":
		return KindMattermost, nil
	case "syslog+tcp", "syslog+tls":
		return KindSyslog, nil
	case "smtp":
		return KindSMTP, nil
	case "exec":
		return KindExec, nil
	case "stdout":
		return KindStdout, nil
	}
	return "", fmt.Errorf("unknown scheme %q: want webhook+https, slack+https, mattermost+https, syslog+tcp, syslog+tls, smtp, exec or stdout", u.Scheme)
}

// checkNoSecretInURL refuses a password written in a URL's user part.
func checkNoSecretInURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return nil // kindOf reports it
	}
	if _, ok := u.User.Password(); ok {
		return errors.New("holds a password: give password_file or password_env instead")
	}
	return nil
}

// redact shows a URL without what may be secret: the password, the path (a chat webhook's
// path is its token) and the query. Logs and errors only ever show this.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	s := u.Scheme + "://"
	if u.User != nil {
		s += u.User.Username() + "@"
	}
	s += u.Host
	if u.Scheme == "exec" {
		s += u.Path
	} else if u.Path != "" && u.Path != "/" {
		s += "/..."
	}
	return s
}

// urlOptions are the options --to URLs may carry as query parameters.
var urlOptions = []string{"secret_file", "password_file", "ca_file", "format", "facility", "rate"}

// takeURLOptions moves the options of a --to URL into d and returns the URL without them.
func takeURLOptions(raw string, d *DestinationConfig) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", err
	}
	q := u.Query()
	for _, k := range urlOptions {
		v := q.Get(k)
		if v == "" {
			continue
		}
		q.Del(k)
		switch k {
		case "secret_file":
			d.SecretFile = v
		case "password_file":
			d.PasswordFile = v
		case "ca_file":
			d.CAFile = v
		case "format":
			d.Format = v
		case "facility":
			d.Facility = v
		case "rate":
			d.Rate = v
		}
	}
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// parseRate reads "N/s", "N/m" or "N/h".
func parseRate(s string) (rate.Limit, error) {
	n, per, ok := strings.Cut(s, "/")
	count, err := strconv.ParseFloat(n, 64)
	if !ok || err != nil || count <= 0 {
		return 0, fmt.Errorf("want N/s, N/m or N/h, got %q", s)
	}
	unit := map[string]time.Duration{"s": time.Second, "m": time.Minute, "h": time.Hour}[per]
	if unit == 0 {
		return 0, fmt.Errorf("want N/s, N/m or N/h, got %q", s)
	}
	return rate.Limit(count / unit.Seconds()), nil
}

// tlsConfig builds the TLS configuration of a destination: the system's roots or CAFile, and
// a client certificate when given.
func tlsConfig(d *DestinationConfig, serverName string) (*tls.Config, error) {
	c := &tls.Config{ServerName: serverName, MinVersion: tls.VersionTLS12}
	if d.CAFile != "" {
		pem, err := os.ReadFile(d.CAFile)
		if err != nil {
			return nil, fmt.Errorf("ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ca_file %s holds no PEM certificate", d.CAFile)
		}
		c.RootCAs = pool
	}
	if d.CertFile != "" || d.KeyFile != "" {
		cert, err := tls.LoadX509KeyPair(d.CertFile, d.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("cert_file/key_file: %w", err)
		}
		c.Certificates = []tls.Certificate{cert}
	}
	return c, nil
}

// NewSender builds the sender of a destination; it reads the secrets the destination names.
func NewSender(d *DestinationConfig) (Sender, error) {
	raw, err := d.resolveURL()
	if err != nil {
		return nil, err
	}
	if err := checkNoSecretInURL(raw); err != nil {
		return nil, err
	}
	kind, err := kindOf(raw)
	if err != nil {
		return nil, err
	}
	u, _ := url.Parse(raw)
	switch kind {
	case KindWebhook, KindSlack, KindMattermost:
		return newHTTPSender(kind, u, d)
	case KindSyslog:
		return newSyslogSender(u, d)
	case KindSMTP:
		return newSMTPSender(u, d)
	case KindExec:
		return newExecSender(u, d)
	case KindStdout:
		return &stdoutSender{w: os.Stdout}, nil
	}
	return nil, fmt.Errorf("unknown kind %s", kind)
}
