package rarenet

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// realData finds ../shared/testdata/real from the repository root (the directory of go.work).
func realData(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.work")); err == nil {
			return filepath.Join(dir, "..", "shared", "testdata", "real")
		}
		if filepath.Dir(dir) == dir {
			t.Fatal("no go.work above the working directory")
		}
		dir = filepath.Dir(dir)
	}
}

func TestNormalizeRealAuditd(t *testing.T) {
	file := filepath.Join(realData(t), "auditd", "go-libaudit-normal.log")
	tests := []struct {
		all   bool
		names []string
	}{
		{false, []string{"google_accounts"}},
		// --all adds the AF_UNIX connect, marked with the reason it is not network activity.
		{true, []string{"google_accounts", "master"}},
	}
	for _, tt := range tests {
		var out, errs bytes.Buffer
		st, err := Normalize(NormalizeOptions{Files: []string{file}, Format: "auto", All: tt.all, Out: &out, Errors: &errs})
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
			var ev struct {
				Process struct{ Name string } `json:"process"`
				Dest    struct {
					IP   string `json:"ip"`
					Port int    `json:"port"`
				} `json:"destination"`
				Rarenet struct{ Filtered string } `json:"rarenet"`
			}
			if err := json.Unmarshal([]byte(line), &ev); err != nil {
				t.Fatalf("not JSON: %s", line)
			}
			names = append(names, ev.Process.Name)
			switch ev.Process.Name {
			case "google_accounts":
				if ev.Dest.IP != "169.254.169.254" || ev.Dest.Port != 80 || ev.Rarenet.Filtered != "" {
					t.Errorf("google_accounts: %+v", ev)
				}
			case "master":
				if !strings.Contains(ev.Rarenet.Filtered, "unix socket") {
					t.Errorf("master: filtered %q, want the AF_UNIX reason", ev.Rarenet.Filtered)
				}
			}
		}
		if strings.Join(names, ",") != strings.Join(tt.names, ",") {
			t.Errorf("--all=%v: events %v, want %v", tt.all, names, tt.names)
		}
		if st.Accepted != 1 || st.Filtered != 1 || st.Rejected != 0 || errs.Len() != 0 {
			t.Errorf("stats %+v, errors %q", st, errs.String())
		}
	}
}

func TestNormalizeReportsRejectsWithFileAndLine(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "mixed.ndjson")
	good := `{"@timestamp":"2026-03-02T10:00:00Z","event":{"category":["network"],"type":["start"]},"host":{"name":"h1","os":{"type":"linux"}},"process":{"name":"curl"},"destination":{"ip":"203.0.113.5","port":443}}`
	if err := os.WriteFile(file, []byte(good+"\n{not json\n"+good+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errs bytes.Buffer
	st, err := Normalize(NormalizeOptions{Files: []string{file}, Format: "ecs", Out: &out, Errors: &errs})
	if err != nil {
		t.Fatal(err)
	}
	if st.Lines != 3 || st.Accepted != 2 || st.Rejected != 1 {
		t.Fatalf("stats %+v", st)
	}
	if !strings.HasPrefix(errs.String(), file+":2: ") {
		t.Fatalf("reject %q, want it to start with %s:2:", errs.String(), file)
	}
}

// TestNormalizeTruncatedGzip: the lines before the cut are written, the cut one is not
// decoded, and the error says what happened where.
func TestNormalizeTruncatedGzip(t *testing.T) {
	var whole bytes.Buffer
	zw := gzip.NewWriter(&whole)
	for i := range 2000 {
		fmt.Fprintf(zw, `{"@timestamp":"2026-03-02T10:%02d:00Z","event":{"category":["network"],"type":["start"]},"host":{"name":"h1"},"process":{"name":"curl"},"destination":{"ip":"203.0.113.%d","port":443}}`+"\n", i%60, i%250)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "cut.ndjson.gz")
	if err := os.WriteFile(path, whole.Bytes()[:whole.Len()/2], 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errs bytes.Buffer
	st, err := Normalize(NormalizeOptions{Files: []string{path}, Format: "auto", Out: &out, Errors: &errs})
	if !errors.Is(err, ErrTruncatedGzip) || !strings.HasPrefix(err.Error(), path+":") {
		t.Fatalf("err %v, want ErrTruncatedGzip at a line of %s", err, path)
	}
	if st.Accepted == 0 || st.Rejected != 0 || int64(strings.Count(out.String(), "\n")) != st.Accepted {
		t.Errorf("%+v, %d lines written, rejects %q: want the whole lines before the cut written, none rejected", st, strings.Count(out.String(), "\n"), errs.String())
	}
}

func TestNormalizeNothingAccepted(t *testing.T) {
	path := filepath.Join(t.TempDir(), "wrong.json")
	if err := os.WriteFile(path, []byte("{\"a\":1}\n{\"a\":2}\n{\"a\":3}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errs bytes.Buffer
	_, err := Normalize(NormalizeOptions{Files: []string{path}, Format: "ecs", Out: &out, Errors: &errs})
	if !errors.Is(err, ErrNothingAccepted) {
		t.Errorf("err %v, want ErrNothingAccepted", err)
	}
	if want := path + ":1: malformed input: @timestamp: expected RFC 3339 time or epoch milliseconds, got nothing\n  ... and 2 more like it (the last at " + path + ":3)\n"; errs.String() != want {
		t.Errorf("rejects\n%s\nwant\n%s", errs.String(), want)
	}
}
