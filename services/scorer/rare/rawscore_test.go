package rare

import (
	"math"
	"testing"
)

func TestRawScoreKnots(t *testing.T) {
	tests := []struct {
		name string
		p    float64
		want float64
	}{
		{"certain", 1, 0},
		{"largest significant", 0.05, 0},
		{"linear in 1/p", 0.01, (100 - 20) / (1e4 - 20)},
		{"small", 1e-4, 1},
		{"log-linear midpoint", math.Sqrt(1e-4 * 1e-50), 25.5},
		{"minuscule", 1e-50, 50},
		{"smallest", SmallestProbability, 100},
		{"zero", 0, 100},
		{"NaN", math.NaN(), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := RawScore(tt.p); math.Abs(got-tt.want) > 1e-12*math.Max(1, tt.want) {
				t.Errorf("RawScore(%g) = %.17g, want %.17g", tt.p, got, tt.want)
			}
		})
	}
	if got := RawScore(0.0499); !(got > 0 && got < 1e-4) {
		t.Errorf("just below 0.05: %g, want small positive", got)
	}
}

func TestRawScoreMonotoneAndInvertible(t *testing.T) {
	prev := -1.0
	for p := 0.049; p > 1e-300; p *= 0.5 {
		s := RawScore(p)
		if s <= prev {
			t.Fatalf("RawScore not increasing at p=%g: %g <= %g", p, s, prev)
		}
		prev = s
		if back := InverseRawScore(s); math.Abs(back-p) > 1e-9*p {
			t.Fatalf("InverseRawScore(RawScore(%g)) = %g", p, back)
		}
	}
}

// The published record: probability 0.007820139656, record_score
// 33.36147565024334, which is the probability cap.
func TestProbabilityCeilingReference(t *testing.T) {
	const p, want = 0.007820139656, 33.36147565024334
	if got := ProbabilityCeiling(p); math.Abs(got-want) > 1e-9 {
		t.Errorf("ProbabilityCeiling(%v) = %.15g, want %.15g", p, got, want)
	}
	// The normaliser sees the probability through the raw score, as ml-cpp.
	if got := ProbabilityCeiling(InverseRawScore(RawScore(p))); math.Abs(got-want) > 1e-9 {
		t.Errorf("through the raw score: %.15g, want %.15g", got, want)
	}
}

// Under the cap alone, record score 50 needs P <= about 0.0026.
func TestProbabilityCeilingFifty(t *testing.T) {
	m := 1 / (math.Log(SmallProbability) - math.Log(LargestSignificantProbability))
	p50 := math.Exp(math.Log(LargestSignificantProbability) + (0.5-0.05)/0.95/m)
	t.Logf("record score 50 needs P <= %.6g", p50)
	if p50 < 0.0025 || p50 > 0.0027 {
		t.Errorf("P for 50 = %g, want about 0.0026", p50)
	}
	if got := ProbabilityCeiling(p50); math.Abs(got-50) > 1e-9 {
		t.Errorf("ProbabilityCeiling(%g) = %g, want 50", p50, got)
	}
	if ProbabilityCeiling(0.0027) >= 50 || ProbabilityCeiling(0.0025) < 50 {
		t.Errorf("cap around 0.0026 on the wrong side of 50")
	}
	if got := ProbabilityCeiling(0.05); math.Abs(got-5) > 1e-12 {
		t.Errorf("cap at 0.05 = %g, want 5", got)
	}
	if got := ProbabilityCeiling(1e-10); got != 100 {
		t.Errorf("cap at 1e-10 = %g, want clamped 100", got)
	}
}
