package httpin

import (
	"bytes"
	"compress/gzip"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rarenet/rarenet/shared/natsembed"
	"github.com/rarenet/rarenet/shared/natsutil"
	"github.com/rarenet/rarenet/shared/tokens"
)

const (
	shipperToken = "s3cret-of-web-shipper-2"
	anyToken     = "s3cret-of-the-collector"
)

// hostLine is an ECS connect event of host.
func hostLine(host string) string {
	return `{"@timestamp":"2024-05-01T10:00:00Z","event":{"action":"connected-to"},"host":{"name":"` + host +
		`"},"process":{"name":"socat"},"destination":{"ip":"203.0.113.7","port":443}}`
}

// tokenFile writes a token file with web-shipper-2 (hosts web-*) and collector (any host).
func tokenFile(t testing.TB) *tokens.File {
	t.Helper()
	path := filepath.Join(t.TempDir(), "tokens")
	content := "# the HTTP input's shippers\nweb-shipper-2 " + tokens.Hash(shipperToken) + " web-*\ncollector " + tokens.Hash(anyToken) + "\n"
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := tokens.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func bearer(token string) map[string]string {
	return map[string]string{"Authorization": "Bearer " + token, HeaderSource: "claims-to-be-someone-else"}
}

func TestTokens(t *testing.T) {
	_, _, js, ctx := startJetStream(t)
	f := tokenFile(t)
	var st Stats
	s, err := Listen("127.0.0.1:0", js, Config{Tokens: f, Stats: &st}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	url := "http://" + s.Addr().String()

	for _, tt := range []struct {
		name   string
		header map[string]string
	}{
		{"no Authorization", nil},
		{"another scheme", map[string]string{"Authorization": "Basic " + shipperToken}},
		{"unknown token", bearer("guessed")},
		{"the hash instead of the token", bearer(tokens.Hash(shipperToken))},
	} {
		if code, r := do(t, url, request{target: EventsPath + "?format=ecs", body: hostLine("web-1"), header: tt.header}); code != http.StatusUnauthorized {
			t.Errorf("%s: POST = %d %+v, want 401", tt.name, code, r)
		}
	}
	// One line of a host outside web-* refuses the whole request.
	code, r := do(t, url, request{target: EventsPath + "?format=ecs", body: hostLine("web-1") + "\n" + hostLine("db-1") + "\n", header: bearer(shipperToken)})
	if code != http.StatusForbidden || !strings.Contains(r.Error, `line 2: an event with host.name "db-1"`) || !strings.Contains(r.Error, "web-shipper-2") {
		t.Errorf("POST of a foreign host = %d %+v, want 403 naming line 2, the host and the token", code, r)
	}
	code, r = do(t, url, request{target: EventsPath + "?format=ecs", body: `{"@timestamp":"2024-05-01T10:00:00Z","event":{"action":"connected-to"},"process":{"name":"socat"},"destination":{"ip":"203.0.113.7","port":443}}`, header: bearer(shipperToken)})
	if code != http.StatusForbidden || !strings.Contains(r.Error, "no host.name") {
		t.Errorf("POST of an event without host = %d %+v, want 403", code, r)
	}
	if got := stored(t, ctx, js); len(got) != 0 {
		t.Fatalf("refused requests stored %q", got)
	}

	// Auto-detected and gzipped: still checked.
	if code, r := do(t, url, request{body: hostLine("db-2"), gzip: true, header: bearer(shipperToken)}); code != http.StatusForbidden {
		t.Errorf("gzipped, auto-detected POST of a foreign host = %d %+v, want 403", code, r)
	}
	if code, r := do(t, url, request{target: EventsPath + "?format=ecs", body: hostLine("web-1") + "\n" + hostLine("web-22"), header: bearer(shipperToken)}); code != http.StatusAccepted || r.Accepted != 2 {
		t.Errorf("POST of its own hosts = %d %+v, want 202", code, r)
	}
	if code, r := do(t, url, request{body: hostLine("db-1") + "\nnot json at all", header: bearer(anyToken)}); code != http.StatusAccepted || r.Accepted != 2 {
		t.Errorf("POST with a token for any host = %d %+v, want 202", code, r)
	}
	got := stored(t, ctx, js)
	want := []string{
		"rarenet.raw.ecs.web-shipper-2 web-shipper-2:1 " + hostLine("web-1"),
		"rarenet.raw.ecs.web-shipper-2 web-shipper-2:2 " + hostLine("web-22"),
		"rarenet.raw.auto.collector collector:1 " + hostLine("db-1"),
		"rarenet.raw.auto.collector collector:2 not json at all",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("stored\n%s\nwant the token's name as the source, whatever X-Rarenet-Source says, on the subject naming it:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, c := range []struct {
		token string
		code  int
		want  int64
	}{{Anonymous, 401, 4}, {"web-shipper-2", 403, 3}, {"web-shipper-2", 202, 1}, {"collector", 202, 1}} {
		if n := st.Count(c.token, c.code); n != c.want {
			t.Errorf("Stats.Count(%q, %d) = %d, want %d", c.token, c.code, n, c.want)
		}
	}

	// A rotated token: the old one is refused once the file is read again.
	const rotated = "the-new-s3cret"
	if err := os.WriteFile(f.Path(), []byte("web-shipper-2 "+tokens.Hash(rotated)+" web-*\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f.Reload("test")
	if code, _ := do(t, url, request{body: hostLine("web-1"), header: bearer(shipperToken)}); code != http.StatusUnauthorized {
		t.Errorf("the old token after rotation: %d, want 401", code)
	}
	if code, _ := do(t, url, request{body: hostLine("web-1"), header: bearer(rotated)}); code != http.StatusAccepted {
		t.Errorf("the new token after rotation: %d, want 202", code)
	}
}

func TestRateLimit(t *testing.T) {
	_, _, js, _ := startJetStream(t)
	var st Stats
	s, err := Listen("127.0.0.1:0", js, Config{Tokens: tokenFile(t), Rate: 0.5, Burst: 2, Stats: &st}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	url := "http://" + s.Addr().String() + EventsPath
	post := func(token string) *http.Response {
		req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(hostLine("web-1")))
		req.Header.Set("Authorization", "Bearer "+token)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res
	}
	for i := range 2 {
		if res := post(shipperToken); res.StatusCode != http.StatusAccepted {
			t.Fatalf("request %d within the burst: %d", i+1, res.StatusCode)
		}
	}
	res := post(shipperToken)
	if res.StatusCode != http.StatusTooManyRequests || res.Header.Get("Retry-After") != "2" {
		t.Errorf("beyond the burst: %d Retry-After %q, want 429 with Retry-After 2 (one request every 2 s)", res.StatusCode, res.Header.Get("Retry-After"))
	}
	// Each token has its own bucket.
	if res := post(anyToken); res.StatusCode != http.StatusAccepted {
		t.Errorf("another token while the first is limited: %d, want 202", res.StatusCode)
	}
	if n := st.Count("web-shipper-2", http.StatusTooManyRequests); n != 1 {
		t.Errorf("429s counted for web-shipper-2: %d, want 1", n)
	}
}

func TestMaxConcurrent(t *testing.T) {
	_, _, js, _ := startJetStream(t)
	var st Stats
	s, err := Listen("127.0.0.1:0", js, Config{MaxConcurrent: 1, Stats: &st}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	url := "http://" + s.Addr().String()
	// A request whose body never ends holds the only slot.
	var pw *io.PipeWriter
	slow := make(chan int, 1)
	startSlow := func() {
		var pr *io.PipeReader
		pr, pw = io.Pipe()
		go func() {
			res, err := http.Post(url+EventsPath, "application/x-ndjson", pr)
			if err != nil {
				slow <- 0
				return
			}
			res.Body.Close()
			slow <- res.StatusCode
		}()
		pw.Write([]byte(ecsLine + "\n"))
	}
	// turnedAway counts the requests refused as busy: a probe below that holds the slot at the
	// moment the slow request comes makes it one of them.
	turnedAway := func() int64 {
		st.mu.Lock()
		defer st.mu.Unlock()
		return st.requests[requestKey{Anonymous, http.StatusServiceUnavailable}]
	}
	startSlow()
	deadline := time.Now().Add(10 * time.Second)
	code := 0
	var res *http.Response
	for time.Now().Before(deadline) {
		res, err = http.Post(url+EventsPath, "application/x-ndjson", strings.NewReader(ecsLine))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if code = res.StatusCode; code == http.StatusServiceUnavailable {
			break
		}
		if turnedAway() > 0 {
			// The slow request came while this probe held the slot: it tries again.
			pw.Close()
			if c := <-slow; c != http.StatusServiceUnavailable {
				t.Fatalf("the slow request, turned away: %d, want 503", c)
			}
			st.mu.Lock()
			clear(st.requests)
			st.mu.Unlock()
			startSlow()
			continue
		}
		time.Sleep(20 * time.Millisecond) // the slow request has not reached the handler yet
	}
	if code != http.StatusServiceUnavailable || res.Header.Get("Retry-After") != "1" {
		t.Errorf("a second request while one is in progress: %d, want 503 with Retry-After 1", code)
	}
	pw.Close()
	if c := <-slow; c != http.StatusAccepted {
		t.Errorf("the slow request: %d, want 202", c)
	}
	if code, _ := do(t, url, request{body: ecsLine}); code != http.StatusAccepted {
		t.Errorf("once the slot is free: %d, want 202", code)
	}
}

func TestSlowClient(t *testing.T) {
	_, _, js, _ := startJetStream(t)
	s, err := Listen("127.0.0.1:0", js, Config{ReadHeaderTimeout: 300 * time.Millisecond}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	conn, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// Headers that never end (slowloris): the server must hang up rather than wait.
	if _, err := conn.Write([]byte("POST /v1/events HTTP/1.1\r\nHost: x\r\nX-Slow: 1\r\n")); err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	start := time.Now()
	_, err = io.ReadAll(conn)
	if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
		t.Fatalf("the server kept a client that never finished its headers for 10 s")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("hung up after %s, want about the 300ms header timeout", d)
	}
}

func TestGzipBomb(t *testing.T) {
	_, _, js, ctx := startJetStream(t)
	s, err := Listen("127.0.0.1:0", js, Config{MaxBody: 1 << 20}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	// 64 MiB of one event repeated compresses to a few hundred kilobytes, within the limit on
	// the wire; only the decompressed bound stops it.
	var b bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
	line := []byte(ecsLine + "\n")
	for n := 0; n < 64<<20; n += len(line) {
		zw.Write(line)
	}
	zw.Close()
	if b.Len() >= 1<<20 {
		t.Fatalf("the bomb is %d bytes compressed: it must fit the limit on the wire to test the decompressed bound", b.Len())
	}
	req, _ := http.NewRequest(http.MethodPost, "http://"+s.Addr().String()+EventsPath, bytes.NewReader(b.Bytes()))
	req.Header.Set("Content-Encoding", "gzip")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("a gzip bomb: %d %s, want 413", res.StatusCode, body)
	}
	if got := stored(t, ctx, js); len(got) != 0 {
		t.Errorf("a gzip bomb stored %d lines", len(got))
	}
}

func TestListenRefusesNonLoopbackWithoutTokens(t *testing.T) {
	_, _, js, _ := startJetStream(t)
	log := slog.New(slog.DiscardHandler)
	for _, addr := range []string{"0.0.0.0:0", ":0", "[::]:0"} {
		if _, err := Listen(addr, js, Config{}, log); !errors.Is(err, ErrInsecureListen) || !strings.Contains(err.Error(), "--http-tokens") {
			t.Errorf("Listen(%q) without tokens: %v, want ErrInsecureListen saying what to give", addr, err)
		}
	}
	for _, cfg := range []Config{{Insecure: true}, {Tokens: tokenFile(t)}} {
		s, err := Listen("0.0.0.0:0", js, cfg, log)
		if err != nil {
			t.Errorf("Listen(0.0.0.0) with insecure %v, tokens %v: %v", cfg.Insecure, cfg.Tokens != nil, err)
			continue
		}
		s.Close()
	}
	for _, addr := range []string{"127.0.0.1:0", "localhost:0", "[::1]:0"} {
		if !IsLoopback(addr) {
			t.Errorf("IsLoopback(%q) = false", addr)
		}
	}
}

func TestTLS(t *testing.T) {
	_, _, js, _ := startJetStream(t)
	dir := t.TempDir()
	ca, caPool := writeTestPKI(t, dir)
	s, err := Listen("127.0.0.1:0", js, Config{
		Tokens:  tokenFile(t),
		TLSCert: filepath.Join(dir, "server.pem"), TLSKey: filepath.Join(dir, "server-key.pem"), TLSClientCA: ca,
	}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	url := "https://" + s.Addr().String()
	client := func(withCert bool) *http.Client {
		c := &tls.Config{RootCAs: caPool}
		if withCert {
			pair, err := tls.LoadX509KeyPair(filepath.Join(dir, "client.pem"), filepath.Join(dir, "client-key.pem"))
			if err != nil {
				t.Fatal(err)
			}
			c.Certificates = []tls.Certificate{pair}
		}
		return &http.Client{Transport: &http.Transport{TLSClientConfig: c}}
	}
	post := func(c *http.Client) (int, error) {
		req, _ := http.NewRequest(http.MethodPost, url+EventsPath, strings.NewReader(hostLine("web-1")))
		req.Header.Set("Authorization", "Bearer "+shipperToken)
		res, err := c.Do(req)
		if err != nil {
			return 0, err
		}
		res.Body.Close()
		return res.StatusCode, nil
	}
	if code, err := post(client(true)); err != nil || code != http.StatusAccepted {
		t.Errorf("with a client certificate: %d %v, want 202", code, err)
	}
	if code, err := post(client(false)); err == nil {
		t.Errorf("without a client certificate: %d, want the handshake refused", code)
	}
	if res, err := http.Post("http://"+s.Addr().String()+EventsPath, "", strings.NewReader(ecsLine)); err == nil && res.StatusCode < 400 {
		t.Errorf("plain HTTP to the TLS port: %d", res.StatusCode)
	}
	if _, err := ServerTLS(filepath.Join(dir, "server.pem"), "", ""); err == nil {
		t.Error("a certificate without its key was taken")
	}
	if _, err := ServerTLS("", "", ca); err == nil {
		t.Error("a client CA without a server certificate was taken")
	}
}

// writeTestPKI writes a CA (ca.pem), a server certificate for 127.0.0.1 (server.pem,
// server-key.pem) and a client certificate (client.pem, client-key.pem) into dir.
func writeTestPKI(t *testing.T, dir string) (caPath string, pool *x509.CertPool) {
	t.Helper()
	write := func(name, typ string, der []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	write("ca.pem", "CERTIFICATE", caDER)
	for i, leaf := range []struct {
		name  string
		usage x509.ExtKeyUsage
	}{{"server", x509.ExtKeyUsageServerAuth}, {"client", x509.ExtKeyUsageClientAuth}} {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(int64(i + 2)), Subject: pkix.Name{CommonName: leaf.name},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{leaf.usage},
			IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		write(leaf.name+".pem", "CERTIFICATE", der)
		kb, _ := x509.MarshalECPrivateKey(key)
		write(leaf.name+"-key.pem", "EC PRIVATE KEY", kb)
	}
	pool = x509.NewCertPool()
	pool.AddCert(ca)
	return filepath.Join(dir, "ca.pem"), pool
}

// /healthz turns 503 when JetStream stops answering while the connection stays up.
func TestHealthWithoutJetStream(t *testing.T) {
	srv, err := natsembed.Start(natsembed.Config{StoreDir: t.TempDir(), Port: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
	nc, err := natsutil.Connect(srv.ClientURL(), nil, "test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, _ := natsutil.JetStream(nc)
	s, err := Listen("127.0.0.1:0", js, Config{}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	url := "http://" + s.Addr().String()
	if code, r := do(t, url, request{method: http.MethodGet, target: HealthPath}); code != http.StatusOK {
		t.Fatalf("healthz = %d %+v with JetStream up", code, r)
	}
	if err := srv.DisableJetStream(); err != nil {
		t.Fatal(err)
	}
	if code, r := do(t, url, request{method: http.MethodGet, target: HealthPath}); code != http.StatusServiceUnavailable || !strings.Contains(r.Error, "JetStream") {
		t.Errorf("healthz = %d %+v with JetStream stopped, want 503 saying so", code, r)
	}
}
