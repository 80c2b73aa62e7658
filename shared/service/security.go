package service

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/nats-io/nats.go"
)

// PasswordEnv is the environment variable a stage reads its NATS password from when no
// password file is given. There is no password flag: a command line is visible to every user
// of the machine.
const PasswordEnv = "RARENET_NATS_PASSWORD"

// Security holds the flags that secure a stage's NATS connection: TLS and credentials. Secrets
// are read from files (or PasswordEnv), never from the command line, and never logged.
type Security struct {
	TLSCA        string
	TLSCert      string
	TLSKey       string
	Creds        string
	User         string
	PasswordFile string
	InboxPrefix  string
}

// RegisterFlags registers the connection security flags on fs.
func (s *Security) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&s.TLSCA, "tls-ca", "", "PEM file of the CA that signed the NATS servers' certificates (turns TLS on)")
	fs.StringVar(&s.TLSCert, "tls-cert", "", "PEM client certificate, for servers that verify clients (with --tls-key)")
	fs.StringVar(&s.TLSKey, "tls-key", "", "PEM private key of --tls-cert")
	fs.StringVar(&s.Creds, "nats-creds", "", "NATS credentials file (JWT and nkey seed) of the stage's user")
	fs.StringVar(&s.User, "nats-user", "", "NATS user name; the password comes from --nats-password-file or "+PasswordEnv)
	fs.StringVar(&s.PasswordFile, "nats-password-file", "", "file holding the NATS password of --nats-user")
	fs.StringVar(&s.InboxPrefix, "nats-inbox-prefix", "", "prefix of the connection's reply subjects (default _INBOX); give each user its own so that no other user may subscribe to its replies")
}

// Validate checks that the flags go together.
func (s *Security) Validate() error {
	if (s.TLSCert == "") != (s.TLSKey == "") {
		return errors.New("--tls-cert and --tls-key go together")
	}
	if s.Creds != "" && s.User != "" {
		return errors.New("--nats-creds and --nats-user exclude each other")
	}
	if s.PasswordFile != "" && s.User == "" {
		return errors.New("--nats-password-file needs --nats-user")
	}
	return nil
}

// Options returns the nats.go options the flags ask for. The password is read here, from the
// file or the environment, and goes nowhere but into the connection.
func (s *Security) Options() ([]nats.Option, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	var opts []nats.Option
	if s.TLSCA != "" {
		opts = append(opts, nats.RootCAs(s.TLSCA))
	}
	if s.TLSCert != "" {
		opts = append(opts, nats.ClientCert(s.TLSCert, s.TLSKey))
	}
	if s.Creds != "" {
		if _, err := os.Stat(s.Creds); err != nil {
			return nil, fmt.Errorf("--nats-creds: %w", err)
		}
		opts = append(opts, nats.UserCredentials(s.Creds))
	}
	if s.User != "" {
		var password string
		if s.PasswordFile != "" {
			b, err := os.ReadFile(s.PasswordFile)
			if err != nil {
				// The error names the file, not its content.
				return nil, fmt.Errorf("--nats-password-file: %w", err)
			}
			password = strings.TrimRight(string(b), "\r\n")
		} else {
			password = os.Getenv(PasswordEnv)
		}
		if password == "" {
			return nil, fmt.Errorf("--nats-user %s has no password: give --nats-password-file or %s", s.User, PasswordEnv)
		}
		opts = append(opts, nats.UserInfo(s.User, password))
	}
	if s.InboxPrefix != "" {
		opts = append(opts, nats.CustomInboxPrefix(s.InboxPrefix))
	}
	return opts, nil
}
