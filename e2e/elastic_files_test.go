package e2e

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rarenet/rarenet/e2e/history"
	"github.com/rarenet/rarenet/services/rarenet"
	"github.com/rarenet/rarenet/services/windower"
)

// shortHistory is two days of the default fleet with two of its intruders, late enough for
// the model to know the fleet: enough to compare rules, at a third of a full replay's cost.
func shortHistory() history.Spec {
	spec := history.Default()
	spec.Days = 2
	spec.Injections = spec.Injections[:2]
	spec.Injections[0].At = spec.Start.Add(30 * time.Hour)
	spec.Injections[1].At = spec.Start.Add(40 * time.Hour)
	return spec
}

// TestCurrentRuleFileGivesTheBuiltinsSignals loads Elastic's current rule file as it ships
// (no version: the version lock gives it) and replays a history with it: the signals are
// those of the built-in rule, byte for byte apart from wall-clock fields.
func TestCurrentRuleFileGivesTheBuiltinsSignals(t *testing.T) {
	spec := shortHistory()
	file := writeHistory(t, "ecs", spec)
	builtin, _ := replay(t, defaultOptions(4), "ecs", file)
	o := defaultOptions(4)
	o.Windower.Rule = windower.Rule{}
	o.Windower.RulePath = "testdata/elastic/ml_linux_anomalous_network_activity.toml"
	o.Windower.RuleVersionLock = "testdata/elastic/version.lock.json"
	if err := rarenet.SelectJob(&o, func(string) bool { return false }); err != nil {
		t.Fatal(err)
	}
	fromFile, _ := replay(t, o, "ecs", file)
	checkInjectedSignals(t, spec, fromFile)
	if len(builtin) != len(spec.Injections) {
		t.Fatalf("%d signals of the built-in rule, want %d", len(builtin), len(spec.Injections))
	}
	if a, b := canonical(t, builtin), canonical(t, fromFile); !slices.Equal(a, b) {
		t.Fatalf("the rule file's signals differ from the built-in's:\nbuilt-in: %v\nfile:     %v", a, b)
	}
	d := fromFile[0]
	if d["kibana.alert.rule.version"] != 209.0 || d["job_id"] != "v3_linux_anomalous_network_activity_ea" || d["kibana.alert.rule.immutable"] != true {
		t.Errorf("version %v, job %v, immutable %v", d["kibana.alert.rule.version"], d["job_id"], d["kibana.alert.rule.immutable"])
	}
}

// TestRuleFileOf2020ChoosesItsJob: the 2020 file names linux_anomalous_network_activity_ecs as
// a string; the replay runs that job (its four influencers) and signals the same processes,
// here in the 7.x shape of that time.
func TestRuleFileOf2020ChoosesItsJob(t *testing.T) {
	spec := shortHistory()
	file := writeHistory(t, "ecs", spec)
	o := defaultOptions(4)
	o.Windower.Rule = windower.Rule{}
	o.Windower.RulePath = "testdata/elastic/ml_linux_anomalous_network_activity_2020.toml"
	o.Windower.SignalFormat = windower.Format7x
	if err := rarenet.SelectJob(&o, func(string) bool { return false }); err != nil {
		t.Fatal(err)
	}
	docs, st := replay(t, o, "ecs", file)
	if len(docs) != len(spec.Injections) || int(st.Signals) != len(docs) {
		t.Fatalf("%d signals (stats %d), want the %d injected processes", len(docs), st.Signals, len(spec.Injections))
	}
	var names []string
	for _, d := range docs {
		names = append(names, d["by_field_value"].(string))
		sig := d["signal"].(map[string]any)
		rule := sig["rule"].(map[string]any)
		if d["job_id"] != "linux_anomalous_network_activity_ecs" || rule["machine_learning_job_id"] != "linux_anomalous_network_activity_ecs" ||
			rule["version"] != 1.0 || len(d["influencers"].([]any)) > 4 {
			t.Errorf("signal %v: job %v, rule job %v, version %v", d["by_field_value"], d["job_id"], rule["machine_learning_job_id"], rule["version"])
		}
	}
	slices.Sort(names)
	want := slices.Sorted(func(yield func(string) bool) {
		for name := range wantSignals(spec) {
			if !yield(name) {
				return
			}
		}
	})
	if !slices.Equal(names, want) {
		t.Errorf("signals for %s, want %s", strings.Join(names, ","), strings.Join(want, ","))
	}
}
