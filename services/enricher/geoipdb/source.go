package geoipdb

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// maxDownload bounds one downloaded file: ip-location-db's largest ASN table is under 100 MB.
const maxDownload = 1 << 30

// origin is where data came from: a package, a release asset, or a file given as it is.
type origin struct {
	name, version string
	source        string // what the user gave: a path or a URL
	date          time.Time
	dateFrom      string
	license       string
	licenseFiles  []licenseFile
	checks        []string
	// integrity check of an npm package, done once every metadata document is read.
	pkg *tarballDigest
}

// licenseFile is a licence text shipped with the data.
type licenseFile struct {
	name string
	data []byte
}

// part is one file of data: a country database or an ASN table, in a temporary file.
type part struct {
	kind   Kind
	path   string // the temporary copy
	name   string // for messages: the file given, or package:entry
	origin *origin
}

// fetched is one input as read: a local file (downloaded if it was a URL) and what is known of
// it before its content is looked at.
type fetched struct {
	path     string
	source   string
	modified time.Time // the file's modification time, or the server's Last-Modified
}

// isURL tells URLs from paths.
func isURL(s string) bool {
	return strings.HasPrefix(s, "https://") || strings.HasPrefix(s, "http://")
}

// fetch makes source a local file: a path is used as it is, a URL is downloaded into tmp.
func fetch(ctx context.Context, client *http.Client, source, tmp string) (fetched, error) {
	if !isURL(source) {
		fi, err := os.Stat(source)
		if err != nil {
			return fetched{}, err
		}
		if fi.IsDir() {
			return fetched{}, fmt.Errorf("%s: a directory: give the files (an npm package's .tgz, a .mmdb, a .csv)", source)
		}
		return fetched{path: source, source: source, modified: fi.ModTime().UTC()}, nil
	}
	return download(ctx, client, source, tmp)
}

// download GETs u into a new file of tmp.
func download(ctx context.Context, client *http.Client, u, tmp string) (fetched, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return fetched{}, err
	}
	req.Header.Set("User-Agent", "rarenet-geoip-update")
	resp, err := client.Do(req)
	if err != nil {
		return fetched{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fetched{}, fmt.Errorf("%s: %s", u, resp.Status)
	}
	f, err := os.CreateTemp(tmp, "download-*-"+safeBase(u))
	if err != nil {
		return fetched{}, err
	}
	n, err := io.Copy(f, io.LimitReader(resp.Body, maxDownload+1))
	if err = errors.Join(err, f.Close()); err != nil {
		return fetched{}, fmt.Errorf("%s: %w", u, err)
	}
	if n > maxDownload {
		return fetched{}, fmt.Errorf("%s: larger than %d bytes", u, maxDownload)
	}
	if resp.ContentLength >= 0 && n != resp.ContentLength {
		return fetched{}, fmt.Errorf("%s: %d bytes received of %d", u, n, resp.ContentLength)
	}
	out := fetched{path: f.Name(), source: u}
	if lm, err := http.ParseTime(resp.Header.Get("Last-Modified")); err == nil {
		out.modified = lm.UTC()
	}
	return out, nil
}

// safeBase is the last element of a URL's path, safe as part of a file name.
func safeBase(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "file"
	}
	b := filepath.Base(p.Path)
	if b == "." || b == "/" || b == "" {
		return "file"
	}
	return strings.Map(func(r rune) rune {
		if r == '/' || r == '\\' || r == '*' {
			return '_'
		}
		return r
	}, b)
}

// content is what a file holds, told by its first bytes and its end.
type content int

const (
	contentCSV content = iota
	contentGzip
	contentMMDB
	contentJSON
)

// mmdbMarker starts the metadata section of every MaxMind DB file (MaxMind DB File Format
// Specification, "Database Metadata"); it lies in the last 128 KiB of the file.
const mmdbMarker = "\xab\xcd\xefMaxMind.com"

func sniff(path string) (content, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	head, err := bufio.NewReader(f).Peek(16)
	if err != nil && !errors.Is(err, io.EOF) {
		return 0, err
	}
	if len(head) == 0 {
		return 0, fmt.Errorf("%s: empty", path)
	}
	if bytes.HasPrefix(head, []byte{0x1f, 0x8b}) {
		return contentGzip, nil
	}
	fi, err := f.Stat()
	if err != nil {
		return 0, err
	}
	tail := min(fi.Size(), 128<<10)
	buf := make([]byte, tail)
	if _, err := f.ReadAt(buf, fi.Size()-tail); err != nil && !errors.Is(err, io.EOF) {
		return 0, err
	}
	if bytes.Contains(buf, []byte(mmdbMarker)) {
		return contentMMDB, nil
	}
	if t := bytes.TrimLeft(head, " \t\r\n"); len(t) > 0 && (t[0] == '{' || t[0] == '[') {
		return contentJSON, nil
	}
	return contentCSV, nil
}
