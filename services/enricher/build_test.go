package enricher

import (
	"encoding/json"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/rarenet/rarenet/shared/record"
)

// fleetOf is a fleet history that starts at bucket 0 with hosts h01..h<n-1>.
func fleetOf(n int) *Fleet {
	var f Fleet
	hosts := make([]string, 0, n)
	for i := 1; i < n; i++ {
		hosts = append(hosts, "h"+strconv.Itoa(100 + i)[1:])
	}
	f.apply(obs(bk(0), hosts, nil))
	return &f
}

func ms(s string) int64 {
	t, err := time.Parse(timeLayout, s)
	if err != nil {
		panic(err)
	}
	return t.UnixMilli()
}

func TestBuild(t *testing.T) {
	asnPath, cityPath := testGeoIP(t)
	geo, err := OpenGeoIP(asnPath, cityPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { geo.Close() })

	// backup ran on db-01 as root, to 10.0.0.9:5432, on the 1st of three months at 03:00.
	backup := &Entry{}
	fleet := fleetOf(24)
	for _, d := range []string{"2025-01-01 03:00", "2025-02-01 03:00", "2025-03-01 03:00"} {
		o := observation{bucket: ms(d), span: spanMS, value: record.ValueSummary{Value: "backup", Hosts: []string{"db-01"}, Users: []string{"root"},
			Destinations: []record.Endpoint{{IP: "10.0.0.9", Port: 5432}}}}
		backup.apply(o)
		fleet.apply(o)
	}
	tests := []struct {
		name    string
		r       record.Record
		in      Inputs
		why     string
		check   func(t *testing.T, c *record.Context)
		noHist  bool
		newUser []string
	}{
		{
			name: "a new process on one host, to a Tor exit",
			r: record.Record{Timestamp: bk(672), BucketSpan: 900, ByFieldValue: "perl", Probability: 1e-4, RecordScore: 80,
				Explanation: record.Explanation{FirstOccurrence: true, BucketsModelled: 673},
				Influencers: []record.Influencer{{FieldName: "host.name", FieldValues: []string{"web-03"}}, {FieldName: "user.name", FieldValues: []string{"www-data"}}},
				Examples: []record.Example{{HostName: "web-03", UserName: "www-data", PID: 4242, Executable: "/usr/bin/perl", Args: []string{"perl", "-e", "use Socket;..."},
					WorkingDirectory: "/tmp", DestinationIP: "185.220.101.47", DestinationPort: 443}}},
			in:      Inputs{Fleet: fleetOf(24), GeoIP: geo},
			why:     "perl connected in 0 of 672 earlier buckets; first seen in this bucket on web-03; 1 of 24 hosts; first time as www-data; 185.220.101.47:443 (https), public, AS60729 Stiftung Erneuerbare Freiheit, Berlin DE, never before; it runs in /tmp, which anyone can write to",
			newUser: []string{"www-data"},
			check: func(t *testing.T, c *record.Context) {
				h := c.History
				if !h.New || h.FirstSeen != nil || h.Buckets != 672 || h.ActiveBuckets != 0 || h.HostCount != 1 || h.FleetHostCount != 24 || h.Schedule != nil {
					t.Errorf("history %+v", h)
				}
				if len(h.Hosts) != 1 || !h.Hosts[0].New {
					t.Errorf("host history %+v", h.Hosts)
				}
				d := c.Destinations[0]
				if d.AS == nil || d.AS.Number != 60729 || d.Geo == nil || d.Geo.CountryISOCode != "DE" || d.IPSeenBefore == nil || *d.IPSeenBefore || d.PortSeenBefore == nil || *d.PortSeenBefore {
					t.Errorf("destination %+v", d)
				}
				if len(c.Processes) != 1 || c.Processes[0].PID != 4242 {
					t.Errorf("processes %+v", c.Processes)
				}
			},
		},
		{
			name: "a monthly job with a new user, to a known database",
			r: record.Record{Timestamp: ms("2025-04-01 03:00"), BucketSpan: 900, ByFieldValue: "backup", Probability: 2e-3, RecordScore: 55,
				Influencers: []record.Influencer{{FieldName: "host.name", FieldValues: []string{"db-01"}}, {FieldName: "user.name", FieldValues: []string{"postgres"}}},
				Examples:    []record.Example{{HostName: "db-01", UserName: "postgres", Executable: "/usr/local/bin/backup", DestinationIP: "10.0.0.9", DestinationPort: 5432}}},
			in:      Inputs{Entry: backup, Fleet: fleet},
			why:     "backup connected in 3 of 8652 earlier buckets; first seen 2025-01-01 03:00, last 2025-03-01 03:00; 1 of 24 hosts; first time as postgres; schedule: monthly, 4 runs in a row, on day 1 at about 03:00 UTC; 10.0.0.9:5432 (postgresql), private",
			newUser: []string{"postgres"},
			check: func(t *testing.T, c *record.Context) {
				s := c.History.Schedule
				if s == nil || s.Period != PeriodMonthly || len(s.Runs) != 4 {
					t.Errorf("schedule %+v", s)
				}
				if hh := c.History.Hosts; len(hh) != 1 || hh[0].New || hh[0].ActiveBuckets != 3 {
					t.Errorf("host history %+v", hh)
				}
				if u := c.Users; !reflect.DeepEqual(u.Before, []string{"root"}) || u.BeforeCount != 1 {
					t.Errorf("users %+v", u)
				}
				d := c.Destinations[0]
				if d.IPSeenBefore == nil || !*d.IPSeenBefore || d.IPFirstSeen == nil || d.IPFirstSeen.UnixMilli() != ms("2025-01-01 03:00") || d.PortSeenBefore == nil || !*d.PortSeenBefore {
					t.Errorf("destination %+v", d)
				}
			},
		},
		{
			name: "no history: the model's words, reverse DNS given",
			r: record.Record{Timestamp: bk(10), BucketSpan: 900, ByFieldValue: "kworkerds", Probability: 1.5e-3, RecordScore: 61,
				Explanation: record.Explanation{BucketsModelled: 11},
				Influencers: []record.Influencer{{FieldName: "host.name", FieldValues: []string{"web-01"}}},
				Examples:    []record.Example{{HostName: "web-01", UserID: "0", Executable: "/tmp/.x/kworkerds (deleted)", DestinationIP: "185.220.101.47", DestinationPort: 3333}}},
			in:     Inputs{RDNS: map[string]record.ReverseDNS{"185.220.101.47": {Names: []string{"tor-exit.example.org"}, Status: RDNSOK}}},
			why:    "kworkerds rarely connects: probability 0.0015 in 11 modelled buckets; on web-01; 185.220.101.47:3333 (stratum: mining pool), public, tor-exit.example.org; its executable was deleted after it started",
			noHist: true,
			check: func(t *testing.T, c *record.Context) {
				if c.Processes[0].User != "uid=0" || len(c.Processes[0].Notes) != 3 {
					t.Errorf("process %+v", c.Processes[0])
				}
				if c.Destinations[0].IPSeenBefore != nil {
					t.Error("seen-before flags without history")
				}
				if c.Why.Buckets != 10 || c.Why.Hosts != 1 {
					t.Errorf("why numbers %+v", c.Why)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Build(&tt.r, tt.in)
			if c.Why == nil || c.Why.Text != tt.why {
				t.Fatalf("why\n got %q\nwant %q", c.Why.Text, tt.why)
			}
			if tt.noHist != (c.History == nil) || tt.noHist != (c.Users == nil) {
				t.Fatalf("history %+v, users %+v; want none: %v", c.History, c.Users, tt.noHist)
			}
			if c.Users != nil && !reflect.DeepEqual(c.Users.New, tt.newUser) {
				t.Errorf("new users %v, want %v", c.Users.New, tt.newUser)
			}
			tt.check(t, c)
			// Deterministic: the same inputs give the same bytes.
			a, _ := json.Marshal(c)
			b, _ := json.Marshal(Build(&tt.r, tt.in))
			if string(a) != string(b) {
				t.Error("two builds of the same record differ")
			}
		})
	}
}

func TestProcesses(t *testing.T) {
	tests := []struct {
		name  string
		proc  string
		ex    []record.Example
		notes [][]string
	}{
		{"nothing to say", "perl", []record.Example{{HostName: "h", DestinationIP: "1.1.1.1"}}, nil},
		{"plain, de-duplicated", "perl", []record.Example{
			{HostName: "h", UserName: "u", Executable: "/usr/bin/perl5.36", Args: []string{"perl", "x.pl"}, WorkingDirectory: "/srv", PID: 1},
			{HostName: "h", UserName: "u", Executable: "/usr/bin/perl5.36", Args: []string{"perl", "x.pl"}, WorkingDirectory: "/srv", PID: 2},
		}, [][]string{nil}},
		{"truncated comm", "unattended-upgr", []record.Example{{Executable: "/usr/bin/unattended-upgrade"}}, [][]string{nil}},
		{"masquerading from a hidden temp dir", "kworker/0:1", []record.Example{{Executable: "/dev/shm/.k/x"}},
			[][]string{{"its executable is in /dev/shm, which anyone can write to", "its executable is under a hidden directory", "its name kworker/0:1 is not its executable's (x)"}}},
		{"working in /var/tmp", "curl", []record.Example{{Executable: "/usr/bin/curl", WorkingDirectory: "/var/tmp/x"}},
			[][]string{{"it runs in /var/tmp, which anyone can write to"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ps := Processes(&record.Record{ByFieldValue: tt.proc, Examples: tt.ex})
			var notes [][]string
			for _, p := range ps {
				notes = append(notes, p.Notes)
			}
			if !reflect.DeepEqual(notes, tt.notes) {
				t.Errorf("notes %q, want %q", notes, tt.notes)
			}
		})
	}
}

// TestBuildSaysANewDestinationFirst: the finding of a new-destination record is the first
// clause of why it fired.
func TestBuildSaysANewDestinationFirst(t *testing.T) {
	text := "rsyslogd on h01 connected to 203.0.113.9:514, a service (514/external) it never used there"
	r := record.Record{ByFieldValue: "rsyslogd", Timestamp: bk(5), BucketSpan: 900,
		Explanation: record.Explanation{Detector: record.DetectorNewDestination, NewDestination: &record.NewDestination{Text: text}}}
	c := Build(&r, Inputs{})
	if len(c.Why.Facts) == 0 || c.Why.Facts[0] != text {
		t.Fatalf("facts %q", c.Why.Facts)
	}
}
