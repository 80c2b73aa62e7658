package notify

import (
	"encoding/json"
	"testing"
)

// TestTemplateEscaping: every action of a template is escaped for its destination, in
// branches and ranges too; raw opts out; a webhook body template stays valid JSON whatever
// the values hold.
func TestTemplateEscaping(t *testing.T) {
	nasty := &Signal{ID: "id", Reason: "quote \" backslash \\ newline \n <b> & done", Processes: []string{"*p*"}, Score: 91.25}
	data := &TemplateData{Signals: []*Signal{nasty}, Signal: nasty, Count: 1}
	tests := []struct {
		name, text string
		esc        Escaper
		want       string
	}{
		{"json", `{"reason": "{{.Signal.Reason}}", "process": "{{.Signal.Process}}"}`, jsonEscape,
			`{"reason": "quote \" backslash \\ newline \n \u003cb\u003e \u0026 done", "process": "*p*"}`},
		{"slack in range and if", `{{range .Signals}}{{if .Reason}}{{.Reason}}{{end}}{{end}}`, slackEscape,
			"quote \" backslash \\ newline \n &lt;b&gt; &amp; done"},
		{"markdown", `**{{.Signal.Process}}** {{score .Signal.Score}}`, markdownEscape, `**\*p\*** 91.2`},
		{"raw", `{{raw .Signal.Process}} {{.Signal.Process}}`, markdownEscape, `*p* \*p\*`},
		{"variables print nothing", `{{$p := .Signal.Process}}{{$p}}`, markdownEscape, `\*p\*`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmpl, err := ParseTemplate(tt.name, tt.text, tt.esc)
			if err != nil {
				t.Fatal(err)
			}
			got, err := tmpl.Execute(data)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
	body, _ := ParseTemplate("body", `{"text": "{{.Signal.Reason}}"}`, jsonEscape)
	out, _ := body.Execute(data)
	var v map[string]string
	if err := json.Unmarshal([]byte(out), &v); err != nil || v["text"] != nasty.Reason {
		t.Errorf("the body %s does not round-trip the reason: %v", out, err)
	}
}

// TestBadTemplatesStopTheStart: a template that does not parse, names an unknown field, or
// makes a webhook body that is not JSON is refused by New, with the destination and route.
func TestBadTemplatesStopTheStart(t *testing.T) {
	for name, d := range map[string]DestinationConfig{
		"syntax":        {Name: "h", URL: "webhook+https://example.org/", Template: "{{.Signal.Reason"},
		"unknown field": {Name: "h", URL: "webhook+https://example.org/", Template: "{{.Signal.Nope}}"},
		"body not JSON": {Name: "h", URL: "webhook+https://example.org/", Body: `{"text": {{.Signal.Reason}}}`},
		"body on slack": {Name: "h", URL: "slack+https://example.org/", Body: `{}`},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := New(&Config{Destinations: []DestinationConfig{d}, Routes: []RouteConfig{{Name: "r", To: []string{"h"}}}}, testLogger(t), nil)
			if err == nil {
				t.Fatal("New accepted it")
			}
			t.Log(err)
		})
	}
}
