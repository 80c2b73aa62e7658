package scorer

import (
	"hash/fnv"
	"slices"
	"testing"
	"time"

	"github.com/rarenet/rarenet/shared/event"
	"github.com/rarenet/rarenet/shared/rawdata"
	"github.com/rarenet/rarenet/shared/stream"
)

// benchCloses returns the partition closes of benchBatches' events spread over partitions
// by process name, closed as the bench's watermark passes, in the order they go out.
func benchCloses(b *testing.B, partitions int) []PartitionClose {
	b.Helper()
	job := DefaultJob()
	aggs := make([]*Aggregator, partitions)
	for p := range aggs {
		aggs[p] = NewAggregator(job)
	}
	var r event.BatchReader
	var ev event.Event
	var out []PartitionClose
	closeAll := func(last int64) {
		for p, agg := range aggs {
			if sums, ok := agg.CloseThrough(last); ok {
				out = append(out, PartitionClose{Partition: p, ClosedThrough: last, Buckets: sums})
			}
		}
	}
	for _, data := range benchBatches(b, 256*64) {
		if err := r.Decode(data); err != nil {
			b.Fatal(err)
		}
		for i := range r.Len() {
			r.Event(i, &ev)
			h := fnv.New32a()
			h.Write([]byte(ev.Process.Name))
			if _, err := aggs[int(h.Sum32())%partitions].Add(&ev); err != nil {
				b.Fatal(err)
			}
		}
		closeAll(aggs[0].bucketOf(ev.Timestamp.Add(-time.Minute)) - 1)
	}
	closeAll(aggs[0].LastOpen())
	return out
}

// BenchmarkPartitionClose measures what a partition close costs the scorer past its
// aggregation: encoding and compressing the close, decoding it on the model's side, and,
// once every partition is closed through a bucket, the bucket's summaries and its score. The
// bench's 16,384 events make 23 buckets over 8 partitions.
//
//	cd services/scorer && go test -run '^$' -bench PartitionClose -benchmem .
func BenchmarkPartitionClose(b *testing.B) {
	const partitions = 8
	closes := benchCloses(b, partitions)
	job := DefaultJob()
	var enc, sumEnc msgpackEncoder
	var raw rawdata.Decoder
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		r, err := NewRarity(job)
		if err != nil {
			b.Fatal(err)
		}
		closed := slices.Repeat([]int64{noBucket}, partitions)
		pending := map[int64][]ValueSummary{}
		for _, pc := range closes {
			err := enc.closeParts(pc, 1<<20, func(_ PartitionClose, data []byte) error {
				m := enc.compressed(stream.BucketsSubject(pc.Partition), data)
				var back PartitionClose
				if err := decodeClose(&raw, m.Header, m.Data, &back); err != nil {
					return err
				}
				for _, bs := range back.Buckets {
					pending[bs.Bucket] = append(pending[bs.Bucket], bs.Values...)
				}
				closed[back.Partition] = back.ClosedThrough
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
			ready := slices.Min(closed)
			var ks []int64
			for k := range pending {
				if k <= ready {
					ks = append(ks, k)
				}
			}
			slices.Sort(ks)
			for _, k := range ks {
				if _, _, err := scoreBucket(job, &sumEnc, r, k, pending[k]); err != nil {
					b.Fatal(err)
				}
				delete(pending, k)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(closes)), "ns/close")
}
