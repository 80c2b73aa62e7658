package rare

import (
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
)

func nodesOf(d *qDigest) []DigestNode { return d.snapshot().Nodes }

// Worked by hand from lib/maths/common/CQDigest.cc with k = 2, so that
// floor(n/k) compresses early: CQDigest::add compresses the whole tree when
// the root grows or floor(n/k) changes, CNode::compress merges a node, its
// sibling and its parent while their counts sum below floor(n/k), level by
// level from the leaves, and CNode::expand stretches a root of count 0.
func TestQDigestCompressionByHand(t *testing.T) {
	d := newQDigest(2, 0)
	for x := range uint32(4) {
		d.add(x, 1) // 0..3: pairs of leaves sum to 2 >= floor(n/2): nothing merges
	}
	want := []DigestNode{{0, 0, 1}, {1, 1, 1}, {2, 2, 1}, {3, 3, 1}, {0, 3, 0}}
	if got := nodesOf(d); !reflect.DeepEqual(got, want) {
		t.Fatalf("after 0..3: %v, want %v", got, want)
	}
	// 4 stretches the root to [0, 7]; n = 5, floor(5/2) = 2: [4,4] alone (1) merges to
	// [4,5], then [4,7], then into the root.
	d.add(4, 1)
	want = []DigestNode{{0, 0, 1}, {1, 1, 1}, {2, 2, 1}, {3, 3, 1}, {0, 7, 1}}
	if got := nodesOf(d); !reflect.DeepEqual(got, want) {
		t.Fatalf("after 4: %v, want %v", got, want)
	}
	if l, u := d.cdf(4); l != 4.0/5 || u != 1 {
		t.Errorf("cdf(4) = [%v, %v], want [4/5, 1]", l, u)
	}
	// round(0.5 * 5) = 3: the third node in post-order.
	if q := d.quantile(0.5); q != 2 {
		t.Errorf("median = %d, want 2", q)
	}
	wantSummary := []qSummaryEntry{{0, 1}, {1, 2}, {2, 3}, {3, 4}, {7, 5}}
	if got := d.summary(); !reflect.DeepEqual(got, wantSummary) {
		t.Errorf("summary = %v, want %v", got, wantSummary)
	}
	// pdf(2): the infimum is the largest end below 2 on the way down (1), the
	// supremum the smallest end above 2 among the root's children (3) or the
	// root's (7, it has a count); bounds (cdfL(3) - cdfU(1)) / 2 and
	// (cdfU(3) - cdfL(1)) / 2 with cdfU(1) counting the root.
	if l, u := d.pdf(2); math.Abs(l-(4.0/5-3.0/5)/2) > 1e-15 || math.Abs(u-(1-2.0/5)/2) > 1e-15 {
		t.Errorf("pdf(2) = [%v, %v], want [0.1, 0.3]", l, u)
	}
	// 9 cannot stretch a root holding a count: a new root [0, 15] takes [0, 7] as a child.
	// n = 6, floor(6/2) = 3: [0,0]+[1,1] -> [0,1] (2), [2,2]+[3,3] -> [2,3] (2), [9,9]
	// climbs to [8,15], which with [0,7] (1) merges into the root (0 + 1 + 1 = 2).
	d.add(9, 1)
	want = []DigestNode{{0, 1, 2}, {2, 3, 2}, {0, 15, 2}}
	if got := nodesOf(d); !reflect.DeepEqual(got, want) || d.n != 6 {
		t.Fatalf("after 9: %v (n %d), want %v", got, d.n, want)
	}
	if l, u := d.cdf(9); l != 4.0/6 || u != 1 {
		t.Errorf("cdf(9) = [%v, %v], want [2/3, 1]", l, u)
	}
}

// CNode::age: each count becomes floor(c * alpha + 0.5), never below 1.
func TestQDigestAgeRounds(t *testing.T) {
	d := newQDigest(201, math.Log(2)) // alpha = 1/2 per unit of time
	d.add(0, 5)
	d.add(3, 1)
	d.propagate(1)
	if got, want := nodesOf(d), []DigestNode{{0, 0, 3}, {3, 3, 1}, {0, 3, 0}}; !reflect.DeepEqual(got, want) || d.n != 4 {
		t.Errorf("after halving: %v (n %d), want %v (n 4)", got, d.n, want)
	}
}

// With fewer than 2k values nothing merges: the digest is exact, and a new
// largest value's density is about 1/2^32 (CQDigest::pdf's supremum is the
// largest uint32 when nothing lies above).
func TestQDigestExactBelow2k(t *testing.T) {
	d := newQDigest(201, 0)
	rng := rand.New(rand.NewPCG(1, 2))
	counts := map[uint32]uint64{}
	for range 400 {
		x := uint32(rng.IntN(5000))
		d.add(x, 1)
		counts[x]++
	}
	for x, c := range counts {
		if i, ok := d.find(x, x); !ok || d.nodes[i].count != c {
			t.Fatalf("leaf %d: %v, want count %d", x, ok, c)
		}
	}
	d.add(99_999, 1)
	l, u := d.pdf(99_999)
	below := 1 - 1.0/float64(d.n)
	if want := (1 - below) / float64(math.MaxUint32-d.infimum(99_999)); math.Abs(l-want) > 1e-25 || math.Abs(u-want) > 1e-25 {
		t.Errorf("pdf of a new maximum = [%g, %g], want %g", l, u, want)
	}
}

// Under many additions the digest keeps at most 3k+2 nodes, its counts sum to
// n, and its c.d.f. bounds bracket the exact fraction.
func TestQDigestInvariants(t *testing.T) {
	d := newQDigest(201, 0.00025)
	rng := rand.New(rand.NewPCG(3, 4))
	var all []uint32
	for i := range 50_000 {
		x := uint32(0)
		if rng.IntN(3) == 0 {
			x = uint32(rng.ExpFloat64() * 3000)
		}
		d.add(x, 1)
		all = append(all, x)
		if i%5000 == 4999 {
			d.propagate(1)
		}
	}
	if len(d.nodes) > 3*201+2 {
		t.Errorf("%d nodes, want at most %d", len(d.nodes), 3*201+2)
	}
	var sum uint64
	for _, nd := range d.nodes {
		sum += nd.count
	}
	if sum != d.n {
		t.Errorf("counts sum to %d, n = %d", sum, d.n)
	}
	if _, err := restoreDigest(d.snapshot(), 201, 0.00025); err != nil {
		t.Errorf("digest does not pass its own checks: %v", err)
	}
	// Decay is too slow here to move counts far from the exact fractions.
	for _, x := range []uint32{0, 100, 1000, 5000, 20000} {
		var below int
		for _, v := range all {
			if v <= x {
				below++
			}
		}
		exact := float64(below) / float64(len(all))
		l, u := d.cdf(x)
		if l > exact+0.01 || u < exact-0.01 {
			t.Errorf("cdf(%d) = [%v, %v], exact %v", x, l, u, exact)
		}
	}
}
