package scorer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rarenet/rarenet/shared/event"
	"github.com/rarenet/rarenet/shared/rawdata"
	"github.com/rarenet/rarenet/shared/record"
	"github.com/rarenet/rarenet/shared/stream"
)

func TestCloseParts(t *testing.T) {
	after := int64(28)
	pc := PartitionClose{Partition: 2, ClosedThrough: 40, After: &after, EOF: true, Replay: "r1", Stats: map[string]string{"ingest": "{}"}}
	for b := range int64(5) {
		pc.Buckets = append(pc.Buckets, BucketSummary{Bucket: 30 + 2*b, Values: []ValueSummary{{Value: strings.Repeat("v", 100), Count: b + 1}}})
	}
	var enc msgpackEncoder
	whole, err := collectParts(&enc, pc, 1<<20)
	if err != nil || len(whole) != 1 || whole[0].close.ClosedThrough != 40 || !whole[0].close.EOF {
		t.Fatalf("under the limit: %d parts, %v", len(whole), err)
	}
	parts, err := collectParts(&enc, pc, 200)
	if err != nil {
		t.Fatal(err)
	}
	var through, afters []int64
	var buckets []BucketSummary
	for i, p := range parts {
		through = append(through, p.close.ClosedThrough)
		afters = append(afters, *p.close.After)
		buckets = append(buckets, p.close.Buckets...)
		last := i == len(parts)-1
		if p.close.EOF != last || (p.close.Replay == "r1") != last || (p.close.Stats != nil) != last || p.close.Partition != 2 {
			t.Errorf("part %d: %+v; only the last carries the end of input", i, p.close)
		}
		var back PartitionClose
		if _, err := back.UnmarshalMsg(p.data); err != nil || back.ClosedThrough != p.close.ClosedThrough || *back.After != *p.close.After {
			t.Errorf("part %d does not decode to itself: %v", i, err)
		}
	}
	if want := []int64{30, 32, 34, 36, 40}; !slices.Equal(through, want) {
		t.Errorf("parts close through %v, want %v", through, want)
	}
	// Each part follows the one before, the first what the whole close followed.
	if want := []int64{28, 30, 32, 34, 36}; !slices.Equal(afters, want) {
		t.Errorf("parts follow %v, want %v", afters, want)
	}
	if len(buckets) != len(pc.Buckets) {
		t.Errorf("parts hold %d buckets, want %d", len(buckets), len(pc.Buckets))
	}
}

type closePart struct {
	close PartitionClose
	data  []byte
}

// collectParts returns closeParts' parts with copies of their encodings: the encoder reuses
// its buffer.
func collectParts(enc *msgpackEncoder, pc PartitionClose, limit int) ([]closePart, error) {
	var parts []closePart
	err := enc.closeParts(pc, limit, func(part PartitionClose, data []byte) error {
		parts = append(parts, closePart{part, bytes.Clone(data)})
		return nil
	})
	return parts, err
}

// TestServiceSplitsLargeCloses closes twenty buckets at once, as a replica that takes a
// partition over does, with a close limit far below the buckets' size: the closes go out in
// parts, and ANOMALIES gets what it gets from one close per partition.
func TestServiceSplitsLargeCloses(t *testing.T) {
	run := func(maxClose int) (got []string, closes int) {
		h := startScorerWith(t, func(s *Service) { s.maxClose = maxClose })
		anomalies := newReader(t, h, stream.AnomaliesSubject)
		sub, err := h.nc.SubscribeSync("rarenet.buckets.*")
		if err != nil {
			t.Fatal(err)
		}
		var evs []*event.Event
		for b := range 20 {
			for n := range 10 {
				evs = append(evs, ev(at(b).Add(time.Duration(n)*time.Second), regular(n)))
			}
		}
		evs = append(evs, ev(at(20), "nc"))
		h.publishEvents(t, evs...)
		h.watermark(t, at(21))
		last := "wm " + at(21).Format("15:04")
		for len(got) == 0 || got[len(got)-1] != last {
			got = append(got, describe(t, anomalies.next(t)))
		}
		for {
			if _, err := sub.NextMsg(200 * time.Millisecond); err != nil {
				break
			}
			closes++
		}
		return got, closes
	}
	whole, wholeCloses := run(0)
	split, splitCloses := run(2000)
	if !slices.Equal(whole, split) {
		t.Errorf("ANOMALIES differs when closes are split:\nwhole: %q\nsplit: %q", whole, split)
	}
	if wholeCloses != testPartitions || splitCloses <= wholeCloses {
		t.Errorf("%d close messages whole, %d split; want one per partition, then more", wholeCloses, splitCloses)
	}
	if !slices.Contains(whole, "rec nc@"+at(20).Format("15:04")) {
		t.Errorf("no record of the new name: %q", whole)
	}
}

// TestScoreBucketIsIndependentOfValueOrder scores one bucket's values as the partitions'
// closes may bring them, in many orders: its summary messages must be the same bytes, hold
// the values sorted, and its records be the same.
func TestScoreBucketIsIndependentOfValueOrder(t *testing.T) {
	job := DefaultJob()
	var values []ValueSummary
	for i := range 1200 { // more than two summary chunks
		values = append(values, ValueSummary{Value: fmt.Sprintf("proc-%04d", (i*7919)%1200), Count: int64(1 + i%5),
			Users: []string{"root"}, Influencers: []record.Influencer{{FieldName: "host.name", FieldValues: []string{"h1"}}}})
	}
	rng := rand.New(rand.NewPCG(9, 10))
	var want [][]byte
	var wantRecs string
	for round := range 4 {
		r, err := NewRarity(job)
		if err != nil {
			t.Fatal(err)
		}
		var enc msgpackEncoder
		msgs, recs, err := scoreBucket(job, &enc, r, 100, slices.Clone(values))
		if err != nil {
			t.Fatal(err)
		}
		var got [][]byte
		var seen []string
		for _, m := range msgs {
			got = append(got, m.msg.Data)
			data, err := rawdata.Data(m.msg.Header, m.msg.Data)
			if err != nil {
				t.Fatal(err)
			}
			var s record.BucketSummary
			if _, err := s.UnmarshalMsg(data); err != nil {
				t.Fatal(err)
			}
			for _, v := range s.Values {
				seen = append(seen, v.Value)
			}
		}
		if len(msgs) != 3 || len(seen) != len(values) || !slices.IsSorted(seen) {
			t.Fatalf("%d summary messages of %d values, sorted %v", len(msgs), len(seen), slices.IsSorted(seen))
		}
		rb, err := json.Marshal(recs)
		if err != nil {
			t.Fatal(err)
		}
		if round == 0 {
			want, wantRecs = got, string(rb)
		} else if !slices.EqualFunc(got, want, bytes.Equal) || string(rb) != wantRecs {
			t.Fatalf("order %d gives other summaries or records", round)
		}
		rng.Shuffle(len(values), func(i, j int) { values[i], values[j] = values[j], values[i] })
	}
}
