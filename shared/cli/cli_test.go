package cli

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"testing"
	"time"
)

func testCommand() (*Command, *string, *bool, *time.Duration) {
	c := New("rarenet test", "Tests the frame.", "rarenet test [flags] FILE...")
	var format string
	var verbose bool
	var lateness time.Duration
	c.Flags(Input, func(fs *flag.FlagSet) {
		fs.StringVar(&format, "format", "auto", "input `FORMAT`: auto or ecs")
	})
	c.Flags(Pipeline, func(fs *flag.FlagSet) {
		fs.DurationVar(&lateness, "allowed-lateness", time.Minute, "how long late events are still taken")
		fs.String("clock", "wall", "what closes buckets")
		// Registered a second time by another stage: the first registration stays.
		fs.String("format", "ignored", "another stage's format")
	})
	c.Flags(Output, func(fs *flag.FlagSet) {
		fs.BoolVar(&verbose, "v", false, "log progress")
		fs.String("nats-url", "", "the server (default: the embedded one)")
	})
	return c, &format, &verbose, &lateness
}

func TestParseTakesFlagsAnywhere(t *testing.T) {
	c, format, verbose, lateness := testCommand()
	if err := c.Parse([]string{"a.log", "--format", "ecs", "-", "-v", "--allowed-lateness=2m", "--", "-x"}); err != nil {
		t.Fatal(err)
	}
	if *format != "ecs" || !*verbose || *lateness != 2*time.Minute {
		t.Errorf("format %q verbose %v lateness %s", *format, *verbose, *lateness)
	}
	if got := strings.Join(c.Args(), " "); got != "a.log - -x" {
		t.Errorf("args %q, want %q", got, "a.log - -x")
	}
	if !c.Given("format") || c.Given("clock") {
		t.Errorf("Given: format %v clock %v", c.Given("format"), c.Given("clock"))
	}
}

func TestUsageErrorIsOneLineAndPointsAtHelp(t *testing.T) {
	c, _, _, _ := testCommand()
	err := c.Parse([]string{"--bogus"})
	var ue *UsageError
	if !errors.As(err, &ue) || ue.Command != "rarenet test" {
		t.Fatalf("err %v, want a usage error of rarenet test", err)
	}
	var out bytes.Buffer
	if code := Exit(&out, "rarenet test", err); code != ExitUsage {
		t.Errorf("exit %d, want %d", code, ExitUsage)
	}
	want := "rarenet test: unknown flag --bogus\nsee rarenet test --help\n"
	if out.String() != want {
		t.Errorf("stderr %q, want %q", out.String(), want)
	}
}

func TestHelpGroupsFlagsWithOneDefaultEach(t *testing.T) {
	c, _, _, _ := testCommand()
	c.Notes = "Every flag can also be set as RARENET_<FLAG>."
	var out bytes.Buffer
	c.Out = &out
	if err := c.Parse([]string{"--help"}); !errors.Is(err, ErrHelp) {
		t.Fatalf("err %v, want ErrHelp", err)
	}
	help := out.String()
	for _, want := range []string{
		"Usage: rarenet test [flags] FILE...\n\nTests the frame.\n",
		"\nInput:\n  --format FORMAT               input FORMAT: auto or ecs (default auto)\n",
		"\nPipeline:\n  --allowed-lateness DURATION   how long late events are still taken (default 1m0s)\n",
		"  --clock VALUE                 what closes buckets (default wall)\n",
		"\nOutput:\n  --nats-url URL                the server (default: the embedded one)\n  -v                            log progress\n",
		"\nEvery flag can also be set as RARENET_<FLAG>.\n",
	} {
		if !strings.Contains(help, want) {
			t.Errorf("help lacks %q:\n%s", want, help)
		}
	}
	if strings.Contains(help, "another stage's format") || strings.Contains(help, "Rule:") {
		t.Errorf("help shows a second registration or an empty group:\n%s", help)
	}
}

func TestFlagsExceptAndRegroup(t *testing.T) {
	c := New("rarenet test", "", "rarenet test")
	c.FlagsExcept(Pipeline, func(fs *flag.FlagSet) {
		fs.String("clock", "wall", "")
		fs.String("rule", "", "")
	}, "clock")
	c.Regroup(Rule, "rule", "missing")
	if c.Lookup("clock") != nil {
		t.Error("--clock registered though skipped")
	}
	if g, _ := c.GroupOf("rule"); g != Rule {
		t.Errorf("--rule in %s, want Rule", g)
	}
	if err := c.Parse([]string{"--clock", "watermark"}); err == nil {
		t.Error("a skipped flag parsed")
	}
}

func TestExitCodes(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, tt := range []struct {
		err  error
		code int
		out  string
	}{
		{nil, ExitOK, ""},
		{ErrHelp, ExitOK, ""},
		{errors.New("open x: no such file"), ExitFailure, "rarenet t: open x: no such file\n"},
		{WithCode(ExitNoInput, errors.New("no line accepted")), ExitNoInput, "rarenet t: no line accepted\n"},
		{fmt.Errorf("wrapped: %w", WithCode(ExitNoInput, errors.New("x"))), ExitNoInput, "rarenet t: wrapped: x\n"},
		{Interrupted(ctx, fmt.Errorf("replay: %w", context.Canceled)), ExitInterrupted, "rarenet t: interrupted\n"},
	} {
		var out bytes.Buffer
		if code := Exit(&out, "rarenet t", tt.err); code != tt.code || out.String() != tt.out {
			t.Errorf("Exit(%v) = %d %q, want %d %q", tt.err, code, out.String(), tt.code, tt.out)
		}
	}
}

func TestVersion(t *testing.T) {
	b := Build()
	if b.Version == "" || !strings.HasPrefix(b.Go, "go") {
		t.Errorf("build info %+v", b)
	}
	var out bytes.Buffer
	PrintVersion(&out, "ingest")
	if !strings.HasPrefix(out.String(), "ingest version ") || !strings.Contains(out.String(), "commit ") {
		t.Errorf("version line %q", out.String())
	}
	if s := (BuildInfo{Version: "v1.2.0", Commit: "0123456789abcdef", Modified: true, Go: "go1.26.8"}).String(); s != "v1.2.0, commit 0123456789ab (modified), go1.26.8" {
		t.Errorf("String() = %q", s)
	}
	for _, args := range [][]string{{"version"}, {"--version"}, {"-version"}} {
		if !IsVersion(args) {
			t.Errorf("IsVersion(%q) = false", args)
		}
	}
	if IsVersion([]string{"version", "x"}) || IsVersion(nil) {
		t.Error("IsVersion true for other arguments")
	}
}
