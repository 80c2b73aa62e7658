// Package geoipdb keeps the free GeoIP databases the enricher uses when the user gives none of
// MaxMind's: a country database in MaxMind format and an ASN database built here from a CSV
// table, both from the ip-location-db project (https://github.com/sapics/ip-location-db), in
// one data directory with a manifest that says where each came from, of what date, under which
// licence, and how it was checked. Update fetches and verifies them; ReadManifest tells the
// enricher what it opens.
package geoipdb

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// Kind is what a database answers.
type Kind string

// The kinds of database in the data directory.
const (
	KindASN     Kind = "asn"
	KindCountry Kind = "country"
)

// Files of the data directory.
const (
	ASNFile      = "asn.mmdb"
	CountryFile  = "country.mmdb"
	ManifestFile = "manifest.json"
	NoticeFile   = "NOTICE"
	LicensesDir  = "licenses"
)

// MaxAge is the age of its data past which a database is reported stale: ip-location-db
// refreshes daily, so data two months old means the refresh schedule has stopped.
const MaxAge = 60 * 24 * time.Hour

// manifestFormat is the version of the manifest's layout.
const manifestFormat = 1

// ErrNoManifest is returned by ReadManifest when the directory holds no manifest (no update
// ran there yet).
var ErrNoManifest = errors.New("geoipdb: no manifest")

// Manifest describes the databases of a data directory.
type Manifest struct {
	Format    int                `json:"format"`
	Updated   time.Time          `json:"updated"`
	Databases map[Kind]*Database `json:"databases"`
}

// Database is one database of the directory: what it is, where its data came from, of what
// date, under which licence, and what was checked before it was written.
type Database struct {
	// File is the database's file name in the directory.
	File string `json:"file"`
	// Name is the package or release asset the data came from ("@ip-location-db/asn",
	// "ip-location-db/user-country.mmdb"), or the file name given.
	Name    string `json:"name"`
	Version string `json:"version,omitempty"`
	// Source is what was given to the update: files, URLs.
	Source []string `json:"source"`
	// Date is the date of the data (the package's version date, the database's build time,
	// the release asset's upload time, or a file's modification time: DateFrom says which).
	Date     time.Time `json:"date"`
	DateFrom string    `json:"date_from"`
	// License is the licence of the data (SPDX identifier); Attribution what it requires to be
	// said, and LicenseFiles the licence texts shipped with the data, copied beside it.
	License      string   `json:"license"`
	Attribution  []string `json:"attribution,omitempty"`
	LicenseFiles []string `json:"license_files,omitempty"`
	// Modified says how rarenet changed the data (CC-BY asks that changes be indicated).
	Modified string `json:"modified,omitempty"`
	// SHA256 is the hex digest of File.
	SHA256 string `json:"sha256"`
	// Checks are the verifications the data passed.
	Checks []string `json:"checks"`
	// Updated is when the file was written.
	Updated time.Time `json:"updated"`

	licenses []licenseFile // the texts of LicenseFiles, to be written
}

// Age is how old the database's data is at now.
func (d *Database) Age(now time.Time) time.Duration { return now.Sub(d.Date) }

// Stale tells whether the data is older than MaxAge at now.
func (d *Database) Stale(now time.Time) bool { return d.Age(now) > MaxAge }

// DateString is the data's date as YYYY-MM-DD.
func (d *Database) DateString() string { return d.Date.UTC().Format(time.DateOnly) }

// Path is the database file's path in dir.
func (d *Database) Path(dir string) string { return filepath.Join(dir, d.File) }

// ReadManifest reads the manifest of dir. It returns ErrNoManifest when there is none.
func ReadManifest(dir string) (*Manifest, error) {
	b, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNoManifest
	}
	if err != nil {
		return nil, fmt.Errorf("geoipdb: %w", err)
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("geoipdb: %s: %w", filepath.Join(dir, ManifestFile), err)
	}
	if m.Format != manifestFormat {
		return nil, fmt.Errorf("geoipdb: %s: format %d, want %d", filepath.Join(dir, ManifestFile), m.Format, manifestFormat)
	}
	if m.Databases == nil {
		m.Databases = map[Kind]*Database{}
	}
	return &m, nil
}
