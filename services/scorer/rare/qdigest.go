package rare

import (
	"math"
	"slices"
	"sort"
)

// qDigest is the q-digest of Shrivastava, Buragohain, Agrawal and Suri ("Medians and
// beyond", SenSys 2004) over discrete raw scores, with the choices ml-cpp makes in
// lib/maths/common/CQDigest.cc, so that it holds the same nodes and counts as ml-cpp's
// after the same additions and decays:
//
//   - nodes are dyadic ranges [i*2^l, (i+1)*2^l - 1] with integer counts; the root is
//     [0, 2^R - 1], doubled (CNode::expand) when a larger value arrives;
//   - a node, its sibling and its parent are merged into the parent while their counts sum
//     to less than floor(n/k) (CNode::compress), level by level from the leaves, the whole
//     tree when floor(n/k) changes or the root grows, else the path from a new leaf
//     (CQDigest::add);
//   - decay multiplies every count by exp(-rate*t) and rounds it to the nearest integer,
//     never below 1 (CNode::age), then compresses the whole tree;
//   - c.d.f. bounds, the quantile, the density and the summary read the tree as
//     CQDigest::cdf, quantile, pdf and summary do, including which nodes the supremum and
//     infimum of pdf look at (the children of the root for the supremum, the path to x for
//     the infimum).
//
// It is this package's own code, written from the description above; the tree is kept flat,
// in post-order (by largest value, then span), instead of as linked nodes.
type qDigest struct {
	k         uint64
	decayRate float64
	n         uint64
	// nodes holds every node in post-order: by max, then by span. The root is last; it is the
	// only node that may have count 0.
	nodes []qNode
	// children[i] lists, in post-order, the nodes whose lowest enclosing node is nodes[i]: the
	// links of ml-cpp's tree. nil when the nodes changed since it was built.
	children [][]int
}

// qNode is one range of a qDigest and the count of values held at it.
type qNode struct {
	min, max uint32
	count    uint64
}

func (n qNode) span() uint32 { return n.max - n.min + 1 }

func (n qNode) contains(o qNode) bool { return n.min <= o.min && o.max <= n.max }

// qSummaryEntry is one step of qDigest.summary: the count of values at most x.
type qSummaryEntry struct {
	x     uint32
	count uint64
}

// maxDiscreteScore is the largest value a digest takes: the discrete score of raw score 100.
const maxDiscreteScore = 100_000

// newQDigest returns an empty digest of size parameter k whose counts decay at decayRate per
// unit of time (CQDigest's constructor: the root [0, 1] with count 0).
func newQDigest(k uint64, decayRate float64) *qDigest {
	return &qDigest{k: k, decayRate: decayRate, nodes: []qNode{{min: 0, max: 1}}}
}

func postLess(a, b qNode) bool {
	return a.max < b.max || (a.max == b.max && a.span() < b.span())
}

// find returns the index of the node [min, max], or where it would be inserted.
func (d *qDigest) find(min, max uint32) (int, bool) {
	key := qNode{min: min, max: max}
	i := sort.Search(len(d.nodes), func(i int) bool { return !postLess(d.nodes[i], key) })
	return i, i < len(d.nodes) && d.nodes[i].min == min && d.nodes[i].max == max
}

func (d *qDigest) root() *qNode { return &d.nodes[len(d.nodes)-1] }

// add adds count values x (CQDigest::add).
func (d *qDigest) add(x uint32, count uint64) {
	x = min(x, maxDiscreteScore)
	d.n += count
	expanded := d.expand(x)
	i, found := d.find(x, x)
	if found {
		d.nodes[i].count += count
	} else {
		d.nodes = slices.Insert(d.nodes, i, qNode{min: x, max: x, count: count})
	}
	d.children = nil
	switch {
	case expanded || d.n/d.k != (d.n-count)/d.k:
		d.compress()
	case !found:
		d.compressPath(x, x)
	}
}

// expand grows the root until it covers x, and says whether it had to (CNode::expand: a root
// with count 0 is stretched, one with a count becomes the first child of a new root).
func (d *qDigest) expand(x uint32) bool {
	r := d.root()
	if r.max >= x {
		return false
	}
	top, span := uint64(r.max), uint64(r.span())
	for top < uint64(x) {
		top += span
		span <<= 1
	}
	if r.count == 0 {
		r.max = uint32(top)
	} else {
		d.nodes = append(d.nodes, qNode{min: 0, max: uint32(top)})
	}
	return true
}

// compressNode merges node i, its sibling and its parent into the parent when their counts
// sum to less than floor(n/k), and returns the parent's range (CNode::compress).
func (d *qDigest) compressNode(i int) (pmin, pmax uint32, merged bool) {
	if i == len(d.nodes)-1 {
		return 0, 0, false
	}
	nd := d.nodes[i]
	s := nd.span()
	pmin = nd.min &^ (2*s - 1)
	pmax = pmin + 2*s - 1
	smin := nd.min + s
	if (nd.min/s)%2 == 1 {
		smin = nd.min - s
	}
	count := nd.count
	if j, ok := d.find(pmin, pmax); ok {
		count += d.nodes[j].count
	}
	if j, ok := d.find(smin, smin+s-1); ok {
		count += d.nodes[j].count
	}
	if count >= d.n/d.k {
		return 0, 0, false
	}
	d.remove(nd.min, nd.max)
	d.remove(smin, smin+s-1)
	if j, ok := d.find(pmin, pmax); ok {
		d.nodes[j].count = count
	} else {
		d.nodes = slices.Insert(d.nodes, j, qNode{min: pmin, max: pmax, count: count})
	}
	d.children = nil
	return pmin, pmax, true
}

func (d *qDigest) remove(min, max uint32) {
	if i, ok := d.find(min, max); ok {
		d.nodes = slices.Delete(d.nodes, i, i+1)
	}
}

// compressPath compresses from the node [min, max] towards the root while merges happen.
func (d *qDigest) compressPath(min, max uint32) {
	for {
		i, ok := d.find(min, max)
		if !ok {
			return
		}
		var merged bool
		if min, max, merged = d.compressNode(i); !merged {
			return
		}
	}
}

// compress runs passes over the whole tree, each level by level from the leaves, until one
// merges nothing (CQDigest::compress, at most 3k+2 passes). Within a level the order does not
// matter: a node's merge depends only on itself, its sibling and its parent.
func (d *qDigest) compress() {
	for range 3*d.k + 2 {
		merged := false
		for s := uint32(1); s < d.root().span(); s <<= 1 {
			var level []qNode
			for _, nd := range d.nodes {
				if nd.span() == s {
					level = append(level, nd)
				}
			}
			for _, nd := range level {
				if i, ok := d.find(nd.min, nd.max); ok {
					if _, _, m := d.compressNode(i); m {
						merged = true
					}
				}
			}
		}
		if !merged {
			return
		}
	}
}

// propagate ages the counts by time units (CQDigest::propagateForwardsByTime).
func (d *qDigest) propagate(time float64) {
	alpha := math.Exp(-d.decayRate * time)
	var n uint64
	for i := range d.nodes {
		if c := d.nodes[i].count; c > 0 {
			d.nodes[i].count = uint64(math.Max(float64(c)*alpha+0.5, 1))
		}
		n += d.nodes[i].count
	}
	d.n = n
	d.children = nil
	d.compress()
}

// cdf returns the bounds of the fraction of values at most x: the counts of the nodes lying
// wholly at or below x, and of those starting at or below x (CQDigest::cdf, no confidence).
func (d *qDigest) cdf(x uint32) (lower, upper float64) {
	if d.n == 0 {
		return 0, 0
	}
	var l, u uint64
	for _, nd := range d.nodes {
		if nd.max <= x {
			l += nd.count
		}
		if nd.min <= x {
			u += nd.count
		}
	}
	return float64(l) / float64(d.n), float64(u) / float64(d.n)
}

// pdf returns the bounds of the density at x: the mass between the largest node end below x
// and the smallest above it, over the width of that gap (CQDigest::pdf, no confidence). A new
// largest value has a density of about 1/2^32.
func (d *qDigest) pdf(x uint32) (lower, upper float64) {
	if d.n == 0 {
		return 0, 0
	}
	inf, sup := d.infimum(x), d.supremum(x)
	il, iu := d.cdf(inf)
	sl, su := d.cdf(sup)
	width := math.Max(float64(sup-inf), 1)
	return math.Max(sl-iu, 0) / width, math.Max(su-il, 0) / width
}

// supremum is CNode::sublevelSetSupremum from the root: the smallest end above x among the
// root's children (and the root itself if it holds a count), or the largest uint32.
func (d *qDigest) supremum(x uint32) uint32 {
	children := d.links()
	r := len(d.nodes) - 1
	result := uint32(math.MaxUint32)
	for _, c := range children[r] {
		if m := d.nodes[c].max; m > x {
			result = min(result, m)
		}
	}
	if root := d.nodes[r]; root.max > x && root.count > 0 {
		result = min(result, root.max)
	}
	return result
}

// infimum is CNode::superlevelSetInfimum from the root: walking down towards x, the largest
// end below x among the children passed, or 0.
func (d *qDigest) infimum(x uint32) uint32 {
	children := d.links()
	var result uint32
	var walk func(i int)
	walk = func(i int) {
		for _, c := range children[i] {
			if m := d.nodes[c].max; m < x {
				result = max(result, m)
			} else {
				walk(c)
				break
			}
		}
		if nd := d.nodes[i]; nd.max < x && nd.count > 0 {
			result = max(result, nd.max)
		}
	}
	walk(len(d.nodes) - 1)
	return result
}

// links returns children, building it from a pre-order walk when stale.
func (d *qDigest) links() [][]int {
	if d.children != nil {
		return d.children
	}
	order := make([]int, len(d.nodes))
	for i := range order {
		order[i] = i
	}
	// Pre-order: by min, then the wider range first.
	slices.SortFunc(order, func(a, b int) int {
		na, nb := d.nodes[a], d.nodes[b]
		switch {
		case na.min != nb.min:
			return int(int64(na.min) - int64(nb.min))
		default:
			return int(int64(nb.span()) - int64(na.span()))
		}
	})
	children := make([][]int, len(d.nodes))
	var stack []int
	for _, i := range order {
		for len(stack) > 0 && !d.nodes[stack[len(stack)-1]].contains(d.nodes[i]) {
			stack = stack[:len(stack)-1]
		}
		if len(stack) > 0 {
			p := stack[len(stack)-1]
			children[p] = append(children[p], i)
		}
		stack = append(stack, i)
	}
	for _, c := range children {
		slices.Sort(c) // post-order indexes
	}
	d.children = children
	return children
}

// quantile returns the end of the first node, in post-order, at which the running count
// reaches round(q*n) (CQDigest::quantile and CNode::quantile).
func (d *qDigest) quantile(q float64) uint32 {
	target := uint64(q*float64(d.n) + 0.5)
	var run uint64
	for _, nd := range d.nodes {
		run += nd.count
		if run >= target {
			return nd.max
		}
	}
	return d.root().max
}

// summary returns the running count at each distinct node end, in order (CQDigest::summary).
func (d *qDigest) summary() []qSummaryEntry {
	if d.n == 0 {
		return nil
	}
	var out []qSummaryEntry
	last, run := d.nodes[0].max, d.nodes[0].count
	for _, nd := range d.nodes[1:] {
		if nd.max != last {
			out = append(out, qSummaryEntry{x: last, count: run})
			last = nd.max
		}
		run += nd.count
	}
	if len(out) == 0 || out[len(out)-1].count < run {
		out = append(out, qSummaryEntry{x: d.root().max, count: run})
	}
	return out
}
