// Package natsutil holds the NATS plumbing every stage shares: connecting, publishing
// asynchronously with a checked flush, and dead letters.
package natsutil

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Connect opens a connection to url, or in-process to srv when srv is not nil (which needs
// no listening port and skips the loopback network). extra options (TLS, credentials) come
// after the defaults and may override them.
func Connect(url string, srv *server.Server, name string, extra ...nats.Option) (*nats.Conn, error) {
	opts := []nats.Option{
		nats.Name("rarenet-" + name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(500 * time.Millisecond),
		// Asynchronous errors were silent: a subscription that fell behind (a slow consumer)
		// drops messages, and a dropped delivery comes again only after its consumer's ack
		// wait, a minute, with nothing said about why the stage waited.
		nats.ErrorHandler(func(nc *nats.Conn, sub *nats.Subscription, err error) {
			subject := ""
			if sub != nil {
				subject = sub.Subject
			}
			slog.Warn("nats: asynchronous error", "connection", nc.Opts.Name, "subject", subject, "err", err)
		}),
	}
	opts = append(opts, extra...)
	if srv != nil {
		opts = append(opts, nats.InProcessServer(srv))
		url = ""
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return nil, fmt.Errorf("natsutil: connect %s: %w", name, err)
	}
	return nc, nil
}

// PublishAckTimeout bounds the wait for one asynchronous publish's acknowledgement.
const PublishAckTimeout = 10 * time.Second

// JetStream returns a JetStream context whose asynchronous publishing allows many messages in
// flight: the pipeline's throughput depends on it.
func JetStream(nc *nats.Conn) (jetstream.JetStream, error) {
	// Without a timeout, an asynchronous publish whose acknowledgement is lost (its server
	// died after taking it, the connection moved to another node) waits for ever: seen as a
	// windower stuck in Flush after a node of a 3-node cluster was killed. With one, Flush
	// gets an error and publishes the message again (Publisher.RetryFor).
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(4096),
		jetstream.WithPublishAsyncTimeout(PublishAckTimeout))
	if err != nil {
		return nil, fmt.Errorf("natsutil: jetstream: %w", err)
	}
	return js, nil
}
