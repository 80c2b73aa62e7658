package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/rarenet/rarenet/shared/cli"
)

// startAuthServer runs a real nats-server with JetStream that admits only user admin with
// password "pw", and returns its URL and a password file.
func startAuthServer(t *testing.T) (url, passwordFile string) {
	t.Helper()
	srv, err := server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), NoSigs: true,
		Users: []*server.User{{Username: "admin", Password: "pw"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server not ready")
	}
	t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
	passwordFile = filepath.Join(t.TempDir(), "password")
	if err := os.WriteFile(passwordFile, []byte("pw\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return srv.ClientURL(), passwordFile
}

// Every command that connects takes the stage binaries' connection flags, and uses them.
func TestCommandsTakeTheNATSFlags(t *testing.T) {
	url, pwFile := startAuthServer(t)
	creds := []string{"--nats-url", url, "--nats-user", "admin", "--nats-password-file", pwFile}
	input := filepath.Join(t.TempDir(), "in.ndjson")
	line := `{"@timestamp":"2024-05-01T10:00:00Z","event":{"action":"connected-to"},"host":{"name":"web-1"},"process":{"name":"curl"},"destination":{"ip":"203.0.113.7","port":443}}`
	if err := os.WriteFile(input, []byte(line+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"replay", "--out", filepath.Join(t.TempDir(), "signals.ndjson"), input}, // creates the streams
		{"dlq"},
		{"exceptions", "list"},
	} {
		var stderr bytes.Buffer
		if code := dispatch(append(args, creds...), io.Discard, &stderr); code != cli.ExitOK {
			t.Errorf("rarenet %s with the user's password file: exit %d: %s", strings.Join(args, " "), code, stderr.String())
		}
		stderr.Reset()
		if code := dispatch(append(args, "--nats-url", url), io.Discard, &stderr); code != cli.ExitFailure || !strings.Contains(stderr.String(), "refused the connection") {
			t.Errorf("rarenet %s without credentials: exit %d: %s; want 1 and the refusal", strings.Join(args, " "), code, stderr.String())
		}
	}
	for _, cmd := range []string{"run", "replay", "tail", "collect", "sense", "signals", "dlq", "exceptions list", "console", "notify"} {
		help := helpOf(t, strings.Fields(cmd)...)
		for _, flag := range []string{"--nats-creds", "--nats-user", "--nats-password-file", "--tls-ca", "--tls-cert", "--tls-key", "--nats-inbox-prefix"} {
			if !strings.Contains(help, flag) {
				t.Errorf("rarenet %s --help has no %s", cmd, flag)
			}
		}
	}
	for _, args := range [][]string{
		{"tail", "--nats-creds", "x.creds", "--nats-user", "admin", input},
		{"signals", "--tls-cert", "c.pem"},
		{"run", "--nats-user", "admin"},
	} {
		var stderr bytes.Buffer
		if code := dispatch(args, io.Discard, &stderr); code != cli.ExitUsage {
			t.Errorf("rarenet %s: exit %d (%s), want 2", strings.Join(args, " "), code, stderr.String())
		}
	}
}

// helpOf returns what `rarenet ARGS --help` prints, wherever the command prints it.
func helpOf(t *testing.T, args ...string) string {
	t.Helper()
	f, err := os.Create(filepath.Join(t.TempDir(), "help"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	stdout, stderr := os.Stdout, os.Stderr
	os.Stdout, os.Stderr = f, f
	dispatch(append(args, "--help"), f, f)
	os.Stdout, os.Stderr = stdout, stderr
	b, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
