package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
)

// Group is a heading of a command's help; flags are listed by group, in this order.
type Group int

// The groups. Every flag belongs to one: what a command reads (Input), how the stages work
// (Pipeline), the detection rule (Rule), the NATS connection or embedded server (NATS), what it
// writes (Output), and running it as a service (Operations: health, profiling, timeouts).
const (
	Input Group = iota
	Pipeline
	Rule
	NATS
	Output
	Operations
	groups // the number of groups
)

var groupNames = [groups]string{"Input", "Pipeline", "Rule", "NATS", "Output", "Operations"}

// String returns the group's heading.
func (g Group) String() string {
	if g < 0 || g >= groups {
		return fmt.Sprintf("Group(%d)", int(g))
	}
	return groupNames[g]
}

// ErrHelp is returned by Parse when the help was asked for and printed: the command exits 0.
var ErrHelp = flag.ErrHelp

// Command is one command's flags, in groups, and its help.
type Command struct {
	// Name is the command as typed, e.g. "rarenet replay".
	Name string
	// Summary says what the command does, in a sentence or two.
	Summary string
	// Synopsis holds the usage lines, e.g. "rarenet replay [flags] FILE...".
	Synopsis []string
	// Notes follow the flags in the help: examples, the environment, exit codes.
	Notes string
	// Out receives the help asked for with --help (default os.Stdout).
	Out io.Writer

	fs    *flag.FlagSet
	group map[string]Group
	args  []string
}

// New returns a command without flags.
func New(name, summary string, synopsis ...string) *Command {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	// Parse reports errors itself, in one line: the flag package would print the whole list.
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return &Command{Name: name, Summary: summary, Synopsis: synopsis, fs: fs, group: map[string]Group{}}
}

// FlagSet returns the flags, for code that takes a *flag.FlagSet (service.ApplyEnv).
func (c *Command) FlagSet() *flag.FlagSet { return c.fs }

// Flags registers the flags that register defines into group g. A flag already registered
// (several stages register --bucket-span) keeps its first registration; when its value is a
// Joiner, the later registration's field joins it and takes every value it is set to.
func (c *Command) Flags(g Group, register func(fs *flag.FlagSet)) {
	c.FlagsExcept(g, register)
}

// FlagsExcept is Flags without the flags named in skip: a command shows only the flags it
// uses (a replay has no wall clock, so no --clock).
func (c *Command) FlagsExcept(g Group, register func(fs *flag.FlagSet), skip ...string) {
	staged := flag.NewFlagSet(c.Name, flag.ContinueOnError)
	register(staged)
	staged.VisitAll(func(f *flag.Flag) {
		if slices.Contains(skip, f.Name) {
			return
		}
		if have := c.fs.Lookup(f.Name); have != nil {
			// A setting several stages share sets each of them (Joiner).
			if j, ok := have.Value.(Joiner); ok {
				j.Join(f.Value)
			}
			return
		}
		c.fs.Var(f.Value, f.Name, f.Usage)
		c.fs.Lookup(f.Name).DefValue = f.DefValue
		c.group[f.Name] = g
	})
}

// Joiner is a flag value that other registrations of the same flag can join, so that one
// flag sets the field of each (the settings the stages of the all-in-one share).
type Joiner interface {
	Join(other flag.Value) bool
}

// Regroup moves registered flags to group g.
func (c *Command) Regroup(g Group, names ...string) {
	for _, n := range names {
		if c.fs.Lookup(n) != nil {
			c.group[n] = g
		}
	}
}

// GroupOf returns a registered flag's group.
func (c *Command) GroupOf(name string) (Group, bool) {
	g, ok := c.group[name]
	return g, ok
}

// Lookup returns a registered flag, or nil.
func (c *Command) Lookup(name string) *flag.Flag { return c.fs.Lookup(name) }

// Parse parses the arguments: flags may come before, between and after the positional
// arguments (`rarenet replay FILE --format ecs`), up to a "--". It returns ErrHelp once it
// has printed the help for -h or --help, and a *UsageError for anything it cannot parse.
func (c *Command) Parse(args []string) error {
	var positional []string
	for {
		if err := c.fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				c.WriteHelp(c.out())
				return ErrHelp
			}
			return &UsageError{Command: c.Name, Err: flagError(err)}
		}
		rest := c.fs.Args()
		// A "--" ends the flags: the flag package has consumed it when it was next.
		if len(rest) == 0 || ended(args, rest) {
			positional = append(positional, rest...)
			break
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
	c.args = positional
	return nil
}

// flagError words the flag package's errors as flags are typed here, with two dashes.
func flagError(err error) error {
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "flag provided but not defined: -"); ok {
		return fmt.Errorf("unknown flag --%s", strings.TrimPrefix(name, "-"))
	}
	if strings.Contains(msg, " for flag -") {
		return errors.New(strings.Replace(msg, " for flag -", " for flag --", 1))
	}
	if name, ok := strings.CutPrefix(msg, "flag needs an argument: -"); ok {
		return fmt.Errorf("flag --%s needs a value", strings.TrimPrefix(name, "-"))
	}
	return err
}

// ended reports whether the flag package stopped at a "--" (which it drops) rather than at a
// positional argument.
func ended(args, rest []string) bool {
	i := len(args) - len(rest)
	return i > 0 && args[i-1] == "--"
}

// Args returns the positional arguments.
func (c *Command) Args() []string { return c.args }

// Given reports whether the flag was set on the command line.
func (c *Command) Given(name string) bool {
	given := false
	c.fs.Visit(func(f *flag.Flag) {
		if f.Name == name {
			given = true
		}
	})
	return given
}

// Usagef returns a usage error of the command: the message, then where the help is.
func (c *Command) Usagef(format string, args ...any) error {
	return &UsageError{Command: c.Name, Err: fmt.Errorf(format, args...)}
}

func (c *Command) out() io.Writer {
	if c.Out != nil {
		return c.Out
	}
	return os.Stdout
}

// flagsOf returns the command's flags of group g, sorted by name.
func (c *Command) flagsOf(g Group) []*flag.Flag {
	var fs []*flag.Flag
	c.fs.VisitAll(func(f *flag.Flag) {
		if c.group[f.Name] == g {
			fs = append(fs, f)
		}
	})
	return fs
}
