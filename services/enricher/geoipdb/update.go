package geoipdb

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// ErrChecksum is returned when data does not match the checksum its source publishes.
var ErrChecksum = errors.New("geoipdb: checksum mismatch")

// ErrNothing is returned when the inputs hold neither a country database nor an ASN table.
var ErrNothing = errors.New("geoipdb: no country database and no ASN table in the inputs")

// Options configures Update.
type Options struct {
	// Dir is the data directory, created when missing.
	Dir string
	// From are the inputs, as paths or http(s) URLs: npm package tarballs (`npm pack` output),
	// MaxMind-format country databases, ASN tables (CSV), npm metadata for the tarballs' integrity
	// (`npm pack --json`, `npm view --json` output) and GitHub release documents. Empty means
	// DefaultSource.
	From []string
	// Client fetches URLs; nil uses http.DefaultClient.
	Client *http.Client
	// Now is the clock, for the manifest's times and the age of the data; nil is time.Now.
	Now func() time.Time
	// Progress receives a line per step; nil discards them.
	Progress io.Writer
}

// Report says what Update did.
type Report struct {
	Dir string
	// Written are the databases written, Kept those of an earlier update left as they were.
	Written, Kept []*Database
	// Notes are what the user should know: data not checked against a checksum, overlapping
	// ranges, stale data.
	Notes []string
}

// Update reads the inputs, verifies them, builds the ASN database from its table, and writes
// the databases into the data directory with their licences, a NOTICE and the manifest. Each
// file is written beside its destination and renamed over it, the manifest last, so a reader
// sees the old set or the new. A kind the inputs do not hold keeps its earlier database.
func Update(ctx context.Context, o Options) (*Report, error) {
	if o.Dir == "" {
		return nil, errors.New("geoipdb: no data directory")
	}
	if o.Client == nil {
		o.Client = http.DefaultClient
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if len(o.From) == 0 {
		o.From = []string{DefaultSource}
	}
	progress := func(format string, args ...any) {
		if o.Progress != nil {
			fmt.Fprintf(o.Progress, format+"\n", args...)
		}
	}
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("geoipdb: %w", err)
	}
	// Temporary files live in the data directory, so that renames never cross file systems.
	tmp, err := os.MkdirTemp(o.Dir, ".update-")
	if err != nil {
		return nil, fmt.Errorf("geoipdb: %w", err)
	}
	defer os.RemoveAll(tmp)

	rep := &Report{Dir: o.Dir}
	in, err := readInputs(ctx, o, tmp, progress)
	if err != nil {
		return nil, err
	}
	rep.Notes = append(rep.Notes, in.notes...)
	now := o.Now().UTC()
	written := map[Kind]*Database{}
	if p := in.country; p != nil {
		d, err := prepareCountry(p, tmp, now, progress)
		if err != nil {
			return nil, err
		}
		written[KindCountry] = d
	}
	if len(in.asn) > 0 {
		d, notes, err := prepareASN(in.asn, tmp, now, progress)
		if err != nil {
			return nil, err
		}
		rep.Notes = append(rep.Notes, notes...)
		written[KindASN] = d
	}
	if err := install(o.Dir, tmp, written, now, rep); err != nil {
		return nil, err
	}
	for _, d := range rep.Written {
		if d.Stale(now) {
			rep.Notes = append(rep.Notes, fmt.Sprintf("%s: the data is of %s, %d days old (more than %d): its source has not been updated since",
				d.File, d.DateString(), int(d.Age(now).Hours()/24), int(MaxAge.Hours()/24)))
		}
	}
	return rep, nil
}

// inputs are the data read from the sources, before it is checked.
type inputs struct {
	country *part
	asn     []part
	notes   []string
}

func readInputs(ctx context.Context, o Options, tmp string, progress func(string, ...any)) (*inputs, error) {
	var parts []part
	var tarballs []*tarballDigest
	integrity := map[string]npmIntegrity{}
	integrityFrom := map[string]string{}
	for _, src := range o.From {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if isURL(src) {
			progress("downloading %s", src)
		} else {
			progress("reading %s", src)
		}
		f, err := fetch(ctx, o.Client, src, tmp)
		if err != nil {
			return nil, fmt.Errorf("geoipdb: %w", err)
		}
		c, err := sniff(f.path)
		if err != nil {
			return nil, fmt.Errorf("geoipdb: %s: %w", src, err)
		}
		switch c {
		case contentGzip:
			ps, err := readTarball(f, tmp)
			if err != nil {
				return nil, fmt.Errorf("geoipdb: %w", err)
			}
			tarballs = append(tarballs, ps[0].origin.pkg)
			parts = append(parts, ps...)
		case contentMMDB:
			parts = append(parts, part{kind: KindCountry, path: f.path, name: src, origin: fileOrigin(f)})
		case contentCSV:
			parts = append(parts, part{kind: KindASN, path: f.path, name: src, origin: fileOrigin(f)})
		case contentJSON:
			ps, entries, err := readJSON(ctx, o.Client, f, tmp, progress)
			if err != nil {
				return nil, err
			}
			parts = append(parts, ps...)
			for _, e := range entries {
				integrity[e.key()], integrityFrom[e.key()] = e, src
			}
		}
	}
	in := &inputs{}
	for _, d := range tarballs {
		e, ok := integrity[d.name+"@"+d.version]
		if !ok {
			d.checked = "integrity not checked: no npm metadata given for it (`npm pack --json` output)"
			in.notes = append(in.notes, fmt.Sprintf("%s: %s@%s not checked against its npm integrity: give `npm pack --json` (or `npm view --json`) output with it", d.file, d.name, d.version))
			continue
		}
		if err := e.verify(d, integrityFrom[d.name+"@"+d.version]); err != nil {
			return nil, err
		}
	}
	for i := range parts {
		p := &parts[i]
		if p.origin.pkg != nil && !slices.Contains(p.origin.checks, p.origin.pkg.checked) {
			p.origin.checks = append(p.origin.checks, p.origin.pkg.checked)
		}
		switch p.kind {
		case KindCountry:
			if in.country != nil {
				return nil, fmt.Errorf("geoipdb: two country databases given, %s and %s: give one", in.country.name, p.name)
			}
			in.country = p
		case KindASN:
			in.asn = append(in.asn, *p)
		}
	}
	if in.country == nil && len(in.asn) == 0 {
		return nil, ErrNothing
	}
	return in, nil
}

// fileOrigin describes a file given as it is: named after itself, dated by its modification
// time (or the server's Last-Modified), of a licence it does not tell.
func fileOrigin(f fetched) *origin {
	from := "file modification time"
	if isURL(f.source) {
		from = "Last-Modified of the download"
	}
	return &origin{name: safeBase(f.source), source: f.source, date: f.modified, dateFrom: from,
		license: "unknown: see where the file came from"}
}

// readJSON reads a metadata document: a GitHub release (whose assets are then downloaded), or
// npm metadata giving tarballs' integrity.
func readJSON(ctx context.Context, client *http.Client, f fetched, tmp string, progress func(string, ...any)) ([]part, []npmIntegrity, error) {
	b, err := os.ReadFile(f.path)
	if err != nil {
		return nil, nil, err
	}
	var probe struct {
		Assets json.RawMessage `json:"assets"`
		Dist   json.RawMessage `json:"dist"`
	}
	if len(b) > 0 && b[0] == '{' {
		if err := json.Unmarshal(b, &probe); err != nil {
			return nil, nil, fmt.Errorf("geoipdb: %s: %w", f.source, err)
		}
	}
	switch {
	case probe.Assets != nil:
		var r release
		if err := json.Unmarshal(b, &r); err != nil {
			return nil, nil, fmt.Errorf("geoipdb: %s: a release document: %w", f.source, err)
		}
		parts, err := readRelease(ctx, client, &r, f.source, tmp, progress)
		return parts, nil, err
	case probe.Dist != nil:
		var e npmIntegrity
		if err := json.Unmarshal(b, &e); err != nil {
			return nil, nil, fmt.Errorf("geoipdb: %s: npm metadata: %w", f.source, err)
		}
		return nil, []npmIntegrity{e}, nil
	}
	var es []npmIntegrity
	if err := json.Unmarshal(b, &es); err != nil || len(es) == 0 || es[0].Name == "" {
		return nil, nil, fmt.Errorf("geoipdb: %s: JSON, but not `npm pack --json` or `npm view --json` output, nor a GitHub release document", f.source)
	}
	return nil, es, nil
}

// prepareCountry checks the country database and places a copy of it in tmp.
func prepareCountry(p *part, tmp string, now time.Time, progress func(string, ...any)) (*Database, error) {
	progress("checking the country database %s", p.name)
	info, err := checkCountry(p.path, p.name)
	if err != nil {
		return nil, fmt.Errorf("geoipdb: %w", err)
	}
	out := filepath.Join(tmp, CountryFile)
	if err := copyFile(p.path, out); err != nil {
		return nil, err
	}
	d := newDatabase(CountryFile, []part{*p}, now)
	// The database's own build time dates its data better than anything around it.
	d.Date, d.DateFrom = info.Built, "database build time"
	d.Checks = append(d.Checks, fmt.Sprintf("MaxMind DB opened: type %q, %d nodes", info.Type, info.Nodes),
		fmt.Sprintf("all %d networks decoded, each with a two-letter country code", info.Networks))
	if d.SHA256, err = sha256File(out); err != nil {
		return nil, err
	}
	return d, nil
}

// prepareASN builds the ASN database from the tables into tmp.
func prepareASN(parts []part, tmp string, now time.Time, progress func(string, ...any)) (*Database, []string, error) {
	d := newDatabase(ASNFile, parts, now)
	tables := make([]table, len(parts))
	for i, p := range parts {
		tables[i] = table{path: p.path, name: p.name}
		progress("reading the ASN table %s", p.name)
	}
	desc := fmt.Sprintf("AS numbers and organisations from %s, of %s", d.Name+" "+d.Version, d.DateString())
	out := filepath.Join(tmp, ASNFile)
	st, err := buildASN(tables, out, d.Date, strings.Join(strings.Fields(desc), " "))
	if err != nil {
		return nil, nil, fmt.Errorf("geoipdb: %w", err)
	}
	d.Modified = "converted by rarenet geoip update from CSV to MaxMind DB format (GeoLite2-ASN's record fields); ranges and values unchanged, except that where two rows overlap the later row answers"
	d.Checks = append(d.Checks,
		fmt.Sprintf("%d rows parsed (%d IPv4, %d IPv6) in %d tables, ordered by start address", st.Rows, st.IPv4, st.IPv6, st.Tables),
		overlaps(len(st.Overlaps)),
		"MaxMind DB structure verified, and every row's first and last address answered with its AS by the database built")
	var notes []string
	for i, ov := range st.Overlaps {
		if i == 5 {
			notes = append(notes, fmt.Sprintf("... and %d more overlapping ranges", len(st.Overlaps)-i))
			break
		}
		notes = append(notes, ov.String())
	}
	if d.SHA256, err = sha256File(out); err != nil {
		return nil, nil, err
	}
	return d, notes, nil
}

func overlaps(n int) string {
	if n == 1 {
		return "1 row overlaps the row before it (the later row answers)"
	}
	return fmt.Sprintf("%d rows overlap the row before them (the later row answers)", n)
}

// newDatabase describes a database made from parts: named, dated and licensed by their origins
// (the oldest date, when they differ).
func newDatabase(file string, parts []part, now time.Time) *Database {
	d := &Database{File: file, Updated: now}
	var names []string
	for _, p := range parts {
		o := p.origin
		if !slices.Contains(names, o.name) {
			names = append(names, o.name)
			d.licenses = append(d.licenses, o.licenseFiles...)
			if d.Version == "" {
				d.Version = o.version
			}
			if d.License == "" || d.License == o.license {
				d.License = o.license
			} else {
				d.License += ", " + o.license
			}
		}
		if !slices.Contains(d.Source, o.source) {
			d.Source = append(d.Source, o.source)
		}
		if d.Date.IsZero() || o.date.Before(d.Date) {
			d.Date, d.DateFrom = o.date, o.dateFrom
		}
		for _, c := range o.checks {
			if !slices.Contains(d.Checks, c) {
				d.Checks = append(d.Checks, c)
			}
		}
		for _, a := range attribution(o) {
			if !slices.Contains(d.Attribution, a) {
				d.Attribution = append(d.Attribution, a)
			}
		}
	}
	d.Name = strings.Join(names, " + ")
	d.Date = d.Date.UTC()
	return d
}
