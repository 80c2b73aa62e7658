// Package rarenet composes the four stages into one process: an embedded NATS server with
// JetStream (or an external one), ingest, scorer, enricher and windower each on their own
// connection, exactly as the separate binaries would run them. It also holds the commands of
// the all-in-one binary: run, replay and normalize.
package rarenet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/rarenet/rarenet/services/console"
	"github.com/rarenet/rarenet/services/enricher"
	"github.com/rarenet/rarenet/services/ingest"
	"github.com/rarenet/rarenet/services/scorer"
	"github.com/rarenet/rarenet/services/windower"
	"github.com/rarenet/rarenet/shared/natsembed"
	"github.com/rarenet/rarenet/shared/natsutil"
	"github.com/rarenet/rarenet/shared/service"
	"github.com/rarenet/rarenet/shared/stream"
)

// Options configures a pipeline.
type Options struct {
	// NATSURL points at an external server or cluster; empty embeds a server.
	NATSURL string
	// NATSOptions secure the connections to NATSURL (TLS, credentials); the embedded
	// server's in-process connections need none.
	NATSOptions []nats.Option
	// DataDir is the embedded server's JetStream directory; empty uses a temporary one that
	// Close removes.
	DataDir string
	// Listen is the embedded server's client address (host:port); empty accepts in-process
	// connections only.
	Listen string
	// Streams is the stream layout.
	Streams stream.Config
	// NoStages starts no stage: the process only drives the pipeline that separate stage
	// binaries run against NATSURL.
	NoStages bool
	// HTTPAddr, when set, serves /healthz, /readyz and /metrics there while RunLive runs, as
	// each stage binary does on its --http-addr.
	HTTPAddr string
	// Targets names the stages to run (Stages); empty runs all four. The others are expected
	// to run elsewhere, against the same server (--listen) or NATSURL.
	Targets []string
	// Alone refuses to start the stages, with ErrAttached, when another pipeline's stages
	// read the server's streams (a replay's must not share a live pipeline's consumers).
	Alone bool
	// Notices, when not nil, receives what a user at the terminal should know: where to
	// publish input, when the rule first runs, how much history the model has.
	Notices io.Writer

	Ingest   ingest.Config
	Scorer   scorer.Config
	Enricher enricher.Config
	Windower windower.Config
	// Console, when its Listen is set, serves the web console beside the stages.
	Console console.Config
}

// Pipeline is a running pipeline.
type Pipeline struct {
	srv     *server.Server
	lock    *dirLock
	nc      *nats.Conn
	tmpDir  string
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	errOnce sync.Once
	err     error
	failed  chan struct{}
	conns   []*nats.Conn

	Ingest   *ingest.Service
	Scorer   *scorer.Service
	Enricher *enricher.Service
	Windower *windower.Service
	Console  *console.Server
	// Metrics holds every stage's metrics, named after it, and Ready waits for every
	// stage's consumers: the all-in-one's /metrics and /readyz (service.Handler).
	Metrics *service.Metrics
	Ready   *service.Readiness
}

// Start starts the server (unless external), creates the streams and starts the stages.
func Start(ctx context.Context, o Options, log *slog.Logger) (_ *Pipeline, err error) {
	if err := CheckTargets(o.Targets); err != nil {
		return nil, err
	}
	if o.runs(scorer.Stage) && o.runs(windower.Stage) {
		if err := checkJobs(&o); err != nil {
			return nil, err
		}
	}
	if o.runs(ingest.Stage) && o.runs(scorer.Stage) && o.Ingest.BucketSpan == 0 {
		// Ingest closes the buckets of the scorer's job: the span comes from the job.
		if err := o.Scorer.ResolveJob(); err != nil {
			return nil, err
		}
		o.Ingest.BucketSpan = o.Scorer.Job.BucketSpan
	}
	p := &Pipeline{failed: make(chan struct{}), Metrics: service.NewMetrics("rarenet"), Ready: service.NewReadiness(nil)}
	defer func() {
		if err != nil {
			p.Close()
		}
	}()
	if o.NATSURL == "" {
		dir := o.DataDir
		if dir == "" {
			if dir, err = os.MkdirTemp("", "rarenet-js-"); err != nil {
				return nil, err
			}
			p.tmpDir = dir
		} else if p.lock, err = lockDataDir(dir, o.Listen); err != nil {
			return nil, err
		}
		cfg := natsembed.Config{StoreDir: dir}
		if o.Listen != "" {
			host, port, err := splitHostPort(o.Listen)
			if err != nil {
				return nil, err
			}
			cfg.Host, cfg.Port = host, port
		}
		if p.srv, err = natsembed.Start(cfg); err != nil {
			return nil, err
		}
	}
	if p.nc, err = p.connect(o, "driver"); err != nil {
		return nil, err
	}
	js, err := natsutil.JetStream(p.nc)
	if err != nil {
		return nil, err
	}
	// On a cluster electing its leaders the requests go unanswered for a while (no
	// responders): the driver waits for it as the stages do.
	if err := natsutil.Retry(ctx, func(ctx context.Context) error {
		return stream.Ensure(ctx, js, o.Streams)
	}); err != nil {
		return nil, err
	}
	if o.NoStages {
		return p, nil
	}
	if o.Alone && p.srv == nil {
		if err := refuseAttached(ctx, js, o.Streams.Partitions, o.NATSURL); err != nil {
			return nil, err
		}
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	p.cancel = cancel
	type stage struct {
		name string
		run  func(context.Context) error
	}
	var stages []stage
	var consumers []service.Consumer
	for _, st := range o.stages() {
		nc, err := p.connect(o, st.Name)
		if err != nil {
			return nil, err
		}
		r, err := st.New(ctx, nc, log, p.Metrics.Stage(st.Name))
		if err != nil {
			return nil, err
		}
		switch r := r.(type) {
		case *ingest.Service:
			p.Ingest = r
		case *scorer.Service:
			p.Scorer = r
		case *enricher.Service:
			p.Enricher = r
		case *windower.Service:
			p.Windower = r
		}
		stages = append(stages, stage{st.Name, r.Run})
		consumers = append(consumers, st.AllConsumers(o.Streams.Partitions)...)
	}
	if o.Console.Listen != "" {
		cfg := o.Console
		cfg.Streams = o.Streams
		nc, err := p.connect(o, console.Stage)
		if err != nil {
			return nil, err
		}
		if p.Console, err = console.New(ctx, cfg, nc, log); err != nil {
			return nil, err
		}
		stages = append(stages, stage{console.Stage, p.Console.Run})
	}
	if err := p.Metrics.Register(service.NewConsumerCollector(js, consumers)); err != nil {
		return nil, err
	}
	p.Ready = service.NewReadiness(consumers)
	p.Ready.Running(p.nc, js)
	for _, s := range stages {
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			// An error caused by the shutdown itself (a cancelled request) is not a failure.
			if err := s.run(runCtx); err != nil && runCtx.Err() == nil {
				p.fail(fmt.Errorf("%s: %w", s.name, err))
			}
		}()
	}
	return p, nil
}

// Stages names the stages of the pipeline in the order they are started.
var Stages = []string{ingest.Stage, scorer.Stage, enricher.Stage, windower.Stage}

// Describe is the pipeline's stages, each bound to its configuration in o: the flags, the
// contract and the constructor every stage package exports, as the stage binaries run them.
func (o *Options) Describe() []service.Stage {
	return []service.Stage{ingest.Describe(&o.Ingest), scorer.Describe(&o.Scorer), enricher.Describe(&o.Enricher), windower.Describe(&o.Windower)}
}

// stages is the stages Targets asks for: all of them when empty.
func (o *Options) stages() []service.Stage {
	all := o.Describe()
	if len(o.Targets) == 0 {
		return all
	}
	var some []service.Stage
	for _, st := range all {
		if slices.Contains(o.Targets, st.Name) {
			some = append(some, st)
		}
	}
	return some
}

// CheckTargets checks that every name in targets is a stage.
func CheckTargets(targets []string) error {
	for _, t := range targets {
		if !slices.Contains(Stages, t) {
			return fmt.Errorf("unknown stage %q: want %s", t, strings.Join(Stages, ", "))
		}
	}
	return nil
}

// runs reports whether the pipeline runs the stage name.
func (o *Options) runs(name string) bool {
	return !o.NoStages && (len(o.Targets) == 0 || slices.Contains(o.Targets, name))
}

func (p *Pipeline) connect(o Options, name string) (*nats.Conn, error) {
	var opts []nats.Option
	if p.srv == nil {
		opts = o.NATSOptions
	}
	nc, err := natsutil.Connect(o.NATSURL, p.srv, name, opts...)
	if err != nil {
		return nil, err
	}
	p.conns = append(p.conns, nc)
	return nc, nil
}

// fail records the first stage failure and stops the others: one stage down stops the line,
// as a run group does.
func (p *Pipeline) fail(err error) {
	p.errOnce.Do(func() {
		p.err = err
		close(p.failed)
		if p.cancel != nil {
			p.cancel()
		}
	})
}

// Conn is the driver's connection.
func (p *Pipeline) Conn() *nats.Conn { return p.nc }

// Server is the embedded server, nil when external.
func (p *Pipeline) Server() *server.Server { return p.srv }

// Failed is closed when a stage has failed; Err says why.
func (p *Pipeline) Failed() <-chan struct{} { return p.failed }

// Err returns the first stage failure, or nil.
func (p *Pipeline) Err() error {
	select {
	case <-p.failed:
		return p.err
	default:
		return nil
	}
}

// Close stops the stages, closes the connections and the embedded server, and removes a
// temporary data directory. It returns the first stage failure, if any.
func (p *Pipeline) Close() error {
	if p.cancel != nil {
		p.cancel()
	}
	p.wg.Wait()
	for _, nc := range p.conns {
		nc.Close()
	}
	if p.srv != nil {
		p.srv.Shutdown()
		p.srv.WaitForShutdown()
	}
	p.lock.release()
	var errs []error
	if p.tmpDir != "" {
		errs = append(errs, os.RemoveAll(p.tmpDir))
	}
	return errors.Join(append(errs, p.Err())...)
}

// splitHostPort parses a listen address: a port of 0 asks for any free one (-1 to the
// embedded server).
func splitHostPort(addr string) (string, int, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("listen address %q: %w", addr, err)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < -1 || n > 65535 {
		return "", 0, fmt.Errorf("listen address %q: port must be a number from 0 to 65535", addr)
	}
	if n == 0 {
		n = -1 // ":0" asks for any free port
	}
	return host, n, nil
}
