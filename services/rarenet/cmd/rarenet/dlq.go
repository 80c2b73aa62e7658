package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rarenet/rarenet/services/enricher"
	"github.com/rarenet/rarenet/services/ingest"
	"github.com/rarenet/rarenet/services/ingest/format"
	"github.com/rarenet/rarenet/services/ingest/format/formats"
	"github.com/rarenet/rarenet/services/notify"
	"github.com/rarenet/rarenet/services/rarenet"
	"github.com/rarenet/rarenet/services/scorer"
	"github.com/rarenet/rarenet/services/windower"
	"github.com/rarenet/rarenet/shared/cli"
	"github.com/rarenet/rarenet/shared/control"
	"github.com/rarenet/rarenet/shared/natsutil"
	"github.com/rarenet/rarenet/shared/service"
	"github.com/rarenet/rarenet/shared/stream"
)

// dlqStages are the stages that write dead letters, as --stage takes them.
var dlqStages = []string{ingest.Stage, rarenet.DriverStage, scorer.Stage, enricher.Stage, windower.Stage, stream.NotifyStage}

// shownDataBytes bounds the original bytes printed per dead letter on a terminal; --json
// gives them all.
const shownDataBytes = 4 << 10

func dlqCmd(ctx context.Context, args []string) error {
	if len(args) > 0 && args[0] == "replay" {
		return dlqReplay(ctx, args[1:], os.Stdout)
	}
	return dlqShow(ctx, args, os.Stdout)
}

// dlqFlags registers the flags dlq and dlq replay share.
func dlqFlags(c *cli.Command, url, stage *string) *service.Security {
	c.Flags(cli.NATS, func(fs *flag.FlagSet) {
		fs.StringVar(url, "nats-url", defaultLiveURL, "NATS server or cluster URL(s) (default: rarenet run's embedded server, "+defaultLiveURL+")")
	})
	sec := natsSecurity(c)
	c.Flags(cli.Input, func(fs *flag.FlagSet) {
		fs.StringVar(stage, "stage", "", "only the dead letters of this `STAGE`: "+strings.Join(dlqStages, ", ")+" (default: all)")
	})
	return sec
}

// dlqFilters returns the DLQ subjects of stage ("" for all); the notifier's are one per
// destination under its own.
func dlqFilters(c *cli.Command, stage string) ([]string, error) {
	if stage == "" {
		return []string{stream.DLQWildcard}, nil
	}
	if !slices.Contains(dlqStages, stage) {
		return nil, c.Usagef("--stage %q: want one of %s", stage, strings.Join(dlqStages, ", "))
	}
	return []string{stream.DLQSubject(stage), stream.DLQSubject(stage) + ".>"}, nil
}

func dlqShow(ctx context.Context, args []string, out io.Writer) error {
	c := cli.New("rarenet dlq",
		"Prints the dead letters: input ingest rejected (with its file and line), lines too long for a\n"+
			"replay, events later than their closed bucket, signals a notification destination gave up on.\n"+
			"Each with its stage, where it came from, the reason and the original bytes. The DLQ of a\n"+
			"replay's embedded server ends with it (the replay shows its rejects on stderr); rarenet run's\n"+
			"and a cluster's keep theirs. `rarenet dlq replay` re-submits them once the cause is fixed.",
		"rarenet dlq [--nats-url URL] [--stage STAGE] [--follow] [--json]",
		"rarenet dlq replay [--nats-url URL] [--stage STAGE] [--keep] [--dry-run]")
	c.Notes = envNote
	c.Out = out
	var url, stage string
	var follow, asJSON bool
	sec := dlqFlags(c, &url, &stage)
	c.Flags(cli.Output, func(fs *flag.FlagSet) {
		fs.BoolVar(&follow, "follow", false, "after the dead letters there are, print new ones as they come, until interrupted")
		fs.BoolVar(&asJSON, "json", false, "one JSON object per dead letter, with all its bytes (data, or data_base64 when they are not UTF-8)")
	})
	if err := c.Parse(args); err != nil {
		return err
	}
	if err := service.ApplyEnv(c.FlagSet()); err != nil {
		return c.Usagef("%w", err)
	}
	if len(c.Args()) > 0 {
		return c.Usagef("unexpected arguments %q (dlq replay re-submits)", c.Args())
	}
	filters, err := dlqFilters(c, stage)
	if err != nil {
		return err
	}
	nc, err := connectSecure(c, sec, url, "dlq")
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := natsutil.JetStream(nc)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(out)
	n, err := readDeadLetters(ctx, js, filters, follow, func(d deadLetter) error {
		if asJSON {
			return enc.Encode(d.jsonDoc())
		}
		_, err := io.WriteString(out, d.text())
		return err
	})
	if err == nil && n == 0 && !follow && !asJSON {
		fmt.Fprintf(os.Stderr, "rarenet dlq: no dead letters%s on %s\n", ofStage(stage), url)
	}
	return err
}

func ofStage(stage string) string {
	if stage == "" {
		return ""
	}
	return " of " + stage
}

// deadLetter is one message of the DLQ stream.
type deadLetter struct {
	Seq                                    uint64
	Time                                   time.Time
	Subject, Stage, Reason, Source, Format string
	AuthSource, Destination                string
	Line                                   int64
	Data                                   []byte
}

func newDeadLetter(m jetstream.Msg) (deadLetter, error) {
	md, err := m.Metadata()
	if err != nil {
		return deadLetter{}, err
	}
	h := m.Headers()
	d := deadLetter{Seq: md.Sequence.Stream, Time: md.Timestamp.UTC(), Subject: m.Subject(), Stage: h.Get(control.HeaderStage),
		Reason: h.Get(control.HeaderReason), Source: h.Get(control.HeaderSource), Format: h.Get(control.HeaderFormat),
		AuthSource: h.Get(control.HeaderAuthSource), Destination: h.Get(notify.HeaderDestination), Data: m.Data()}
	d.Line, _ = strconv.ParseInt(h.Get(control.HeaderLine), 10, 64)
	if d.Stage == "" {
		d.Stage = strings.SplitN(strings.TrimPrefix(d.Subject, stream.DLQPrefix), ".", 2)[0]
	}
	return d, nil
}

// where says where the dead letter came from: file:line, a destination, or nothing.
func (d deadLetter) where() string {
	switch {
	case d.Source != "" && d.Line > 0:
		return d.Source + ":" + strconv.FormatInt(d.Line, 10)
	case d.Source != "":
		return d.Source
	case d.Destination != "":
		return "destination " + d.Destination
	}
	return ""
}

// text is the dead letter for a terminal: a heading, the reason, the bytes.
func (d deadLetter) text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "#%d %s %s", d.Seq, d.Time.Format(time.RFC3339), d.Stage)
	if w := d.where(); w != "" {
		b.WriteString(" " + w)
	}
	if d.Format != "" {
		b.WriteString(" (format " + d.Format + ")")
	}
	reason := d.Reason
	if d.Source != "" && d.Line > 0 {
		reason = strings.TrimPrefix(reason, d.where()+": ")
	}
	b.WriteString("\n  reason: " + reason + "\n")
	data, more := d.Data, 0
	if len(data) > shownDataBytes {
		data, more = data[:shownDataBytes], len(data)-shownDataBytes
	}
	if printable(data) {
		for _, l := range strings.Split(strings.TrimRight(string(data), "\n"), "\n") {
			b.WriteString("  | " + l + "\n")
		}
	} else {
		b.WriteString("  bytes: " + strconv.Quote(string(data)) + "\n")
	}
	if more > 0 {
		fmt.Fprintf(&b, "  ... and %d more bytes (--json shows them all)\n", more)
	}
	return b.String()
}

// printable reports whether data reads as text: UTF-8 without control characters other than
// tabs and newlines.
func printable(data []byte) bool {
	if !utf8.Valid(data) {
		return false
	}
	for _, r := range string(data) {
		if unicode.IsControl(r) && r != '\t' && r != '\n' && r != '\r' {
			return false
		}
	}
	return true
}

// jsonDoc is the dead letter as --json prints it.
func (d deadLetter) jsonDoc() map[string]any {
	doc := map[string]any{"seq": d.Seq, "time": d.Time, "subject": d.Subject, "stage": d.Stage, "reason": d.Reason}
	for k, v := range map[string]string{"source": d.Source, "format": d.Format, "auth_source": d.AuthSource, "destination": d.Destination} {
		if v != "" {
			doc[k] = v
		}
	}
	if d.Line > 0 {
		doc["line"] = d.Line
	}
	if utf8.Valid(d.Data) {
		doc["data"] = string(d.Data)
	} else {
		doc["data_base64"] = d.Data
	}
	return doc
}

// readDeadLetters calls fn for every dead letter on filters, in order, and when follow for
// every new one until ctx ends. Without follow it stops at the last dead letter there was when
// it began: those that come meanwhile (re-submitted lines rejected again) wait for the next
// call. It returns how many it read.
func readDeadLetters(ctx context.Context, js jetstream.JetStream, filters []string, follow bool, fn func(deadLetter) error) (int, error) {
	s, err := js.Stream(ctx, stream.DLQ)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return 0, errors.New("no dead-letter stream on this server: no pipeline has run on it")
	}
	if err != nil {
		return 0, err
	}
	held, last, err := countDeadLetters(ctx, s, filters)
	if err != nil || (held == 0 && !follow) {
		return 0, err
	}
	c, err := s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{FilterSubjects: filters})
	if err != nil {
		return 0, err
	}
	var n int
	for ctx.Err() == nil {
		batch, err := c.Fetch(256, jetstream.FetchMaxWait(time.Second))
		if err != nil {
			return n, err
		}
		for m := range batch.Messages() {
			d, err := newDeadLetter(m)
			if err != nil {
				return n, err
			}
			if !follow && d.Seq > last {
				return n, nil
			}
			n++
			if err := fn(d); err != nil {
				return n, err
			}
			if md, _ := m.Metadata(); !follow && (d.Seq == last || (md != nil && md.NumPending == 0)) {
				return n, nil
			}
		}
		if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) && !errors.Is(err, context.DeadlineExceeded) {
			return n, err
		}
	}
	return n, nil
}

// countDeadLetters counts the dead letters on filters, and returns the stream's last sequence.
func countDeadLetters(ctx context.Context, s jetstream.Stream, filters []string) (n, last uint64, err error) {
	info, err := s.Info(ctx, jetstream.WithSubjectFilter(stream.DLQWildcard))
	if err != nil {
		return 0, 0, err
	}
	for subj, count := range info.State.Subjects {
		for _, f := range filters {
			if subj == f || (strings.HasSuffix(f, ">") && strings.HasPrefix(subj, strings.TrimSuffix(f, ">"))) {
				n += count
				break
			}
		}
	}
	return n, info.State.LastSeq, nil
}

// Why the dead letters of the other stages are not re-submitted.
var notResubmitted = map[string]string{
	rarenet.DriverStage: "lines too long for a message: only their first 64 KiB were kept, so the line cannot be rebuilt; split it where it comes from",
	scorer.Stage: "events later than their bucket: the bucket is closed and scored, and the model never goes back over it " +
		"(as Elastic's job never reruns a bucket), so re-submitted they would be late again; to count them, replay the original logs " +
		"into a fresh pipeline with a larger --allowed-lateness",
	stream.NotifyStage: "signals a destination gave up on: published again on rarenet.signals they would reach every other reader " +
		"(console, SIEM, other destinations) a second time; deliver them from `rarenet dlq --stage notify --json`",
	enricher.Stage: "anomaly records the enricher could not decode: messages between stages, a fault of rarenet rather than of the input; " +
		"report them with `rarenet dlq --stage enricher --json`",
	windower.Stage: "records the windower could not decode: messages between stages, a fault of rarenet rather than of the input; " +
		"report them with `rarenet dlq --stage windower --json`",
}

func dlqReplay(ctx context.Context, args []string, out io.Writer) error {
	c := cli.New("rarenet dlq replay",
		"Re-submits the dead letters of ingest, once their cause is fixed (a decoder that now reads\n"+
			"them, a source that now writes them right): each goes back to the raw subject of its format\n"+
			"(rarenet.raw.<format>, rarenet.raw.auto when none was detected) with its file and line, and\n"+
			"is removed from the DLQ once stored (--keep leaves it). A line rejected again comes back as a\n"+
			"new dead letter. The other stages' dead letters stay, and the summary says why for each.",
		"rarenet dlq replay [--nats-url URL] [--stage STAGE] [--keep] [--dry-run]")
	c.Notes = envNote
	c.Out = out
	var url, stage string
	var keep, dryRun bool
	sec := dlqFlags(c, &url, &stage)
	c.Flags(cli.Output, func(fs *flag.FlagSet) {
		fs.BoolVar(&keep, "keep", false, "leave the re-submitted dead letters in the DLQ")
		fs.BoolVar(&dryRun, "dry-run", false, "only say what would be re-submitted")
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
	filters, err := dlqFilters(c, stage)
	if err != nil {
		return err
	}
	nc, err := connectSecure(c, sec, url, "dlq")
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := natsutil.JetStream(nc)
	if err != nil {
		return err
	}
	s, err := js.Stream(ctx, stream.DLQ)
	if err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
		return err
	}
	resubmitted := map[string]int{} // by raw subject
	left := map[string]int{}        // by stage
	var order []string
	_, err = readDeadLetters(ctx, js, filters, false, func(d deadLetter) error {
		if d.Stage != ingest.Stage {
			if left[d.Stage] == 0 {
				order = append(order, d.Stage)
			}
			left[d.Stage]++
			return nil
		}
		subject := stream.RawSubject(resubmitFormat(d.Format))
		if d.AuthSource != "" {
			// Back on the subject of the source that vouched for it: its events keep that
			// source (and its hosts' bounds), as they would have the first time.
			subject += "." + d.AuthSource
		}
		resubmitted[subject]++
		if dryRun {
			return nil
		}
		m := nats.NewMsg(subject)
		m.Data = d.Data
		if d.Source != "" {
			m.Header.Set(control.HeaderSource, d.Source)
		}
		if d.Line > 0 {
			m.Header.Set(control.HeaderLine, strconv.FormatInt(d.Line, 10))
		}
		// The id makes a second dlq replay within the duplicate window (one that failed
		// half-way) a duplicate, not a second copy.
		if _, err := js.PublishMsg(ctx, m, jetstream.WithMsgID("dlq-"+strconv.FormatUint(d.Seq, 10))); err != nil {
			return fmt.Errorf("re-submit dead letter #%d to %s: %w", d.Seq, subject, err)
		}
		if !keep {
			if err := s.DeleteMsg(ctx, d.Seq); err != nil {
				return fmt.Errorf("remove dead letter #%d once re-submitted: %w", d.Seq, err)
			}
		}
		return nil
	})
	verb := "re-submitted"
	if dryRun {
		verb = "would re-submit"
	}
	total := 0
	subjects := make([]string, 0, len(resubmitted))
	for subj, n := range resubmitted {
		total += n
		subjects = append(subjects, fmt.Sprintf("%d to %s", n, subj))
	}
	slices.Sort(subjects)
	if total > 0 {
		fmt.Fprintf(out, "%s %d dead letters of ingest: %s", verb, total, strings.Join(subjects, ", "))
		switch {
		case dryRun:
		case keep:
			fmt.Fprint(out, " (kept in the DLQ)")
		default:
			fmt.Fprint(out, " (removed from the DLQ)")
		}
		fmt.Fprintln(out)
	} else if stage == "" || stage == ingest.Stage {
		fmt.Fprintf(out, "no dead letters of ingest to re-submit on %s\n", url)
	}
	for _, st := range order {
		why, ok := notResubmitted[st]
		if !ok {
			why = "a stage rarenet does not know how to re-submit"
		}
		fmt.Fprintf(out, "left %d dead letters of %s: %s\n", left[st], st, why)
	}
	return err
}

// resubmitFormat is the raw subject's format for a dead letter of ingest: the format its
// decoder had, or auto when none was detected.
func resubmitFormat(name string) string {
	if name == "" || name == format.Auto {
		return format.Auto
	}
	if _, err := formats.New(name); err != nil {
		return format.Auto
	}
	return name
}
