// Package natsembed runs a NATS server with JetStream inside the process: the all-in-one
// binary's default, and the server of in-process tests.
package natsembed

import (
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// ErrNotReady is returned when the embedded server does not accept connections in time.
var ErrNotReady = errors.New("natsembed: server not ready for connections")

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

// Start runs the server and waits until it accepts connections. Stop it with Shutdown.
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
	go s.Start()
	if !s.ReadyForConnections(30 * time.Second) {
		s.Shutdown()
		return nil, ErrNotReady
	}
	return s, nil
}
