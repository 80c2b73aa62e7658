package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
)

// execSender runs a program for each message, the signal documents on its standard input (one
// JSON document per line) and the message in its environment: RARENET_IDEMPOTENCY_KEY,
// RARENET_SIGNAL_IDS, RARENET_ROUTE, RARENET_TEXT. Exit status 0 confirms the message. The
// URL's query gives the arguments: exec:///usr/local/bin/page?arg=--team&arg=sec.
type execSender struct {
	path string
	args []string
}

func newExecSender(u *url.URL, _ *DestinationConfig) (*execSender, error) {
	if u.Host != "" || !filepath.IsAbs(u.Path) {
		return nil, fmt.Errorf("exec: want exec:///absolute/path, got host %q path %q", u.Host, u.Path)
	}
	return &execSender{path: u.Path, args: u.Query()["arg"]}, nil
}

func (s *execSender) Send(ctx context.Context, m *Message) error {
	var in bytes.Buffer
	for _, sig := range m.Signals {
		in.Write(bytes.TrimSpace(sig.Raw))
		in.WriteByte('\n')
	}
	cmd := exec.CommandContext(ctx, s.path, s.args...)
	cmd.Stdin = &in
	// Only a neutral environment: the notifier's own holds its NATS password.
	cmd.Env = append(neutralEnv(),
		"RARENET_IDEMPOTENCY_KEY="+m.Key,
		"RARENET_SIGNAL_IDS="+strings.Join(m.IDs(), ","),
		"RARENET_ROUTE="+m.Route,
		"RARENET_TEXT="+m.Text,
	)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if err == nil {
		return nil
	}
	tail := strings.TrimSpace(out.String())
	if len(tail) > 512 {
		tail = tail[len(tail)-512:]
	}
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) {
		return fmt.Errorf("%w: exec %s: %w", ErrPermanent, s.path, err)
	}
	return fmt.Errorf("exec %s: %w: %s", s.path, err, tail)
}

func (s *execSender) Close() error { return nil }

// neutralEnv is the part of the notifier's environment a program may see.
func neutralEnv() []string {
	var env []string
	for _, k := range []string{"PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}

// stdoutSender writes each signal as one JSON line on the notifier's standard output, with
// the route and the idempotency key: the destination of a stack with no receiver yet
// (docker-compose.yml's default), read with `docker compose logs notify`.
type stdoutSender struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *stdoutSender) Send(_ context.Context, m *Message) error {
	var b bytes.Buffer
	for _, sig := range m.Signals {
		line, err := json.Marshal(struct {
			Route  string          `json:"route"`
			Key    string          `json:"idempotency_key"`
			Signal json.RawMessage `json:"signal"`
		}{m.Route, m.Key, bytes.TrimSpace(sig.Raw)})
		if err != nil {
			return fmt.Errorf("%w: %w", ErrPermanent, err)
		}
		b.Write(append(line, '\n'))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	_, err := s.w.Write(b.Bytes())
	return err
}

func (s *stdoutSender) Close() error { return nil }
