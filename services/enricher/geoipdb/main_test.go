package geoipdb

import (
	"fmt"
	"os"
	"sync"
	"testing"

	"github.com/rarenet/rarenet/services/enricher/geoipdb/npmtest"
)

// packDir holds the real packages, packed once for the package's tests on first use (npm pack
// takes seconds even from npm's cache, and fuzzing workers never need them).
var (
	packDir   string
	realPacks = sync.OnceValues(func() (*npmtest.Packs, string) {
		p, skip, err := npmtest.Pack(packDir, npmtest.ASN, npmtest.Country)
		if err != nil {
			return nil, err.Error()
		}
		return p, skip
	})
)

func TestMain(m *testing.M) {
	var err error
	if packDir, err = os.MkdirTemp("", "geoipdb-npm-"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(packDir)
	os.Exit(code)
}

// needReal returns the real packages, and skips the test, saying why, where npm or its
// registry cannot be reached.
func needReal(t *testing.T) *npmtest.Packs {
	t.Helper()
	if testing.Short() {
		t.Skip("the real ip-location-db packages (26 MB through npm) are not fetched with -short")
	}
	p, why := realPacks()
	switch {
	case p != nil:
		return p
	case why == "":
		t.Fatal("npm pack gave nothing")
	case npmtest.IsSkip(why):
		t.Skip(why)
	default:
		t.Fatal(why)
	}
	return nil
}
