package rare

import (
	"fmt"
	"math"
	"slices"
	"testing"
	"time"
)

// Worked cases of ml-cpp's record score, each derived from ml-cpp's formulas
// (elastic/ml-cpp at 7a29b4b; line numbers at that commit) rather than from
// this package's normaliser, which must agree with them.
//
// The formulas:
//   - lib/model/CEventRateModel.cc:260-270 (sample): a bucket's values are
//     added to the Dirichlet prior, then it decays once, only if the bucket
//     has data; computeProbability reads the decayed prior.
//   - lib/api/CAnomalyJob.cc:1457-1475 (updateNormalizerAndNormalizeResults):
//     for a bucket with results, age the normaliser by 1, update the
//     quantiles with every result, then normalise.
//   - lib/model/CAnomalyScore.cc:252-268 (CNormalizer's constructor):
//     countPerSample = 3600 / clamp(2 * span, 300, 3600), two q-digests of
//     k = 201 decaying at 0.0005 * min(1, span/30m).
//   - CAnomalyScore.cc:509-597 (updateQuantiles): the largest of every
//     countPerSample results is a sample; at the 201st sample the high
//     percentile score is set from the summary of the first 200 (the value
//     whose running count is the last at or below round(0.9 * 200)), the
//     samples above it seed the high digest; later samples at or below it
//     count into h, those above go to the high digest.
//   - CAnomalyScore.cc:675-706 (propagateForwardByTime): maxima age by
//     exp(-2 * rate) per bucket and are forgotten after 50; the digests
//     decay once 20 * countPerSample buckets have passed.
//   - CAnomalyScore.cc:428-507 (quantile): f = h / n, fl and fu its 15% and
//     85% Beta quantiles (CQDigest::cdfQuantile, CQDigest.cc:274-302); at or
//     below the high percentile score the bounds are cdf(x) - pdf(x) clamped
//     to [0, fl] and [0, fu]; above it fl + (1 - fl) * (cdfH(x) - cdfH(s) -
//     pdfH(x)) / (1 - cdfH(s)) and the same with fu; both widened again.
//   - CQDigest.cc:304-360 (cdf, pdf): on an exact digest the c.d.f. is the
//     fraction of samples at or below x, the density the mass of the samples
//     between the neighbours of x (the largest sample below it, or 0; the
//     smallest above it, or 2^32 - 1) over the width of that gap.
//   - CAnomalyScore.cc:274-426 (normalize): the record score is the least of
//     the noise ceiling (:340), the mean of the knots at the two ends of the
//     percentile interval (:360-395), 100 * min(1.5r, 0.5 + 0.5r) of the ratio
//     to the value's maximum (:402) and the probability cap (:416).

// exactOracle is CAnomalyScore::CNormalizer computed from those formulas for
// histories in which ml-cpp's digests are exact: fewer than 2k = 402 samples
// (CQDigest::compress merges only counts summing below floor(n/k) <= 1), so
// no refresh of the high percentile score (n + 1 a multiple of k above k), and
// no decay that moves a count (each count below 1 / (2 * rate)).
type exactOracle struct {
	t         *testing.T
	perSample int
	maxAge    float64 // exp(-2 * rate) per bucket

	pending   int
	sample    float64
	samples   []uint32 // all, in order
	highScore uint32
	h         uint64
	high      []uint32

	maxScores map[string]*[2]float64 // score, buckets since
	knots     []Knot
}

func newExactOracle(t *testing.T, span time.Duration) *exactOracle {
	perSample := int(3600 / min(max(2*int64(span/time.Second), 300), 3600))
	rate := 0.0005 * math.Min(1, span.Seconds()/1800) * math.Max(1, span.Seconds()/1800)
	return &exactOracle{t: t, perSample: perSample, maxAge: math.Exp(-2 * rate),
		highScore: math.MaxUint32, maxScores: map[string]*[2]float64{}, knots: DefaultKnots()}
}

func (o *exactOracle) update(scores []Score) {
	if len(scores) == 0 {
		return
	}
	for v, m := range o.maxScores {
		m[0] *= o.maxAge
		if m[1]++; m[1] > 50 {
			delete(o.maxScores, v)
		}
	}
	for _, s := range scores {
		if m, ok := o.maxScores[s.Value]; ok {
			m[0], m[1] = math.Max(m[0], s.RawScore), 0
		} else {
			o.maxScores[s.Value] = &[2]float64{s.RawScore, 0}
		}
		o.sample = math.Max(o.sample, s.RawScore)
		if o.pending++; o.pending < o.perSample {
			continue
		}
		d := uint32(1000*o.sample + 0.5)
		o.pending, o.sample = 0, 0
		if len(o.samples)+1 >= 2*digestK {
			o.t.Fatalf("oracle: %d samples, past the exact regime", len(o.samples)+1)
		}
		if len(o.samples) == 200 {
			sorted := slices.Sorted(slices.Values(o.samples))
			// The summary: each distinct value and the running count up to it.
			var xs []uint32
			var counts []uint64
			for i, x := range sorted {
				if i+1 == len(sorted) || sorted[i+1] != x {
					xs, counts = append(xs, x), append(counts, uint64(i+1))
				}
			}
			// The value before the first (after the first) whose count passes round(0.9 * 200).
			target := uint64(180) // uint64(0.9 * 200 + 0.5)
			o.highScore = xs[0]
			for i := 1; i < len(xs); i++ {
				if counts[i] > target {
					o.highScore = xs[i-1]
					break
				}
			}
			o.h = 0
			for _, x := range sorted {
				if x <= o.highScore {
					o.h++
				} else {
					o.high = append(o.high, x)
				}
			}
		}
		o.samples = append(o.samples, d)
		if d <= o.highScore {
			o.h++
		} else {
			o.high = append(o.high, d)
		}
	}
}

// fraction is the exact c.d.f. of xs at x.
func fraction(xs []uint32, x uint32) float64 {
	var k int
	for _, v := range xs {
		if v <= x {
			k++
		}
	}
	return float64(k) / float64(len(xs))
}

// density is CQDigest::pdf on an exact digest.
func density(xs []uint32, x uint32) float64 {
	inf, sup := uint32(0), uint32(math.MaxUint32)
	for _, v := range xs {
		if v < x {
			inf = max(inf, v)
		}
		if v > x {
			sup = min(sup, v)
		}
	}
	hi := 1.0
	if sup != math.MaxUint32 {
		hi = fraction(xs, sup)
	}
	return math.Max(hi-fraction(xs, inf), 0) / math.Max(float64(sup-inf), 1)
}

func (o *exactOracle) knot(pct float64) float64 {
	for i := 1; i < len(o.knots); i++ {
		if l, r := o.knots[i-1], o.knots[i]; pct <= r.Percentile {
			return l.Score + (r.Score-l.Score)*(pct-l.Percentile)/(r.Percentile-l.Percentile)
		}
	}
	return 100
}

// normalize returns the record score and ceilings of a result of the last
// bucket.
func (o *exactOracle) normalize(value string, raw float64) (float64, Ceilings) {
	n := float64(len(o.samples))
	if raw == 0 || n == 0 {
		return 0, Ceilings{}
	}
	d := uint32(1000*raw + 0.5)
	sorted := slices.Sorted(slices.Values(o.samples))
	var c Ceilings
	// Noise: the sample at running count round(n/2), 10 per raw score point above it,
	// lifted by 100 once half the samples are 0.
	noise := sorted[max(int(uint64(0.5*n+0.5))-1, 0)]
	f0 := fraction(o.samples, 0)
	c.Noise = 1*math.Max(1+10*(float64(d)-float64(noise))/1000, 0) + 100*math.Max(2*math.Min(50*2*f0/50, 1)-1, 0)
	// The percentile interval.
	f := float64(o.h) / n
	fl, fu := cdfQuantile(n, f, 0.15), cdfQuantile(n, f, 0.85)
	var lower, upper float64
	if d <= o.highScore || len(o.high) == 0 {
		b := fraction(o.samples, d) - density(o.samples, d)
		lower, upper = math.Min(math.Max(b, 0), fl), math.Min(math.Max(b, 0), fu)
	} else {
		cut := fraction(o.high, o.highScore)
		b := math.Max(fraction(o.high, d)-cut-density(o.high, d), 0) / (1 - cut)
		lower, upper = fl+(1-fl)*b, fu+(1-fu)*b
	}
	lp, up := 100*cdfQuantile(n, lower, 0.15), 100*cdfQuantile(n, upper, 0.85)
	c.Percentile = (lp + up) / 2
	c.Quantile = (o.knot(lp) + o.knot(up)) / 2
	c.Ratio = 100
	if m, ok := o.maxScores[value]; ok && m[0] > 0 {
		r := raw / m[0]
		c.Ratio = 100 * math.Min(1.5*r, 0.5+0.5*r)
	}
	c.Probability = ProbabilityCeiling(InverseRawScore(raw))
	return math.Min(math.Min(c.Noise, c.Quantile), math.Min(c.Ratio, c.Probability)), c
}

// fleet runs a model, the normaliser and the oracle over buckets of values.
type fleet struct {
	t      *testing.T
	model  *Model
	norm   *Normalizer
	oracle *exactOracle
}

func newFleet(t *testing.T, span time.Duration) *fleet {
	m, err := NewModel(DefaultConfig(span))
	if err != nil {
		t.Fatal(err)
	}
	return &fleet{t: t, model: m, norm: newNormalizer(t, span), oracle: newExactOracle(t, span)}
}

// bucket scores one bucket (values sorted by name, as the scorer does) and
// checks every non-zero normalisation against the oracle.
func (f *fleet) bucket(values ...string) []Score {
	slices.Sort(values)
	scores := f.model.ScoreBucket(values)
	f.norm.Update(scores)
	if f.oracle != nil {
		f.oracle.update(scores)
		for _, s := range scores {
			got, gc := f.norm.Normalize(s)
			want, wc := f.oracle.normalize(s.Value, s.RawScore)
			if math.Abs(got-want) > 1e-9 || math.Abs(gc.Quantile-wc.Quantile) > 1e-9 || math.Abs(gc.Ratio-wc.Ratio) > 1e-9 ||
				math.Abs(gc.Noise-wc.Noise) > 1e-9 {
				f.t.Fatalf("%s (raw %v): normaliser %v %+v, oracle %v %+v", s.Value, s.RawScore, got, gc, want, wc)
			}
		}
	}
	return scores
}

func names(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%02d", prefix, i)
	}
	return out
}

// find returns the score of value.
func find(t *testing.T, scores []Score, value string) Score {
	t.Helper()
	for _, s := range scores {
		if s.Value == value {
			return s
		}
	}
	t.Fatalf("%s not scored", value)
	return Score{}
}

// The 70% interval of the percentile is widened twice through the Beta
// quantile of CQDigest::cdfQuantile (boost::math in ml-cpp); values computed
// independently with mpmath at 40 digits (betainc, bisection).
func TestCdfQuantileAgainstMpmath(t *testing.T) {
	fl, fu := cdfQuantile(67, 1, 0.15), cdfQuantile(67, 1, 0.85)
	for _, c := range []struct{ got, want float64 }{
		{fl, 0.98961390050310135},
		{fu, 0.99996406679425693},
		{cdfQuantile(67, fl, 0.15), 0.97126195539736248},
		{cdfQuantile(67, fu, 0.85), 0.99996251042353712},
	} {
		if math.Abs(c.got-c.want) > 1e-12 {
			t.Errorf("cdfQuantile = %.17g, mpmath %.17g", c.got, c.want)
		}
	}
}

// The worked case, as a new user tries it: a stable fleet of 8
// process names, 1-minute buckets, a new name after 100 buckets. ml-cpp:
// P = 0.004843, record score 40.69 (the probability cap binds), quantile
// ceiling about 60.8 from the percentile interval [97.13, 99.996]. The
// digest holds 67 samples of 0 (800 results / 12 = 66, then the fourth
// result of bucket 101), all at or below the high percentile score (none is
// set before the 201st sample), so f = 1 and the new maximum's c.d.f. minus
// its density (about 1/2^32) is clamped to fl.
func TestWorkedCaseQuietFleetOneMinute(t *testing.T) {
	f := newFleet(t, time.Minute)
	common := names("proc-", 8)
	for range 100 {
		f.bucket(common...)
	}
	s := find(t, f.bucket(append(slices.Clone(common), "xmrig")...), "xmrig")
	score, c := f.norm.Normalize(s)
	lower, upper := f.norm.percentileInterval(s.RawScore)
	t.Logf("P=%.7g raw=%.6g score=%.6f ceilings %+v; %d samples, interval [%.4f, %.4f]",
		s.Probability, s.RawScore, score, c, f.norm.Count(), 100*lower, 100*upper)
	if math.Abs(s.Probability-0.004843) > 5e-7 {
		t.Errorf("P = %v, want 0.004843", s.Probability)
	}
	if math.Abs(score-40.69) > 0.005 || c.Binding() != "probability" {
		t.Errorf("record score %v (binding %s), want 40.69 from the probability cap", score, c.Binding())
	}
	if math.Abs(c.Quantile-60.8) > 0.5 {
		t.Errorf("quantile ceiling %v, want within 0.5 of 60.8", c.Quantile)
	}
	if f.norm.Count() != 67 || math.Abs(lower-0.97126195539736248) > 1e-11 || math.Abs(upper-0.99996251042353712) > 1e-11 {
		t.Errorf("%d samples, interval [%.17g, %.17g], want 67 and mpmath's [0.97126195539736, 0.99996251042354]",
			f.norm.Count(), lower, upper)
	}
}

// The same case under the pre-8.4 normaliser (every result a sample, the
// percentile raised to the 30th power at 1 minute): about 62.9 for the
// quantile ceiling, so 40.69 there too.
func TestWorkedCaseQuietFleetOneMinute7x(t *testing.T) {
	cfg, _ := NormalizerConfigFor(time.Minute, Normalizer7x)
	f := newFleet(t, time.Minute)
	f.oracle = nil
	f.norm, _ = NewNormalizer(cfg)
	common := names("proc-", 8)
	for range 100 {
		f.bucket(common...)
	}
	s := find(t, f.bucket(append(slices.Clone(common), "xmrig")...), "xmrig")
	score, c := f.norm.Normalize(s)
	t.Logf("7.x: score %.4f ceilings %+v, %d samples", score, c, f.norm.Count())
	if math.Abs(score-40.69) > 0.005 || math.Abs(c.Quantile-62.9) > 0.5 {
		t.Errorf("record score %v, quantile ceiling %v; want 40.69 and about 62.9", score, c.Quantile)
	}
}

// Elastic's published record: P = 0.007820139656, record score
// 33.36147565024334, the probability cap (CAnomalyScore.cc:407-417). Through
// the whole normaliser, against the quiet fleet's history, it is still that.
func TestPublishedRecordThroughTheNormaliser(t *testing.T) {
	const p, want = 0.007820139656, 33.36147565024334
	f := newFleet(t, 15*time.Minute)
	common := names("proc-", 8)
	for range 100 {
		f.bucket(common...)
	}
	s := Score{Value: "published", Probability: p, RawScore: RawScore(p)}
	f.norm.Update(append(f.model.ScoreBucket(common), s))
	score, c := f.norm.Normalize(s)
	if math.Abs(score-want) > 1e-9 || c.Binding() != "probability" {
		t.Errorf("record score %.15g (binding %s, ceilings %+v), want %.15g", score, c.Binding(), c, want)
	}
}

// A 15-minute job after 30 days: 8 names in each of 2880 buckets, then a new
// one. Worked by hand:
//   - Model (CEventRateModel.cc:260-270, CMultinomialConjugate.cc:1364-1440):
//     each name has concentration sum_{i=1..2881} d^i, d = e^-0.00025, the new
//     one d; the total is above 10000, so one sample, the mean: P is the mass
//     interpolated at 1.05 * p_new between p_new (cumulative p_new) and the
//     common names' p (cumulative 1).
//   - Samples (CAnomalyScore.cc:509-530): 4 per bucket; the new name sorts
//     first, so the first sample of bucket 2881 is its score, then three
//     zeros, one result pending.
//   - Decay (CAnomalyScore.cc:675-706, CQDigest.cc:144-156 and 727-741):
//     the digests age at buckets 40, 80, ..., 2880: z -> floor(z d + 0.5).
//   - The high percentile score is 0 from the 201st sample on (all samples
//     were 0), h counts every zero and is rescaled with n at each decay; the
//     new score is the high digest's only sample: cdfH = 1, cdfH(0) = 0,
//     pdfH = 1 / (2^32 - 1) (CQDigest.cc:332-360, nothing above it, the root
//     empty).
//   - CAnomalyScore.cc:475-507: lower = fl + (1 - fl)(1 - 1/(2^32-1)), the same
//     with fu, then both widened.
//   - Ceilings: the noise is lifted past 100 (nearly every sample is 0), the
//     ratio is 100 (its own maximum), the cap is 100 (P < 1e-4); so the record
//     score is the quantile ceiling.
func TestWorkedCaseFifteenMinutesAfterThirtyDays(t *testing.T) {
	span := 15 * time.Minute
	m, _ := NewModel(DefaultConfig(span))
	norm := newNormalizer(t, span)
	common := names("proc-", 8)
	for range 2880 {
		norm.Update(m.ScoreBucket(common))
	}
	scores := m.ScoreBucket(append([]string{"a-new"}, common...)) // in name order
	norm.Update(scores)
	s := find(t, scores, "a-new")
	score, c := norm.Normalize(s)

	d := math.Exp(-0.00025)
	var conc float64
	for i := 1; i <= 2881; i++ {
		conc += math.Pow(d, float64(i))
	}
	total := 8*conc + d
	pNew, pCommon := d/total, conc/total
	alpha := (1.05*pNew - pNew) / (pCommon - pNew)
	wantP := (1-alpha)*pNew + alpha
	if math.Abs(s.Probability-wantP) > 1e-12*wantP || math.Abs(s.Concentration-d) > 1e-15 {
		t.Errorf("P = %.15g with concentration %v, want %.15g and e^-0.00025", s.Probability, s.Concentration, wantP)
	}
	var z uint64
	for b := 1; b <= 2880; b++ {
		if b%40 == 0 {
			z = uint64(math.Max(float64(z)*d+0.5, 1))
		}
		z += 4
	}
	z += 3
	n := float64(z + 1)
	fr := float64(z) / n
	fl, fu := cdfQuantile(n, fr, 0.15), cdfQuantile(n, fr, 0.85)
	gap := 1 / float64(math.MaxUint32)
	lp := 100 * cdfQuantile(n, fl+(1-fl)*(1-gap), 0.15)
	up := 100 * cdfQuantile(n, fu+(1-fu)*(1-gap), 0.85)
	o := newExactOracle(t, span)
	wantQuantile := (o.knot(lp) + o.knot(up)) / 2
	t.Logf("P=%.6g raw=%.5g; %d samples (%d zeros), interval [%.5f, %.5f]; score %.6f, ceilings %+v",
		s.Probability, s.RawScore, z+1, z, lp, up, score, c)
	if norm.Count() != z+1 {
		t.Errorf("%d samples, want %d", norm.Count(), z+1)
	}
	if math.Abs(c.Quantile-wantQuantile) > 1e-9 || math.Abs(score-wantQuantile) > 1e-9 || c.Noise < 100 || c.Ratio != 100 || c.Probability != 100 {
		t.Errorf("score %v, ceilings %+v; want the quantile ceiling %v", score, c, wantQuantile)
	}
}

// A value seen before: in the quiet 1-minute fleet, a name first seen in
// bucket 101 comes back in bucket 106. Its concentration is d^6 + d
// (CEventRateModel.cc:260-270: added then decayed in 101, decayed in 102-105,
// added then decayed in 106). Its first score entered the digest as the
// largest of 12 results in bucket 102 (CAnomalyScore.cc:521-530), so the
// digest holds 69 zeros and that score; the second score lies between them:
// c.d.f. 69/70, density (1/70) / discrete(first score) (CQDigest.cc:332-360).
// Its maximum is the first score aged over 5 buckets by exp(-2 * 0.0005/30)
// each (CAnomalyScore.cc:675-686), which sets the ratio ceiling (:396-405).
func TestWorkedCaseValueSeenBefore(t *testing.T) {
	f := newFleet(t, time.Minute)
	common := names("proc-", 8)
	for range 100 {
		f.bucket(common...)
	}
	first := find(t, f.bucket(append(slices.Clone(common), "zz")...), "zz")
	for range 4 {
		f.bucket(common...)
	}
	again := find(t, f.bucket(append(slices.Clone(common), "zz")...), "zz")
	score, c := f.norm.Normalize(again)

	d := math.Exp(-0.0005 / 30)
	if math.Abs(again.Concentration-(math.Pow(d, 6)+d)) > 1e-14 || again.FirstOccurrence {
		t.Errorf("second sighting: %+v, want concentration d^6 + d", again)
	}
	if !(again.RawScore > 0 && again.RawScore < first.RawScore) {
		t.Fatalf("raw scores %v then %v: the case needs 0 < second < first", first.RawScore, again.RawScore)
	}
	d1 := float64(uint32(1000*first.RawScore + 0.5))
	const n = 70.0
	b := 69/n - 1/(n*d1)
	fl, fu := cdfQuantile(n, 1, 0.15), cdfQuantile(n, 1, 0.85)
	lp := 100 * cdfQuantile(n, math.Min(b, fl), 0.15)
	up := 100 * cdfQuantile(n, math.Min(b, fu), 0.85)
	o := newExactOracle(t, time.Minute)
	wantQuantile := (o.knot(lp) + o.knot(up)) / 2
	aged := first.RawScore
	for range 5 {
		aged *= d * d
	}
	r := again.RawScore / aged
	wantRatio := 100 * math.Min(1.5*r, 0.5+0.5*r)
	wantCap := ProbabilityCeiling(InverseRawScore(again.RawScore))
	want := math.Min(wantQuantile, math.Min(wantRatio, wantCap))
	t.Logf("first P=%.5g raw=%.5g, again P=%.5g raw=%.5g: interval [%.4f, %.4f], score %.6f, ceilings %+v",
		first.Probability, first.RawScore, again.Probability, again.RawScore, lp, up, score, c)
	if f.norm.Count() != 70 || math.Abs(c.Quantile-wantQuantile) > 1e-9 || math.Abs(c.Ratio-wantRatio) > 1e-9 ||
		math.Abs(score-want) > 1e-9 {
		t.Errorf("%d samples, score %v, ceilings %+v; want 70 samples, quantile %v, ratio %v, score %v",
			f.norm.Count(), score, c, wantQuantile, wantRatio, want)
	}
}

// A fleet with many rare values: 20 names in each 1-minute bucket, and a
// name seen once in every tenth bucket, then, from bucket 100, in every
// second one. After 200 buckets a new name is just another rare value: as
// rare names became common, their probabilities rose and their raw scores
// fell, so its raw score sits below most of the 59 earlier ones in the
// digest, and the quantile ceiling, not the probability cap, decides its
// score: about 1.2, where a quiet fleet gives 40. The digest holds fewer than
// 402 samples, so ml-cpp's is exact; the high percentile score is set at the
// 201st sample (CAnomalyScore.cc:541-590) and the record read through the
// digest it falls in (:428-507). exactOracle follows those lines; every
// non-zero result on the way is checked against it too.
func TestWorkedCaseManyRareValues(t *testing.T) {
	f := newFleet(t, time.Minute)
	common := names("c", 20)
	for b := range 200 {
		values := slices.Clone(common)
		if (b < 100 && b%10 == 9) || (b >= 100 && b%2 == 1) {
			values = append(values, fmt.Sprintf("r%03d", b))
		}
		f.bucket(values...)
	}
	s := find(t, f.bucket(append(slices.Clone(common), "zz-new")...), "zz-new")
	score, c := f.norm.Normalize(s)
	want, wc := f.oracle.normalize(s.Value, s.RawScore)
	t.Logf("P=%.5g raw=%.5g: %d samples, %d in the high digest above %d; score %.6f, ceilings %+v",
		s.Probability, s.RawScore, f.norm.Count(), len(f.oracle.high), f.oracle.highScore, score, c)
	if f.oracle.highScore == math.MaxUint32 || len(f.oracle.high) == 0 {
		t.Errorf("the high percentile score was not set: the case must pass 201 samples")
	}
	if math.Abs(score-want) > 1e-9 || c.Binding() != "quantile" || wc.Binding() != "quantile" {
		t.Errorf("score %v (binding %s), oracle %v (%s); want the quantile ceiling to bind", score, c.Binding(), want, wc.Binding())
	}
	if score >= 5 || c.Probability < 30 {
		t.Errorf("score %v under a cap of %v: a new name among many rare ones should score low, by its percentile", score, c.Probability)
	}
}
