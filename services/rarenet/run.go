package rarenet

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/rarenet/rarenet/services/scorer"
	"github.com/rarenet/rarenet/services/windower"
	"github.com/rarenet/rarenet/shared/natsutil"
	"github.com/rarenet/rarenet/shared/service"
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
	if o.HTTPAddr != "" {
		// The stage binaries' /healthz, /readyz and /metrics, every stage's metrics on one.
		service.Serve(ctx, o.HTTPAddr, service.Handler(p.Ready, p.Metrics), log)
	}
	if p.Server() != nil && o.Listen != "" {
		log.Info("embedded NATS listening", "url", p.Server().ClientURL(), "publish_raw_to", stream.RawWildcard, "signals_on", stream.SignalsSubject)
	}
	js, err := natsutil.JetStream(p.Conn())
	if err != nil {
		return err
	}
	if o.Notices != nil {
		announce(ctx, o, p, js, time.Now())
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

// announce tells the user of a live pipeline where input goes and why no signal comes at once:
// an event is signalled only after its bucket has closed and the rule has run, and only
// against the model's history.
func announce(ctx context.Context, o Options, p *Pipeline, js jetstream.JetStream, now time.Time) {
	w := o.Notices
	switch {
	case p.Server() != nil && o.Listen != "":
		fmt.Fprintf(w, "rarenet run: NATS on %s: publish input on %s<format> (rarenet tail FILE, rarenet collect, rarenet sense); signals go to %s and are printed here\n",
			p.Server().ClientURL(), stream.RawPrefix, stream.SignalsSubject)
	case p.Server() != nil:
		fmt.Fprintf(w, "rarenet run: NATS in-process only (--listen is empty): no source can publish to it\n")
	default:
		fmt.Fprintf(w, "rarenet run: connected to %s: input on %s<format>, signals on %s\n", o.NATSURL, stream.RawPrefix, stream.SignalsSubject)
	}
	if p.Windower != nil {
		span, lateness, rule := o.Scorer.Job.BucketSpan, o.Scorer.AllowedLateness, p.Windower.Rule()
		first := FirstSignalRun(now, span, lateness, rule.Interval)
		fmt.Fprintf(w, "rarenet run: the rule runs every %s; the first run that can signal what comes in from now is at %s UTC "+
			"(an event waits for its %s bucket to close, %s of allowed lateness, then the next run)\n",
			shortDuration(rule.Interval), first.UTC().Format("15:04"), shortDuration(span), shortDuration(lateness))
	}
	h, err := scorer.ReadModelHistory(ctx, js, o.Scorer.Job.BucketSpan)
	switch {
	case err != nil:
		fmt.Fprintf(w, "rarenet run: the model's history cannot be read: %v\n", err)
	case h.Buckets == 0:
		fmt.Fprintf(w, "rarenet run: the model has seen 0 buckets: a process is rare only against history (Elastic advises 20 buckets of data before rare results are useful)\n")
	default:
		fmt.Fprintf(w, "rarenet run: the model has seen %d buckets (%s to %s UTC) and %d process names\n",
			h.Buckets, h.First.Format("2006-01-02 15:04"), h.Last.Add(o.Scorer.Job.BucketSpan).Format("2006-01-02 15:04"), h.Values)
	}
}

// FirstSignalRun returns the first rule run that can signal an event arriving at now, live:
// the event's bucket closes span after its start plus the allowed lateness, and the rule runs
// on interval boundaries after that.
func FirstSignalRun(now time.Time, span, lateness, interval time.Duration) time.Time {
	closes := now.Truncate(span).Add(span + lateness)
	run := closes.Truncate(interval)
	if run.Before(closes) {
		run = run.Add(interval)
	}
	return run
}

// shortDuration writes 15m rather than 15m0s.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
