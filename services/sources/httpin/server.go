package httpin

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// ErrInsecureListen is returned for a non-loopback address without a token file or
// Config.Insecure.
var ErrInsecureListen = errors.New("httpin: refusing to serve the HTTP input beyond this machine without tokens")

// CheckListen refuses an address other machines can reach unless tokens guard it or insecure
// says something else does (a proxy that authenticates): whoever can post events can teach
// the model that their activity is ordinary.
func CheckListen(addr string, haveTokens, insecure bool) error {
	if haveTokens || insecure || IsLoopback(addr) {
		return nil
	}
	return fmt.Errorf("%w: %s is reachable from other machines, and whoever can post events there can teach the model "+
		"that their own activity is ordinary; give --http-tokens FILE (see `rarenet token`), listen on 127.0.0.1, or "+
		"--http-insecure if a proxy in front authenticates the shippers", ErrInsecureListen, addr)
}

// IsLoopback reports whether addr (host:port) listens on a loopback address only. An empty
// host, 0.0.0.0 or :: listen on every interface.
func IsLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Server is the endpoint listening on an address.
type Server struct {
	srv  *http.Server
	ln   net.Listener
	done chan error
}

// Listen binds addr (host:port; port 0 picks a free one) and serves the endpoint until Close,
// over TLS when cfg names a certificate. It refuses a non-loopback address without tokens
// (CheckListen). The caller keeps the token file current (tokens.File.Watch).
func Listen(addr string, js jetstream.JetStream, cfg Config, log *slog.Logger) (*Server, error) {
	if err := CheckListen(addr, cfg.Tokens != nil, cfg.Insecure); err != nil {
		return nil, err
	}
	tlsCfg, err := ServerTLS(cfg.TLSCert, cfg.TLSKey, cfg.TLSClientCA)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("httpin: %w", err)
	}
	if tlsCfg != nil {
		ln = tls.NewListener(ln, tlsCfg)
	}
	h := NewHandler(js, cfg, log)
	s := &Server{
		srv: &http.Server{
			Handler:           h,
			ReadHeaderTimeout: h.cfg.ReadHeaderTimeout,
			ReadTimeout:       h.cfg.ReadTimeout,
			WriteTimeout:      h.cfg.WriteTimeout,
			IdleTimeout:       h.cfg.IdleTimeout,
			MaxHeaderBytes:    64 << 10,
			ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		},
		ln:   ln,
		done: make(chan error, 1),
	}
	go func() {
		err := s.srv.Serve(ln)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		s.done <- err
	}()
	log.Info("HTTP input listening", "addr", ln.Addr().String(), "path", EventsPath, "tls", tlsCfg != nil,
		"client_certificates", cfg.TLSClientCA != "", "tokens", cfg.Tokens != nil)
	return s, nil
}

// ServerTLS returns the TLS configuration of a certificate and key (nil when both are empty),
// requiring client certificates signed by clientCA when it is given.
func ServerTLS(cert, key, clientCA string) (*tls.Config, error) {
	if cert == "" && key == "" {
		if clientCA != "" {
			return nil, errors.New("httpin: --http-tls-client-ca needs --http-tls-cert and --http-tls-key")
		}
		return nil, nil
	}
	if cert == "" || key == "" {
		return nil, errors.New("httpin: --http-tls-cert and --http-tls-key go together")
	}
	pair, err := tls.LoadX509KeyPair(cert, key)
	if err != nil {
		return nil, fmt.Errorf("httpin: --http-tls-cert %s, --http-tls-key %s: %w", cert, key, err)
	}
	c := &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}
	if clientCA != "" {
		pem, err := os.ReadFile(clientCA)
		if err != nil {
			return nil, fmt.Errorf("httpin: --http-tls-client-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("httpin: --http-tls-client-ca %s: no PEM certificate in it", clientCA)
		}
		c.ClientCAs, c.ClientAuth = pool, tls.RequireAndVerifyClientCert
	}
	return c, nil
}

// Addr is the address listened on.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Close stops accepting requests and waits up to 5 seconds for those in flight.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := s.srv.Shutdown(ctx)
	if err != nil {
		err = errors.Join(err, s.srv.Close())
	}
	return errors.Join(err, <-s.done)
}
