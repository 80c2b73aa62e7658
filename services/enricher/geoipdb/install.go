package geoipdb

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// install moves the prepared databases of tmp into dir with their licence texts, then writes
// the NOTICE and, last, the manifest, so that a reader that goes by the manifest never sees a
// database it does not describe as finished.
func install(dir, tmp string, written map[Kind]*Database, now time.Time, rep *Report) error {
	m, err := ReadManifest(dir)
	switch {
	case errors.Is(err, ErrNoManifest):
		m = &Manifest{Databases: map[Kind]*Database{}}
	case err != nil:
		rep.Notes = append(rep.Notes, fmt.Sprintf("the earlier manifest could not be read, and is replaced: %v", err))
		m = &Manifest{Databases: map[Kind]*Database{}}
	}
	m.Format, m.Updated = manifestFormat, now
	for _, kind := range []Kind{KindASN, KindCountry} {
		d, ok := written[kind]
		if !ok {
			if old := m.Databases[kind]; old != nil {
				rep.Kept = append(rep.Kept, old)
			}
			continue
		}
		ldir := filepath.Join(tmp, LicensesDir, string(kind))
		if err := os.MkdirAll(ldir, 0o755); err != nil {
			return err
		}
		for _, l := range d.licenses {
			name := filepath.Base(l.name)
			if err := os.WriteFile(filepath.Join(ldir, name), l.data, 0o644); err != nil {
				return err
			}
			d.LicenseFiles = append(d.LicenseFiles, filepath.ToSlash(filepath.Join(LicensesDir, string(kind), name)))
		}
		m.Databases[kind] = d
		rep.Written = append(rep.Written, d)
	}
	manifest, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(tmp, ManifestFile), append(manifest, '\n'), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(tmp, NoticeFile), notice(dir, m), 0o644); err != nil {
		return err
	}
	for _, d := range rep.Written {
		if err := os.Chmod(filepath.Join(tmp, d.File), 0o644); err != nil {
			return err
		}
		if err := os.Rename(filepath.Join(tmp, d.File), d.Path(dir)); err != nil {
			return fmt.Errorf("geoipdb: %w", err)
		}
		// A directory cannot be renamed over a full one: the old texts go first.
		kind := string(kindOf(m, d))
		if err := os.MkdirAll(filepath.Join(dir, LicensesDir), 0o755); err != nil {
			return err
		}
		if err := os.RemoveAll(filepath.Join(dir, LicensesDir, kind)); err != nil {
			return err
		}
		if err := os.Rename(filepath.Join(tmp, LicensesDir, kind), filepath.Join(dir, LicensesDir, kind)); err != nil {
			return fmt.Errorf("geoipdb: %w", err)
		}
	}
	for _, f := range []string{NoticeFile, ManifestFile} {
		if err := syncFile(filepath.Join(tmp, f)); err != nil {
			return err
		}
		if err := os.Rename(filepath.Join(tmp, f), filepath.Join(dir, f)); err != nil {
			return fmt.Errorf("geoipdb: %w", err)
		}
	}
	return syncFile(dir)
}

func kindOf(m *Manifest, d *Database) Kind {
	for k, v := range m.Databases {
		if v == d {
			return k
		}
	}
	return ""
}

// syncFile flushes a file or a directory (after renames into it) to disk.
func syncFile(p string) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	return errors.Join(f.Sync(), f.Close())
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(to)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	if err == nil {
		err = out.Sync()
	}
	return errors.Join(err, out.Close())
}

// licenseURL links the licences the data comes under.
func licenseURL(id string) string {
	switch id {
	case "CC-BY-4.0":
		return "https://creativecommons.org/licenses/by/4.0/"
	case "CC0-1.0":
		return "https://creativecommons.org/publicdomain/zero/1.0/"
	case "CC-BY-SA-4.0":
		return "https://creativecommons.org/licenses/by-sa/4.0/"
	case "CDLA-Permissive-2.0":
		return "https://cdla.dev/permissive-2-0/"
	case "PDDL-1.0":
		return "https://opendatacommons.org/licenses/pddl/1-0/"
	}
	return ""
}

// attribution is what the data's licences ask to be credited, by the licence texts that came
// with it (each names whom to credit) and where it was compiled.
func attribution(o *origin) []string {
	var out []string
	if strings.Contains(o.name, "ip-location-db") || strings.Contains(o.source, "ip-location-db") {
		out = append(out, "compiled by the ip-location-db project (https://github.com/sapics/ip-location-db)")
	}
	for _, l := range o.licenseFiles {
		switch strings.ToUpper(l.name) {
		case "ROUTEVIEWS-LICENSE":
			out = append(out, "IP to AS number data by the University of Oregon Route Views Project (https://www.routeviews.org), CC BY 4.0")
		case "DBIP-LICENSE":
			out = append(out, "IP to ASN Lite data by DB-IP (https://db-ip.com), CC BY 4.0")
		case "NRO_LICENSE":
			out = append(out, "statistics data by the Number Resource Organization (https://www.nro.net), CC BY 4.0")
		case "GEOLITE2_LICENSE":
			out = append(out, "GeoLite2 data by MaxMind (https://www.maxmind.com), CC BY-SA 4.0")
		}
	}
	return out
}

// notice is the NOTICE shipped beside the databases: for each, where its data comes from, its
// licence, whom it credits and what was changed, then the licence texts in full.
func notice(dir string, m *Manifest) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "GeoIP databases of rarenet, written by `rarenet geoip update` (last on %s).\n", m.Updated.Format(time.DateOnly))
	b.WriteString("Each is listed with the origin of its data, its licence, the credit the licence asks for, and the changes made.\n")
	kinds := make([]Kind, 0, len(m.Databases))
	for k := range m.Databases {
		kinds = append(kinds, k)
	}
	slices.Sort(kinds)
	for _, k := range kinds {
		d := m.Databases[k]
		fmt.Fprintf(&b, "\n%s (%s)\n", d.File, k)
		fmt.Fprintf(&b, "  data:        %s %s, of %s (%s)\n", d.Name, d.Version, d.DateString(), d.DateFrom)
		fmt.Fprintf(&b, "  from:        %s\n", strings.Join(d.Source, ", "))
		lic := d.License
		if u := licenseURL(d.License); u != "" {
			lic += " (" + u + ")"
		}
		fmt.Fprintf(&b, "  licence:     %s\n", lic)
		for _, a := range d.Attribution {
			fmt.Fprintf(&b, "  credit:      %s\n", a)
		}
		if d.Modified != "" {
			fmt.Fprintf(&b, "  changes:     %s\n", d.Modified)
		}
	}
	for _, k := range kinds {
		for _, f := range m.Databases[k].LicenseFiles {
			// The texts of this update are not in place yet: they are in the database's record.
			var text []byte
			for _, l := range m.Databases[k].licenses {
				if strings.HasSuffix(f, "/"+filepath.Base(l.name)) {
					text = l.data
				}
			}
			if text == nil {
				var err error
				if text, err = os.ReadFile(filepath.Join(dir, filepath.FromSlash(f))); err != nil {
					text = []byte("(missing: " + err.Error() + ")")
				}
			}
			fmt.Fprintf(&b, "\n--- %s\n%s\n", f, strings.TrimRight(string(text), "\n"))
		}
	}
	return []byte(b.String())
}
