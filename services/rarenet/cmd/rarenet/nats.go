package main

import (
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"

	"github.com/rarenet/rarenet/shared/cli"
	"github.com/rarenet/rarenet/shared/natsutil"
	"github.com/rarenet/rarenet/shared/service"
)

// natsSecurity registers on c the flags that secure a command's NATS connection, the very
// ones of the stage binaries (TLS, credentials, inbox prefix: shared/service.Security), so
// every command that connects takes one flag set.
func natsSecurity(c *cli.Command) *service.Security {
	sec := &service.Security{}
	service.AddFlags(c, sec.RegisterFlags)
	return sec
}

// connectSecure opens a command's connection to url as the security flags sec say; flags
// that do not go together are a usage error of c.
func connectSecure(c *cli.Command, sec *service.Security, url, name string) (*nats.Conn, error) {
	if err := sec.Validate(); err != nil {
		return nil, c.Usagef("%w", err)
	}
	opts, err := sec.Options()
	if err != nil {
		return nil, err
	}
	return connect(url, name, opts...)
}

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
