// Package sense is rarenet's eBPF sensor: it sees every connect(2) to an IPv4 or IPv6
// address, and io_uring's connects, however briefly the connection lives, and publishes
// each as an ECS network event (event.module rarenet_sense) on rarenet.raw.ecs.
//
// The BPF program (bpf/connect.c, compiled by bpf2go and committed) hooks connect in the
// first way the kernel allows (see Probes), records the call's destination, the process
// (pid, thread, parent, uid, gid, comm, cgroup, network namespace) and, at the return, the
// result and the source address and port the kernel chose. Records leave the kernel through
// a ring buffer; a record that finds it full is counted in the kernel and reported (log and
// metric), never lost silently. User space adds what the kernel does not hand out cheaply,
// read once per process from /proc and cached: the executable, the arguments, the working
// directory, the container id, the user name.
//
// Loopback destinations and the sensor's own connections (to NATS) are dropped in the
// kernel. Loading needs root, or CAP_BPF with CAP_PERFMON (and CAP_SYS_RESOURCE on kernels
// before 5.11, for the locked-memory limit); reading /proc/<pid>/exe and cwd of other users'
// processes needs CAP_SYS_PTRACE. DropCapabilities keeps only what the sensor needs once the
// probe is in place.
//
// Pids are those of the initial pid namespace: in a container the sensor needs the host's
// (hostPID), or it would read the wrong /proc entries and not recognise its own connections.
package sense

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync/atomic"
	"time"

	"github.com/cilium/ebpf/ringbuf"
	"github.com/cilium/ebpf/rlimit"
	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/sys/unix"

	"github.com/rarenet/rarenet/services/ingest/format"
	"github.com/rarenet/rarenet/services/sources/sink"
)

// Defaults of Config.
const (
	DefaultRingBuffer    = 4 << 20
	DefaultFlushInterval = 200 * time.Millisecond
	DefaultProcCache     = 4096
	// maxBatch bounds the lines of one publish.
	maxBatch = 10_000
	// countersEvery is how often the kernel's counters are read and a loss is logged.
	countersEvery = 5 * time.Second
)

// Config configures a Sensor.
type Config struct {
	// Host is host.name (default os.Hostname).
	Host string
	// SourceName, when set, names the source in the raw subject (rawpub.Subject).
	SourceName string
	// Probe is auto or one of Probes.
	Probe string
	// ProcRoot is the proc filesystem of the host's pid namespace (default /proc).
	ProcRoot string
	// Passwd maps uids to user.name (default /etc/passwd).
	Passwd string
	// RingBuffer is the ring buffer's size in bytes: a power of two, at least a page
	// (default 4 MiB, about 34,000 records).
	RingBuffer int
	// FlushInterval is the longest a record waits before it is published (default 200ms).
	FlushInterval time.Duration
	// ProcCache bounds the processes whose /proc details are cached (default 4096).
	ProcCache int
	// SelfTGID is the process whose connects are not reported (default os.Getpid(): the
	// sensor's own, to NATS); -1 reports every process.
	SelfTGID int
	// KeepLoopback reports connects to loopback addresses too (the datafeed drops them).
	KeepLoopback bool
}

// Validate fills in the defaults and checks the configuration.
func (c *Config) Validate() error {
	if c.Host == "" {
		c.Host, _ = os.Hostname()
	}
	if c.Probe == "" {
		c.Probe = ProbeAuto
	}
	if c.ProcRoot == "" {
		c.ProcRoot = "/proc"
	}
	if c.Passwd == "" {
		c.Passwd = "/etc/passwd"
	}
	if c.RingBuffer == 0 {
		c.RingBuffer = DefaultRingBuffer
	}
	if c.RingBuffer < os.Getpagesize() || c.RingBuffer&(c.RingBuffer-1) != 0 {
		return fmt.Errorf("sense: ring buffer size %d: expected a power of two of at least %d bytes", c.RingBuffer, os.Getpagesize())
	}
	if c.FlushInterval <= 0 {
		c.FlushInterval = DefaultFlushInterval
	}
	if c.ProcCache <= 0 {
		c.ProcCache = DefaultProcCache
	}
	if c.SelfTGID == 0 {
		c.SelfTGID = os.Getpid()
	}
	if c.Probe != ProbeAuto {
		if _, ok := programs[c.Probe]; !ok {
			return fmt.Errorf("sense: %w %q", ErrUnknownProbe, c.Probe)
		}
	}
	return nil
}

// Stats counts what the sensor has done.
type Stats struct {
	// Records is the number of records read from the ring buffer.
	Records atomic.Int64
	// Lost is the number of records the kernel dropped because the ring buffer was full.
	Lost atomic.Int64
	// Malformed is the number of ring buffer samples that were not a record.
	Malformed atomic.Int64
	// ProcessGone is the number of processes that had exited before their /proc entry was
	// read: their events carry no executable, arguments or working directory.
	ProcessGone atomic.Int64
	// Published and Dropped are the sink's: lines acknowledged by NATS, and lines dropped
	// from a full backlog while NATS was unavailable.
	Published, Dropped atomic.Int64
}

// Sensor is the loaded and attached BPF program and its reader.
type Sensor struct {
	cfg    Config
	att    *attached
	rd     *ringbuf.Reader
	stats  Stats
	closed atomic.Bool
}

// New loads the BPF program, attaches it with the configured probe and opens the ring
// buffer. Errors wrap ErrNoProbe when the kernel refuses every probe.
func New(cfg Config, log *slog.Logger) (*Sensor, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if !inInitialPIDNamespace() {
		log.Warn("not in the host's pid namespace: the kernel's pids will not match /proc here, so events lack " +
			"executable, arguments and working directory, and the sensor's own connections are reported; " +
			"run it with the host's pid namespace (pid: host, hostPID: true)")
	}
	// Kernels before 5.11 charge BPF memory to RLIMIT_MEMLOCK; later ones ignore it.
	if err := rlimit.RemoveMemlock(); err != nil {
		log.Debug("cannot raise the locked-memory limit", "err", err)
	}
	spec, err := loadConnect()
	if err != nil {
		return nil, fmt.Errorf("sense: %w", err)
	}
	self := uint32(0)
	if cfg.SelfTGID > 0 {
		self = uint32(cfg.SelfTGID)
	}
	if err := spec.Variables["self_tgid"].Set(self); err != nil {
		return nil, fmt.Errorf("sense: self_tgid: %w", err)
	}
	if err := spec.Variables["keep_loopback"].Set(cfg.KeepLoopback); err != nil {
		return nil, fmt.Errorf("sense: keep_loopback: %w", err)
	}
	// A wakeup per record costs user space more than the record itself; a new process still
	// wakes it at once, the rest waits until a sixteenth of the buffer is used or the reader's
	// timer (half the flush interval) fires.
	if err := spec.Variables["wakeup_bytes"].Set(uint64(cfg.RingBuffer / 16)); err != nil {
		return nil, fmt.Errorf("sense: wakeup_bytes: %w", err)
	}
	spec.Maps["events"].MaxEntries = uint32(cfg.RingBuffer)
	att, err := attach(spec, cfg.Probe, log)
	if err != nil {
		return nil, fmt.Errorf("sense: %w", err)
	}
	rd, err := ringbuf.NewReader(att.coll.Maps["events"])
	if err != nil {
		att.close()
		return nil, fmt.Errorf("sense: ring buffer: %w", err)
	}
	return &Sensor{cfg: cfg, att: att, rd: rd}, nil
}

// initialPIDNamespace is the inode of the initial pid namespace (PROC_PID_INIT_INO in
// include/linux/proc_ns.h).
const initialPIDNamespace = "pid:[4026531836]"

// inInitialPIDNamespace reports whether the process sees the pids the kernel reports.
func inInitialPIDNamespace() bool {
	link, err := os.Readlink("/proc/self/ns/pid")
	return err != nil || link == initialPIDNamespace // unknown: assume so, and say nothing
}

// Probe names the probe in place.
func (s *Sensor) Probe() string { return s.att.probe }

// IOURing says whether io_uring connects are seen, and how or why not.
func (s *Sensor) IOURing() string { return s.att.ioURing }

// Stats returns the sensor's counters.
func (s *Sensor) Stats() *Stats { return &s.stats }

// Close detaches the probe and frees the kernel objects.
func (s *Sensor) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	err := s.rd.Close()
	s.att.close()
	return err
}

// LostRecords is the number of records the kernel dropped because the ring buffer was full,
// read from the kernel now (Stats().Lost is updated every few seconds).
func (s *Sensor) LostRecords() int64 {
	if _, lost, err := s.kernelCounters(); err == nil {
		return int64(lost)
	}
	return s.stats.Lost.Load()
}

// kernelCounters reads the BPF program's counters: records written, and records lost to a
// full ring buffer. They are memory-mapped, so reading them needs no capability.
func (s *Sensor) kernelCounters() (events, lost uint64, err error) {
	if err := s.att.coll.Variables["events_total"].Get(&events); err != nil {
		return 0, 0, fmt.Errorf("sense: counters: %w", err)
	}
	if err := s.att.coll.Variables["lost_total"].Get(&lost); err != nil {
		return 0, 0, fmt.Errorf("sense: counters: %w", err)
	}
	return events, lost, nil
}

// clock converts the kernel's CLOCK_MONOTONIC times to wall-clock times.
type clock struct {
	offset  time.Duration
	updated time.Time
}

// wall returns the wall-clock time of a monotonic timestamp. The offset is measured again
// every second, so a wall clock stepped by NTP is followed.
func (c *clock) wall(mono uint64, now time.Time) time.Time {
	if now.Sub(c.updated) >= time.Second {
		var ts unix.Timespec
		if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err == nil {
			c.offset = time.Duration(time.Now().UnixNano() - ts.Nano())
			c.updated = now
		}
	}
	return time.Unix(0, int64(mono)+int64(c.offset))
}

// Run publishes every record as ECS on rarenet.raw.ecs until ctx is done, then flushes
// what it holds and closes the sensor.
func (s *Sensor) Run(ctx context.Context, js jetstream.JetStream, log *slog.Logger) error {
	log = log.With("source", "sense")
	out, err := sink.New(js, format.ECS, "sense:"+s.cfg.Host, 0)
	if err != nil {
		return err
	}
	out.BindSource(s.cfg.SourceName)
	lines := make(chan []byte, 16384)
	readErr := make(chan error, 1)
	go func() { readErr <- s.read(lines, log) }()
	// At the end the reader takes what the ring buffer holds, then stops.
	context.AfterFunc(ctx, func() { _ = s.rd.Flush() })

	log.Info("sensing", "probe", s.att.probe, "io_uring", s.att.ioURing, "host", s.cfg.Host,
		"ring_buffer_bytes", s.cfg.RingBuffer, "self_tgid", s.cfg.SelfTGID)
	tick := time.NewTicker(s.cfg.FlushInterval)
	defer tick.Stop()
	nextCounters := time.Now().Add(countersEvery)
	var batch [][]byte
	var reported uint64
	flush := func(ctx context.Context) {
		err := out.Send(ctx, batch)
		batch = nil
		s.stats.Published.Store(out.Stats().Published.Load())
		s.stats.Dropped.Store(out.Stats().Dropped.Load())
		if err != nil && ctx.Err() == nil {
			log.Warn("publish failed; the events are kept for the next batch", "err", err, "backlog", out.Backlog())
		}
	}
	checkLost := func() {
		_, lost, err := s.kernelCounters()
		if err != nil {
			log.Warn("cannot read the kernel's counters", "err", err)
			return
		}
		s.stats.Lost.Store(int64(lost))
		if lost > reported {
			log.Warn("ring buffer full: records lost in the kernel", "lost", lost-reported, "lost_total", lost,
				"hint", "raise --ring-buffer or lower --flush-interval")
			reported = lost
		}
	}
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				// The reader stopped: the context is done or the ring buffer failed.
				checkLost()
				fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
				flush(fctx)
				cancel()
				s.Close()
				if err := <-readErr; err != nil && ctx.Err() == nil {
					return err
				}
				return nil
			}
			if batch = append(batch, l); len(batch) >= maxBatch {
				flush(ctx)
			}
		case now := <-tick.C:
			if len(batch) > 0 || out.Backlog() > 0 {
				flush(ctx)
			}
			if now.After(nextCounters) {
				checkLost()
				nextCounters = now.Add(countersEvery)
			}
		}
	}
}

// read turns ring buffer records into ECS lines until the reader is closed.
func (s *Sensor) read(lines chan<- []byte, log *slog.Logger) error {
	defer close(lines)
	procs := newProcCache(s.cfg.ProcRoot, s.cfg.ProcCache)
	users := &userNames{path: s.cfg.Passwd}
	var clk clock
	var rec ringbuf.Record
	for {
		// Records sent without a wakeup are read when the deadline passes.
		s.rd.SetDeadline(time.Now().Add(s.cfg.FlushInterval / 2))
		if err := s.rd.ReadInto(&rec); err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				continue
			}
			if errors.Is(err, ringbuf.ErrFlushed) || errors.Is(err, ringbuf.ErrClosed) {
				return nil
			}
			return fmt.Errorf("sense: ring buffer: %w", err)
		}
		r, err := decodeRecord(rec.RawSample)
		if err != nil {
			if s.stats.Malformed.Add(1) == 1 {
				log.Error("malformed ring buffer record", "err", err)
			}
			continue
		}
		s.stats.Records.Add(1)
		now := time.Now()
		p, miss := procs.get(&r)
		if miss && p.gone {
			s.stats.ProcessGone.Add(1)
		}
		doc := newDocument(&r, clk.wall(r.Mono, now), s.cfg.Host, s.att.probe, users.lookup(r.UID, now), p)
		lines <- doc.appendJSON(make([]byte, 0, 768))
	}
}
