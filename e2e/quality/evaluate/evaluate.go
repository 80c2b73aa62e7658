// Package evaluate measures signals against a simulated fleet's ground truth: recall per
// attack class, false signals per 100 host-days (and what they were), duplicates, and the
// time from an attack to its signal.
package evaluate

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/rarenet/rarenet/e2e/quality/sim"
)

// Signal is what evaluation needs of a signal document.
type Signal struct {
	Name     string    // by_field_value
	Hosts    []string  // host.name
	Original time.Time // kibana.alert.original_time: the bucket start
	RuleRun  time.Time // rarenet.rule_run, when present: the run that raised it
}

// ReadSignals reads signal documents (NDJSON).
func ReadSignals(r io.Reader) ([]Signal, error) {
	var out []Signal
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		var d struct {
			Name     string   `json:"by_field_value"`
			Hosts    []string `json:"host.name"`
			Original string   `json:"kibana.alert.original_time"`
			RuleRun  string   `json:"rarenet.rule_run"`
		}
		if err := json.Unmarshal([]byte(line), &d); err != nil {
			return nil, fmt.Errorf("signals line %d: %w", n, err)
		}
		orig, err := time.Parse(time.RFC3339Nano, d.Original)
		if err != nil {
			return nil, fmt.Errorf("signals line %d: kibana.alert.original_time: %w", n, err)
		}
		s := Signal{Name: d.Name, Hosts: d.Hosts, Original: orig}
		if d.RuleRun != "" {
			s.RuleRun, _ = time.Parse(time.RFC3339Nano, d.RuleRun)
		}
		out = append(out, s)
	}
	return out, sc.Err()
}

// ErrNotLabels is returned by ReadLabels for input that is not a labels file of simulate
// (e2e/cmd/simulate): an events or signals file given by mistake would otherwise evaluate as
// an empty ground truth.
var ErrNotLabels = errors.New("not a labels file of simulate --labels")

// labelClasses are the classes a labels file may hold.
var labelClasses = []string{sim.ClassNeverSeenTool, sim.ClassReusedName, sim.ClassNewDestination, sim.ClassRollout,
	sim.ClassSchedule, sim.ClassLoopback, sim.ClassDestinationChange}

// ReadLabels reads the labels `simulate` writes (NDJSON): the "fleet" line first, with
// the fleet's size in host-days, then one label per line. Anything else is ErrNotLabels,
// naming the line and what was expected.
func ReadLabels(r io.Reader) ([]sim.Label, float64, error) {
	var out []sim.Label
	var hostDays float64
	dec := json.NewDecoder(r)
	for n := 1; ; n++ {
		var l sim.Label
		if err := dec.Decode(&l); err == io.EOF {
			if n == 1 {
				return nil, 0, fmt.Errorf("%w: it is empty", ErrNotLabels)
			}
			return out, hostDays, nil
		} else if err != nil {
			return nil, 0, fmt.Errorf("line %d: %w: %w", n, ErrNotLabels, err)
		}
		switch {
		case n == 1 && (l.Class != sim.ClassFleet || l.HostDays <= 0):
			return nil, 0, fmt.Errorf("line 1: %w: expected the fleet line ({\"class\":\"fleet\",\"host_days\":...}) that begins one", ErrNotLabels)
		case n == 1:
			hostDays = l.HostDays
			continue
		case !slices.Contains(labelClasses, l.Class):
			return nil, 0, fmt.Errorf("line %d: %w: class %q, expected one of %s", n, ErrNotLabels, l.Class, strings.Join(labelClasses, ", "))
		case l.ID == "" || l.Name == "" || l.Start.IsZero():
			return nil, 0, fmt.Errorf("line %d: %w: a label needs id, process.name and start", n, ErrNotLabels)
		}
		out = append(out, l)
	}
}

// window is how long after an attack a signal still counts as its detection: the bucket of
// the attack plus the rule's look-back.
const window = 15*time.Minute + 45*time.Minute

// Class is the outcome for one label class.
type Class struct {
	Class    string
	Labels   int
	Detected int
	// Signals is the number of signals matched to labels of the class.
	Signals int
}

// Report is the evaluation of a set of signals.
type Report struct {
	Classes []Class
	// False counts signals matching no attack; FalseBy breaks them down by the benign label
	// they match ("unlabelled" for none).
	False   int
	FalseBy map[string]int
	// FalsePer100HostDays is False per 100 host-days of the fleet.
	FalsePer100HostDays float64
	// Duplicates counts signals beyond the first for the same attack.
	Duplicates int
	// MeanDelay is the mean time from an attack to the rule run that signalled it.
	MeanDelay time.Duration
	Signals   int
	// Kinds breaks the attacks of a class down by kind (class/kind, e.g.
	// "reused-name/new-user"), for classes whose labels have kinds.
	Kinds map[string]*Class
}

// Recall returns the detected share of a class's labels (NaN-free: 0 without labels).
func (r *Report) Recall(class string) float64 {
	for _, c := range r.Classes {
		if c.Class == class && c.Labels > 0 {
			return float64(c.Detected) / float64(c.Labels)
		}
	}
	return 0
}

// Evaluate matches signals to labels: a signal detects a label when it names the label's
// process, one of its hosts, and a bucket from the label's bucket to the end of the look-back.
func Evaluate(labels []sim.Label, signals []Signal, hostDays float64) Report {
	rep := Report{FalseBy: map[string]int{}, Signals: len(signals), Kinds: map[string]*Class{}}
	byClass := map[string]*Class{}
	matched := make([]int, len(labels)) // signals per label
	var delays []time.Duration
	for _, s := range signals {
		hit := -1
		for i, l := range labels {
			if matches(l, s) && (hit < 0 || sim.IsAttack(l.Class) && !sim.IsAttack(labels[hit].Class)) {
				hit = i
			}
		}
		switch {
		case hit < 0:
			rep.False++
			rep.FalseBy["unlabelled"]++
		case !sim.IsAttack(labels[hit].Class):
			rep.False++
			rep.FalseBy[labels[hit].Class]++
			matched[hit]++
		default:
			if matched[hit] > 0 {
				rep.Duplicates++
			} else if !s.RuleRun.IsZero() {
				delays = append(delays, s.RuleRun.Sub(labels[hit].Start))
			}
			matched[hit]++
		}
	}
	for i, l := range labels {
		if !sim.IsAttack(l.Class) {
			continue
		}
		c := byClass[l.Class]
		if c == nil {
			c = &Class{Class: l.Class}
			byClass[l.Class] = c
		}
		c.Labels++
		c.Signals += matched[i]
		if matched[i] > 0 {
			c.Detected++
		}
		if l.Kind != "" {
			k := rep.Kinds[l.Class+"/"+l.Kind]
			if k == nil {
				k = &Class{Class: l.Class + "/" + l.Kind}
				rep.Kinds[k.Class] = k
			}
			k.Labels++
			k.Signals += matched[i]
			if matched[i] > 0 {
				k.Detected++
			}
		}
	}
	for _, c := range byClass {
		rep.Classes = append(rep.Classes, *c)
	}
	sort.Slice(rep.Classes, func(i, j int) bool { return rep.Classes[i].Class < rep.Classes[j].Class })
	if hostDays > 0 {
		rep.FalsePer100HostDays = 100 * float64(rep.False) / hostDays
	}
	if len(delays) > 0 {
		var sum time.Duration
		for _, d := range delays {
			sum += d
		}
		rep.MeanDelay = sum / time.Duration(len(delays))
	}
	return rep
}

func matches(l sim.Label, s Signal) bool {
	if l.Name != s.Name || !slices.ContainsFunc(s.Hosts, func(h string) bool { return slices.Contains(l.Hosts, h) }) {
		return false
	}
	from := l.Start.Truncate(15 * time.Minute)
	return !s.Original.Before(from) && s.Original.Before(from.Add(window))
}

// String writes the report for people.
func (r *Report) String() string {
	var b strings.Builder
	for _, c := range r.Classes {
		fmt.Fprintf(&b, "%-16s recall %d/%d (%.0f%%)\n", c.Class, c.Detected, c.Labels, 100*r.Recall(c.Class))
	}
	kinds := make([]string, 0, len(r.Kinds))
	for k := range r.Kinds {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		fmt.Fprintf(&b, "  %-27s %d/%d\n", k, r.Kinds[k].Detected, r.Kinds[k].Labels)
	}
	fmt.Fprintf(&b, "false signals    %d (%.2f per 100 host-days)", r.False, r.FalsePer100HostDays)
	if r.False > 0 {
		var parts []string
		for k, v := range r.FalseBy {
			parts = append(parts, fmt.Sprintf("%s %d", k, v))
		}
		sort.Strings(parts)
		fmt.Fprintf(&b, ": %s", strings.Join(parts, ", "))
	}
	fmt.Fprintf(&b, "\nduplicates       %d\nmean delay       %s\nsignals          %d\n", r.Duplicates, r.MeanDelay.Round(time.Minute), r.Signals)
	return b.String()
}
