package enricher

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/rarenet/rarenet/services/enricher/geoipdb"
)

// How often the enricher looks for an update of the data directory's databases, and repeats
// its warning about stale ones. Both run when the input is idle (natsutil.Loop's Tick).
const (
	geoipCheckEvery = time.Minute
	geoipWarnEvery  = 24 * time.Hour
)

// geoState holds the enricher's GeoIP databases, and replaces them when `rarenet geoip update`
// writes newer ones into the data directory. Lookups run on the loop's goroutine, as does the
// replacement, so a set is never closed while in use; cur is atomic for the metrics, read
// from the HTTP server's goroutines.
type geoState struct {
	asnPath, cityPath, dir string
	log                    *slog.Logger
	cur                    atomic.Pointer[GeoIP]
	lastCheck, lastWarn    time.Time
}

func (g *geoState) configured() bool { return g.asnPath != "" || g.cityPath != "" || g.dir != "" }

// open opens the databases; nothing when none is configured.
func (g *geoState) open() error {
	if !g.configured() {
		return nil
	}
	geo, err := LoadGeoIP(g.asnPath, g.cityPath, g.dir)
	if err != nil {
		return err
	}
	g.cur.Store(geo)
	return nil
}

// get is the current set; nil when none is configured.
func (g *geoState) get() *GeoIP { return g.cur.Load() }

func (g *geoState) close() {
	if geo := g.cur.Swap(nil); geo != nil {
		geo.Close()
	}
}

// report logs the databases in use, and warns of stale ones.
func (g *geoState) report(now time.Time) {
	if !g.configured() {
		return
	}
	dbs := g.get().Databases()
	if len(dbs) == 0 {
		g.log.Info("no GeoIP databases: destinations get no AS and country; `rarenet geoip update` writes free ones", "geoip_dir", g.dir)
	}
	for _, d := range dbs {
		g.log.Info("GeoIP database", "database", string(d.Kind), "name", d.Name, "date", d.Date.Format(time.DateOnly), "path", d.Path)
	}
	g.warnStale(now)
}

func (g *geoState) warnStale(now time.Time) {
	g.lastWarn = now
	for _, d := range g.get().Databases() {
		if d.Stale(now) {
			g.log.Warn("GeoIP database is stale: refresh it (rarenet geoip update, or geoipupdate for MaxMind's)",
				"database", string(d.Kind), "name", d.Name, "date", d.Date.Format(time.DateOnly),
				"age_days", int(now.Sub(d.Date).Hours()/24), "max_age_days", int(geoipdb.MaxAge.Hours()/24), "path", d.Path)
		}
	}
}

// tick opens the newer databases an update wrote, and repeats the stale warning daily.
func (g *geoState) tick(_ context.Context, now time.Time) error {
	if !g.configured() {
		return nil
	}
	if now.Sub(g.lastCheck) >= geoipCheckEvery {
		g.lastCheck = now
		if old := g.get(); old.Changed() {
			geo, err := LoadGeoIP(g.asnPath, g.cityPath, g.dir)
			if err != nil {
				// Half-written by an update in progress, or broken: keep answering from the old
				// set, and try again at the next check.
				g.log.Error("GeoIP databases changed but cannot be opened; keeping the ones open", "geoip_dir", g.dir, "err", err)
				return nil
			}
			g.cur.Store(geo)
			if old != nil {
				old.Close()
			}
			g.log.Info("GeoIP databases updated", "geoip_dir", g.dir)
			g.report(now)
		}
	}
	if now.Sub(g.lastWarn) >= geoipWarnEvery {
		g.warnStale(now)
	}
	return nil
}
