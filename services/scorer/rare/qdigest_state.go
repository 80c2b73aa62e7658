package rare

import (
	"errors"
	"fmt"
	"math/bits"
)

// DigestState is a q-digest's nodes.
type DigestState struct {
	// N is the sum of the counts.
	N uint64 `json:"n"`
	// Nodes are in post-order (by Max, then by span); the root, [0, 2^R-1],
	// is last.
	Nodes []DigestNode `json:"nodes"`
}

// DigestNode is one range of a q-digest and its count.
type DigestNode struct {
	Min   uint32 `json:"a"`
	Max   uint32 `json:"b"`
	Count uint64 `json:"c"`
}

func (d *qDigest) snapshot() DigestState {
	s := DigestState{N: d.n, Nodes: make([]DigestNode, len(d.nodes))}
	for i, nd := range d.nodes {
		s.Nodes[i] = DigestNode{Min: nd.min, Max: nd.max, Count: nd.count}
	}
	return s
}

// restoreDigest checks that s is a digest this package could have built:
// dyadic ranges in post-order under a root [0, 2^R-1], positive counts below
// the root, and N their sum.
func restoreDigest(s DigestState, k uint64, decayRate float64) (*qDigest, error) {
	if len(s.Nodes) == 0 {
		return nil, errors.New("no root")
	}
	root := s.Nodes[len(s.Nodes)-1]
	if root.Min != 0 || root.Max < 1 || root.Max > 1<<bits.Len32(maxDiscreteScore)-1 || bits.OnesCount32(root.Max+1) != 1 {
		return nil, fmt.Errorf("root %+v is not [0, 2^R-1]", root)
	}
	d := newQDigest(k, decayRate)
	d.nodes = make([]qNode, len(s.Nodes))
	var sum uint64
	for i, nd := range s.Nodes {
		q := qNode{min: nd.Min, max: nd.Max, count: nd.Count}
		span := uint64(nd.Max) - uint64(nd.Min) + 1
		switch {
		case nd.Max < nd.Min || bits.OnesCount64(span) != 1 || uint64(nd.Min)%span != 0:
			return nil, fmt.Errorf("node %+v is not a dyadic range", nd)
		case nd.Max > root.Max:
			return nil, fmt.Errorf("node %+v outside the root", nd)
		case i < len(s.Nodes)-1 && nd.Count == 0:
			return nil, fmt.Errorf("node %+v has no count", nd)
		case i > 0 && !postLess(d.nodes[i-1], q):
			return nil, fmt.Errorf("node %+v out of order", nd)
		}
		if sum+nd.Count < sum {
			return nil, errors.New("counts overflow")
		}
		sum += nd.Count
		d.nodes[i] = q
	}
	if sum != s.N {
		return nil, fmt.Errorf("counts sum to %d, not N = %d", sum, s.N)
	}
	d.n = s.N
	return d, nil
}
