package notify

import (
	"errors"
	"strings"
	"testing"
)

func TestConfigErrors(t *testing.T) {
	hook := []DestinationConfig{{Name: "h", URL: "webhook+https://example.org/x"}}
	all := []RouteConfig{{Name: "r", To: []string{"h"}}}
	tests := []struct {
		name string
		file string
		want string
	}{
		{"password in a URL", `[[destination]]
name = "m"
url = "smtp://u:hunter2@mail.example.org:587?to=a@example.org"
[[route]]
name = "r"
to = ["m"]`, "password_file"},
		{"credential header", `[[destination]]
name = "h"
url = "webhook+https://example.org/x"
headers = { Authorization = "Bearer x" }
[[route]]
name = "r"
to = ["h"]`, "header_files"},
		{"unknown key", `[[destination]]
name = "h"
url = "webhook+https://example.org/x"
secret = "x"
[[route]]
name = "r"
to = ["h"]`, "unknown keys destination.secret"},
		{"unknown scheme", `[[destination]]
name = "h"
url = "https://example.org/x"
[[route]]
name = "r"
to = ["h"]`, "unknown scheme"},
		{"unknown destination", `[[destination]]
name = "h"
url = "webhook+https://example.org/x"
[[route]]
name = "r"
to = ["nope"]`, `no destination named "nope"`},
		{"bad pattern", `[[destination]]
name = "h"
url = "webhook+https://example.org/x"
[[route]]
name = "r"
to = ["h"]
hosts = ["web-["]`, "pattern"},
		{"bad rate", `[[destination]]
name = "h"
url = "webhook+https://example.org/x"
rate = "often"
[[route]]
name = "r"
to = ["h"]`, "rate"},
		{"name not a token", `[[destination]]
name = "a.b"
url = "webhook+https://example.org/x"
[[route]]
name = "r"
to = ["a.b"]`, "name must be"},
		{"TOML syntax", `[[destination]
name = "h"`, "line"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := writeFile(t, "notify.toml", tt.file, 0o600)
			_, err := LoadConfig(f)
			if err == nil || !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), f) {
				t.Fatalf("LoadConfig = %v, want an ErrConfig naming the file and %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("the error shows the password: %v", err)
			}
		})
	}
	c := &Config{Destinations: hook, Routes: all}
	if err := c.Validate(); err != nil {
		t.Errorf("a good configuration: %v", err)
	}
}

func TestConfigFileExample(t *testing.T) {
	f := writeFile(t, "notify.toml", `console_url = "https://console.example/signals/{id}"

[[destination]]
name = "soc-webhook"
url = "webhook+https://soar.example.org/hooks/rarenet"
secret_file = "/run/secrets/webhook"
headers = { X-Team = "soc" }
rate = "30/m"
max_attempts = 8
backoff = "2s"

[[destination]]
name = "siem"
url = "syslog+tls://siem.example.org:6514"
format = "cef"

[[route]]
name = "high"
to = ["soc-webhook", "siem"]
min_score = 75
hosts = ["web-*", "db-?"]
digest = "1m"
`, 0o600)
	c, err := LoadConfig(f)
	if err != nil {
		t.Fatal(err)
	}
	if c.Destinations[0].Backoff.String() != "2s" || c.Routes[0].Digest.String() != "1m0s" || c.Destinations[1].Format != "cef" {
		t.Errorf("decoded %+v", c)
	}
}

func TestAddTo(t *testing.T) {
	var c Config
	if err := c.AddTo([]string{"webhook+https://example.org/in?secret_file=/run/s&team=a", "syslog+tcp://127.0.0.1:514?format=cef"}); err != nil {
		t.Fatal(err)
	}
	if d := c.Destinations[0]; d.SecretFile != "/run/s" || d.URL != "webhook+https://example.org/in?team=a" {
		t.Errorf("first --to: %+v", d)
	}
	if d := c.Destinations[1]; d.Format != "cef" || d.URL != "syslog+tcp://127.0.0.1:514" {
		t.Errorf("second --to: %+v", d)
	}
	if len(c.Routes) != 1 || strings.Join(c.Routes[0].To, ",") != "to-1,to-2" {
		t.Errorf("routes %+v", c.Routes)
	}
}

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"slack+https://hooks.slack.com/services/T0/B0/SECRET": "slack+https://hooks.slack.com/...",
		"smtp://alerts@mail.example.org:587?to=a@b":           "smtp://alerts@mail.example.org:587",
		"exec:///usr/local/bin/page?arg=x":                    "exec:///usr/local/bin/page",
	} {
		if got := redact(in); got != want {
			t.Errorf("redact(%s) = %s, want %s", in, got, want)
		}
	}
}
