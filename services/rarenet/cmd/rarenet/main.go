// Command rarenet is the all-in-one binary: an embedded NATS server with JetStream and the
// four stages in one process, for one machine, demos and tests.
//
//	rarenet run        live: sources publish on rarenet.raw.<format>, signals print as NDJSON
//	rarenet replay     history through the full pipeline in event time, signals as NDJSON
//	rarenet normalize  the ingest stage alone: normalized network events as NDJSON
//	rarenet tail       follow log files and publish their new lines on rarenet.raw.<format>
//	rarenet collect    a /proc sensor: new outbound connections as ECS on rarenet.raw.ecs
//	rarenet notify     signals to webhooks, chat, syslog, mail or a program, once each
//	rarenet geoip      fetch free GeoIP databases (AS, country) for the enricher
//	rarenet sense      an eBPF sensor: every connect as ECS on rarenet.raw.ecs
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
	"runtime/debug"
	"runtime/pprof"
	"runtime/trace"
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
  rarenet sense [flags]               eBPF sensor: every connect, however short, into rarenet.raw.ecs
  rarenet signals [--json]            print every new signal on rarenet.signals
  rarenet notify --config F [--to URL] deliver signals to webhooks, Slack, syslog, mail... (--test: a sample)
  rarenet exceptions add|list|remove  manage rule exceptions (rarenet exceptions help)
  rarenet console [flags]             the web console: triage signals in a browser
  rarenet simulate [flags]            a fleet history with ground truth, for measuring quality
  rarenet evaluate --labels F SIGNALS recall, false signals, duplicates against the ground truth
  rarenet geoip update [flags]        fetch free AS and country databases for the enricher

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
	case "sense":
		err = senseCmd(ctx, os.Args[2:])
	case "signals":
		err = signalsCmd(ctx, os.Args[2:])
	case "notify":
		err = notifyCmd(ctx, os.Args[2:])
	case "exceptions":
		err = exceptionsCmd(ctx, os.Args[2:])
	case "geoip":
		err = geoipCmd(ctx, os.Args[2:])
	case "console":
		err = consoleCmd(ctx, os.Args[2:])
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
	o.Enricher.GeoIPDir = defaultGeoIPDir()
	common.RegisterFlags(fs)
	o.Console.RegisterFlags(fs, "ui-", "") // --ui-listen ADDR serves the web console too
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
	if err := o.Console.Validate(); err != nil {
		return err
	}
	o.NATSURL = common.NATSURL
	o.Streams = common.StreamConfig()
	o.EmittedTTL = common.EmittedTTL
	if err := o.Scorer.ApplyJobFile(); err != nil {
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
	geoipDirFollowsDataDir(fs, &o)
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

// replayMemoryLimit is the soft memory limit of a replay (GOMEMLIMIT wins when set): its live
// heap stays under 200 MB whatever the input (the input is read ahead of ingest by at most
// 32 MiB, the pipeline holds a few buckets), and without a limit the collector let the heap
// grow to twice that before collecting.
const replayMemoryLimit = 384 << 20

func replayCmd(ctx context.Context, args []string) error {
	if _, set := os.LookupEnv("GOMEMLIMIT"); !set {
		debug.SetMemoryLimit(replayMemoryLimit)
	}
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
	var cpuProfile, memProfile, execTrace string
	fs.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the replay to this file (go tool pprof)")
	fs.StringVar(&memProfile, "memprofile", "", "write a profile of the replay's allocations to this file (go tool pprof -sample_index=alloc_space)")
	fs.StringVar(&execTrace, "trace", "", "write an execution trace of the replay to this file (go tool trace): where the stages wait")
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
	if driverOnly && ro.Pipeline.Console.Listen != "" {
		return errors.New("--ui-listen runs no console with --driver-only: run `rarenet console --nats-url URL` against the cluster")
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
	if cpuProfile != "" {
		f, err := os.Create(cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	if memProfile != "" {
		defer func() {
			if f, err := os.Create(memProfile); err == nil {
				_ = pprof.Lookup("allocs").WriteTo(f, 0)
				f.Close()
			}
		}()
	}
	if execTrace != "" {
		f, err := os.Create(execTrace)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := trace.Start(f); err != nil {
			return err
		}
		defer trace.Stop()
	}
	report := func(st rarenet.Stats) error {
		fmt.Fprintf(os.Stderr, "rarenet replay: %d lines, %d network events (%d filtered, %d rejected, %d late), %d records, %d signals in %.2fs\n",
			st.Read, st.Accepted, st.Filtered, st.Rejected, st.Late, st.Records, st.Signals, st.Seconds)
		if stats == "" {
			return nil
		}
		b, err := json.MarshalIndent(st, "", "  ")
		if err != nil {
			return err
		}
		return os.WriteFile(stats, append(b, '\n'), 0o644)
	}
	ui := ro.Pipeline.Console.Listen != ""
	var reportErr error
	if ui {
		// Like `go tool pprof -http`: the replay is done, the console goes on until interrupted.
		ro.Finished = func(st rarenet.Stats, url string) {
			reportErr = report(st)
			fmt.Fprintf(os.Stderr, "rarenet replay: console on %s (interrupt to stop)\n", url)
		}
	}
	st, err := rarenet.Replay(ctx, ro)
	if err != nil {
		return err
	}
	if !ui {
		reportErr = report(st)
	}
	if reportErr != nil {
		return reportErr
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
	fs.StringVar(&o.Datafeed, "datafeed", "rarenet", "datafeed filter: rarenet, v1 or v3")
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
