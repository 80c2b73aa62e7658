package sense

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
)

// Probes: how the sensor hooks connect. Auto takes the first the kernel allows, in this
// order.
const (
	ProbeAuto          = "auto"
	ProbeFexit         = "fexit"          // fexit on __sys_connect_file: connect(2) and io_uring
	ProbeKprobe        = "kprobe"         // kprobe + kretprobe on __sys_connect_file
	ProbeRawTracepoint = "raw_tracepoint" // sys_enter/sys_exit, io_uring tracepoints
)

// Probes lists the probes in the order auto tries them.
var Probes = []string{ProbeFexit, ProbeKprobe, ProbeRawTracepoint}

// connectFunc is the kernel function both connect(2) and io_uring's connect call.
const connectFunc = "__sys_connect_file"

// ErrNoProbe is returned when the kernel allows none of the probes.
var ErrNoProbe = errors.New("this kernel lets the sensor hook connect in none of the ways it knows")

// ErrUnknownProbe is returned for a probe name not in Probes.
var ErrUnknownProbe = errors.New("unknown probe")

// programs names the BPF programs each probe loads.
var programs = map[string][]string{
	ProbeFexit:         {"fexit_connect"},
	ProbeKprobe:        {"kprobe_connect", "kretprobe_connect"},
	ProbeRawTracepoint: {"sys_enter", "sys_exit", "io_uring_submit", "io_uring_complete"},
}

// optional are programs whose failure to load or attach leaves the probe working, with
// less coverage: io_uring's tracepoints (and the io_uring_kiocb layout they read) are not on
// every kernel.
var optional = map[string]bool{"io_uring_submit": true, "io_uring_complete": true}

// attached is a probe in place: its objects and links.
type attached struct {
	probe string
	coll  *ebpf.Collection
	links []link.Link
	// ioURing tells whether io_uring connects are seen, and why not.
	ioURing string
}

func (a *attached) close() {
	for _, l := range a.links {
		l.Close()
	}
	if a.coll != nil {
		a.coll.Close()
	}
}

// attach loads and attaches the probe named (or the first that works for auto).
func attach(spec *ebpf.CollectionSpec, probe string, log *slog.Logger) (*attached, error) {
	var try []string
	switch probe {
	case ProbeAuto, "":
		try = Probes
	default:
		if _, ok := programs[probe]; !ok {
			return nil, fmt.Errorf("%w %q (expected auto or one of %s)", ErrUnknownProbe, probe, strings.Join(Probes, ", "))
		}
		try = []string{probe}
	}
	var failures []string
	for _, p := range try {
		a, err := attachProbe(spec, p)
		if err == nil {
			log.Info("probe attached", "probe", p, "io_uring", a.ioURing, "refused", strings.Join(failures, "; "))
			return a, nil
		}
		log.Info("probe refused by the kernel", "probe", p, "err", err)
		failures = append(failures, fmt.Sprintf("%s: %v", p, err))
	}
	return nil, fmt.Errorf("%w (%s): this kernel needs BTF (/sys/kernel/btf/vmlinux) and either BPF trampolines "+
		"(fexit), kprobes (CONFIG_KPROBES with the kprobe PMU or tracefs kprobe_events) or raw tracepoints; "+
		"run `rarenet collect` (polls /proc, needs no BPF) or auditd with a connect rule instead", ErrNoProbe, strings.Join(failures, "; "))
}

// attachProbe loads the programs of one probe and attaches them.
func attachProbe(full *ebpf.CollectionSpec, probe string) (*attached, error) {
	want := programs[probe]
	load := func(withOptional bool) (*ebpf.Collection, error) {
		spec := full.Copy()
		for name := range spec.Programs {
			keep := false
			for _, w := range want {
				if w == name && (withOptional || !optional[name]) {
					keep = true
				}
			}
			if !keep {
				delete(spec.Programs, name)
			}
		}
		return ebpf.NewCollection(spec)
	}
	a := &attached{probe: probe, ioURing: "seen: " + connectFunc + " is on its path"}
	coll, err := load(true)
	if err != nil && probe == ProbeRawTracepoint {
		a.ioURing = "not seen: " + firstLine(err)
		coll, err = load(false)
	}
	if err != nil {
		return nil, err
	}
	a.coll = coll
	if err := a.link(); err != nil {
		a.close()
		return nil, err
	}
	return a, nil
}

func (a *attached) link() error {
	p := a.coll.Programs
	add := func(l link.Link, err error) error {
		if err == nil {
			a.links = append(a.links, l)
		}
		return err
	}
	switch a.probe {
	case ProbeFexit:
		return add(link.AttachTracing(link.TracingOptions{Program: p["fexit_connect"]}))
	case ProbeKprobe:
		if err := add(link.Kprobe(connectFunc, p["kprobe_connect"], nil)); err != nil {
			return err
		}
		return add(link.Kretprobe(connectFunc, p["kretprobe_connect"], nil))
	}
	// Exits first: an enter without its exit would only wait in the LRU map.
	if err := add(link.AttachRawTracepoint(link.RawTracepointOptions{Name: "sys_exit", Program: p["sys_exit"]})); err != nil {
		return err
	}
	if err := add(link.AttachRawTracepoint(link.RawTracepointOptions{Name: "sys_enter", Program: p["sys_enter"]})); err != nil {
		return err
	}
	if p["io_uring_submit"] == nil {
		return nil
	}
	done, err := link.AttachRawTracepoint(link.RawTracepointOptions{Name: "io_uring_complete", Program: p["io_uring_complete"]})
	if err != nil {
		a.ioURing = "not seen: " + firstLine(err)
		return nil
	}
	sub, err := link.AttachRawTracepoint(link.RawTracepointOptions{Name: "io_uring_submit_req", Program: p["io_uring_submit"]})
	if err != nil {
		done.Close()
		a.ioURing = "not seen: " + firstLine(err)
		return nil
	}
	a.links = append(a.links, done, sub)
	a.ioURing = "seen: io_uring_submit_req and io_uring_complete tracepoints"
	return nil
}

// firstLine keeps the first line of an error: a verifier log can be long.
func firstLine(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n")
	return s
}
