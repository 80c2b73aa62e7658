// Package console is rarenet's web console: a page to triage signals for teams without Kibana.
// It reads the SIGNALS stream into an in-memory index (server-side paging and filters), shows a
// signal's answers to the investigation guide's five questions from the signal and the
// enricher's history, keeps each signal's triage state (open, acknowledged, closed, with a
// note) in its own key-value bucket and publishes every change on stream.TriageSubject, writes
// rule exceptions to the windower's bucket, and pushes new signals and status changes to the
// browsers with server-sent events. Every asset is embedded: it works air-gapped.
//
// It runs inside `rarenet run --ui-listen` and `rarenet replay --ui-listen`, or alone as
// `rarenet console` against any deployment, as its own NATS user (deploy/nats/accounts.conf).
package console

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rarenet/rarenet/shared/natsutil"
	"github.com/rarenet/rarenet/shared/stream"
	"github.com/rarenet/rarenet/shared/tokens"
)

// Stage is the console's name: its NATS connection's and its logs'.
const Stage = "console"

// ErrExposed is returned by Config.Validate for a non-loopback address without a token file
// or the explicit choice of an open console.
var ErrExposed = errors.New("console: a non-loopback address needs a token file or the insecure flag")

// Config configures the console.
type Config struct {
	// Listen is the HTTP address (host:port); empty disables the console.
	Listen string
	// TokenFile is the token file (shared/tokens): with it, every request needs a token of
	// the file, and only role=triage tokens may change statuses and add exceptions.
	TokenFile string
	// Insecure allows a non-loopback address without a token file: anyone who reaches it
	// may triage.
	Insecure bool
	// MaxSignals bounds the signals kept in memory (DefaultMaxSignals when 0).
	MaxSignals int
	// Streams gives the storage and replication of the console's bucket.
	Streams stream.Config

	prefix string
}

// RegisterFlags registers the console's flags on fs, each name prefixed (the all-in-one's
// run and replay use "ui-": --ui-listen, --ui-token-file, ...).
func (c *Config) RegisterFlags(fs *flag.FlagSet, prefix, defaultListen string) {
	c.prefix = prefix
	fs.StringVar(&c.Listen, prefix+"listen", defaultListen, "serve the web console on this address (host:port); loopback unless a token file is given")
	fs.StringVar(&c.TokenFile, prefix+"token-file", "", "token file (lines NAME SHA256-OF-TOKEN [HOST-PATTERN...] [role=read|triage]); every request then needs a token")
	fs.BoolVar(&c.Insecure, prefix+"insecure", false, "allow a non-loopback address without a token file: anyone reaching it may triage")
	// Not "max-signals": that is the windower's flag, and both would read RARENET_MAX_SIGNALS.
	fs.IntVar(&c.MaxSignals, prefix+"keep-signals", DefaultMaxSignals, "signals the console keeps in memory; the oldest are dropped beyond (never from the stream)")
}

// Validate checks the configuration: a console reachable from other machines needs tokens,
// or the explicit insecure flag.
func (c *Config) Validate() error {
	if c.Listen == "" {
		return nil
	}
	host, _, err := net.SplitHostPort(c.Listen)
	if err != nil {
		return fmt.Errorf("console: --%slisten %q: want host:port: %w", c.prefix, c.Listen, err)
	}
	if c.TokenFile == "" && !c.Insecure && !isLoopback(host) {
		return fmt.Errorf("%w: --%slisten %s (give --%stoken-file FILE, or --%sinsecure)", ErrExposed, c.prefix, c.Listen, c.prefix, c.prefix)
	}
	return nil
}

// isLoopback reports whether host names this machine only: a loopback address or localhost.
// An empty host or 0.0.0.0 listens on every interface.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Server is a running console.
type Server struct {
	cfg    Config
	nc     *nats.Conn
	js     jetstream.JetStream
	log    *slog.Logger
	ix     *Index
	hub    *hub
	triage jetstream.KeyValue
	tokens *tokens.File
	access *access
	pages  *pages
	ln     net.Listener

	// caughtUp is set once the index holds every signal the stream held at start and the
	// triage states are read: /readyz then answers 200.
	signalsCaughtUp, triageCaughtUp atomic.Bool
	// unreadable counts documents of the SIGNALS stream that are not signals.
	unreadable atomic.Int64
}

// New checks the configuration, creates the console's bucket, reads the token file and binds
// the address (so URL is known at once); Run serves.
func New(ctx context.Context, cfg Config, nc *nats.Conn, log *slog.Logger) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Listen == "" {
		return nil, errors.New("console: no address to listen on")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("stage", Stage)
	js, err := natsutil.JetStream(nc)
	if err != nil {
		return nil, err
	}
	if err := EnsureTriageKV(ctx, js, cfg.Streams); err != nil {
		return nil, fmt.Errorf("console: %w", err)
	}
	kv, err := TriageKV(ctx, js)
	if err != nil {
		return nil, fmt.Errorf("console: key-value bucket %s: %w", stream.ConsoleBucket, err)
	}
	s := &Server{cfg: cfg, nc: nc, js: js, log: log, ix: NewIndex(cfg.MaxSignals), hub: newHub(), triage: kv}
	if cfg.TokenFile != "" {
		if s.tokens, err = tokens.Open(cfg.TokenFile, log); err != nil {
			return nil, err
		}
	}
	s.access = newAccess(s.tokens, cfg.Insecure)
	if s.pages, err = parsePages(); err != nil {
		return nil, err
	}
	if s.ln, err = net.Listen("tcp", cfg.Listen); err != nil {
		return nil, fmt.Errorf("console: %w", err)
	}
	return s, nil
}

// URL is the console's address for a browser.
func (s *Server) URL() string {
	addr := s.ln.Addr().(*net.TCPAddr)
	host := addr.IP.String()
	if addr.IP.IsUnspecified() {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, fmt.Sprint(addr.Port)) + "/"
}

// Ready reports whether the index holds the signals the stream held at start, and the
// triage states.
func (s *Server) Ready() bool { return s.signalsCaughtUp.Load() && s.triageCaughtUp.Load() }

// Run serves until ctx is done.
func (s *Server) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 3)
	go func() { errc <- s.feedSignals(ctx) }()
	go func() { errc <- s.watchTriage(ctx) }()
	if s.tokens != nil {
		go s.tokens.Watch(ctx)
	}
	srv := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return ctx },
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	go func() {
		if err := srv.Serve(s.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errc <- fmt.Errorf("console: serve: %w", err)
		}
	}()
	s.log.Info("console serving", "url", s.URL(), "tokens", s.tokens != nil)
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	cancel() // ends the live-update streams, which Shutdown would otherwise wait for
	shut, done := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer done()
	_ = srv.Shutdown(shut)
	return err
}
