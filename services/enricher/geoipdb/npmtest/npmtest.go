// Package npmtest obtains ip-location-db's real packages for tests, with the npm client (which
// knows its registry): `npm pack --json` into a directory. Where npm is missing or cannot reach
// its registry, it says so and the test skips; any other failure fails the test.
package npmtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The packages tests read, pinned: npm updates of ip-location-db stopped at these versions
// (the packages' README, "CRITICAL NOTICE"), so the facts tests check in them stay true.
const (
	ASN     = "@ip-location-db/asn@2.3.2026061719"
	Country = "@ip-location-db/geo-whois-asn-country-mmdb@2.3.2026061719"
)

// Packs are packed packages: their tarballs and the `npm pack --json` output that lists them
// with their integrity.
type Packs struct {
	Dir      string
	Tarballs map[string]string // spec -> path of the .tgz
	JSON     string            // path of the pack output
}

// skipPrefix starts every reason to skip.
const skipPrefix = "the real ip-location-db packages cannot be obtained: "

// IsSkip tells a reason to skip, from Pack, from an error message.
func IsSkip(s string) bool { return strings.HasPrefix(s, skipPrefix) }

// Pack packs specs into dir. It returns a reason to skip, not an error, when npm is not
// installed or cannot reach its registry.
func Pack(dir string, specs ...string) (p *Packs, skip string, err error) {
	npm, err := exec.LookPath("npm")
	if err != nil {
		return nil, skipPrefix + "npm is not installed (.ci/run installs Debian's)", nil
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(npm, append([]string{"pack", "--json", "--pack-destination", dir}, specs...)...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.Env = append(os.Environ(), "npm_config_update_notifier=false", "npm_config_fund=false", "npm_config_audit=false")
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		// The errors npm reports when it cannot reach its registry: Node's system errors, and
		// its own codes for TLS and proxies.
		for _, u := range []string{"ENOTFOUND", "EAI_AGAIN", "ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "ENETUNREACH",
			"EHOSTUNREACH", "ESOCKETTIMEDOUT", "ERR_SOCKET_TIMEOUT", "CERT_", "UNABLE_TO_GET_ISSUER_CERT", "SELF_SIGNED_CERT", "network"} {
			if strings.Contains(msg, u) {
				return nil, fmt.Sprintf("%snpm cannot reach its registry (%s): %s", skipPrefix, u, lastLines(msg, 4)), nil
			}
		}
		return nil, "", fmt.Errorf("npm pack %s: %w\n%s", strings.Join(specs, " "), err, msg)
	}
	var packs []struct {
		ID       string `json:"id"`
		Filename string `json:"filename"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &packs); err != nil {
		return nil, "", fmt.Errorf("npm pack --json: %w\n%s", err, stdout.String())
	}
	p = &Packs{Dir: dir, Tarballs: map[string]string{}, JSON: filepath.Join(dir, "pack.json")}
	for _, pk := range packs {
		p.Tarballs[pk.ID] = filepath.Join(dir, pk.Filename)
	}
	for _, s := range specs {
		if _, ok := p.Tarballs[s]; !ok {
			return nil, "", fmt.Errorf("npm pack gave no tarball for %s: %s", s, stdout.String())
		}
	}
	return p, "", os.WriteFile(p.JSON, stdout.Bytes(), 0o644)
}

// PackT is Pack for a test: it skips the test, saying why, where npm or its registry cannot
// be reached, and fails it on any other error.
func PackT(t testing.TB, dir string, specs ...string) *Packs {
	t.Helper()
	p, skip, err := Pack(dir, specs...)
	if err != nil {
		t.Fatal(err)
	}
	if skip != "" {
		t.Skip(skip)
	}
	return p
}

// View returns `npm view --json spec` (the package's metadata, its published integrity under
// dist), written to dir.
func View(dir, spec string) (string, error) {
	out, err := exec.Command("npm", "view", "--json", spec).Output()
	if err != nil {
		return "", fmt.Errorf("npm view %s: %w", spec, err)
	}
	p := filepath.Join(dir, "view.json")
	return p, os.WriteFile(p, out, 0o644)
}

func lastLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	return strings.Join(lines[max(0, len(lines)-n):], " | ")
}
