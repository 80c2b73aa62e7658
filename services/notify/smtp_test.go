package notify

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/mail"
	"strconv"
	"strings"
	"testing"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// mailReceived is one message the test's SMTP server accepted.
type mailReceived struct {
	from, user string
	to         []string
	tls        bool
	data       []byte
}

// smtpSession is a session of the test's SMTP server: PLAIN authentication with one user,
// refused before STARTTLS (the library's default: AllowInsecureAuth off).
type smtpSession struct {
	conn     *smtp.Conn
	password string
	got      *recorder[mailReceived]
	cur      mailReceived
}

func (s *smtpSession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (s *smtpSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != "alerts" || pass != s.password {
			return errors.New("invalid credentials")
		}
		s.cur.user = user
		return nil
	}), nil
}

func (s *smtpSession) Mail(from string, _ *smtp.MailOptions) error {
	if s.cur.user == "" {
		return smtp.ErrAuthRequired
	}
	s.cur.from = from
	return nil
}

func (s *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.cur.to = append(s.cur.to, to)
	return nil
}

func (s *smtpSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	_, s.cur.tls = s.conn.TLSConnectionState()
	s.cur.data = b
	s.got.add(s.cur)
	return nil
}

func (s *smtpSession) Reset()        { s.cur = mailReceived{user: s.cur.user} }
func (s *smtpSession) Logout() error { return nil }

// startSMTP runs emersion/go-smtp in-process on a loopback port, offering STARTTLS with a
// certificate of the test CA.
func startSMTP(t *testing.T, certs *testCerts, password string) (int, *recorder[mailReceived]) {
	t.Helper()
	cert, err := tls.LoadX509KeyPair(certs.cert, certs.key)
	if err != nil {
		t.Fatal(err)
	}
	got := &recorder[mailReceived]{}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &smtpSession{conn: c, password: password, got: got}, nil
	}))
	srv.Domain = "localhost"
	srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return l.Addr().(*net.TCPAddr).Port, got
}

// TestSMTP sends a signal by mail through STARTTLS with the password from a file, and a
// digest of a rule run; the server checks the credentials and the test reads the messages.
func TestSMTP(t *testing.T) {
	certs := makeCerts(t)
	port, got := startSMTP(t, certs, "mail-pw")
	pw := writeFile(t, "smtp-password", "mail-pw\n", 0o600)
	cfg := &Config{
		Destinations: []DestinationConfig{{Name: "mail",
			URL:          "smtp://alerts@localhost:" + strconv.Itoa(port) + "?to=soc@example.org,oncall@example.org&from=rarenet@example.org",
			PasswordFile: pw, CAFile: certs.ca}},
		Routes: []RouteConfig{{Name: "mail", To: []string{"mail"}}},
	}
	h := startNotifier(t, cfg)
	doc := sampleSignals(t)[0]
	sig, _ := ParseSignal(doc)
	h.publish(t, doc)
	h.waitAcked(t, 1)
	msgs := got.all()
	if len(msgs) != 1 {
		t.Fatalf("the server got %d mails, want 1", len(msgs))
	}
	m := msgs[0]
	if !m.tls || m.user != "alerts" || m.from != "rarenet@example.org" || strings.Join(m.to, ",") != "soc@example.org,oncall@example.org" {
		t.Errorf("envelope: tls %v user %q from %q to %v", m.tls, m.user, m.from, m.to)
	}
	parsed, err := mail.ReadMessage(strings.NewReader(string(m.data)))
	if err != nil {
		t.Fatalf("not a mail: %v\n%s", err, m.data)
	}
	if id := parsed.Header.Get("Message-Id"); id != "<"+sig.ID+"@rarenet>" {
		t.Errorf("Message-ID %q", id)
	}
	if k := parsed.Header.Get(HeaderIdempotencyKey); k != sig.ID {
		t.Errorf("%s %q", HeaderIdempotencyKey, k)
	}
	if s := parsed.Header.Get("Subject"); s != "[rarenet] kworkerds on web-03 (score 94.6, low)" {
		t.Errorf("Subject %q", s)
	}
	body, _ := io.ReadAll(parsed.Body)
	if !strings.Contains(oneLine(string(body)), oneLine(sig.Reason)[:60]) {
		t.Errorf("body lacks the reason:\n%s", body)
	}
}

// TestSMTPRefusesWithoutSTARTTLS: a server that offers no STARTTLS never gets the password;
// the signal ends on the dead-letter subject with the reason.
func TestSMTPRefusesWithoutSTARTTLS(t *testing.T) {
	got := &recorder[mailReceived]{}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &smtpSession{conn: c, password: "pw", got: got}, nil
	}))
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = true
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	t.Setenv("TEST_SMTP_PW", "pw")
	cfg := &Config{
		Destinations: []DestinationConfig{{Name: "mail", URL: "smtp://alerts@" + l.Addr().String() + "?to=soc@example.org",
			PasswordEnv: "TEST_SMTP_PW", MaxAttempts: 2, Backoff: 1}},
		Routes: []RouteConfig{{Name: "mail", To: []string{"mail"}}},
	}
	h := startNotifier(t, cfg)
	h.publish(t, sampleSignals(t)[0])
	h.waitAcked(t, 1)
	if n := len(got.all()); n != 0 {
		t.Fatalf("the server got %d mails over plain text", n)
	}
	dl := h.deadLetters(t, "rarenet.dlq.notify.mail")
	if len(dl) != 1 || !strings.Contains(strings.ToLower(dl[0].Header.Get("Rarenet-Reason")), "starttls") {
		t.Fatalf("dead letters %d, want 1 naming STARTTLS", len(dl))
	}
}
