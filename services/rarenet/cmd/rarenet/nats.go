package main

import (
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"

	"github.com/rarenet/rarenet/shared/natsutil"
)

// connect opens a command's connection to url; when no server answers, the error says what
// to do rather than how the client failed.
func connect(url, name string, opts ...nats.Option) (*nats.Conn, error) {
	nc, err := natsutil.Connect(url, nil, name, opts...)
	if err != nil {
		return nil, natsError(url, err, false)
	}
	return nc, nil
}

// natsError rewrites a failure to reach NATS at url for a user: where it looked and what to
// start or pass (embedded: the command could do without, on its embedded server). Other
// errors pass unchanged.
func natsError(url string, err error, embedded bool) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, nats.ErrNoServers) && embedded:
		return fmt.Errorf("no NATS server answers at %s: start it, or leave --nats-url out to use an embedded server", url)
	case errors.Is(err, nats.ErrNoServers):
		return fmt.Errorf("no NATS server answers at %s: is `rarenet run` started? (or pass --nats-url URL)", url)
	case errors.Is(err, nats.ErrAuthorization), errors.Is(err, nats.ErrAuthExpired), errors.Is(err, nats.ErrAuthRevoked):
		return fmt.Errorf("NATS at %s refused the connection (%w): pass the user's credentials (--nats-user with --nats-password-file, or --nats-creds) where the command takes them", url, errors.Unwrap(err))
	}
	return err
}
