package e2e

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/rarenet/rarenet/shared/natsutil"
)

// The tests of this file run the built binaries as a newcomer would (issue 14): what they
// print, on which stream, and the exit status, documented in the README:
// 0 done, 1 failed, 2 a wrong command line, 3 no input line accepted.

// cliResult is what a command left: its output and exit status.
type cliResult struct {
	stdout, stderr string
	code           int
}

// cli runs a binary of bin to completion (at most two minutes).
func cli(t *testing.T, bin string, args ...string) cliResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("%s %q: %v", filepath.Base(bin), args, err)
	}
	return cliResult{stdout.String(), stderr.String(), cmd.ProcessState.ExitCode()}
}

// onTerminal runs a command line with its stdout and stderr on a pseudo-terminal, as typed at
// one (script(1), of util-linux: Debian's bsdutils, an essential package). It returns what the
// terminal showed and the exit status.
func onTerminal(t *testing.T, command string) (string, int) {
	t.Helper()
	script, err := exec.LookPath("script")
	if err != nil {
		t.Skipf("script(1) is needed to run a command on a terminal: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, script, "-qefc", command, "/dev/null")
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.Stdin = strings.NewReader("")
	err = cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("script %q: %v", command, err)
	}
	return strings.ReplaceAll(out.String(), "\r\n", "\n"), cmd.ProcessState.ExitCode()
}

func (r cliResult) want(t *testing.T, what string, code int, stderrHas ...string) {
	t.Helper()
	if r.code != code {
		t.Errorf("%s: exit %d, want %d\nstderr:\n%s", what, r.code, code, r.stderr)
	}
	for _, s := range stderrHas {
		if !strings.Contains(r.stderr, s) {
			t.Errorf("%s: stderr lacks %q:\n%s", what, s, r.stderr)
		}
	}
}

func sample(t *testing.T) string {
	return filepath.Join(repoRoot(t), "testdata", "sample", "fleet-3d.ndjson.gz")
}

// TestCLIReplay: the README's first command, and the replay's stumbles: flags checked before
// any input is read, rejects shown and collapsed, exit 3 when nothing was accepted, what was
// read before a truncated gzip written, readable signals on a terminal.
func TestCLIReplay(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the rarenet binary; skipped with -short")
	}
	rn := filepath.Join(binaries(t), "rarenet")
	dir := t.TempDir()

	t.Run("sample", func(t *testing.T) {
		r := cli(t, rn, "replay", sample(t))
		r.want(t, "replay of the sample", 0, "rarenet replay: 27651 lines, ", " 3 signals in ")
		var names []string
		for _, l := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
			if m := regexp.MustCompile(`"by_field_value":"([^"]+)"`).FindStringSubmatch(l); m != nil {
				names = append(names, m[1])
			}
		}
		slices.Sort(names)
		if strings.Join(names, " ") != "bash kworkerds perl" {
			t.Errorf("signals for %q, want kworkerds, perl and bash (README)", names)
		}
		// "(stratum (mining pool))" read badly.
		if !strings.Contains(r.stdout, "45.9.148.99:3333 (stratum: mining pool), public") || strings.Contains(r.stdout, "((") {
			t.Errorf("the kworkerds reason does not name the port's service plainly")
		}
	})

	t.Run("unknown format", func(t *testing.T) {
		began := time.Now()
		r := cli(t, rn, "replay", "--format", "bogus", sample(t))
		r.want(t, "--format bogus", 2, "rarenet replay: --format \"bogus\": want auto, ecs, auditd", "see rarenet replay --help")
		if n := strings.Count(r.stderr, "\n"); n != 2 {
			t.Errorf("a usage error in %d lines, want 2:\n%s", n, r.stderr)
		}
		if r.stdout != "" || time.Since(began) > 30*time.Second {
			t.Errorf("the input was read before the flag was checked")
		}
	})

	t.Run("unknown flag", func(t *testing.T) {
		r := cli(t, rn, "replay", "--bogus", sample(t))
		r.want(t, "--bogus", 2)
		if r.stderr != "rarenet replay: unknown flag --bogus\nsee rarenet replay --help\n" {
			t.Errorf("stderr %q: want one line and where the help is, not the flag list", r.stderr)
		}
	})

	t.Run("not a log", func(t *testing.T) {
		// An executable (ls, as the issue tried): hundreds of undecodable lines, one reason.
		ls, err := exec.LookPath("ls")
		if err != nil {
			t.Fatal(err)
		}
		for _, cmd := range []string{"replay", "normalize"} {
			r := cli(t, rn, cmd, ls)
			r.want(t, cmd+" of a binary", 3, ": malformed input: cannot detect the format", " more like it (the last at ",
				"rarenet "+cmd+": no input line was accepted: ")
			if n := strings.Count(r.stderr, "cannot detect the format"); n != 1 {
				t.Errorf("%s: the same reason shown %d times, want once and a count", cmd, n)
			}
		}
		// Real JSON of another shape (Sysmon for Linux rows) read as ECS.
		sysmon := filepath.Join(repoRoot(t), "..", "shared", "testdata", "real", "sysmon-linux", "otrf-log4shell-sysmon-eid3.jsonl")
		r := cli(t, rn, "replay", "--format", "ecs", sysmon)
		r.want(t, "sysmon rows as ECS", 3, "otrf-log4shell-sysmon-eid3.jsonl:1: malformed input: @timestamp: expected", "... and 5 more like it")
	})

	t.Run("missing file", func(t *testing.T) {
		r := cli(t, rn, "replay", sample(t), filepath.Join(dir, "nonexistent.log"))
		r.want(t, "a missing second file", 1)
		if want := "rarenet replay: open " + filepath.Join(dir, "nonexistent.log") + ": no such file or directory\n"; r.stderr != want {
			t.Errorf("stderr %q, want %q (no repeated prefix, nothing read first)", r.stderr, want)
		}
	})

	t.Run("truncated gzip", func(t *testing.T) {
		whole, err := os.ReadFile(sample(t))
		if err != nil {
			t.Fatal(err)
		}
		cut := filepath.Join(dir, "cut.ndjson.gz")
		if err := os.WriteFile(cut, whole[:len(whole)*9/10], 0o644); err != nil {
			t.Fatal(err)
		}
		r := cli(t, rn, "replay", cut)
		r.want(t, "a truncated gzip", 1, "truncated gzip: the file ends in the middle of its compressed data", "rarenet replay: ")
		// The lines before the cut went through the pipeline and their signals are written.
		m := regexp.MustCompile(`rarenet replay: (\d+) lines, (\d+) network events`).FindStringSubmatch(r.stderr)
		if m == nil || m[2] == "0" {
			t.Fatalf("no summary of what was read before the cut:\n%s", r.stderr)
		}
		if !strings.Contains(r.stdout, `"kibana.alert.uuid"`) {
			t.Errorf("no signal written from the %s lines before the cut", m[1])
		}
		r = cli(t, rn, "normalize", cut)
		r.want(t, "normalize of a truncated gzip", 1, "truncated gzip")
	})

	t.Run("empty input", func(t *testing.T) {
		empty := filepath.Join(dir, "empty.log")
		if err := os.WriteFile(empty, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		r := cli(t, rn, "replay", "-v", empty)
		r.want(t, "an empty input", 0, "rarenet replay: 0 lines")
		for _, bad := range []string{"0001-01-01", "-9223372036854775808", `msg="rule run"`} {
			if strings.Contains(r.stderr, bad) {
				t.Errorf("the log of an empty replay has %q:\n%s", bad, r.stderr)
			}
		}
	})

	t.Run("terminal", func(t *testing.T) {
		shown, code := onTerminal(t, rn+" replay "+sample(t))
		if code != 0 || !strings.Contains(shown, "--out FILE (or a pipe) gives their JSON documents") ||
			!regexp.MustCompile(`score +\d+\.\d  process kworkerds  host \S+  user \S+  destination 45\.9\.148\.99`).MatchString(shown) {
			t.Errorf("exit %d; a replay on a terminal shows:\n%s", code, shown)
		}
		if strings.Contains(shown, `"kibana.alert.uuid"`) {
			t.Error("JSON documents on a terminal")
		}
	})
}

// TestCLIHelp: one help style for every command and stage binary, only the flags a command
// uses, version everywhere.
func TestCLIHelp(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binaries; skipped with -short")
	}
	bin := binaries(t)
	rn := filepath.Join(bin, "rarenet")
	heading := regexp.MustCompile(`(?m)^(Input|Pipeline|Rule|NATS|Output|Operations|Other):$`)
	for _, args := range [][]string{
		{"run"}, {"replay"}, {"normalize"}, {"tail"}, {"collect"}, {"sense"}, {"signals"}, {"dlq"}, {"dlq", "replay"},
		{"notify"}, {"exceptions", "add"}, {"exceptions", "list"}, {"exceptions", "remove"}, {"console"},
		{"geoip", "update"},
	} {
		name := "rarenet " + strings.Join(args, " ")
		r := cli(t, rn, append(args, "--help")...)
		if r.code != 0 || !strings.HasPrefix(r.stdout, "Usage: "+name+" ") || !heading.MatchString(r.stdout) {
			t.Errorf("%s --help: exit %d, stdout:\n%s", name, r.code, r.stdout)
			continue
		}
		for _, l := range strings.Split(r.stdout, "\n") {
			if strings.Count(l, "default") > 1 {
				t.Errorf("%s --help: two defaults in %q", name, l)
			}
		}
		if strings.Contains(r.stdout, "\nOther:") {
			t.Errorf("%s --help: flags in no group", name)
		}
	}
	replay := cli(t, rn, "replay", "--help").stdout
	for _, live := range []string{"--clock", "--max-catch-up", "--http-listen", "--lease-ttl"} {
		if strings.Contains(replay, live+" ") {
			t.Errorf("replay --help shows the live-only flag %s", live)
		}
	}
	if run := cli(t, rn, "run", "--help").stdout; strings.Contains(run, "--clock ") || !strings.Contains(run, "--listen ADDR") {
		t.Errorf("run --help shows --clock or lacks --listen:\n%s", run)
	}
	for _, args := range [][]string{{"--version"}, {"version"}} {
		if r := cli(t, rn, args...); r.code != 0 || !strings.HasPrefix(r.stdout, "rarenet version ") {
			t.Errorf("rarenet %s: exit %d %q", args[0], r.code, r.stdout)
		}
	}
	for _, stage := range []string{"ingest", "scorer", "enricher", "windower", "notify"} {
		sb := filepath.Join(bin, stage)
		if r := cli(t, sb, "--help"); r.code != 0 || !strings.HasPrefix(r.stdout, "Usage: "+stage+" [flags]") ||
			!strings.Contains(r.stdout, "\nNATS:\n") || !strings.Contains(r.stdout, "\nOperations:\n") {
			t.Errorf("%s --help: exit %d:\n%s", stage, r.code, r.stdout)
		}
		for _, args := range [][]string{{"version"}, {"--version"}} {
			if r := cli(t, sb, args...); r.code != 0 || !strings.HasPrefix(r.stdout, stage+" version ") {
				t.Errorf("%s %s: exit %d %q", stage, args[0], r.code, r.stdout)
			}
		}
		if r := cli(t, sb, "--bogus"); r.code != 2 || r.stderr != stage+": unknown flag --bogus\nsee "+stage+" --help\n" {
			t.Errorf("%s --bogus: exit %d, stderr %q", stage, r.code, r.stderr)
		}
	}
	r := cli(t, rn, "bogus")
	r.want(t, "an unknown command", 2, "rarenet: unknown command \"bogus\"", "see rarenet --help")
}

// TestCLILive: the stumbles around a live pipeline. `rarenet run` says when signals can come;
// a second run on the same port fails at once; a replay against it is refused; the dead
// letters are shown and re-submitted; an exception needs a known rule; a command with nothing
// to connect to says what to start.
func TestCLILive(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the rarenet binary; skipped with -short")
	}
	rn := filepath.Join(binaries(t), "rarenet")
	port := freePort(t)
	addr := "127.0.0.1:" + strconv.Itoa(port)
	url := "nats://" + addr

	t.Run("nothing to connect to", func(t *testing.T) {
		r := cli(t, rn, "signals", "--nats-url", url)
		r.want(t, "signals without a server", 1, "rarenet signals: no NATS server answers at "+url+": is `rarenet run` started? (or pass --nats-url URL)")
		if strings.Contains(r.stderr, "natsutil") {
			t.Errorf("an internal prefix: %s", r.stderr)
		}
		r = cli(t, rn, "replay", "--nats-url", url, sample(t))
		r.want(t, "replay against no server", 1, "rarenet replay: no NATS server answers at "+url+": start it, or leave --nats-url out to use an embedded server")
	})

	live := start(t, rn, "run", "--listen", addr, "--data-dir", t.TempDir(), "--out", filepath.Join(t.TempDir(), "signals.ndjson"))
	waitPort(t, port)
	waitOutput(t, live, "the model has seen 0 buckets")
	for _, want := range []string{"rarenet run: NATS on " + url + ": publish input on rarenet.raw.<format>",
		"rarenet run: the rule runs every 15m; the first run that can signal what comes in from now is at "} {
		if !strings.Contains(live.out.String(), want) {
			t.Errorf("rarenet run's start lacks %q:\n%s", want, live.out.String())
		}
	}

	t.Run("port in use", func(t *testing.T) {
		began := time.Now()
		r := cli(t, rn, "run", "--listen", addr, "--data-dir", t.TempDir())
		r.want(t, "a second run on the same port", 1, "rarenet run: "+addr+" is already in use; pass --listen ADDR")
		if d := time.Since(began); d > 20*time.Second {
			t.Errorf("took %s: it waited for the readiness timeout", d)
		}
	})

	t.Run("replay against a live pipeline", func(t *testing.T) {
		r := cli(t, rn, "replay", "--nats-url", url, sample(t))
		r.want(t, "a replay against rarenet run", 1, "rarenet replay: a pipeline is already running on this server: ingest, scorer, enricher, windower read "+url)
	})

	t.Run("dead letters", func(t *testing.T) {
		nc, err := nats.Connect(url)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		m := nats.NewMsg("rarenet.raw.auto")
		m.Header.Set("Rarenet-Source", "/var/log/odd.log")
		m.Header.Set("Rarenet-Line", "41")
		m.Data = []byte("not a log line\n\x7fELF\x02")
		if err := nc.PublishMsg(m); err != nil {
			t.Fatal(err)
		}
		// A bad line on a source's own subject: its dead letter names the source, and a
		// re-submission goes back on that subject.
		if err := nc.Publish("rarenet.raw.ecs.web-shipper-1", []byte(`{"@timestamp": "2026-03-02T10:01:00Z", "process": `+"\n")); err != nil {
			t.Fatal(err)
		}
		// A late event, as the scorer dead-letters it.
		late := natsutil.DeadLetter{Stage: "scorer", Reason: "late: bucket 2026-03-02T10:00:00Z closed", Source: "/var/log/audit/audit.log",
			Line: 7, Format: "auditd", Data: []byte(`{"@timestamp":"2026-03-02T10:01:00Z","process":{"name":"curl"}}`)}
		if err := nc.PublishMsg(late.Msg("rarenet.dlq.scorer")); err != nil {
			t.Fatal(err)
		}
		var r cliResult
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
			if r = cli(t, rn, "dlq", "--nats-url", url, "--stage", "ingest"); strings.Contains(r.stdout, "odd.log:42") && strings.Contains(r.stdout, "web-shipper-1") {
				break
			}
		}
		for _, want := range []string{" ingest /var/log/odd.log:41 (format auto)\n  reason: malformed input: cannot detect the format",
			"  | not a log line\n", " ingest /var/log/odd.log:42 ", `  bytes: "\x7fELF\x02"`} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("rarenet dlq lacks %q:\n%s", want, r.stdout)
			}
		}
		if strings.Contains(r.stdout, "scorer") {
			t.Errorf("--stage ingest shows the scorer's:\n%s", r.stdout)
		}
		r = cli(t, rn, "dlq", "replay", "--nats-url", url)
		r.want(t, "dlq replay", 0)
		for _, want := range []string{"re-submitted 3 dead letters of ingest: ", "to rarenet.raw.", "rarenet.raw.ecs.web-shipper-1", "(removed from the DLQ)",
			"left 1 dead letters of scorer: events later than their bucket"} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("dlq replay lacks %q:\n%s", want, r.stdout)
			}
		}
		// Re-submitted unchanged, the lines are rejected again: new dead letters, with their place.
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
			if r = cli(t, rn, "dlq", "--nats-url", url, "--stage", "ingest", "--json"); strings.Count(r.stdout, "\n") == 3 {
				break
			}
		}
		if strings.Count(r.stdout, "\n") != 3 || !strings.Contains(r.stdout, `"source":"/var/log/odd.log","stage":"ingest"`) ||
			!strings.Contains(r.stdout, `{"auth_source":"web-shipper-1",`) || !strings.Contains(r.stdout, `"source":"web-shipper-1","stage":"ingest"`) {
			t.Errorf("after dlq replay, the DLQ holds:\n%s", r.stdout)
		}
		r = cli(t, rn, "dlq", "--nats-url", url, "--stage", "bogus")
		r.want(t, "an unknown stage", 2, "want one of ingest, replay, scorer, enricher, windower, notify")
	})

	t.Run("exception for an unknown rule", func(t *testing.T) {
		r := cli(t, rn, "exceptions", "add", "--nats-url", url, "--rule-id", "not-a-rule", "--entry", "process.name is teleport")
		r.want(t, "exceptions add --rule-id not-a-rule", 2, `unknown rule id "not-a-rule": the known ones are 52afbdc5-db15-485e-bc24-f5707f820c4b`)
		r = cli(t, rn, "exceptions", "add", "--nats-url", url, "--rule-id", "52afbdc5-db15-485e-bc24-f5707f820c4b", "--entry", "process.name is teleport")
		r.want(t, "exceptions add for the built-in rule", 0)
	})

	live.stop()
	if live.err != nil {
		t.Errorf("rarenet run did not stop cleanly: %v", live.err)
	}
}

// TestCLISimulateAndEvaluate: the quality harness's simulate and evaluate (e2e/cmd) answer
// --help in the shared layout; simulate refuses to fill a terminal; evaluate refuses a file
// that is not a labels file and a command line without --labels. The product binary has
// neither (issue 19).
func TestCLISimulateAndEvaluate(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the simulate and evaluate binaries; skipped with -short")
	}
	bin := binaries(t)
	simulate, evaluate := filepath.Join(bin, "simulate"), filepath.Join(bin, "evaluate")
	for _, name := range []string{"simulate", "evaluate"} {
		if r := cli(t, filepath.Join(bin, name), "--help"); r.code != 0 || !strings.HasPrefix(r.stdout, "Usage: "+name+" ") ||
			!strings.Contains(r.stdout, "\nInput:\n") || strings.Contains(r.stdout, "\nOther:") {
			t.Errorf("%s --help: exit %d, stdout:\n%s", name, r.code, r.stdout)
		}
	}
	shown, code := onTerminal(t, simulate)
	if code != 2 || !strings.Contains(shown, "simulate: refusing to write 336 host-days of events (about 200 MB) to a terminal: pass --out FILE") ||
		strings.Contains(shown, "rarenet simulate") {
		t.Errorf("simulate on a terminal: exit %d:\n%s", code, shown)
	}
	dir := t.TempDir()
	events, labels := filepath.Join(dir, "events.ndjson"), filepath.Join(dir, "labels.ndjson")
	r := cli(t, simulate, "--days", "4", "--hosts", "2", "--out", events, "--labels", labels)
	r.want(t, "a small simulation", 0, "simulate: ")
	r = cli(t, evaluate, "--labels", events, events)
	r.want(t, "evaluate with the events as labels", 1, "evaluate: "+events+": line 1: not a labels file of simulate --labels")
	r = cli(t, evaluate, events)
	r.want(t, "evaluate without --labels", 2, "evaluate: --labels FILE is required (simulate --labels FILE writes it)", "see evaluate --help")
	r = cli(t, evaluate, "--labels", labels, os.DevNull)
	r.want(t, "evaluate no signals against the labels", 0)
	for _, name := range []string{"simulate", "evaluate"} {
		r = cli(t, filepath.Join(bin, "rarenet"), name)
		r.want(t, "rarenet "+name, 2, "rarenet: unknown command \""+name+"\"")
	}
}
