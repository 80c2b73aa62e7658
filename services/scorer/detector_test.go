package scorer

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rarenet/rarenet/shared/event"
	"github.com/rarenet/rarenet/shared/record"
)

// t0 is a bucket boundary: 2024-01-01T00:00:00Z is 1893408 * 15 minutes after the epoch.
var t0 = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

const span = 15 * time.Minute

// at returns the start of the k-th bucket after t0.
func at(k int) time.Time { return t0.Add(time.Duration(k) * span) }

func ev(ts time.Time, name string) *event.Event {
	return &event.Event{Timestamp: ts, Process: event.Process{Name: name}}
}

func newDetector(t *testing.T, job Job) *Detector {
	t.Helper()
	d, err := NewDetector(job)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func add(t *testing.T, d *Detector, e *event.Event) {
	t.Helper()
	if err := d.Add(e); err != nil {
		t.Fatalf("Add(%s %s): %v", e.Process.Name, e.Timestamp.Format(time.RFC3339Nano), err)
	}
}

// regular returns the name of the i-th regular process.
func regular(i int) string { return fmt.Sprintf("proc%03d", i) }

// warm feeds names regular processes into each of buckets 0..buckets-1, closing each bucket,
// and fails on any record: values present in every bucket are never rare.
func warm(t *testing.T, d *Detector, names, buckets int) {
	t.Helper()
	for b := range buckets {
		for n := range names {
			add(t, d, ev(at(b).Add(time.Duration(n)*time.Second), regular(n)))
		}
		if recs := d.CloseBefore(at(b + 1)); len(recs) != 0 {
			t.Fatalf("warm-up bucket %d: %d records, want none (first: %s P=%v)", b, len(recs), recs[0].ByFieldValue, recs[0].Probability)
		}
	}
}

func values(recs []record.Record) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = r.ByFieldValue + "@" + r.BucketStart().Format("15:04")
	}
	return out
}

func TestBucketOfIsEpochAligned(t *testing.T) {
	d := newDetector(t, DefaultJob())
	k0 := t0.Unix() / 900 // 1704067200 / 900
	if k0 != 1893408 {
		t.Fatalf("test setup: t0 is bucket %d", k0)
	}
	tests := []struct {
		ts   string
		want int64
	}{
		{"1970-01-01T00:00:00Z", 0},
		{"1970-01-01T00:14:59.999999999Z", 0},
		{"1970-01-01T00:15:00Z", 1},
		{"2024-01-01T00:00:00Z", 1893408},
		{"2024-01-01T00:14:59.999Z", 1893408},
		{"2024-01-01T00:15:00Z", 1893409},
		{"2024-01-01T00:07:13.5+02:00", 1893408 - 8}, // 2023-12-31T22:07:13.5Z
	}
	for _, tt := range tests {
		t.Run(tt.ts, func(t *testing.T) {
			ts, err := time.Parse(time.RFC3339Nano, tt.ts)
			if err != nil {
				t.Fatal(err)
			}
			if got := d.bucketOf(ts); got != tt.want {
				t.Errorf("bucketOf = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestBucketBoundary(t *testing.T) {
	d := newDetector(t, DefaultJob())
	before := t0.Add(span - time.Millisecond) // 00:14:59.999
	add(t, d, ev(before, "a"))
	add(t, d, ev(at(1), "b")) // 00:15:00
	if got := len(d.open); got != 2 {
		t.Fatalf("%d open buckets, want 2", got)
	}
	d.CloseBefore(at(1))
	if got := d.Complete(); !got.Equal(at(1)) {
		t.Errorf("Complete = %v, want %v", got, at(1))
	}
	if err := d.Add(ev(before, "a")); !errors.Is(err, ErrLate) {
		t.Errorf("Add at 00:14:59.999 after closing [00:00, 00:15) = %v, want ErrLate", err)
	}
	if err := d.Add(ev(at(1), "c")); err != nil {
		t.Errorf("Add at 00:15:00 = %v, want nil: its bucket is open", err)
	}
	if got := len(d.open); got != 1 {
		t.Errorf("%d open buckets, want 1", got)
	}
	if c := d.open[d.bucketOf(at(1))]; c == nil || len(c.values) != 2 {
		t.Errorf("bucket [00:15, 00:30) = %+v, want b and c", c)
	}
}

func TestCompleteIsAlignedToTheEpochNotToTheFirstEvent(t *testing.T) {
	d := newDetector(t, DefaultJob())
	if !d.Complete().IsZero() {
		t.Fatalf("Complete of a new detector = %v, want zero", d.Complete())
	}
	add(t, d, ev(time.Date(2024, 3, 5, 10, 7, 13, 0, time.UTC), "a"))
	d.CloseAll()
	if want := time.Date(2024, 3, 5, 10, 15, 0, 0, time.UTC); !d.Complete().Equal(want) {
		t.Errorf("Complete = %v, want %v", d.Complete(), want)
	}
}

func TestLate(t *testing.T) {
	d := newDetector(t, DefaultJob())
	add(t, d, ev(at(3), "a"))
	d.CloseBefore(at(4).Add(7 * time.Minute)) // closes through bucket 3
	tests := []struct {
		name string
		ts   time.Time
		late bool
	}{
		{"closed bucket", at(3).Add(time.Minute), true},
		{"older bucket never opened", at(1), true},
		{"last instant of the closed bucket", at(4).Add(-time.Nanosecond), true},
		{"open bucket, before the watermark", at(4), false},
		{"future bucket", at(9), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := d.Add(ev(tt.ts, "x"))
			if got := errors.Is(err, ErrLate); got != tt.late {
				t.Errorf("Add = %v, late %v, want %v", err, got, tt.late)
			}
			if !tt.late && err != nil {
				t.Errorf("Add = %v", err)
			}
		})
	}
}

func TestCloseBeforeInOrderOnce(t *testing.T) {
	d := newDetector(t, DefaultJob())
	warm(t, d, 10, 20)
	// New values in buckets 20, 21 and 22, added out of order.
	add(t, d, ev(at(22), "n22"))
	add(t, d, ev(at(20), "n20"))
	add(t, d, ev(at(21), "n21"))

	steps := []struct {
		name string
		wm   time.Time
		want string
	}{
		{"watermark inside the first open bucket", at(20).Add(14 * time.Minute), "[]"},
		{"a watermark from the past", at(3), "[]"},
		{"two bucket ends passed", at(22).Add(7 * time.Minute), "[n20@05:00 n21@05:15]"},
		{"again", at(22).Add(7 * time.Minute), "[]"},
		{"one nanosecond short", at(23).Add(-time.Nanosecond), "[]"},
		{"exactly the end", at(23), "[n22@05:30]"},
		{"later", at(40), "[]"},
	}
	for _, s := range steps {
		recs := d.CloseBefore(s.wm)
		if got := fmt.Sprint(values(recs)); got != s.want {
			t.Errorf("%s: CloseBefore(%s) = %s, want %s", s.name, s.wm.Format("15:04:05.999999999"), got, s.want)
		}
	}
	if got := d.Complete(); !got.Equal(at(40)) {
		t.Errorf("Complete = %v, want %v", got, at(40))
	}
}

func TestCloseAll(t *testing.T) {
	t.Run("empty", func(t *testing.T) {
		d := newDetector(t, DefaultJob())
		if recs := d.CloseAll(); recs != nil {
			t.Errorf("CloseAll on an empty detector = %v, want nil", recs)
		}
		if !d.Complete().IsZero() {
			t.Errorf("Complete = %v, want zero", d.Complete())
		}
	})
	t.Run("every open bucket, in order", func(t *testing.T) {
		d := newDetector(t, DefaultJob())
		warm(t, d, 10, 20)
		add(t, d, ev(at(25), "late-new"))
		add(t, d, ev(at(21), "new"))
		if got := fmt.Sprint(values(d.CloseAll())); got != "[new@05:15 late-new@06:15]" {
			t.Errorf("CloseAll = %s", got)
		}
		if !d.Complete().Equal(at(26)) {
			t.Errorf("Complete = %v, want %v", d.Complete(), at(26))
		}
		if len(d.open) != 0 {
			t.Errorf("%d buckets still open", len(d.open))
		}
		if recs := d.CloseAll(); len(recs) != 0 {
			t.Errorf("second CloseAll = %v, want none", values(recs))
		}
		if err := d.Add(ev(at(25), "x")); !errors.Is(err, ErrLate) {
			t.Errorf("Add into a bucket closed by CloseAll = %v, want ErrLate", err)
		}
	})
}

// TestNoDecayOverEmptyBuckets checks that empty buckets between two data buckets decay
// nothing, and that each bucket with data decays every concentration once, after its values
// are added, by exp(-0.0005 * 15m/30m) = exp(-0.00025), as ml-cpp does
// (lib/model/CEventRateModel.cc, sample: addSamples for each person, then
// if (!data.empty()) m_ProbabilityPrior.propagateForwardsByTime(1.0)).
func TestNoDecayOverEmptyBuckets(t *testing.T) {
	d1 := math.Exp(-0.00025)
	for _, k := range []int{1, 2, 10, 96, 2880} {
		t.Run(strconv.Itoa(k), func(t *testing.T) {
			d := newDetector(t, DefaultJob())
			add(t, d, ev(at(0), "a"))
			add(t, d, ev(at(0), "both"))
			add(t, d, ev(at(k), "b"))
			add(t, d, ev(at(k), "both"))
			d.CloseAll()
			// Bucket 0 leaves a and both at d1; bucket k adds 1 to b and both and decays once.
			checks := []struct {
				value string
				want  float64
			}{
				{"a", d1 * d1},
				{"b", d1},
				{"both", (d1 + 1) * d1},
			}
			for _, c := range checks {
				got, ok := d.model.Concentration(c.value)
				if !ok || math.Abs(got-c.want) > 1e-12*c.want {
					t.Errorf("concentration of %s = %.15g (known %v), want %.15g", c.value, got, ok, c.want)
				}
			}
			if got, want := d.model.TotalConcentration(), 2*d1*d1+2*d1; math.Abs(got-want) > 1e-12*want {
				t.Errorf("total concentration = %.15g, want %.15g", got, want)
			}
		})
	}
}

// rareBucket adds, in bucket 20 after a 10-name, 20-bucket warm-up, one event of every regular
// process and five events of "nc" from several hosts, users and destinations.
func rareBucket(t *testing.T, d *Detector) {
	t.Helper()
	warm(t, d, 10, 20)
	for n := range 10 {
		add(t, d, ev(at(20), regular(n)))
	}
	type e struct {
		host, user, ip string
		port           int
		src            string
		line           int64
	}
	for i, x := range []e{
		{"h2", "bob", "10.0.0.2", 4444, "a.log", 7},
		{"h1", "", "10.0.0.10", 80, "", 0},
		{"h2", "alice", "10.0.0.2", 4444, "a.log", 9},
		{"h3", "alice", "192.0.2.1", 443, "b.log", 1},
		{"h1", "bob", "10.0.0.2", 4444, "b.log", 2},
	} {
		add(t, d, &event.Event{
			Timestamp:   at(20).Add(time.Duration(i) * time.Minute),
			Host:        event.Host{Name: x.host},
			User:        event.User{Name: x.user, ID: strconv.Itoa(1000 + i)},
			Process:     event.Process{Name: "nc", PID: int64(i + 1), Args: []string{"nc", x.ip}},
			Destination: event.Endpoint{IP: x.ip, Port: x.port},
			Origin:      event.Origin{Source: x.src, Line: x.line},
		})
	}
}

func TestRecord(t *testing.T) {
	d := newDetector(t, DefaultJob())
	rareBucket(t, d)
	recs := d.CloseBefore(at(21))
	if len(recs) != 1 {
		t.Fatalf("records %v, want only nc", values(recs))
	}
	r := recs[0]

	wantID := "v3_linux_anomalous_network_activity_record_" + strconv.FormatInt(at(20).UnixMilli(), 10) + "_900_0_"
	if !strings.HasPrefix(r.ID, wantID) || r.ID != record.ID("v3_linux_anomalous_network_activity", at(20), span, 0, "nc") {
		t.Errorf("ID = %q, want %s<xxhash of nc>", r.ID, wantID)
	}
	if r.Timestamp != 1704067200000+20*900000 || r.BucketSpan != 900 || r.JobID != "v3_linux_anomalous_network_activity" ||
		r.ResultType != "record" || r.Function != "rare" || r.FunctionDesc != "rare" || r.DetectorIndex != 0 || r.IsInterim ||
		r.ByFieldName != "process.name" || r.ByFieldValue != "nc" {
		t.Errorf("record header fields: %+v", r)
	}
	if !(r.Probability > 0 && r.Probability < 0.035) {
		t.Errorf("probability %v, want in (0, 0.035)", r.Probability)
	}
	if !reflect.DeepEqual(r.Typical, []float64{r.Probability}) || !reflect.DeepEqual(r.Actual, []float64{1}) {
		t.Errorf("typical %v actual %v, want [P] and [1]", r.Typical, r.Actual)
	}
	if r.RecordScore != r.InitialRecordScore || r.RecordScore <= 0 || r.RecordScore > 100 {
		t.Errorf("record_score %v initial %v", r.RecordScore, r.InitialRecordScore)
	}

	// Every influencer value has full influence: its score is the record's.
	s := r.RecordScore
	wantInf := []record.Influencer{
		{FieldName: "host.name", FieldValues: []string{"h1", "h2", "h3"}, Score: s},
		{FieldName: "process.name", FieldValues: []string{"nc"}, Score: s},
		{FieldName: "user.name", FieldValues: []string{"alice", "bob"}, Score: s},
		{FieldName: "destination.ip", FieldValues: []string{"10.0.0.10", "10.0.0.2", "192.0.2.1"}, Score: s},
	}
	if !reflect.DeepEqual(r.Influencers, wantInf) {
		t.Errorf("influencers\n got %+v\nwant %+v", r.Influencers, wantInf)
	}

	if len(r.Examples) != 3 {
		t.Fatalf("%d examples, want 3", len(r.Examples))
	}
	wantEx := []record.Example{
		{Timestamp: at(20), HostName: "h2", UserName: "bob", UserID: "1000", PID: 1, Args: []string{"nc", "10.0.0.2"},
			DestinationIP: "10.0.0.2", DestinationPort: 4444, Source: "a.log:7"},
		{Timestamp: at(20).Add(time.Minute), HostName: "h1", UserID: "1001", PID: 2, Args: []string{"nc", "10.0.0.10"},
			DestinationIP: "10.0.0.10", DestinationPort: 80},
		{Timestamp: at(20).Add(2 * time.Minute), HostName: "h2", UserName: "alice", UserID: "1002", PID: 3, Args: []string{"nc", "10.0.0.2"},
			DestinationIP: "10.0.0.2", DestinationPort: 4444, Source: "a.log:9"},
	}
	if !reflect.DeepEqual(r.Examples, wantEx) {
		t.Errorf("examples\n got %+v\nwant %+v", r.Examples, wantEx)
	}

	x := r.Explanation
	// Added, then decayed once: nc is scored with concentration exp(-0.00025).
	d1 := math.Exp(-0.00025)
	if x.EventCount != 5 || !x.FirstOccurrence || math.Abs(x.Concentration-d1) > 1e-12 || x.DistinctValues != 11 || x.BucketsModelled != 21 {
		t.Errorf("explanation %+v: want 5 events, first occurrence, concentration exp(-0.00025), 11 values, 21 buckets", x)
	}
	// 10 values in each of 21 buckets, each decayed once after it was added and once per later
	// bucket, plus nc's exp(-0.00025).
	var wantTotal float64
	for k := range 21 {
		wantTotal += 10 * math.Exp(-0.00025*float64(k+1))
	}
	wantTotal += d1
	if math.Abs(x.TotalConcentration-wantTotal) > 1e-9 {
		t.Errorf("total concentration %.12g, want %.12g", x.TotalConcentration, wantTotal)
	}
}

func TestRecordsAreDeterministic(t *testing.T) {
	var runs [2][]record.Record
	for i := range runs {
		d := newDetector(t, DefaultJob())
		rareBucket(t, d)
		runs[i] = d.CloseAll()
	}
	if len(runs[0]) != 1 || !reflect.DeepEqual(runs[0], runs[1]) {
		t.Errorf("two detectors on the same input disagree:\n%+v\n%+v", runs[0], runs[1])
	}
}

func TestRecordProbabilityThreshold(t *testing.T) {
	d := newDetector(t, DefaultJob())
	rareBucket(t, d)
	recs := d.CloseAll()
	if len(recs) != 1 {
		t.Fatalf("records %v", values(recs))
	}
	p := recs[0].Probability
	tests := []struct {
		name      string
		threshold float64
		want      int
	}{
		{"threshold just above P", math.Nextafter(p, 1), 1},
		{"threshold equal to P: P must be below it", p, 0},
		{"threshold below P", p / 2, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			job := DefaultJob()
			job.RecordProbability = tt.threshold
			d := newDetector(t, job)
			rareBucket(t, d)
			if got := d.CloseAll(); len(got) != tt.want {
				t.Errorf("%d records, want %d", len(got), tt.want)
			}
		})
	}
}

func TestExamplesAndInfluencersAreBounded(t *testing.T) {
	d := newDetector(t, DefaultJob())
	warm(t, d, 10, 20)
	for i := range 150 {
		add(t, d, &event.Event{
			Timestamp:   at(20),
			Host:        event.Host{Name: fmt.Sprintf("host%03d", i)},
			Process:     event.Process{Name: "scanner", PID: int64(i + 1)},
			Destination: event.Endpoint{IP: "203.0.113.7"},
		})
	}
	recs := d.CloseAll()
	if len(recs) != 1 {
		t.Fatalf("records %v", values(recs))
	}
	r := recs[0]
	if r.Explanation.EventCount != 150 {
		t.Errorf("event count %d, want 150", r.Explanation.EventCount)
	}
	if len(r.Examples) != 3 || r.Examples[0].PID != 1 || r.Examples[1].PID != 2 || r.Examples[2].PID != 3 {
		t.Errorf("examples %+v, want the first three events", r.Examples)
	}
	for _, inf := range r.Influencers {
		if inf.FieldName == "host.name" && len(inf.FieldValues) != 100 {
			t.Errorf("%d host.name values, want the bound of 100", len(inf.FieldValues))
		}
	}
}

func TestWarmup(t *testing.T) {
	tests := []struct {
		warmup int64
		want   int
	}{
		{0, 1},
		{20, 1}, // the record's bucket is the 21st: index 20 from the first
		{21, 0},
		{1000, 0},
	}
	for _, tt := range tests {
		t.Run(strconv.FormatInt(tt.warmup, 10), func(t *testing.T) {
			job := DefaultJob()
			job.WarmupBuckets = tt.warmup
			d := newDetector(t, job)
			rareBucket(t, d)
			if got := d.CloseAll(); len(got) != tt.want {
				t.Errorf("%d records, want %d", len(got), tt.want)
			}
		})
	}
}

// TestScenarioNewProcessAfterLongHistory: 100 process names connect in each of 110 buckets
// (about 27.5 hours); then a name never seen before connects once. It must be a record
// above the rule's threshold of 50, marked as a first occurrence.
func TestScenarioNewProcessAfterLongHistory(t *testing.T) {
	d := newDetector(t, DefaultJob())
	warm(t, d, 100, 110)
	for n := range 100 {
		add(t, d, ev(at(110), regular(n)))
	}
	add(t, d, ev(at(110).Add(3*time.Minute), "xmrig"))
	recs := d.CloseBefore(at(111))
	if len(recs) != 1 || recs[0].ByFieldValue != "xmrig" {
		t.Fatalf("records %v, want only xmrig", values(recs))
	}
	r := recs[0]
	if r.RecordScore < 50 {
		t.Errorf("record_score %v, want >= 50 (P=%v, ceilings %+v)", r.RecordScore, r.Probability, r.Explanation.Ceilings)
	}
	// Under the probability cap alone a score of 50 needs P <= 0.00263.
	if r.Probability > 0.00263 {
		t.Errorf("probability %v, want <= 0.00263", r.Probability)
	}
	if !r.Explanation.FirstOccurrence || r.Explanation.BucketsModelled != 111 || r.Explanation.DistinctValues != 101 {
		t.Errorf("explanation %+v", r.Explanation)
	}
	// A regular value in the next bucket is still not a record.
	add(t, d, ev(at(111), regular(0)))
	if recs := d.CloseAll(); len(recs) != 0 {
		t.Errorf("records for a regular value: %v", values(recs))
	}
}

func TestNewDetectorRejectsBadSpan(t *testing.T) {
	for _, s := range []time.Duration{0, -time.Minute} {
		job := DefaultJob()
		job.BucketSpan = s
		if _, err := NewDetector(job); err == nil {
			t.Errorf("NewDetector with span %v: no error", s)
		}
	}
}
