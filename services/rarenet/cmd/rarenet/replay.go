package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"runtime/trace"
	"strconv"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/rarenet/rarenet/services/rarenet"
	"github.com/rarenet/rarenet/shared/cli"
	"github.com/rarenet/rarenet/shared/service"
	"github.com/rarenet/rarenet/shared/stream"
)

// replayOnlyLive are the pipeline flags a replay has no use for: it runs on event time (no
// --clock, no catch-up after downtime), takes input from files (no HTTP input), and its
// stages are the only ones on their streams (no replicas to take over, no redelivery to them,
// nothing remembered across days).
var replayOnlyLive = []string{"clock", "max-catch-up", "http-listen", "lease-ttl", "ack-wait", "emitted-ttl",
	"http-tokens", "http-tls-cert", "http-tls-key", "http-tls-client-ca", "http-insecure", "http-rate", "http-burst", "http-max-concurrent"}

// replayMemoryBudget is the heap a replay collects at, whatever its input (GOGC or
// GOMEMLIMIT in the environment win): the collector runs on this budget alone (GOGC off),
// not at twice the live heap, so peak memory is the same for a day of history and for a
// month. A replay's live heap stays under ~215 MB whatever the input (the input is read
// ahead of ingest by at most 32 MiB, the pipeline holds a few buckets, the embedded server
// the messages not yet acknowledged). At 256 MiB the collector ran 18 times in a 28-day ECS
// replay, each freeing only the ~50 MB allocated since the last; at 384 MiB it runs 7 times
// and the replay takes 9% less time (ECS 4.20 -> 3.80 s, auditd 3.57 -> 3.25 s), for a peak
// RSS of 413 MB instead of 288 MB, 397 MB for 7 days (docs/performance.md, item 24).
const replayMemoryBudget = 384 << 20

func replayCmd(ctx context.Context, args []string) error {
	_, gogc := os.LookupEnv("GOGC")
	_, limit := os.LookupEnv("GOMEMLIMIT")
	if !gogc && !limit {
		debug.SetMemoryLimit(replayMemoryBudget)
		debug.SetGCPercent(-1)
	}
	c := cli.New("rarenet replay",
		"Pushes history through the full pipeline in event time, on an embedded server (or --nats-url),\n"+
			"flushes every stage at the end and writes the signals. FILE \"-\" is stdin; .gz files are read as\n"+
			"gzip; the format is detected per file unless --format says. Rejected lines are shown on stderr\n"+
			"(the first of each kind of reason, then how many more); `rarenet dlq` shows them all when the\n"+
			"replay ran against a server that keeps them (--nats-url).",
		"rarenet replay [flags] FILE...")
	c.Notes = notes(envNote, exitNote)
	var ro rarenet.ReplayOptions
	var common service.Common
	sec := pipelineFlags(c, &ro.Pipeline, &common, replayOnlyLive...)
	var out, stats, cpuProfile, memProfile, execTrace string
	var verbose, driverOnly bool
	c.Flags(cli.Input, func(fs *flag.FlagSet) {
		fs.StringVar(&ro.Format, "format", "auto", "input `FORMAT`: auto (detected per file), ecs, auditd, sysmon, tetragon, osquery or falco")
	})
	c.Flags(cli.NATS, func(fs *flag.FlagSet) {
		fs.BoolVar(&driverOnly, "driver-only", false, "run no stage: publish the input and collect the signals of the stage binaries running against --nats-url")
	})
	c.Flags(cli.Output, func(fs *flag.FlagSet) {
		fs.StringVar(&out, "out", "", "write the signals as NDJSON to this file (- for stdout); default stdout, readable lines on a terminal")
		fs.StringVar(&stats, "stats", "", "write a JSON summary (read, accepted, filtered, rejected, late, records, signals, seconds) to this file")
		fs.BoolVar(&verbose, "v", false, "log the stages' progress on stderr")
	})
	c.Flags(cli.Operations, func(fs *flag.FlagSet) {
		fs.DurationVar(&ro.Timeout, "timeout", 0, "give up when the pipeline has not finished this long after the input is sent (0: wait)")
		fs.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the replay to this file (go tool pprof)")
		fs.StringVar(&memProfile, "memprofile", "", "write a profile of the replay's allocations to this file (go tool pprof -sample_index=alloc_space)")
		fs.StringVar(&execTrace, "trace", "", "write an execution trace of the replay to this file (go tool trace): where the stages wait")
	})
	if f := c.Lookup("partitions"); f != nil {
		f.Usage = "event partitions P, fixed when the streams are created (default: one per core, at most " +
			strconv.Itoa(stream.DefaultPartitions) + ", on the embedded server; " + f.DefValue + " with --nats-url)"
		f.DefValue = "0"
	}
	if err := c.Parse(args); err != nil {
		return err
	}
	if err := finishOptions(c, &ro.Pipeline, &common, sec); err != nil {
		return err
	}
	if !given(c, "partitions") && ro.Pipeline.NATSURL == "" {
		ro.Pipeline.Streams.Partitions = embeddedPartitions()
	}
	ro.Files = c.Args()
	switch {
	case len(ro.Files) == 0:
		return c.Usagef("no input file given (- reads stdin)")
	case driverOnly && ro.Pipeline.NATSURL == "":
		return c.Usagef("--driver-only needs --nats-url")
	case driverOnly && ro.Pipeline.Console.Listen != "":
		return c.Usagef("--ui-listen runs no console with --driver-only: run `rarenet console --nats-url URL` against the cluster")
	}
	if err := rarenet.CheckFormat(ro.Format); err != nil {
		return c.Usagef("%w", err)
	}
	// Every file is opened before anything starts: a typo in the last name costs no wait.
	if err := rarenet.CheckInputs(ro.Files); err != nil {
		return err
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
	ro.Rejects = os.Stderr
	w, closeOut, err := signalsOutput("rarenet replay", out)
	if err != nil {
		return err
	}
	ro.Out = w
	if term.IsTerminal(int(os.Stderr.Fd())) {
		ro.Progress = newBar(ro.Files)
	}
	stopProfiles, err := startProfiles(cpuProfile, memProfile, execTrace)
	if err != nil {
		return err
	}
	defer stopProfiles()
	report := func(st rarenet.Stats) error {
		st.PeakRSS = peakRSS()
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
	// What the replay produced before an error (a truncated file, nothing accepted) is written
	// and summed up all the same; an error before the pipeline ran has nothing to sum up.
	if (err == nil || st.Read > 0) && !ui {
		reportErr = report(st)
	}
	err = errors.Join(natsError(ro.Pipeline.NATSURL, err, true), reportErr, closeOut())
	if errors.Is(err, rarenet.ErrNothingAccepted) {
		return cli.WithCode(cli.ExitNoInput, err)
	}
	return err
}

// startProfiles starts the CPU profile and the execution trace asked for; stop ends them and
// writes the allocation profile.
func startProfiles(cpuProfile, memProfile, execTrace string) (stop func(), err error) {
	var stops []func()
	stop = func() {
		for i := len(stops) - 1; i >= 0; i-- {
			stops[i]()
		}
	}
	if cpuProfile != "" {
		f, err := os.Create(cpuProfile)
		if err != nil {
			return stop, err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return stop, err
		}
		stops = append(stops, func() { pprof.StopCPUProfile(); f.Close() })
	}
	if memProfile != "" {
		f, err := os.Create(memProfile)
		if err != nil {
			stop()
			return func() {}, err
		}
		stops = append(stops, func() {
			runtime.GC() // the in-use figures as of now, not of the last collection
			_ = pprof.Lookup("allocs").WriteTo(f, 0)
			f.Close()
		})
	}
	if execTrace != "" {
		f, err := os.Create(execTrace)
		if err != nil {
			stop()
			return func() {}, err
		}
		if err := trace.Start(f); err != nil {
			f.Close()
			stop()
			return func() {}, err
		}
		stops = append(stops, func() { trace.Stop(); f.Close() })
	}
	return stop, nil
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

// embeddedPartitions is a replay's partition count on its embedded server: one per core, at
// most stream.DefaultPartitions. There, partitions only spread one scorer's work over the
// cores, and every partition costs a close per bucket (a summary built, compressed, published
// and merged): on 2 cores, 8 partitions took 10-14% more CPU than 2 for the same signals.
// On a cluster the count is the streams' and the replicas' business, so --nats-url keeps 8.
func embeddedPartitions() int {
	return min(stream.DefaultPartitions, runtime.GOMAXPROCS(0))
}
