package geoipdb

import (
	"context"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"
)

// Since 2026-06-18 ip-location-db publishes its databases as the assets of a GitHub release
// tagged "latest" (its CHANGELOG, "Major Updates (2026-06-18)"), and recommends user-country for
// a country database and origin-asn for an ASN one (its README, "Which database should I use?");
// both are its own data under CDLA-Permissive-2.0, free to use without attribution. The npm
// packages (@ip-location-db/geo-whois-asn-country-mmdb, @ip-location-db/asn) stopped updating
// on 2026-06-17; Update still reads them, given as files.

// DefaultSource is where Update fetches when given nothing: the GitHub REST API's document of
// that release, which lists each asset with its download URL and SHA-256 digest.
const DefaultSource = "https://api.github.com/repos/sapics/ip-location-db/releases/tags/latest"

// releaseAssetName names the asset taken from a release for a kind.
func releaseAssetName(k Kind) string {
	if k == KindCountry {
		return "user-country.mmdb"
	}
	return "origin-asn.csv"
}

// releaseLicense is the licence of ip-location-db's own databases (its README, "Licences").
const releaseLicense = "CDLA-Permissive-2.0"

// release is the part of GitHub's release document read here ("Get a release", REST API
// 2022-11-28): assets carry a digest ("sha256:<hex>") since June 2025.
type release struct {
	TagName string         `json:"tag_name"`
	HTMLURL string         `json:"html_url"`
	Assets  []releaseAsset `json:"assets"`
}

type releaseAsset struct {
	Name               string    `json:"name"`
	BrowserDownloadURL string    `json:"browser_download_url"`
	Digest             string    `json:"digest"`
	Size               int64     `json:"size"`
	UpdatedAt          time.Time `json:"updated_at"`
}

// readRelease downloads the release's assets Update uses and checks each against its digest.
func readRelease(ctx context.Context, client *http.Client, r *release, from, tmp string, progress func(string, ...any)) ([]part, error) {
	var parts []part
	for _, kind := range []Kind{KindCountry, KindASN} {
		name := releaseAssetName(kind)
		i := slices.IndexFunc(r.Assets, func(a releaseAsset) bool { return a.Name == name })
		if i < 0 {
			var names []string
			for _, a := range r.Assets {
				names = append(names, a.Name)
			}
			return nil, fmt.Errorf("%s: release %q has no asset %s (it has %d: %s)", from, r.TagName, name, len(names), strings.Join(names[:min(len(names), 12)], ", "))
		}
		a := r.Assets[i]
		progress("downloading %s (%d bytes)", a.BrowserDownloadURL, a.Size)
		f, err := download(ctx, client, a.BrowserDownloadURL, tmp)
		if err != nil {
			return nil, err
		}
		o := &origin{name: "ip-location-db/" + a.Name, version: r.TagName, source: a.BrowserDownloadURL,
			date: a.UpdatedAt.UTC(), dateFrom: "release asset upload time", license: releaseLicense}
		if err := checkDigest(f.path, a, from); err != nil {
			return nil, err
		}
		if a.Digest != "" {
			o.checks = append(o.checks, fmt.Sprintf("%s matches the release's digest (%s)", short(a.Digest), from))
		} else {
			o.checks = append(o.checks, "no digest published for the asset: not checked")
		}
		parts = append(parts, part{kind: kind, path: f.path, name: a.BrowserDownloadURL, origin: o})
	}
	return parts, nil
}

func checkDigest(path string, a releaseAsset, from string) error {
	if a.Digest == "" {
		return nil
	}
	alg, want, ok := strings.Cut(a.Digest, ":")
	if !ok || alg != "sha256" {
		return fmt.Errorf("%s: asset %s: digest %q: want sha256:<hex>", from, a.Name, a.Digest)
	}
	if _, err := hex.DecodeString(want); err != nil {
		return fmt.Errorf("%s: asset %s: digest %q: %w", from, a.Name, a.Digest, err)
	}
	got, err := sha256File(path)
	if err != nil {
		return err
	}
	if got != strings.ToLower(want) {
		os.Remove(path)
		return fmt.Errorf("%w: %s has SHA-256 %s, the release says %s", ErrChecksum, a.BrowserDownloadURL, got, want)
	}
	return nil
}
