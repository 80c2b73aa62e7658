package service

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSecurityOptions(t *testing.T) {
	dir := t.TempDir()
	pwFile := filepath.Join(dir, "password")
	if err := os.WriteFile(pwFile, []byte("s3cret-from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	creds := filepath.Join(dir, "ingest.creds")
	if err := os.WriteFile(creds, []byte("not parsed until connect"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		sec      Security
		env      string
		wantOpts int
		wantErr  string
	}{
		{name: "nothing", wantOpts: 0},
		{name: "tls with client certificate", sec: Security{TLSCA: "ca.pem", TLSCert: "c.pem", TLSKey: "k.pem"}, wantOpts: 2},
		{name: "certificate without key", sec: Security{TLSCert: "c.pem"}, wantErr: "--tls-key"},
		{name: "user with password file", sec: Security{User: "ingest", PasswordFile: pwFile}, wantOpts: 1},
		{name: "user with password from environment", sec: Security{User: "ingest"}, env: "from-env", wantOpts: 1},
		{name: "user without password", sec: Security{User: "ingest"}, wantErr: PasswordEnv},
		{name: "missing password file", sec: Security{User: "ingest", PasswordFile: filepath.Join(dir, "none")}, wantErr: "--nats-password-file"},
		{name: "password file without user", sec: Security{PasswordFile: pwFile}, wantErr: "needs --nats-user"},
		{name: "creds file", sec: Security{Creds: creds, InboxPrefix: "_INBOX_ingest"}, wantOpts: 2},
		{name: "creds and user", sec: Security{Creds: creds, User: "ingest"}, wantErr: "exclude"},
		{name: "missing creds file", sec: Security{Creds: filepath.Join(dir, "none")}, wantErr: "--nats-creds"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(PasswordEnv, tt.env)
			opts, err := tt.sec.Options()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Options() error %v, want one naming %s", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "s3cret") {
					t.Errorf("the error %q shows the password", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(opts) != tt.wantOpts {
				t.Errorf("%d options, want %d", len(opts), tt.wantOpts)
			}
		})
	}
}
