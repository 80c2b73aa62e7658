package notify

import (
	"errors"
	"fmt"
	"os"
	"path"
	"regexp"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// ErrConfig is wrapped by every error about the configuration file or the --to flags.
var ErrConfig = errors.New("notify: configuration")

// Config is the notifier's configuration file (TOML): destinations, and routes that send
// signals to them. It holds no secret: those come from files or the environment, named here.
type Config struct {
	// ConsoleURL is the link to a signal in the console, with {id} for its id; messages show
	// it when set.
	ConsoleURL string `toml:"console_url"`
	// Destinations are where messages go, by name.
	Destinations []DestinationConfig `toml:"destination"`
	// Routes choose which signals go to which destinations. A signal goes to a destination
	// once, through the first route that matches it and names the destination.
	Routes []RouteConfig `toml:"route"`
}

// DestinationConfig is one destination: a URL whose scheme says the kind, and its options.
type DestinationConfig struct {
	Name string `toml:"name"`
	// URL is the destination (webhook+https://, slack+https://, mattermost+https://,
	// syslog+tcp://, syslog+tls://, smtp://, exec://). A chat webhook's URL is itself a
	// secret: give it with URLFile or URLEnv instead.
	URL     string `toml:"url"`
	URLFile string `toml:"url_file"`
	URLEnv  string `toml:"url_env"`
	// SecretFile or SecretEnv hold a webhook's HMAC-SHA256 key.
	SecretFile string `toml:"secret_file"`
	SecretEnv  string `toml:"secret_env"`
	// PasswordFile or PasswordEnv hold the SMTP password of the URL's user.
	PasswordFile string `toml:"password_file"`
	PasswordEnv  string `toml:"password_env"`
	// Headers are extra HTTP headers; HeaderFiles extra headers whose values are read from
	// files (tokens). Authorization and other credential headers are refused in Headers.
	Headers     map[string]string `toml:"headers"`
	HeaderFiles map[string]string `toml:"header_files"`
	// CAFile is a PEM bundle to verify the server with (syslog+tls, smtp, https); CertFile and
	// KeyFile a client certificate (syslog+tls).
	CAFile   string `toml:"ca_file"`
	CertFile string `toml:"cert_file"`
	KeyFile  string `toml:"key_file"`
	// Format of syslog messages: "rfc5424" (the default: the text in MSG, the signal's fields
	// as structured data) or "cef" (ArcSight CEF in MSG). Facility is a syslog facility name
	// (default local0).
	Format   string `toml:"format"`
	Facility string `toml:"facility"`
	// Rate limits the messages to the destination, as "N/s", "N/m" or "N/h"; Burst is how
	// many may go at once (default 1). Messages over the rate wait; none is dropped.
	Rate  string `toml:"rate"`
	Burst int    `toml:"burst"`
	// MaxAttempts is how many times a message is tried before its signals go to the
	// destination's dead-letter subject (default 5); Backoff the first wait between attempts
	// (default 1s), doubling up to MaxBackoff (default 1m); Timeout bounds one attempt
	// (default 30s).
	MaxAttempts int           `toml:"max_attempts"`
	Backoff     time.Duration `toml:"backoff"`
	MaxBackoff  time.Duration `toml:"max_backoff"`
	Timeout     time.Duration `toml:"timeout"`
	// Template is the message text (text/template, escaped for the destination) when the
	// route gives none; Subject the mail subject; Body a webhook's whole JSON body.
	Template string `toml:"template"`
	Subject  string `toml:"subject"`
	Body     string `toml:"body"`
}

// RouteConfig chooses signals for destinations. Every condition given must hold; patterns
// are globs (path.Match: *, ?, [a-z]) and a list matches when any of its patterns matches any
// of the signal's values.
type RouteConfig struct {
	Name string `toml:"name"`
	// To names the destinations.
	To        []string `toml:"to"`
	MinScore  float64  `toml:"min_score"`
	Hosts     []string `toml:"hosts"`
	Processes []string `toml:"processes"`
	// Profile is "faithful" or "enhanced" (see Signal.Profile); Detectors lists "rare",
	// "rare-on-host", "new-destination".
	Profile   string   `toml:"profile"`
	Detectors []string `toml:"detectors"`
	// Digest groups the signals of one rule run that this route sends to a destination into
	// one message, sent Digest after the first of them arrived (0: one message per signal).
	Digest time.Duration `toml:"digest"`
	// Template and Subject override the destination's.
	Template string `toml:"template"`
	Subject  string `toml:"subject"`
}

// nameRe is what a destination or route name may be: a NATS subject token and a KV key
// token.
var nameRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]*$`)

// LoadConfig reads and checks a configuration file.
func LoadConfig(file string) (*Config, error) {
	var c Config
	md, err := toml.DecodeFile(file, &c)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrConfig, file, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		keys := make([]string, len(und))
		for i, k := range und {
			keys[i] = k.String()
		}
		return nil, fmt.Errorf("%w: %s: unknown keys %s", ErrConfig, file, strings.Join(keys, ", "))
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return &c, nil
}

// AddTo adds a destination for each --to URL, and a route sending every signal to them.
// Options a configuration file would give (secret_file, password_file, ca_file, format,
// facility, rate) may be given as query parameters of the URL.
func (c *Config) AddTo(urls []string) error {
	if len(urls) == 0 {
		return nil
	}
	route := RouteConfig{Name: "to"}
	for i, u := range urls {
		d := DestinationConfig{Name: fmt.Sprintf("to-%d", i+1)}
		var err error
		if d.URL, err = takeURLOptions(u, &d); err != nil {
			return fmt.Errorf("%w: --to %s: %w", ErrConfig, redact(u), err)
		}
		c.Destinations = append(c.Destinations, d)
		route.To = append(route.To, d.Name)
	}
	c.Routes = append(c.Routes, route)
	return c.Validate()
}

// credentialHeaders may not be written in the configuration file: their values are secrets.
var credentialHeaders = []string{"authorization", "proxy-authorization", "cookie", "x-api-key", "api-key", "x-auth-token"}

// Validate checks the configuration: names, URLs, patterns, templates, and that no secret is
// written in it.
func (c *Config) Validate() error {
	fail := func(format string, a ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrConfig}, a...)...)
	}
	if len(c.Destinations) == 0 {
		return fail("no destination: give [[destination]] in the file or --to URL")
	}
	names := map[string]bool{}
	for i, d := range c.Destinations {
		where := fmt.Sprintf("destination %d (%q)", i+1, d.Name)
		if !nameRe.MatchString(d.Name) {
			return fail("%s: name must be letters, digits, - and _ (it names a subject and a metric label)", where)
		}
		if names[d.Name] {
			return fail("%s: name used twice", where)
		}
		names[d.Name] = true
		set := 0
		for _, s := range []string{d.URL, d.URLFile, d.URLEnv} {
			if s != "" {
				set++
			}
		}
		if set != 1 {
			return fail("%s: give exactly one of url, url_file, url_env", where)
		}
		if d.URL != "" {
			if err := checkNoSecretInURL(d.URL); err != nil {
				return fail("%s: url: %w", where, err)
			}
			if _, err := kindOf(d.URL); err != nil {
				return fail("%s: url: %w", where, err)
			}
		}
		for h := range d.Headers {
			for _, ch := range credentialHeaders {
				if strings.EqualFold(h, ch) {
					return fail("%s: header %s holds a credential: give it in header_files (a file holding the value)", where, h)
				}
			}
		}
		if d.Rate != "" {
			if _, err := parseRate(d.Rate); err != nil {
				return fail("%s: rate: %w", where, err)
			}
		}
		if d.Format != "" && d.Format != "rfc5424" && d.Format != "cef" {
			return fail("%s: format: want rfc5424 or cef, got %q", where, d.Format)
		}
		if d.Facility != "" {
			if _, ok := facilities[d.Facility]; !ok {
				return fail("%s: facility: unknown %q (want kern, user, ..., local0 to local7)", where, d.Facility)
			}
		}
		if d.MaxAttempts < 0 || d.Burst < 0 || d.Backoff < 0 || d.MaxBackoff < 0 || d.Timeout < 0 {
			return fail("%s: max_attempts, burst, backoff, max_backoff and timeout may not be negative", where)
		}
	}
	if len(c.Routes) == 0 {
		return fail("no route: give [[route]] with to = [...] (or --to URL)")
	}
	routes := map[string]bool{}
	for i, r := range c.Routes {
		where := fmt.Sprintf("route %d (%q)", i+1, r.Name)
		if !nameRe.MatchString(r.Name) {
			return fail("%s: name must be letters, digits, - and _", where)
		}
		if routes[r.Name] {
			return fail("%s: name used twice", where)
		}
		routes[r.Name] = true
		if len(r.To) == 0 {
			return fail("%s: to names no destination", where)
		}
		for _, to := range r.To {
			if !names[to] {
				return fail("%s: to: no destination named %q", where, to)
			}
		}
		for _, p := range append(append([]string{}, r.Hosts...), r.Processes...) {
			if _, err := path.Match(p, ""); err != nil {
				return fail("%s: pattern %q: %w", where, p, err)
			}
		}
		if r.Profile != "" && r.Profile != "faithful" && r.Profile != "enhanced" {
			return fail("%s: profile: want faithful or enhanced, got %q", where, r.Profile)
		}
		for _, d := range r.Detectors {
			if d != "rare" && d != "rare-on-host" && d != "new-destination" {
				return fail("%s: detectors: want rare, rare-on-host or new-destination, got %q", where, d)
			}
		}
		if r.Digest < 0 {
			return fail("%s: digest may not be negative", where)
		}
	}
	return nil
}

// resolveURL returns the destination's URL from the file, the environment or the config.
func (d *DestinationConfig) resolveURL() (string, error) {
	switch {
	case d.URLFile != "":
		b, err := os.ReadFile(d.URLFile)
		if err != nil {
			return "", fmt.Errorf("url_file: %w", err)
		}
		return strings.TrimSpace(string(b)), nil
	case d.URLEnv != "":
		u := strings.TrimSpace(os.Getenv(d.URLEnv))
		if u == "" {
			return "", fmt.Errorf("url_env: %s is not set", d.URLEnv)
		}
		return u, nil
	}
	return d.URL, nil
}

// secret reads a secret from a file (trailing line breaks dropped) or the environment; the
// error names where, never the value.
func secret(file, env, what string) (string, error) {
	switch {
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("%s_file: %w", what, err)
		}
		s := strings.TrimRight(string(b), "\r\n")
		if s == "" {
			return "", fmt.Errorf("%s_file %s is empty", what, file)
		}
		return s, nil
	case env != "":
		s := os.Getenv(env)
		if s == "" {
			return "", fmt.Errorf("%s_env: %s is not set", what, env)
		}
		return s, nil
	}
	return "", nil
}
