package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/nats-io/nats.go"

	"github.com/rarenet/rarenet/shared/natsutil"
	"github.com/rarenet/rarenet/shared/stream"
)

func signalsCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("rarenet signals", flag.ExitOnError)
	url := fs.String("nats-url", nats.DefaultURL, "NATS server or cluster URL(s)")
	asJSON := fs.Bool("json", false, "print each signal document as one JSON line")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: rarenet signals [--nats-url URL] [--json]  (every new signal on rarenet.signals)")
		fs.PrintDefaults()
	}
	_ = fs.Parse(args)
	nc, err := natsutil.Connect(*url, nil, "signals")
	if err != nil {
		return err
	}
	defer nc.Close()
	return watchSignals(ctx, nc, os.Stdout, *asJSON, nil)
}

// watchSignals prints every signal published on rarenet.signals until ctx is done: a
// readable line each, or the document itself with asJSON. ready, when not nil, is closed once
// the subscription is in place.
func watchSignals(ctx context.Context, nc *nats.Conn, out io.Writer, asJSON bool, ready chan<- struct{}) error {
	msgs := make(chan *nats.Msg, 1024)
	sub, err := nc.ChanSubscribe(stream.SignalsSubject, msgs)
	if err != nil {
		return err
	}
	defer sub.Unsubscribe()
	if err := nc.Flush(); err != nil {
		return err
	}
	if ready != nil {
		close(ready)
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case m := <-msgs:
			if asJSON {
				if _, err := out.Write(append(m.Data, '\n')); err != nil {
					return err
				}
				continue
			}
			if _, err := fmt.Fprintln(out, signalLine(m.Data)); err != nil {
				return err
			}
		}
	}
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
