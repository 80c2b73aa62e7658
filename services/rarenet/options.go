package rarenet

import (
	"fmt"

	"github.com/rarenet/rarenet/shared/cli"
	"github.com/rarenet/rarenet/shared/stream"
)

// NewOptions is the pipeline `rarenet run` starts given these stage flags and no others (for
// example "--profile", "enhanced", "--allowed-lateness", "2m"): every stage's configuration at
// its flags' defaults, and a setting several stages share given once and set in each, as on
// the command line. Programs (the quality harness, tests) build their pipelines with it rather
// than copying a shared setting into each stage by hand. The streams are the default layout:
// stream.DefaultPartitions partitions, one replica, on file storage.
func NewOptions(flags ...string) (Options, error) {
	o := new(Options)
	c := cli.New("rarenet", "")
	for _, st := range o.Describe() {
		c.Flags(cli.Pipeline, st.Register)
	}
	if err := c.Parse(flags); err != nil {
		return Options{}, err
	}
	if len(c.Args()) > 0 {
		return Options{}, fmt.Errorf("rarenet: options: unexpected arguments %q: want stage flags only", c.Args())
	}
	o.Streams = stream.Config{Partitions: stream.DefaultPartitions, Replicas: 1}
	return *o, nil
}

// DefaultOptions is NewOptions with no flags: the pipeline `rarenet run` starts when none is
// given.
func DefaultOptions() Options {
	o, err := NewOptions()
	if err != nil {
		panic(err) // no flags to parse: only the stages' own defaults, which the tests parse
	}
	return o
}
