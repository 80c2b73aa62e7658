package rare

import (
	"fmt"
	"math"
	"testing"
	"time"
)

// TestScenarioNewProcess: 30 process names present in each of 200 buckets,
// then a never-seen name appears in bucket 201 beside them.
func TestScenarioNewProcess(t *testing.T) {
	for _, method := range []ProbabilityMethod{ProbabilityMarginal, ProbabilityPointEstimate} {
		t.Run(method.String(), func(t *testing.T) { scenarioNewProcess(t, method) })
	}
}

func scenarioNewProcess(t *testing.T, method ProbabilityMethod) {
	span := 15 * time.Minute
	cfg := DefaultConfig(span)
	cfg.Probability = method
	m, err := NewModel(cfg)
	if err != nil {
		t.Fatal(err)
	}
	norm, err := NewNormalizer(DefaultNormalizerConfig(span))
	if err != nil {
		t.Fatal(err)
	}
	common := make([]string, 30)
	for i := range common {
		common[i] = fmt.Sprintf("proc-%02d", i)
	}
	for b := range 200 {
		scores := m.ScoreBucket(common)
		norm.Update(scores)
		for _, s := range scores {
			if rs, _ := norm.Normalize(s); b >= 20 && rs >= 50 {
				t.Errorf("bucket %d: common value %s got record score %v (P=%v)", b, s.Value, rs, s.Probability)
			}
		}
	}
	scores := m.ScoreBucket(append(append([]string(nil), common...), "nc"))
	norm.Update(scores)
	last := scores[len(scores)-1]
	if last.Value != "nc" || !last.FirstOccurrence || math.Abs(last.Concentration-math.Exp(-0.00025)) > 1e-15 {
		t.Fatalf("new value score = %+v", last)
	}
	record, ceilings := norm.Normalize(last)
	t.Logf("new value: P=%.6g raw=%.6g record_score=%.4f (binding %s) ceilings=%+v total=%.2f relative_rarity=%.1f",
		last.Probability, last.RawScore, record, ceilings.Binding(), ceilings, m.TotalConcentration(), last.RelativeRarity)
	if record < 50 {
		t.Errorf("record score of the new value = %v, want >= 50", record)
	}
	for _, s := range scores[:len(scores)-1] {
		if s.Probability < 0.9 || s.RawScore != 0 || s.FirstOccurrence {
			t.Errorf("common value %s: P=%v raw=%v first=%v, want P near 1, raw 0", s.Value, s.Probability, s.RawScore, s.FirstOccurrence)
		}
	}
	t.Logf("common value: P=%.6g raw=%v concentration=%.3f", scores[0].Probability, scores[0].RawScore, scores[0].Concentration)
}
