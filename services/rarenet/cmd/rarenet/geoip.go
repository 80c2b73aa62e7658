package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/rarenet/rarenet/services/enricher/geoipdb"
	"github.com/rarenet/rarenet/services/rarenet"
	"github.com/rarenet/rarenet/shared/cli"
)

const geoipSummary = `Fetches free GeoIP databases (ip-location-db: a country database, and an ASN table built into
a MaxMind-format database), verifies them, and writes them into --dir with their licences, a
NOTICE and a manifest. rarenet run and replay (and the enricher with --geoip-dir) use them.

Without --from: the assets of ip-location-db's latest GitHub release (user-country.mmdb,
origin-asn.csv), checked against the digests the release publishes. With --from (or files
after the flags), for air-gapped sites: npm package tarballs (npm pack @ip-location-db/asn
@ip-location-db/geo-whois-asn-country-mmdb --json > pack.json; copy the .tgz files and
pack.json over and give all three), a MaxMind-format country database, ASN tables (CSV),
or URLs of any of these.`

// defaultGeoIPDir is where the databases live unless told otherwise: beside the embedded
// server's data.
func defaultGeoIPDir() string { return filepath.Join(defaultDataDir(), "geoip") }

// geoipDirFollowsDataDir puts run's databases under its --data-dir when that is given and
// --geoip-dir is not.
func geoipDirFollowsDataDir(fs *flag.FlagSet, o *rarenet.Options) {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if set["data-dir"] && !set["geoip-dir"] {
		o.Enricher.GeoIPDir = filepath.Join(o.DataDir, "geoip")
	}
}

func geoipCmd(ctx context.Context, args []string) error {
	return geoip(ctx, args, os.Stdout, os.Stderr)
}

func geoip(ctx context.Context, args []string, out, progress io.Writer) error {
	if len(args) == 0 || args[0] != "update" {
		return &cli.UsageError{Command: "rarenet geoip update", Err: errors.New("want: rarenet geoip update [flags]")}
	}
	c := cli.New("rarenet geoip update", geoipSummary, "rarenet geoip update [--dir DIR] [--from URL|FILE]... [FILE...]")
	c.Out = out
	o := geoipdb.Options{Progress: progress}
	var from stringList
	var timeout time.Duration
	c.Flags(cli.Input, func(fs *flag.FlagSet) {
		fs.Var(&from, "from", "a `FILE|URL` to read instead of the latest release: an npm package (.tgz), the output of npm pack --json or npm view --json, a country .mmdb, an ASN .csv, a GitHub release document (repeatable)")
	})
	c.Flags(cli.Output, func(fs *flag.FlagSet) {
		fs.StringVar(&o.Dir, "dir", defaultGeoIPDir(), "the data directory (rarenet run --data-dir DIR uses DIR/geoip)")
	})
	c.Flags(cli.Operations, func(fs *flag.FlagSet) {
		fs.DurationVar(&timeout, "timeout", 10*time.Minute, "give up a download after this long")
	})
	if err := c.Parse(args[1:]); err != nil {
		return err
	}
	o.From = append(from, c.Args()...)
	o.Client = &http.Client{Timeout: timeout}
	rep, err := geoipdb.Update(ctx, o)
	if err != nil && len(o.From) == 0 {
		return fmt.Errorf("%w\n(without access to the release, give the files with --from: rarenet geoip update -h)", err)
	}
	if err != nil {
		return err
	}
	printReport(out, rep)
	return nil
}

// printReport says what the update did, one database a paragraph.
func printReport(w io.Writer, rep *geoipdb.Report) {
	say := func(verb string, d *geoipdb.Database) {
		fmt.Fprintf(w, "%s %s: %s %s, data of %s (%s), licence %s\n", verb, d.Path(rep.Dir), d.Name, d.Version, d.DateString(), d.DateFrom, d.License)
		fmt.Fprintf(w, "  from %s\n", strings.Join(d.Source, ", "))
		for _, c := range d.Checks {
			fmt.Fprintf(w, "  checked: %s\n", c)
		}
	}
	for _, d := range rep.Written {
		say("wrote", d)
	}
	for _, d := range rep.Kept {
		say("kept", d)
	}
	for _, n := range rep.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	fmt.Fprintf(w, "licences and credits: %s\n", filepath.Join(rep.Dir, geoipdb.NoticeFile))
}
