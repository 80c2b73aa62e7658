package notify

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rarenet/rarenet/shared/syncbuf"
)

// rsyslogLine is how the test's rsyslog writes each message it parsed: the RFC 5424 fields
// as rsyslog understood them, so the test reads rsyslog's view, not the bytes sent.
const rsyslogLine = `%pri%|%hostname%|%app-name%|%msgid%|%structured-data%|%msg%\n`

// startRsyslog runs Debian's rsyslogd on a free loopback port, TCP or (with certs) TLS,
// writing every message it receives to a file, and returns the port and the file.
func startRsyslog(t *testing.T, certs *testCerts) (int, string) {
	t.Helper()
	bin, err := exec.LookPath("rsyslogd")
	if err != nil {
		for _, p := range []string{"/usr/sbin/rsyslogd", "/sbin/rsyslogd"} {
			if _, err := os.Stat(p); err == nil {
				bin = p
			}
		}
	}
	if bin == "" {
		t.Skip("rsyslogd is not installed (Debian package rsyslog, and rsyslog-gnutls for TLS; .ci/run installs both)")
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "messages.log")
	port := freePort(t)
	var conf strings.Builder
	conf.WriteString(`global(workDirectory="` + dir + `"`)
	if certs != nil {
		conf.WriteString(` defaultNetstreamDriver="gtls" defaultNetstreamDriverCAFile="` + certs.ca +
			`" defaultNetstreamDriverCertFile="` + certs.cert + `" defaultNetstreamDriverKeyFile="` + certs.key + `"`)
	}
	conf.WriteString(")\n")
	if certs != nil {
		conf.WriteString(`module(load="imtcp" streamDriver.name="gtls" streamDriver.mode="1" streamDriver.authMode="anon")` + "\n")
	} else {
		conf.WriteString(`module(load="imtcp")` + "\n")
	}
	conf.WriteString(`input(type="imtcp" address="127.0.0.1" port="` + strconv.Itoa(port) + `")` + "\n")
	conf.WriteString(`template(name="fields" type="string" string="` + rsyslogLine + `")` + "\n")
	conf.WriteString(`action(type="omfile" file="` + out + `" template="fields" flushInterval="0" asyncWriting="off")` + "\n")
	confFile := filepath.Join(dir, "rsyslog.conf")
	if err := os.WriteFile(confFile, []byte(conf.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-n", "-f", confFile, "-i", filepath.Join(dir, "rsyslogd.pid"))
	var log syncbuf.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM) // rsyslogd's shutdown signal; SIGINT only in debug mode
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("rsyslogd output:\n%s", log.String())
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err == nil {
			c.Close()
			break
		}
		select {
		case <-exited:
			t.Fatalf("rsyslogd exited:\n%s", log.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("rsyslogd does not listen on %d:\n%s", port, log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	return port, out
}

// TestSyslog sends the sample's signals to rsyslog over TCP and over TLS (verified against a
// CA made here), RFC 5424 with octet counting, and reads back what rsyslog parsed: the
// priority, app name, message id, structured data and the text; then CEF in the message.
func TestSyslog(t *testing.T) {
	certs := makeCerts(t)
	tests := []struct {
		name   string
		tls    bool
		format string
	}{
		{"tcp", false, ""},
		{"tls", true, ""},
		{"tcp-cef", false, "cef"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var port int
			var out string
			scheme := "syslog+tcp"
			d := DestinationConfig{Name: "siem", Format: tt.format, Facility: "auth"}
			if tt.tls {
				port, out = startRsyslog(t, certs)
				scheme = "syslog+tls"
				d.CAFile = certs.ca
			} else {
				port, out = startRsyslog(t, nil)
			}
			d.URL = scheme + "://127.0.0.1:" + strconv.Itoa(port)
			h := startNotifier(t, &Config{Destinations: []DestinationConfig{d},
				Routes: []RouteConfig{{Name: "all", To: []string{"siem"}}}})
			docs := sampleSignals(t)
			// A reason with a line break and a structured-data value with the characters
			// RFC 5424 escapes.
			docs[2] = variant(t, docs[2], map[string]any{"kibana.alert.reason": "two\nlines", "user.name": []string{`a"b]c\d`}})
			h.publish(t, docs...)
			h.waitAcked(t, 3)
			var lines []string
			waitFor(t, "rsyslog to write 3 messages", func() bool {
				b, _ := os.ReadFile(out)
				lines = strings.Split(strings.TrimSpace(string(b)), "\n")
				return len(lines) >= 3 && lines[0] != ""
			})
			if len(lines) != 3 {
				t.Fatalf("rsyslog wrote %d messages, want 3:\n%s", len(lines), strings.Join(lines, "\n"))
			}
			for i, line := range lines {
				sig, _ := ParseSignal(docs[i])
				f := strings.SplitN(line, "|", 6)
				if len(f) != 6 {
					t.Fatalf("line %q", line)
				}
				// auth (4) * 8 + notice (5): the sample's severity is low.
				if f[0] != "37" || f[2] != "rarenet" || f[3] != "signal" {
					t.Errorf("pri %s app %s msgid %s, want 37 rarenet signal", f[0], f[2], f[3])
				}
				if !strings.Contains(f[4], `[rarenet@32473 `) || !strings.Contains(f[4], `id="`+sig.ID+`"`) ||
					!strings.Contains(f[4], `process="`+sig.Process()+`"`) || !strings.Contains(f[4], `score="`+strconv.FormatFloat(sig.Score, 'f', 1, 64)+`"`) {
					t.Errorf("structured data %s", f[4])
				}
				msg := strings.TrimSpace(f[5])
				switch {
				case tt.format == "cef":
					if !strings.HasPrefix(msg, "CEF:0|rarenet|rarenet|1|"+sig.RuleID+"|Unusual Linux Network Activity|3|") ||
						!strings.Contains(msg, "externalId="+sig.ID) || !strings.Contains(msg, "sproc="+sig.Process()) {
						t.Errorf("CEF message %q", msg)
					}
				case i == 2:
					if msg != "two lines" {
						t.Errorf("message %q, want the reason on one line", msg)
					}
				case msg != oneLine(sig.Reason):
					t.Errorf("message %q, want the reason %q", msg, sig.Reason)
				}
			}
			if !strings.Contains(lines[2], `user="a\"b\]c\\d"`) {
				t.Errorf("escaped structured data: %s", lines[2])
			}
		})
	}
}

// TestCEFEscaping checks the CEF escapes: | and \ in the header, = \ and line breaks in
// extension values.
func TestCEFEscaping(t *testing.T) {
	s := &Signal{ID: "x", RuleID: "r|1", RuleName: `a\b`, Severity: "high", Reason: "k=v\nnext", Processes: []string{`p\q`}}
	got := CEF(s)
	for _, want := range []string{`CEF:0|rarenet|rarenet|1|r\|1|a\\b|8|`, `msg=k\=v\nnext`, `sproc=p\\q`} {
		if !strings.Contains(got, want) {
			t.Errorf("CEF %q lacks %q", got, want)
		}
	}
}

// testCerts are PEM files of a CA and a server certificate for 127.0.0.1 and localhost.
type testCerts struct{ ca, cert, key string }

func makeCerts(t *testing.T) *testCerts {
	t.Helper()
	dir := t.TempDir()
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "rarenet notify test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	c := &testCerts{ca: filepath.Join(dir, "ca.pem"), cert: filepath.Join(dir, "server.pem"), key: filepath.Join(dir, "server-key.pem")}
	for path, block := range map[string]*pem.Block{
		c.ca: {Type: "CERTIFICATE", Bytes: caDER}, c.cert: {Type: "CERTIFICATE", Bytes: der}, c.key: {Type: "PRIVATE KEY", Bytes: keyDER},
	} {
		if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
