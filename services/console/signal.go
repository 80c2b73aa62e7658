package console

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/rarenet/rarenet/services/windower"
	"github.com/rarenet/rarenet/shared/record"
	"github.com/rarenet/rarenet/shared/stream"
)

// ErrSignalNotFound is returned when no signal of the index has the id.
var ErrSignalNotFound = errors.New("console: no such signal")

// ErrSignalExpired is returned when the index knows a signal whose document the stream no
// longer holds (its limits dropped it).
var ErrSignalExpired = errors.New("console: the signal's document is no longer in the stream")

// signalDoc is the part of a signal document the signal's page reads with types; the rest is
// read from the document as a map. Fields of 7.x documents are under Signal.
type signalDoc struct {
	Probability        float64                `json:"probability"`
	RecordScore        float64                `json:"record_score"`
	InitialRecordScore float64                `json:"initial_record_score"`
	JobID              string                 `json:"job_id"`
	BucketSpan         int64                  `json:"bucket_span"`
	ByFieldName        string                 `json:"by_field_name"`
	PartitionField     string                 `json:"partition_field_name"`
	PartitionValue     string                 `json:"partition_field_value"`
	Influencers        []record.Influencer    `json:"influencers"`
	Explanation        record.Explanation     `json:"rarenet.explanation"`
	Examples           []record.Example       `json:"rarenet.examples"`
	Context            *record.Context        `json:"rarenet.context"`
	RecordID           string                 `json:"rarenet.record_id"`
	RuleRun            string                 `json:"rarenet.rule_run"`
	Threat             []windower.Threat      `json:"kibana.alert.rule.threat"`
	Note               string                 `json:"kibana.alert.rule.note"`
	Severity           string                 `json:"kibana.alert.severity"`
	RiskScore          float64                `json:"kibana.alert.risk_score"`
	ExecutionID        string                 `json:"kibana.alert.rule.execution.uuid"`
	Signal             *struct{ Rule rule7x } `json:"signal"`
}

type rule7x struct {
	Threat    []windower.Threat `json:"threat"`
	Note      string            `json:"note"`
	Severity  string            `json:"severity"`
	RiskScore float64           `json:"risk_score"`
}

// signalView is the signal page's content.
type signalView struct {
	Summary
	Doc          signalDoc
	Raw          string
	Destinations []destinationView
	Triage       *Triage
	History      []Triage
	Activity     *activity
	Ceiling      string
	Exception    exceptionForm
	CanTriage    bool
}

type destinationView struct {
	record.Destination
	Summary Destination
}

// document reads a signal's document from the stream by its sequence.
func (s *Server) document(ctx context.Context, id string) (Summary, []byte, error) {
	sum, ok := s.ix.Get(id)
	if !ok {
		return sum, nil, fmt.Errorf("%w: %s", ErrSignalNotFound, id)
	}
	st, err := s.js.Stream(ctx, stream.Signals)
	if err != nil {
		return sum, nil, err
	}
	m, err := st.GetMsg(ctx, sum.Seq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return sum, nil, fmt.Errorf("%w: %s (sequence %d)", ErrSignalExpired, id, sum.Seq)
	}
	if err != nil {
		return sum, nil, err
	}
	return sum, m.Data, nil
}

func (s *Server) signalError(w http.ResponseWriter, r *http.Request, err error) {
	status := http.StatusInternalServerError
	switch {
	case errors.Is(err, ErrSignalNotFound):
		status = http.StatusNotFound
	case errors.Is(err, ErrSignalExpired):
		status = http.StatusGone
	}
	if isAPI(r) {
		writeJSON(w, status, map[string]string{"error": err.Error()})
		return
	}
	s.errorPage(w, r, status, err.Error())
}

func (s *Server) signalPage(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	sum, raw, err := s.document(r.Context(), id)
	if err != nil {
		s.signalError(w, r, err)
		return
	}
	v := signalView{Summary: sum, CanTriage: who(r).CanTriage()}
	// A field of another type than expected (a newer enricher) leaves that field out, not the page.
	var ute *json.UnmarshalTypeError
	if err := json.Unmarshal(raw, &v.Doc); err != nil && !errors.As(err, &ute) {
		s.signalError(w, r, fmt.Errorf("console: signal %s: %w", id, err))
		return
	}
	if sg := v.Doc.Signal; sg != nil {
		v.Doc.Threat, v.Doc.Note, v.Doc.Severity, v.Doc.RiskScore = sg.Rule.Threat, sg.Rule.Note, sg.Rule.Severity, sg.Rule.RiskScore
	}
	var pretty bytes.Buffer
	if json.Indent(&pretty, raw, "", "  ") == nil {
		v.Raw = pretty.String()
	}
	if c := v.Doc.Context; c != nil {
		for i, d := range c.Destinations {
			dv := destinationView{Destination: d}
			if i < len(sum.Destinations) {
				dv.Summary = sum.Destinations[i]
			}
			v.Destinations = append(v.Destinations, dv)
		}
	}
	if len(v.Destinations) == 0 {
		for _, d := range sum.Destinations {
			v.Destinations = append(v.Destinations, destinationView{Destination: record.Destination{IP: d.IP, Port: d.Port}, Summary: d})
		}
	}
	v.Ceiling = bindingCeiling(v.Doc.Explanation.Ceilings)
	if v.Triage, err = ReadStatus(r.Context(), s.triage, id); err != nil {
		s.log.Warn("reading a triage state", "id", id, "err", err)
	}
	if v.History, err = TriageHistory(r.Context(), s.triage, id); err != nil {
		s.log.Warn("reading a triage history", "id", id, "err", err)
	}
	v.Activity = s.processActivity(r.Context(), sum.Process, sum.ID)
	v.Exception = prefill(sum)
	s.render(w, r, http.StatusOK, "signal.html", page{Title: sum.Process + " · " + sum.Time.Format("2006-01-02 15:04"), Nav: "signals", Body: v})
}

// bindingCeiling names the ceiling the record score is (the minimum of the four).
func bindingCeiling(c record.Ceilings) string {
	type named struct {
		name string
		v    float64
	}
	all := []named{{"noise", c.Noise}, {"quantile", c.Quantile}, {"max_score_ratio", c.Ratio}, {"probability_cap", c.Probability}}
	best := slices.MinFunc(all, func(a, b named) int {
		switch {
		case a.v < b.v:
			return -1
		case a.v > b.v:
			return 1
		}
		return 0
	})
	if best.v == 0 && c.Noise == 0 && c.Quantile == 0 {
		return ""
	}
	return best.name
}

func (s *Server) signalRaw(w http.ResponseWriter, r *http.Request) {
	_, raw, err := s.document(r.Context(), r.PathValue("id"))
	if err != nil {
		s.signalError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	if r.URL.Query().Has("download") {
		w.Header().Set("Content-Disposition", `attachment; filename="signal-`+strings.ReplaceAll(r.PathValue("id"), `"`, "")+`.json"`)
	}
	_, _ = w.Write(raw)
}

// apiSignal is a signal as JSON: its summary, document, triage state and history.
func (s *Server) apiSignal(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	sum, raw, err := s.document(r.Context(), id)
	if err != nil {
		s.signalError(w, r, err)
		return
	}
	t, err := ReadStatus(r.Context(), s.triage, id)
	if err != nil {
		s.signalError(w, r, err)
		return
	}
	h, err := TriageHistory(r.Context(), s.triage, id)
	if err != nil {
		s.signalError(w, r, err)
		return
	}
	if h == nil {
		h = []Triage{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"summary": sum, "document": json.RawMessage(raw), "triage": t, "history": h})
}
