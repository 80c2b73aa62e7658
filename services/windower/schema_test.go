package windower

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/rarenet/rarenet/services/windower/alertmap"
	"github.com/rarenet/rarenet/shared/record"
)

var (
	schemaOnce sync.Once
	schema     *jsonschema.Schema
	schemaErr  error
)

// validateSignal checks a signal document (JSON) against signal.schema.json.
func validateSignal(t *testing.T, b []byte) {
	t.Helper()
	schemaOnce.Do(func() {
		f, err := os.Open("signal.schema.json")
		if err != nil {
			schemaErr = err
			return
		}
		defer f.Close()
		doc, err := jsonschema.UnmarshalJSON(f)
		if err != nil {
			schemaErr = err
			return
		}
		c := jsonschema.NewCompiler()
		c.AssertFormat()
		if schemaErr = c.AddResource("signal.schema.json", doc); schemaErr != nil {
			return
		}
		schema, schemaErr = c.Compile("signal.schema.json")
	})
	if schemaErr != nil {
		t.Fatalf("schema: %v", schemaErr)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if err := schema.Validate(inst); err != nil {
		t.Errorf("signal does not validate against signal.schema.json: %v\n%s", err, b)
	}
	// And against Kibana's own field maps.
	if problems := alertmap.CheckJSON(b); len(problems) > 0 {
		t.Errorf("signal departs from Kibana's field map:\n  %s\n%s", strings.Join(problems, "\n  "), b)
	}
}

func TestSignalsValidateAgainstSchema(t *testing.T) {
	v1, err := BuiltinRule(BuiltinV1)
	if err != nil {
		t.Fatal(err)
	}
	current := DefaultRule()
	bare := sampleRecord()
	bare.Examples, bare.Context, bare.Influencers = nil, nil, nil
	now, run := time.Date(2024, 1, 1, 6, 0, 1, 0, time.UTC), time.Date(2024, 1, 1, 5, 45, 0, 0, time.UTC)
	for _, format := range []string{Format8x, Format7x} {
		for _, rule := range []Rule{current, v1} {
			for _, late := range []bool{false, true} {
				for _, r := range []struct {
					name string
					rec  func() *record.Record
				}{{"full", func() *record.Record { r := sampleRecord(); return &r }}, {"bare", func() *record.Record { return &bare }}} {
					t.Run(format+"/"+rule.Source+"/"+r.name, func(t *testing.T) {
						doc, err := Document(format, &rule, r.rec(), now, run, late)
						if err != nil {
							t.Fatal(err)
						}
						b, err := json.Marshal(doc)
						if err != nil {
							t.Fatal(err)
						}
						validateSignal(t, b)
					})
				}
			}
		}
	}
}

// TestSchemaRejects makes sure the schema is not vacuous: broken documents fail.
func TestSchemaRejects(t *testing.T) {
	rule := DefaultRule()
	r := sampleRecord()
	now := time.Date(2024, 1, 1, 6, 0, 0, 0, time.UTC)
	for name, breakIt := range map[string]func(map[string]any){
		"no workflow status": func(d map[string]any) { delete(d, "kibana.alert.workflow_status") },
		"closed":             func(d map[string]any) { d["kibana.alert.workflow_status"] = "closed" },
		"score above 100":    func(d map[string]any) { d["record_score"] = 101 },
		"no threat":          func(d map[string]any) { delete(d, "kibana.alert.rule.threat") },
		"bad tactic": func(d map[string]any) {
			d["kibana.alert.rule.threat"] = []any{map[string]any{"framework": "MITRE ATT&CK", "tactic": map[string]any{"id": "X1"}}}
		},
		"7x and 8x mixed":   func(d map[string]any) { d["signal"] = map[string]any{} },
		"not a uuid":        func(d map[string]any) { d["kibana.alert.uuid"] = "abc" },
		"no ancestor":       func(d map[string]any) { d["kibana.alert.ancestors"] = []any{} },
		"bad original_time": func(d map[string]any) { d["kibana.alert.original_time"] = "yesterday" },
	} {
		t.Run(name, func(t *testing.T) {
			doc := Signal(&rule, &r, now, now)
			breakIt(doc)
			b, _ := json.Marshal(doc)
			inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
			if err != nil {
				t.Fatal(err)
			}
			validateSignal(t, mustJSON(t, Signal(&rule, &r, now, now))) // compiles the schema
			if schema.Validate(inst) == nil {
				t.Error("broken signal validates")
			}
		})
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
