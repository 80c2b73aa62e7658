package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rarenet/rarenet/services/console"
	"github.com/rarenet/rarenet/shared/cli"
	"github.com/rarenet/rarenet/shared/natsutil"
	"github.com/rarenet/rarenet/shared/service"
	"github.com/rarenet/rarenet/shared/stream"
)

func signalsCmd(ctx context.Context, args []string) error {
	c := cli.New("rarenet signals",
		"Prints every new signal on rarenet.signals (with --from start, every signal the stream holds\n"+
			"first) as a readable line: time, score, process, host, user, destination, reason; or, with\n"+
			"--json, the documents with their current kibana.alert.workflow_status from the console.",
		"rarenet signals [--nats-url URL] [--json] [--from new|start]")
	c.Notes = envNote
	var url, from string
	var asJSON bool
	c.Flags(cli.NATS, func(fs *flag.FlagSet) {
		fs.StringVar(&url, "nats-url", nats.DefaultURL, "NATS server or cluster URL(s)")
	})
	sec := natsSecurity(c)
	c.Flags(cli.Input, func(fs *flag.FlagSet) {
		fs.StringVar(&from, "from", "new", "new: the signals published from now on; start: every signal the stream holds, then the new ones")
	})
	c.Flags(cli.Output, func(fs *flag.FlagSet) {
		fs.BoolVar(&asJSON, "json", false, "print each signal document as one JSON line, with its current kibana.alert.workflow_status")
	})
	if err := c.Parse(args); err != nil {
		return err
	}
	if err := service.ApplyEnv(c.FlagSet()); err != nil {
		return c.Usagef("%w", err)
	}
	if len(c.Args()) > 0 {
		return c.Usagef("unexpected arguments %q", c.Args())
	}
	if from != "new" && from != "start" {
		return c.Usagef("--from %q: want new or start", from)
	}
	nc, err := connectSecure(c, sec, url, "signals")
	if err != nil {
		return err
	}
	defer nc.Close()
	return watchSignals(ctx, nc, os.Stdout, watchOptions{asJSON: asJSON, fromStart: from == "start"}, nil)
}

// watchOptions says how watchSignals prints.
type watchOptions struct {
	// asJSON prints the documents themselves, else a readable line each.
	asJSON bool
	// fromStart reads every signal the stream holds first (an ordered consumer), else only
	// those published from now on (a plain subscription).
	fromStart bool
}

// watchSignals prints the signals published on rarenet.signals until ctx is done. Each gets
// its current workflow status from the console's triage bucket (when a console ever ran and
// the user may read it). ready, when not nil, is closed once the subscription is in place.
func watchSignals(ctx context.Context, nc *nats.Conn, out io.Writer, o watchOptions, ready chan<- struct{}) error {
	msgs := make(chan []byte, 1024)
	if o.fromStart {
		js, err := natsutil.JetStream(nc)
		if err != nil {
			return err
		}
		c, err := js.OrderedConsumer(ctx, stream.Signals, jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverAllPolicy})
		if err != nil {
			return fmt.Errorf("read %s: %w", stream.Signals, err)
		}
		cc, err := c.Consume(func(m jetstream.Msg) { deliver(ctx, msgs, m.Data()) })
		if err != nil {
			return fmt.Errorf("read %s: %w", stream.Signals, err)
		}
		defer cc.Stop()
	} else {
		sub, err := nc.Subscribe(stream.SignalsSubject, func(m *nats.Msg) { deliver(ctx, msgs, m.Data) })
		if err != nil {
			return err
		}
		defer sub.Unsubscribe()
		if err := nc.Flush(); err != nil {
			return err
		}
	}
	if ready != nil {
		close(ready)
	}
	st := newStatuses(nc)
	for {
		select {
		case <-ctx.Done():
			return nil
		case doc := <-msgs:
			status := st.of(ctx, doc)
			if o.asJSON {
				if status != "" {
					doc = console.WithStatus(doc, status)
				}
				if _, err := out.Write(append(doc, '\n')); err != nil {
					return err
				}
				continue
			}
			line := signalLine(doc)
			if status != "" && status != console.StatusOpen {
				line += "  [" + status + "]"
			}
			if _, err := fmt.Fprintln(out, line); err != nil {
				return err
			}
		}
	}
}

// deliver hands a signal to the printing loop, or drops it once the watch is over.
func deliver(ctx context.Context, msgs chan<- []byte, doc []byte) {
	select {
	case msgs <- doc:
	case <-ctx.Done():
	}
}

// statuses reads signals' triage states from the console's bucket. Without the bucket (no
// console ever ran) every signal is as its document says; a user not allowed to read it is
// told once.
type statuses struct {
	nc     *nats.Conn
	kv     jetstream.KeyValue
	warned bool
}

func newStatuses(nc *nats.Conn) *statuses { return &statuses{nc: nc} }

// of returns the signal's triage status, or "" when it has none.
func (s *statuses) of(ctx context.Context, doc []byte) string {
	if s.kv == nil {
		js, err := natsutil.JetStream(s.nc)
		if err != nil {
			return ""
		}
		if s.kv, err = console.TriageKV(ctx, js); err != nil {
			if !errors.Is(err, jetstream.ErrBucketNotFound) && !s.warned {
				s.warned = true
				fmt.Fprintf(os.Stderr, "rarenet signals: the triage states cannot be read (%v): statuses are the documents' own\n", err)
			}
			return ""
		}
	}
	t, err := console.ReadStatus(ctx, s.kv, console.SignalID(doc))
	if err != nil || t == nil {
		return ""
	}
	return t.Status
}

// signalLine is one readable line for a signal document, 8.x or 7.x: time, score, process,
// host, user, destination and the reason.
func signalLine(b []byte) string {
	var d map[string]any
	if err := json.Unmarshal(b, &d); err != nil {
		return "undecodable signal: " + err.Error()
	}
	str := func(v any) string {
		switch v := v.(type) {
		case nil:
			return "-"
		case string:
			return v
		case []any:
			parts := make([]string, len(v))
			for i, p := range v {
				parts[i] = fmt.Sprint(p)
			}
			return strings.Join(parts, ",")
		}
		return fmt.Sprint(v)
	}
	when, reason := d["kibana.alert.original_time"], d["kibana.alert.reason"]
	if sig, ok := d["signal"].(map[string]any); ok {
		when, reason = sig["original_time"], sig["reason"]
	}
	score, _ := d["record_score"].(float64)
	line := fmt.Sprintf("%s  score %5.1f  process %s  host %s  user %s  destination %s  %s",
		str(when), score, str(d["by_field_value"]), str(d["host.name"]), str(d["user.name"]), str(d["destination.ip"]), str(reason))
	if d["rarenet.late"] == true {
		line += "  (late)"
	}
	return line
}
