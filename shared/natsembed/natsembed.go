// Package natsembed runs a NATS server with JetStream inside the process: the all-in-one
// binary's default, and the server of in-process tests.
package natsembed

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"syscall"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// ErrNotReady is returned when the embedded server does not accept connections in time.
var ErrNotReady = errors.New("natsembed: server not ready for connections")

// ErrAddrInUse is returned when something else (another rarenet run, another NATS server)
// already listens on the address asked for.
var ErrAddrInUse = errors.New("already in use")

// readyTimeout bounds the wait for the server to accept connections.
const readyTimeout = 30 * time.Second

// Config sets up the embedded server.
type Config struct {
	// StoreDir is the JetStream data directory. Required.
	StoreDir string
	// Host and Port to listen on; Port -1 picks a free port, 0 listens on none (in-process
	// clients only).
	Host string
	Port int
	// MaxMemory and MaxStore bound JetStream's memory and file storage; 0 lets the server
	// choose (a share of the machine's memory and disk).
	MaxMemory int64
	MaxStore  int64
}

// Start runs the server and waits until it accepts connections. Stop it with Shutdown. An
// address already in use fails at once with ErrAddrInUse.
func Start(c Config) (*server.Server, error) {
	if c.StoreDir == "" {
		return nil, errors.New("natsembed: StoreDir is required")
	}
	host := c.Host
	if host == "" {
		host = "127.0.0.1"
	}
	opts := &server.Options{
		ServerName:         "rarenet-embedded",
		Host:               host,
		Port:               c.Port,
		JetStream:          true,
		StoreDir:           c.StoreDir,
		JetStreamMaxMemory: c.MaxMemory,
		JetStreamMaxStore:  c.MaxStore,
		NoSigs:             true,
		NoLog:              true,
		MaxPayload:         8 << 20,
	}
	if c.Port == 0 {
		opts.DontListen = true
	}
	s, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("natsembed: %w", err)
	}
	// The server reports a failure to listen as a fatal log line and carries on without
	// listening, so ReadyForConnections would wait its whole timeout: the logger catches it.
	fatal := &fatalLogger{errs: make(chan error, 1)}
	s.SetLogger(fatal, false, false)
	go s.Start()
	deadline := time.Now().Add(readyTimeout)
	for !s.ReadyForConnections(50 * time.Millisecond) {
		select {
		case err := <-fatal.errs:
			s.Shutdown()
			if errors.Is(err, syscall.EADDRINUSE) {
				return nil, fmt.Errorf("%s is %w", net.JoinHostPort(host, strconv.Itoa(c.Port)), ErrAddrInUse)
			}
			return nil, fmt.Errorf("natsembed: %w", err)
		default:
		}
		if time.Now().After(deadline) {
			s.Shutdown()
			return nil, ErrNotReady
		}
	}
	return s, nil
}

// fatalLogger is the embedded server's logger: it keeps the first fatal error and drops the
// rest, as NoLog would.
type fatalLogger struct{ errs chan error }

func (l *fatalLogger) Fatalf(format string, v ...any) {
	err := fmt.Errorf(format, v...)
	for _, a := range v {
		if e, ok := a.(error); ok {
			err = fmt.Errorf("%s: %w", err, e) // keep the cause for errors.Is
			break
		}
	}
	select {
	case l.errs <- err:
	default:
	}
}
func (*fatalLogger) Noticef(string, ...any) {}
func (*fatalLogger) Warnf(string, ...any)   {}
func (*fatalLogger) Errorf(string, ...any)  {}
func (*fatalLogger) Debugf(string, ...any)  {}
func (*fatalLogger) Tracef(string, ...any)  {}
