package rare

import "math"

// The Beta distribution functions that ml-cpp takes from boost::math: the
// regularised incomplete beta function (the c.d.f.) and its inverse (the
// quantile). Both are used for the marginal of one category's probability in
// the Dirichlet prior and for the confidence interval on a c.d.f. estimated
// from n scores (CQDigest::cdfQuantile).

// logBeta returns ln B(a, b).
func logBeta(a, b float64) float64 {
	la, _ := math.Lgamma(a)
	lb, _ := math.Lgamma(b)
	lab, _ := math.Lgamma(a + b)
	return la + lb - lab
}

// betaCDF returns the regularised incomplete beta function I_x(a, b).
func betaCDF(a, b, x float64) float64 {
	switch {
	case x <= 0:
		return 0
	case x >= 1:
		return 1
	}
	front := math.Exp(a*math.Log(x) + b*math.Log1p(-x) - logBeta(a, b))
	// The continued fraction converges fast only left of the mode; use the
	// symmetry I_x(a, b) = 1 - I_{1-x}(b, a) on the other side.
	if x < (a+1)/(a+b+2) {
		return front * betaContinuedFraction(a, b, x) / a
	}
	return 1 - front*betaContinuedFraction(b, a, 1-x)/b
}

// betaContinuedFraction evaluates the continued fraction for I_x(a, b) by the
// modified Lentz method. Its terms are d(2m+1) = -(a+m)(a+b+m)x / ((a+2m)(a+2m+1))
// and d(2m) = m(b-m)x / ((a+2m-1)(a+2m)).
func betaContinuedFraction(a, b, x float64) float64 {
	const (
		tiny    = 1e-300
		epsilon = 1e-16
		maxIter = 10000
	)
	clampTiny := func(v float64) float64 {
		if math.Abs(v) < tiny {
			return tiny
		}
		return v
	}
	c := 1.0
	d := 1 / clampTiny(1-(a+b)*x/(a+1))
	h := d
	for m := 1; m <= maxIter; m++ {
		fm := float64(m)
		even := fm * (b - fm) * x / ((a + 2*fm - 1) * (a + 2*fm))
		d = 1 / clampTiny(1+even*d)
		c = clampTiny(1 + even/c)
		h *= d * c
		odd := -(a + fm) * (a + b + fm) * x / ((a + 2*fm) * (a + 2*fm + 1))
		d = 1 / clampTiny(1+odd*d)
		c = clampTiny(1 + odd/c)
		delta := d * c
		h *= delta
		if math.Abs(delta-1) < epsilon {
			break
		}
	}
	return h
}

// betaQuantile returns x with I_x(a, b) = q, by Newton's method kept inside a
// shrinking bracket (bisection when a step would leave it).
func betaQuantile(a, b, q float64) float64 {
	switch {
	case q <= 0:
		return 0
	case q >= 1:
		return 1
	}
	lb := logBeta(a, b)
	lo, hi := 0.0, 1.0
	x := a / (a + b)
	for range 400 {
		f := betaCDF(a, b, x) - q
		if f == 0 {
			return x
		}
		if f < 0 {
			lo = x
		} else {
			hi = x
		}
		pdf := math.Exp((a-1)*math.Log(x) + (b-1)*math.Log1p(-x) - lb)
		next := x - f/pdf
		if !(next > lo && next < hi) || pdf == 0 || math.IsInf(pdf, 0) {
			next = lo + (hi-lo)/2
		}
		if math.Abs(next-x) <= 1e-15*x || hi-lo <= 1e-300 {
			return next
		}
		x = next
	}
	return x
}

// betaMarginalSamples returns n representative samples of Beta(a, b): the
// means of the distribution over n intervals of equal probability, so the
// samples average exactly to a/(a+b). ml-cpp does the same
// (lib/maths/common/CMultinomialConjugate.cc, generateBetaSamples), using
// E[X; X <= x] = mean * I_x(a+1, b).
func betaMarginalSamples(a, b float64, n int, dst []float64) []float64 {
	dst = dst[:0]
	mean := a / (a + b)
	if n <= 1 || a == 0 || b == 0 {
		return append(dst, mean)
	}
	scale := mean * float64(n)
	prev := 0.0
	for i := 1; i < n; i++ {
		xq := betaQuantile(a, b, float64(i)/float64(n))
		fq := betaCDF(a+1, b, xq)
		dst = append(dst, scale*(fq-prev))
		prev = fq
	}
	return append(dst, scale*(1-prev))
}

// cdfQuantile widens a c.d.f. value p estimated from n samples into the q
// quantile of its posterior Beta(n*p + 1/3, n*(1-p) + 1/3), as ml-cpp does
// (lib/maths/common/CQDigest.cc, cdfQuantile). q = 0.5 returns p unchanged.
func cdfQuantile(n, p, q float64) float64 {
	if q == 0.5 {
		return p
	}
	const oneThird = 1.0 / 3.0
	return betaQuantile(n*p+oneThird, n*(1-p)+oneThird, q)
}
