package geoipdb

import (
	"archive/tar"
	"compress/gzip"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path"
	"regexp"
	"strings"
	"time"
)

// npm packages are gzipped tarballs with every file under package/ and the package's
// package.json there (npm's docs, "npm-pack"; "package.json"). Their integrity is published in
// the package's metadata as dist.integrity, a Subresource Integrity string ("sha512-<base64>"),
// and dist.shasum (hex SHA-1); `npm pack --json` prints the same two for the tarball it wrote.

// maxLicenseFile bounds a licence text read from a package.
const maxLicenseFile = 1 << 20

// tarballDigest holds a tarball's digests, and the package it holds, for the integrity check.
type tarballDigest struct {
	file          string
	name, version string
	sha512, sha1  []byte
	checked       string // how it was checked, once it was
}

// packageJSON is the part of package.json read here.
type packageJSON struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	License string `json:"license"`
}

// versionDate reads the date ip-location-db puts at the end of its versions: 2.3.2026061719 is
// the data of 2026-06-17, 19h UTC.
var versionDate = regexp.MustCompile(`\.(\d{10})$`)

// isLicenseFile tells licence and notice texts shipped in a package (ip-location-db's
// DBIP-LICENSE, ROUTEVIEWS-LICENSE, NRO_LICENSE, MODIFICATIONS).
func isLicenseFile(name string) bool {
	u := strings.ToUpper(name)
	return strings.Contains(u, "LICENSE") || strings.Contains(u, "LICENCE") || strings.Contains(u, "NOTICE") || u == "MODIFICATIONS"
}

// readTarball reads the npm package at f: its package.json and licence files, and the data it
// holds (a combined country database; the ASN tables), written into tmp. Split databases
// (-ipv4, -ipv6) and numeric tables (-num) are left out when a combined one is there.
func readTarball(f fetched, tmp string) ([]part, error) {
	file, err := os.Open(f.path)
	if err != nil {
		return nil, err
	}
	defer file.Close()
	h512, h1 := sha512.New(), sha1.New()
	tee := io.TeeReader(file, io.MultiWriter(h512, h1))
	gz, err := gzip.NewReader(tee)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", f.source, err)
	}
	tr := tar.NewReader(gz)
	o := &origin{source: f.source}
	var pkg *packageJSON
	var data []part
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f.source, err)
		}
		if hdr.Typeflag != tar.TypeReg {
			continue
		}
		rel, ok := strings.CutPrefix(path.Clean(hdr.Name), "package/")
		if !ok || strings.Contains(rel, "/") {
			continue // only the package's top level holds its data
		}
		switch {
		case rel == "package.json":
			pkg = &packageJSON{}
			if err := json.NewDecoder(io.LimitReader(tr, maxLicenseFile)).Decode(pkg); err != nil {
				return nil, fmt.Errorf("%s: package.json: %w", f.source, err)
			}
		case isLicenseFile(rel):
			b, err := io.ReadAll(io.LimitReader(tr, maxLicenseFile))
			if err != nil {
				return nil, fmt.Errorf("%s: %s: %w", f.source, rel, err)
			}
			o.licenseFiles = append(o.licenseFiles, licenseFile{name: rel, data: b})
		case strings.HasSuffix(rel, "-num.csv"):
			// The same ranges as integers: the tables with addresses are read instead.
		case strings.HasSuffix(rel, ".mmdb") || strings.HasSuffix(rel, ".csv"):
			p, err := extract(tr, tmp, rel)
			if err != nil {
				return nil, fmt.Errorf("%s: %s: %w", f.source, rel, err)
			}
			kind := KindASN
			if strings.HasSuffix(rel, ".mmdb") {
				kind = KindCountry
			}
			data = append(data, part{kind: kind, path: p, name: f.source + ":" + rel, origin: o})
		}
	}
	// The digest covers the whole file, gzip trailer included.
	if _, err := io.Copy(io.Discard, tee); err != nil {
		return nil, err
	}
	if pkg == nil || pkg.Name == "" || pkg.Version == "" {
		return nil, fmt.Errorf("%s: not an npm package: no package/package.json with a name and version", f.source)
	}
	o.name, o.version, o.license = pkg.Name, pkg.Version, spdx(pkg.License)
	o.date, o.dateFrom = f.modified, "file modification time"
	if m := versionDate.FindStringSubmatch(pkg.Version); m != nil {
		if t, err := time.Parse("2006010215", m[1]); err == nil {
			o.date, o.dateFrom = t, "package version"
		}
	}
	o.pkg = &tarballDigest{file: f.source, name: pkg.Name, version: pkg.Version, sha512: h512.Sum(nil), sha1: h1.Sum(nil)}
	data = preferCombined(data)
	if len(data) == 0 {
		return nil, fmt.Errorf("%s: package %s@%s holds no database (.mmdb) or table (.csv)", f.source, pkg.Name, pkg.Version)
	}
	return data, nil
}

// preferCombined keeps, of each kind, the files for both address families when the package has
// them, else (tables only) the -ipv4 and -ipv6 ones.
func preferCombined(parts []part) []part {
	split := func(n string) bool {
		b := strings.TrimSuffix(strings.TrimSuffix(n, ".csv"), ".mmdb")
		return strings.HasSuffix(b, "-ipv4") || strings.HasSuffix(b, "-ipv6")
	}
	combined := map[Kind]bool{}
	for _, p := range parts {
		if !split(p.name) {
			combined[p.kind] = true
		}
	}
	var out []part
	for _, p := range parts {
		switch {
		case split(p.name) && (combined[p.kind] || p.kind == KindCountry):
			// A split country database would answer one family only: use the combined one.
		default:
			out = append(out, p)
			continue
		}
		os.Remove(p.path)
	}
	return out
}

func extract(r io.Reader, tmp, name string) (string, error) {
	f, err := os.CreateTemp(tmp, "pkg-*-"+name)
	if err != nil {
		return "", err
	}
	_, err = io.Copy(f, io.LimitReader(r, maxDownload))
	return f.Name(), errors.Join(err, f.Close())
}

// spdx reduces a package's licence field to its SPDX identifier where it names one
// (ip-location-db's asn says "SEE LICENSE IN ROUTEVIEWS-LICENSE and DBIP-LICENSE (CC-BY-4.0)").
func spdx(license string) string {
	for _, id := range []string{"CC-BY-4.0", "CC0-1.0", "CC-BY-SA-4.0", "PDDL-1.0", "CDLA-Permissive-2.0"} {
		if strings.Contains(license, id) {
			return id
		}
	}
	return license
}

// npmIntegrity is a package's published digests, from `npm pack --json` (an array of packs) or
// `npm view --json` (the package document, digests under dist).
type npmIntegrity struct {
	Name      string `json:"name"`
	Version   string `json:"version"`
	Integrity string `json:"integrity"`
	Shasum    string `json:"shasum"`
	Dist      *struct {
		Integrity string `json:"integrity"`
		Shasum    string `json:"shasum"`
	} `json:"dist"`
}

func (n *npmIntegrity) key() string { return n.Name + "@" + n.Version }

// verify checks the tarball against the published digests: every SRI hash of an algorithm
// known here must match, and at least one must be there.
func (n *npmIntegrity) verify(d *tarballDigest, from string) error {
	integrity, shasum := n.Integrity, n.Shasum
	if n.Dist != nil {
		integrity, shasum = n.Dist.Integrity, n.Dist.Shasum
	}
	checked := 0
	for _, h := range strings.Fields(integrity) {
		alg, b64, ok := strings.Cut(h, "-")
		if !ok {
			continue
		}
		if i := strings.IndexByte(b64, '?'); i >= 0 {
			b64 = b64[:i] // SRI options
		}
		want, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			return fmt.Errorf("%s: %s@%s: integrity %q: %w", from, n.Name, n.Version, h, err)
		}
		var got []byte
		switch alg {
		case "sha512":
			got = d.sha512
		case "sha1":
			got = d.sha1
		default:
			continue
		}
		if !equalDigest(got, want) {
			return fmt.Errorf("%w: %s (%s@%s) does not match %s's integrity %s", ErrChecksum, d.file, n.Name, n.Version, from, h)
		}
		checked++
		d.checked = fmt.Sprintf("npm integrity %s matches %s", short(h), from)
	}
	if shasum != "" {
		if hex.EncodeToString(d.sha1) != strings.ToLower(shasum) {
			return fmt.Errorf("%w: %s (%s@%s) does not match %s's shasum %s", ErrChecksum, d.file, n.Name, n.Version, from, shasum)
		}
		if checked == 0 {
			d.checked = fmt.Sprintf("npm shasum %s matches %s", shasum, from)
		}
		checked++
	}
	if checked == 0 {
		return fmt.Errorf("%s: %s@%s: no sha512 integrity or shasum to check", from, n.Name, n.Version)
	}
	return nil
}

func equalDigest(a, b []byte) bool { return len(a) > 0 && string(a) == string(b) }

// short abbreviates a digest for messages.
func short(s string) string {
	if len(s) > 20 {
		return s[:20] + "…"
	}
	return s
}

// sha256File is the hex SHA-256 of a file.
func sha256File(p string) (string, error) {
	return hashFile(p, sha256.New())
}

func hashFile(p string, h hash.Hash) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
