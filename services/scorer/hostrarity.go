package scorer

import (
	"slices"
	"time"

	"github.com/rarenet/rarenet/services/scorer/rare"
	"github.com/rarenet/rarenet/shared/record"
)

// The enhanced profile's second detector: rare process.name partitioned by host.name. The
// fleet-wide detector cannot see a common name used where it never ran (curl on a database
// server): its fleet probability is high. This one keeps a rare model per host, and writes a
// record only for a value that is rare on its host while common in the fleet, so it never
// repeats what the fleet detector says.

// hostDetector is the detector index of the rare-on-this-host records.
const hostDetector = 1

// hostModel is one host's rare model.
type hostModel struct {
	model    *rare.Model
	modelled int64
}

// HostState is a checkpoint of one host's model.
type HostState struct {
	Model    rare.State `json:"model"`
	Modelled int64      `json:"modelled"`
}

// hostRarity is the per-host detector of a Rarity.
type hostRarity struct {
	job      Job
	hosts    map[string]*hostModel
	norm     *rare.Normalizer
	modelled int64
}

func newHostRarity(job Job) (*hostRarity, error) {
	n, err := newNormalizer(job)
	if err != nil {
		return nil, err
	}
	return &hostRarity{job: job, hosts: map[string]*hostModel{}, norm: n, modelled: noBucket}, nil
}

// score adds bucket k to every host's model and returns the records of values rare on a host
// but common in the fleet. values are sorted; fleet holds their fleet-wide scores, in order.
func (h *hostRarity) score(k int64, start time.Time, values []ValueSummary, fleet []rare.Score) ([]record.Record, error) {
	byHost := map[string][]int{}
	for i, v := range values {
		for _, host := range influencerValues(v.Influencers, "host.name") {
			byHost[host] = append(byHost[host], i)
		}
	}
	hosts := make([]string, 0, len(byHost))
	for host := range byHost {
		hosts = append(hosts, host)
	}
	slices.Sort(hosts)
	type candidate struct {
		host  string
		value int
		score rare.Score
	}
	var all []rare.Score
	var cands []candidate
	for _, host := range hosts {
		hm := h.hosts[host]
		if hm == nil {
			m, err := rare.NewModel(rare.DefaultConfig(h.job.BucketSpan))
			if err != nil {
				return nil, err
			}
			hm = &hostModel{model: m, modelled: noBucket}
			h.hosts[host] = hm
		}
		// ScoreBucket decays the host's model once: a host's partition decays only after
		// buckets in which it has data, as ml-cpp's partitioned models do.
		hm.modelled = k
		idx := byHost[host]
		names := make([]string, len(idx))
		for j, i := range idx {
			names[j] = values[i].Value
		}
		for j, s := range hm.model.ScoreBucket(names) {
			f := fleet[idx[j]]
			// The normaliser's history is per (host, value), as ml-cpp's is per partition.
			keyed := s
			keyed.Value = host + "\x00" + s.Value
			all = append(all, keyed)
			if s.Probability < h.job.RecordProbability && f.Probability >= h.job.RecordProbability && !f.FirstOccurrence {
				cands = append(cands, candidate{host, idx[j], keyed})
			}
		}
	}
	h.modelled = k
	h.norm.Update(all)
	var out []record.Record
	for _, c := range cands {
		v := values[c.value]
		score, ceil := h.norm.Normalize(c.score)
		var examples []record.Example
		for _, e := range v.Examples {
			if e.HostName == c.host {
				examples = append(examples, e)
			}
		}
		influencers := slices.Clone(v.Influencers)
		for i, inf := range influencers {
			if inf.FieldName == "host.name" {
				influencers[i].FieldValues = []string{c.host}
			}
		}
		out = append(out, record.Record{
			ID:                  record.ID(h.job.ID, start, h.job.BucketSpan, hostDetector, c.host+"\x00"+v.Value),
			JobID:               h.job.ID,
			ResultType:          "record",
			Timestamp:           start.UnixMilli(),
			BucketSpan:          int64(h.job.BucketSpan / time.Second),
			DetectorIndex:       hostDetector,
			Probability:         c.score.Probability,
			RecordScore:         score,
			InitialRecordScore:  score,
			Function:            "rare",
			FunctionDesc:        "rare",
			ByFieldName:         h.job.ByField,
			ByFieldValue:        v.Value,
			PartitionFieldName:  "host.name",
			PartitionFieldValue: c.host,
			Typical:             []float64{c.score.Typical},
			Actual:              []float64{c.score.Actual},
			Influencers:         withScore(influencers, score),
			Explanation: record.Explanation{
				FirstOccurrence: c.score.FirstOccurrence,
				RelativeRarity:  c.score.RelativeRarity,
				Concentration:   c.score.Concentration,
				DistinctValues:  h.hosts[c.host].model.Len(),
				RawScore:        c.score.RawScore,
				Ceilings:        record.Ceilings{Noise: ceil.Noise, Quantile: ceil.Quantile, Ratio: ceil.Ratio, Probability: ceil.Probability, Percentile: ceil.Percentile},
				EventCount:      int64(len(examples)),
				Detector:        record.DetectorRareOnHost,
			},
			Examples: examples,
		})
	}
	return out, nil
}

func (h *hostRarity) snapshot() (map[string]HostState, rare.NormalizerState) {
	hs := make(map[string]HostState, len(h.hosts))
	for name, m := range h.hosts {
		hs[name] = HostState{Model: m.model.Snapshot(), Modelled: m.modelled}
	}
	return hs, h.norm.Snapshot()
}

// restore replaces the per-host models and their normaliser; legacy says the checkpoint is an
// earlier rarenet's, whose models were not yet decayed for their last bucket.
func (h *hostRarity) restore(hs map[string]HostState, norm rare.NormalizerState, modelled int64, legacy bool) error {
	for name, s := range hs {
		m, err := rare.NewModel(rare.DefaultConfig(h.job.BucketSpan))
		if err != nil {
			return err
		}
		if err := m.Restore(s.Model); err != nil {
			return err
		}
		if legacy {
			m.Advance(1)
		}
		h.hosts[name] = &hostModel{model: m, modelled: s.Modelled}
	}
	h.modelled = modelled
	return h.norm.Restore(norm)
}

func influencerValues(infs []record.Influencer, field string) []string {
	for _, inf := range infs {
		if inf.FieldName == field {
			return inf.FieldValues
		}
	}
	return nil
}
