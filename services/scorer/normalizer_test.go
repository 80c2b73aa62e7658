package scorer

import (
	"encoding/json"
	"flag"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/rarenet/rarenet/services/scorer/rare"
	"github.com/rarenet/rarenet/shared/event"
)

// quietFleet runs the worked case through a Detector, as a user would with
// --bucket-span 1m: 8 process names on 5 hosts in each of 100 one-minute buckets, then a new
// name once. It returns the new name's record.
func quietFleet(t *testing.T, job Job) (score float64, p float64, ceilings string) {
	t.Helper()
	job.BucketSpan = time.Minute
	d := newDetector(t, job)
	start := t0
	hosts := []string{"web-1", "web-2", "db-1", "db-2", "cache-1"}
	for b := range 101 {
		ts := start.Add(time.Duration(b) * time.Minute)
		for i, h := range hosts {
			for n := range 8 {
				add(t, d, &event.Event{Timestamp: ts.Add(time.Duration(i*8+n) * time.Second),
					Host: event.Host{Name: h}, Process: event.Process{Name: regular(n)}})
			}
		}
		if b == 100 {
			add(t, d, &event.Event{Timestamp: ts.Add(50 * time.Second), Host: event.Host{Name: "db-2"},
				Process: event.Process{Name: "xmrig"}})
		}
		recs := d.CloseBefore(ts.Add(time.Minute))
		if b < 100 && len(recs) != 0 {
			t.Fatalf("bucket %d: records %v", b, values(recs))
		}
		if b == 100 {
			if len(recs) != 1 || recs[0].ByFieldValue != "xmrig" {
				t.Fatalf("last bucket: records %v, want xmrig", values(recs))
			}
			r := recs[0]
			c, _ := json.Marshal(r.Explanation.Ceilings)
			return r.RecordScore, r.Probability, string(c)
		}
	}
	return 0, 0, ""
}

// The worked case gives what ml-cpp gives: P = 0.004843 and record_score 40.69, the
// probability cap (rare/mlcpp_cases_test.go works it out). rarenet gave 24.80 before it
// followed ml-cpp 8.4's normaliser. The pre-8.4 normaliser (--normalizer 7.x) gives 40.69
// too, through a quantile ceiling of about 62.9 instead of 60.8.
func TestWorkedCaseQuietFleetOneMinute(t *testing.T) {
	for _, v := range []rare.NormalizerVersion{rare.Normalizer84, rare.Normalizer7x} {
		job := DefaultJob()
		job.Normalizer = v
		score, p, c := quietFleet(t, job)
		t.Logf("%v: P=%.6g record_score=%.4f ceilings %s", v, p, score, c)
		if math.Abs(p-0.004843) > 5e-7 || math.Abs(score-40.69) > 0.005 {
			t.Errorf("%v: P %v, record_score %v; want 0.004843 and 40.69", v, p, score)
		}
	}
}

func TestNormalizerFlag(t *testing.T) {
	for arg, want := range map[string]rare.NormalizerVersion{"": rare.Normalizer84, "8.4": rare.Normalizer84, "7.x": rare.Normalizer7x} {
		var c Config
		fs := flag.NewFlagSet("scorer", flag.ContinueOnError)
		c.RegisterFlags(fs)
		var args []string
		if arg != "" {
			args = []string{"--normalizer", arg}
		}
		if err := fs.Parse(args); err != nil {
			t.Fatal(err)
		}
		if err := c.Validate(); err != nil || c.Job.Normalizer != want {
			t.Errorf("--normalizer %q: %v, %v; want %v", arg, c.Job.Normalizer, err, want)
		}
	}
	var c Config
	fs := flag.NewFlagSet("scorer", flag.ContinueOnError)
	c.RegisterFlags(fs)
	if err := fs.Parse([]string{"--normalizer", "6.5"}); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "--normalizer") {
		t.Errorf("--normalizer 6.5: %v, want an error naming the flag", err)
	}
}

// A checkpoint written before rarenet followed ml-cpp's q-digests (the normaliser as an exact
// histogram, no version) restores: the model as it was, decayed once for its last bucket as
// ml-cpp decays after adding, the quantiles from scratch. It is not silently read as an empty
// current state.
func TestRestoreLegacyCheckpoint(t *testing.T) {
	const old = `{"model":{"Values":[{"Value":"curl","Concentration":3},{"Value":"sshd","Concentration":40}],"Scale":0.5},
		"normalizer":{"Bins":[{"Discrete":0,"Weight":80},{"Discrete":1500,"Weight":1}],
			"MaxScores":[{"Value":"curl","Score":1.5,"Bucket":40}],"Bucket":41,"UntilQuantileDecay":19},
		"first":100,"modelled":140}`
	var s RarityState
	if err := json.Unmarshal([]byte(old), &s); err != nil {
		t.Fatal(err)
	}
	if !s.Normalizer.Legacy() {
		t.Fatalf("old checkpoint not recognised")
	}
	r, err := NewRarity(DefaultJob())
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Restore(s); err != nil {
		t.Fatal(err)
	}
	d := rare.DecayPerBucket(span)
	if c, _ := r.model.Concentration("curl"); math.Abs(c-1.5*d) > 1e-15 {
		t.Errorf("curl's concentration %v, want 1.5 e^-0.00025", c)
	}
	if r.norm.Count() != 0 || r.Modelled() != 140 {
		t.Errorf("%d samples, modelled %d; want the quantiles restarted at bucket 140", r.norm.Count(), r.Modelled())
	}
	if got := r.Snapshot().Normalizer; got.Version != rare.NormalizerStateVersion || got.Legacy() || len(got.MaxScores) != 1 {
		t.Errorf("the next checkpoint is %+v, want the current version with curl's maximum", got)
	}
	// A checkpoint from a newer rarenet fails clearly.
	s.Normalizer = rare.NormalizerState{Version: rare.NormalizerStateVersion + 1}
	if err := r.Restore(s); err == nil || !strings.Contains(err.Error(), "newer") {
		t.Errorf("Restore of a newer checkpoint = %v, want an error saying so", err)
	}
}
