// Command rarenet is the all-in-one binary: an embedded NATS server with JetStream and the
// four stages in one process, for one machine, demos and tests.
//
//	rarenet run        live: sources publish on rarenet.raw.<format>, signals print as NDJSON
//	rarenet replay     history through the full pipeline in event time, signals as NDJSON
//	rarenet normalize  the ingest stage alone: normalized network events as NDJSON
//	rarenet tail       follow log files and publish their new lines on rarenet.raw.<format>
//	rarenet collect    a /proc sensor: new outbound connections as ECS on rarenet.raw.ecs
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/rarenet/rarenet/services/rarenet"
	"github.com/rarenet/rarenet/shared/service"
)

const usage = `rarenet: detect Linux processes that unusually use the network (Elastic's "Unusual Linux
Network Activity", open).

Usage:
  rarenet run [flags]                 run live; publish input on rarenet.raw.<format>
  rarenet replay [flags] FILE...      replay history ("-" is stdin); signals as NDJSON
  rarenet normalize [flags] FILE...   decode and filter only; network events as NDJSON
  rarenet tail [flags] FILE...        follow logs (rotation-safe, resumable) into rarenet.raw.<format>
  rarenet collect [flags]             sensor from /proc: new outbound connections into rarenet.raw.ecs
  rarenet signals [--json]            print every new signal on rarenet.signals
  rarenet exceptions add|list|remove  manage rule exceptions (rarenet exceptions help)
  rarenet simulate [flags]            a fleet history with ground truth, for measuring quality
  rarenet evaluate --labels F SIGNALS recall, false signals, duplicates against the ground truth

Run "rarenet COMMAND -h" for a command's flags.
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch os.Args[1] {
	case "run":
		err = runCmd(ctx, os.Args[2:])
	case "replay":
		err = replayCmd(ctx, os.Args[2:])
	case "simulate":
		err = simulateCmd(os.Args[2:])
	case "evaluate":
		err = evaluateCmd(os.Args[2:])
	case "normalize":
		err = normalizeCmd(os.Args[2:])
	case "tail":
		err = tailCmd(ctx, os.Args[2:])
	case "collect":
		err = collectCmd(ctx, os.Args[2:])
	case "signals":
		err = signalsCmd(ctx, os.Args[2:])
	case "exceptions":
		err = exceptionsCmd(ctx, os.Args[2:])
	case "-h", "-help", "--help", "help":
		fmt.Print(usage)
		return
	default:
		fmt.Fprintf(os.Stderr, "rarenet: unknown command %q\n\n%s", os.Args[1], usage)
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "rarenet %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}

// pipelineFlags registers the flags shared by run and replay.
func pipelineFlags(fs *flag.FlagSet, o *rarenet.Options, common *service.Common) {
	common.RegisterFlags(fs)
	fs.Lookup("nats-url").DefValue = ""
	common.NATSURL = ""
	fs.Lookup("nats-url").Usage = "use this external NATS server or cluster instead of the embedded one"
	// Stages that share a setting (bucket span, lateness, clock) each register it; the
	// all-in-one takes it once and hands it to all of them in finishOptions.
	for _, register := range []func(*flag.FlagSet){o.Scorer.RegisterFlags, o.Ingest.RegisterFlags, o.Windower.RegisterFlags, o.Enricher.RegisterFlags} {
		stage := flag.NewFlagSet("", flag.ContinueOnError)
		register(stage)
		stage.VisitAll(func(f *flag.Flag) {
			if fs.Lookup(f.Name) == nil {
				fs.Var(f.Value, f.Name, f.Usage)
			}
		})
	}
}

func finishOptions(fs *flag.FlagSet, o *rarenet.Options, common *service.Common) error {
	if err := service.ApplyEnv(fs); err != nil {
		return err
	}
	o.NATSURL = common.NATSURL
	o.Streams = common.StreamConfig()
	o.EmittedTTL = common.EmittedTTL
	explicit := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { explicit[f.Name] = true })
	if err := rarenet.SelectJob(o, func(name string) bool { return explicit[name] }); err != nil {
		return err
	}
	o.Enricher.Profile = o.Scorer.Profile // one --profile for the whole line
	o.Ingest.BucketSpan = o.Scorer.Job.BucketSpan
	o.Ingest.AllowedLateness = o.Scorer.AllowedLateness
	o.Enricher.AckWait = o.Ingest.AckWait   // --ack-wait, registered by ingest first
	o.Windower.LeaseTTL = o.Scorer.LeaseTTL // --lease-ttl, registered by the scorer first
	return nil
}

func runCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("rarenet run", flag.ExitOnError)
	var o rarenet.Options
	var common service.Common
	pipelineFlags(fs, &o, &common)
	fs.StringVar(&o.DataDir, "data-dir", defaultDataDir(), "embedded server's JetStream directory")
	fs.StringVar(&o.Listen, "listen", "127.0.0.1:4222", "embedded server's client address; empty for in-process only")
	_ = fs.Parse(args)
	if err := finishOptions(fs, &o, &common); err != nil {
		return err
	}
	log, err := common.Logger()
	if err != nil {
		return err
	}
	if o.NATSURL == "" {
		if err := os.MkdirAll(o.DataDir, 0o750); err != nil {
			return err
		}
	}
	return rarenet.RunLive(ctx, o, os.Stdout, log)
}

func replayCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("rarenet replay", flag.ExitOnError)
	var ro rarenet.ReplayOptions
	var common service.Common
	pipelineFlags(fs, &ro.Pipeline, &common)
	var out, stats string
	var verbose, driverOnly bool
	fs.StringVar(&ro.Format, "format", "auto", "input format: auto (detected per file), ecs, auditd, sysmon, tetragon, osquery or falco")
	fs.StringVar(&out, "out", "-", "write signals (NDJSON) to this file; - is stdout")
	fs.StringVar(&stats, "stats", "", "write a JSON summary (read, accepted, filtered, rejected, late, records, signals, seconds) to this file")
	fs.BoolVar(&verbose, "v", false, "log the stages' progress on stderr")
	fs.BoolVar(&driverOnly, "driver-only", false, "run no stage: drive the stage binaries running against --nats-url")
	fs.DurationVar(&ro.Timeout, "timeout", 0, "give up when the pipeline has not finished this long after the input is sent (0: wait)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: rarenet replay [flags] FILE...  (- is stdin)")
		fs.PrintDefaults()
	}
	_ = fs.Parse(args)
	if err := finishOptions(fs, &ro.Pipeline, &common); err != nil {
		return err
	}
	ro.Files = fs.Args()
	if len(ro.Files) == 0 {
		fs.Usage()
		return errors.New("no input file given")
	}
	if driverOnly && ro.Pipeline.NATSURL == "" {
		return errors.New("--driver-only needs --nats-url")
	}
	ro.Pipeline.NoStages = driverOnly
	// A replay is one-shot: its embedded streams live in memory unless told otherwise.
	ro.Pipeline.Streams.Memory = ro.Pipeline.NATSURL == ""
	if verbose {
		log, err := common.Logger()
		if err != nil {
			return err
		}
		ro.Log = log
	}
	w := io.Writer(os.Stdout)
	if out != "-" {
		f, err := os.Create(out)
		if err != nil {
			return err
		}
		defer f.Close()
		w = f
	}
	ro.Out = w
	if term.IsTerminal(int(os.Stderr.Fd())) {
		ro.Progress = newBar(ro.Files)
	}
	st, err := rarenet.Replay(ctx, ro)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "rarenet replay: %d lines, %d network events (%d filtered, %d rejected, %d late), %d records, %d signals in %.2fs\n",
		st.Read, st.Accepted, st.Filtered, st.Rejected, st.Late, st.Records, st.Signals, st.Seconds)
	if stats != "" {
		b, err := json.MarshalIndent(st, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(stats, append(b, '\n'), 0o644); err != nil {
			return err
		}
	}
	if f, ok := w.(*os.File); ok && f != os.Stdout {
		return f.Close()
	}
	return nil
}

func normalizeCmd(args []string) error {
	fs := flag.NewFlagSet("rarenet normalize", flag.ExitOnError)
	o := rarenet.NormalizeOptions{Out: os.Stdout, Errors: os.Stderr}
	fs.StringVar(&o.Format, "format", "auto", "input format: auto (detected per file), ecs, auditd, sysmon, tetragon, osquery or falco")
	fs.StringVar(&o.Datafeed, "datafeed", "rarenet", "datafeed filter: rarenet, v1, v3 or a built-in job's id (its datafeed as shipped)")
	fs.StringVar(&o.DatafeedFile, "datafeed-file", "", "datafeed file in Elastic's JSON layout (its query); replaces --datafeed")
	fs.BoolVar(&o.All, "all", false, "also write the events the datafeed filter drops, with the reason in rarenet.filtered")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: rarenet normalize [flags] FILE...  (- is stdin)")
		fs.PrintDefaults()
	}
	_ = fs.Parse(args)
	o.Files = fs.Args()
	if len(o.Files) == 0 {
		fs.Usage()
		return errors.New("no input file given")
	}
	st, err := rarenet.Normalize(o)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "rarenet normalize: %d lines, %d network events, %d filtered, %d rejected\n",
		st.Lines, st.Accepted, st.Filtered, st.Rejected)
	return nil
}

func defaultDataDir() string {
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "rarenet")
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".local", "state", "rarenet")
	}
	return "rarenet-data"
}

// bar is a progress bar over the bytes of the input files.
type bar struct{ b *progressbar.ProgressBar }

func newBar(files []string) *bar {
	var total int64
	for _, f := range files {
		if f == "-" {
			total = -1
			break
		}
		if fi, err := os.Stat(f); err == nil {
			total += fi.Size()
		}
	}
	return &bar{progressbar.DefaultBytes(total, "replaying")}
}

func (b *bar) Add(n int64) { _ = b.b.Add64(n) }
func (b *bar) Finish()     { _ = b.b.Finish() }
