package rare

import (
	"math"
	"testing"
)

func TestBetaCDFClosedForms(t *testing.T) {
	// ln B(a, b) from math.Lgamma loses about 1e-16 * lgamma(a+b) absolute,
	// so large b costs a few 1e-12 relative.
	for _, b := range []float64{1, 6, 29, 5852} {
		for _, x := range []float64{1e-6, 1e-4, 0.01, 0.2, 0.5, 0.9} {
			// I_x(1, b) = 1 - (1-x)^b and I_x(2, b) = 1 - (1-x)^b (1 + b x).
			want1 := -math.Expm1(b * math.Log1p(-x))
			want2 := 1 - math.Exp(b*math.Log1p(-x))*(1+b*x)
			if got := betaCDF(1, b, x); math.Abs(got-want1) > 1e-10*want1 {
				t.Errorf("I_%g(1, %g) = %.15g, want %.15g", x, b, got, want1)
			}
			// The closed form for a = 2 cancels badly for small x.
			if got := betaCDF(2, b, x); x >= 0.01 && math.Abs(got-want2) > 1e-10*want2 {
				t.Errorf("I_%g(2, %g) = %.15g, want %.15g", x, b, got, want2)
			}
		}
	}
}

func TestBetaQuantileInverts(t *testing.T) {
	for _, ab := range [][2]float64{{1, 6}, {1, 5852}, {195, 5658}, {3, 4}, {0.5, 0.5}, {6000.33, 1.33}, {1.33, 6000.33}, {1.0 / 3, 1e5}} {
		for _, q := range []float64{0.01, 0.15, 1.0 / 3, 0.5, 0.85, 0.99} {
			x := betaQuantile(ab[0], ab[1], q)
			if got := betaCDF(ab[0], ab[1], x); math.Abs(got-q) > 1e-10 {
				t.Errorf("Beta%v: I(quantile(%g)) = %.15g", ab, q, got)
			}
		}
	}
	if x, want := betaQuantile(1, 6, 0.5), 1-math.Pow(0.5, 1.0/6); math.Abs(x-want) > 1e-14 {
		t.Errorf("median of Beta(1, 6) = %.16g, want %.16g", x, want)
	}
}

func TestBetaMarginalSamplesAverageToMean(t *testing.T) {
	for _, n := range []int{1, 3, 5, 7} {
		for _, ab := range [][2]float64{{1, 6}, {1, 5852}, {195, 5658}, {40, 60}} {
			s := betaMarginalSamples(ab[0], ab[1], n, nil)
			var sum float64
			for k, v := range s {
				sum += v
				if k > 0 && v <= s[k-1] {
					t.Errorf("Beta%v n=%d: samples not increasing: %v", ab, n, s)
				}
			}
			mean := ab[0] / (ab[0] + ab[1])
			if len(s) != n || math.Abs(sum/float64(n)-mean) > 1e-12*mean {
				t.Errorf("Beta%v n=%d: samples %v average %g, want %g", ab, n, s, sum/float64(n), mean)
			}
		}
	}
}
