package rarenet

import (
	"bufio"
	"context"
	"io"
	"log/slog"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/rarenet/rarenet/services/scorer"
	"github.com/rarenet/rarenet/services/windower"
	"github.com/rarenet/rarenet/shared/natsutil"
	"github.com/rarenet/rarenet/shared/stream"
)

// RunLive runs the pipeline on live input until ctx is done: buckets close and the rule runs
// on the wall clock, sources publish on rarenet.raw.<format>, and every new signal is written
// to out as one JSON document per line.
func RunLive(ctx context.Context, o Options, out io.Writer, log *slog.Logger) error {
	o.Scorer.Clock = scorer.ClockWall
	o.Windower.Clock = windower.ClockWall
	p, err := Start(ctx, o, log)
	if err != nil {
		if ctx.Err() != nil {
			return nil // stopped while starting: a clean stop, not a failure
		}
		return err
	}
	defer p.Close()
	if p.Server() != nil && o.Listen != "" {
		log.Info("embedded NATS listening", "url", p.Server().ClientURL(), "publish_raw_to", stream.RawWildcard, "signals_on", stream.SignalsSubject)
	}
	js, err := natsutil.JetStream(p.Conn())
	if err != nil {
		return err
	}
	c, err := js.OrderedConsumer(ctx, stream.Signals, jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverNewPolicy})
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(out)
	cc, err := c.Consume(func(m jetstream.Msg) {
		bw.Write(m.Data())
		bw.WriteByte('\n')
		bw.Flush()
	})
	if err != nil {
		return err
	}
	defer cc.Stop()
	select {
	case <-ctx.Done():
	case <-p.Failed():
	}
	return p.Close()
}
