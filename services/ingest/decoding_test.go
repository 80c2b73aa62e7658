package ingest

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rarenet/rarenet/services/ingest/datafeed"
	"github.com/rarenet/rarenet/services/ingest/format"
	"github.com/rarenet/rarenet/shared/event"
)

// collector is an Output that keeps everything, as "name@line" for easy comparison.
type collector struct {
	accepted, filtered, rejected []string
	events                       []*event.Event
	reasons                      []string
	rejects                      []format.Result
}

func (c *collector) Accept(ev *event.Event) {
	c.accepted = append(c.accepted, fmt.Sprintf("%s@%d", ev.Process.Name, ev.Origin.Line))
	c.events = append(c.events, ev.Clone())
}

func (c *collector) Filtered(ev *event.Event, reason string) {
	c.filtered = append(c.filtered, fmt.Sprintf("%s@%d", ev.Process.Name, ev.Origin.Line))
	c.reasons = append(c.reasons, reason)
}

func (c *collector) Reject(r format.Result) {
	c.rejected = append(c.rejected, fmt.Sprintf("%s:%d", r.Source, r.Line))
	c.rejects = append(c.rejects, r.Clone())
}

// realDir returns ../shared/testdata/real next to the directory that holds go.work.
func realDir(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.work")); err == nil {
			return filepath.Join(dir, "..", "shared", "testdata", "real")
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.work above the working directory")
		}
		dir = parent
	}
}

func readReal(t testing.TB, rel string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(realDir(t), rel))
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

func decodeAll(t *testing.T, filter datafeed.Filter, source string, lines []string) *collector {
	t.Helper()
	return decodeLines(t, filter, source, lines, true)
}

// decodeLines decodes lines of source; explain has the Decoding say why it drops each event.
func decodeLines(t *testing.T, filter datafeed.Filter, source string, lines []string, explain bool) *collector {
	t.Helper()
	d, err := NewDecoding(format.Auto, filter)
	if err != nil {
		t.Fatal(err)
	}
	if explain {
		d.ExplainFiltered()
	}
	c := &collector{}
	for i, l := range lines {
		d.Line("", source, int64(i+1), []byte(l), c)
	}
	d.Flush(c)
	return c
}

func TestDecodingRealFiles(t *testing.T) {
	tests := []struct {
		file     string
		filter   datafeed.Filter
		accepted string
		filtered string
		rejected string
	}{
		{"auditd/go-libaudit-normal.log", datafeed.Default(), "[google_accounts@1]", "[master@13]", "[]"},
		{"auditd/go-libaudit-normal.log", datafeed.V1(), "[]", "[google_accounts@1 master@13]", "[]"},
		// v3 as shipped keeps the AF_UNIX connect: it has no destination.ip to exclude.
		{"auditd/go-libaudit-normal.log", datafeed.V3(), "[google_accounts@1 master@13]", "[]", "[]"},
		// Single records sorted by type: the unknown one at once, the connect without its
		// SOCKADDR at the end.
		{"auditd/go-libaudit-rhel7.log", datafeed.Default(), "[]", "[]", "[rhel7:31 rhel7:28]"},
		// Sysmon rows from a log workspace are detected as sysmon: five outbound connections
		// pass, the unspecified IPv6 destination (port 0) is not network activity.
		{"sysmon-linux/otrf-log4shell-sysmon-eid3.jsonl", datafeed.Default(), "[wdavdaemon@1 java@2 java@3 bash@4 telemetryd_v2@5]", "[bash@6]", "[]"},
	}
	for _, tt := range tests {
		t.Run(tt.file+"/"+tt.filter.Name, func(t *testing.T) {
			source := strings.SplitN(filepath.Base(tt.file), ".", 2)[0]
			source = strings.TrimPrefix(strings.TrimPrefix(source, "go-libaudit-"), "otrf-log4shell-")
			source = strings.TrimSuffix(source, "-eid3")
			if strings.HasPrefix(source, "sysmon") {
				source = "sysmon"
			}
			lines := readReal(t, tt.file)
			c := decodeAll(t, tt.filter, source, lines)
			if fmt.Sprint(c.accepted) != tt.accepted || fmt.Sprint(c.filtered) != tt.filtered || fmt.Sprint(c.rejected) != tt.rejected {
				t.Errorf("accepted %v filtered %v rejected %v; want %s %s %s", c.accepted, c.filtered, c.rejected, tt.accepted, tt.filtered, tt.rejected)
			}
			for _, r := range c.rejects {
				if !errors.Is(r.Err, format.ErrMalformed) {
					t.Errorf("reject %s:%d: %v does not wrap ErrMalformed", r.Source, r.Line, r.Err)
				}
				if !strings.HasPrefix(lines[r.Line-1], strings.SplitN(string(r.Raw), "\n", 2)[0]) {
					t.Errorf("reject %s:%d: raw %.60q is not the original line", r.Source, r.Line, r.Raw)
				}
			}
		})
	}
}

func TestDecodingRealAuditdEvent(t *testing.T) {
	c := decodeAll(t, datafeed.Default(), "normal.log", readReal(t, "auditd/go-libaudit-normal.log"))
	if len(c.events) != 1 {
		t.Fatalf("events %v", c.accepted)
	}
	e := c.events[0]
	if e.Destination.IP != "169.254.169.254" || e.Destination.Port != 80 || e.Origin.Format != format.Auditd || e.Origin.Source != "normal.log" {
		t.Errorf("event %+v", e)
	}
	if c.reasons[0] != "not network activity: unix socket" {
		t.Errorf("filter reason %q", c.reasons[0])
	}
	// Ingest only counts what the filter drops: the same events, no reasons built.
	quiet := decodeLines(t, datafeed.Default(), "normal.log", readReal(t, "auditd/go-libaudit-normal.log"), false)
	if fmt.Sprint(quiet.accepted, quiet.filtered) != fmt.Sprint(c.accepted, c.filtered) || quiet.reasons[0] != "" {
		t.Errorf("without explanations: accepted %v filtered %v reasons %q; with: %v %v", quiet.accepted, quiet.filtered, quiet.reasons, c.accepted, c.filtered)
	}
}

// TestDecodingSourcesAreIndependent interleaves an auditd file and an ECS source line by
// line: each source keeps its own decoder and detected format.
func TestDecodingSourcesAreIndependent(t *testing.T) {
	audit := readReal(t, "auditd/go-libaudit-normal.log")
	ecs := []string{
		`{"@timestamp":"2024-01-01T00:00:00Z","event":{"category":["network"],"type":["start"]},"host":{"os":{"type":"linux"}},"process":{"name":"curl"},"destination":{"ip":"93.184.216.34","port":443}}`,
		``,
		`{"@timestamp":"2024-01-01T00:00:01Z","event.category":"network","event.type":"start","host.os.type":"linux","process.name":"wget","destination.ip":"127.0.0.1"}`,
		`type=SYSCALL msg=audit(1.000:1): not ECS`,
	}
	d, err := NewDecoding("", datafeed.Default())
	if err != nil {
		t.Fatal(err)
	}
	c := &collector{}
	for i := range max(len(audit), len(ecs)) {
		if i < len(ecs) {
			d.Line("", "ecs.ndjson", int64(i+1), []byte(ecs[i]), c)
		}
		if i < len(audit) {
			d.Line("", "normal.log", int64(i+1), []byte(audit[i]), c)
		}
	}
	d.Flush(c)
	if fmt.Sprint(c.accepted) != "[curl@1 google_accounts@1]" || fmt.Sprint(c.filtered) != "[wget@3 master@13]" || fmt.Sprint(c.rejected) != "[ecs.ndjson:4]" {
		t.Errorf("accepted %v filtered %v rejected %v", c.accepted, c.filtered, c.rejected)
	}
}

func TestDecodingDetection(t *testing.T) {
	d, err := NewDecoding(format.Auto, datafeed.Default())
	if err != nil {
		t.Fatal(err)
	}
	c := &collector{}
	d.Line("", "s", 1, []byte("   "), c) // blank lines before the first say nothing
	d.Line("", "s", 2, []byte("hello world"), c)
	if len(c.rejects) != 1 || c.rejected[0] != "s:2" || !errors.Is(c.rejects[0].Err, format.ErrMalformed) ||
		!strings.Contains(c.rejects[0].Err.Error(), "cannot detect the format") || string(c.rejects[0].Raw) != "hello world" {
		t.Fatalf("rejects %+v", c.rejects)
	}
	// The raw subject's format overrides detection: an audit line given as ECS is bad JSON.
	d.Line(format.ECS, "t", 1, []byte(readReal(t, "auditd/go-libaudit-normal.log")[0]), c)
	if len(c.rejects) != 2 || !strings.Contains(c.rejects[1].Err.Error(), "invalid JSON") {
		t.Errorf("rejects %+v", c.rejects)
	}
	d.Line("syslog", "u", 1, []byte("{}"), c)
	if len(c.rejects) != 3 || !errors.Is(c.rejects[2].Err, format.ErrUnknownFormat) {
		t.Errorf("unknown format on a line: %+v", c.rejects)
	}
}

func TestNewDecoding(t *testing.T) {
	tests := []struct {
		name    string
		wantErr error
	}{
		{"", nil},
		{format.Auto, nil},
		{format.ECS, nil},
		{format.Auditd, nil},
		{"sysmon", nil},
		{"tetragon", nil},
		{"osquery", nil},
		{"falco", nil},
		{"syslog", format.ErrUnknownFormat},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewDecoding(tt.name, datafeed.Default())
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("NewDecoding(%q) = %v, want %v", tt.name, err, tt.wantErr)
			}
		})
	}
}
