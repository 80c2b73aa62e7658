package console_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/rarenet/rarenet/services/console"
	"github.com/rarenet/rarenet/services/windower"
	"github.com/rarenet/rarenet/shared/stream"
)

// chromium finds a Chromium or Chrome binary: $RARENET_CHROMIUM, else the usual names.
func chromium() string {
	if p := os.Getenv("RARENET_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// screenshotDir is where the screenshots go: docs/ with RARENET_UPDATE_SCREENSHOTS=1 (make
// screenshots), else the test's temporary directory.
func screenshotDir(t *testing.T) string {
	if os.Getenv("RARENET_UPDATE_SCREENSHOTS") != "" {
		return filepath.Join("..", "..", "docs", "console")
	}
	return t.TempDir()
}

// TestBrowser drives the console in headless Chromium after a replay of the bundled sample:
// the list shows the three signals, the keyboard opens one, its page answers the five
// questions, a status change and an exception go through the page into the buckets and back,
// a signal published live appears without a reload, and both widths render without sideways
// scrolling. Screenshots at 1280x800 and 375x800 are taken (docs/console/ with
// RARENET_UPDATE_SCREENSHOTS=1).
func TestBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Chromium; skipped with -short")
	}
	bin := chromium()
	if bin == "" {
		t.Skip("no Chromium on this machine (Debian: apt-get install chromium; .ci/run installs it): the browser test cannot run")
	}
	s := getSample(t, "browser")
	shots := screenshotDir(t)
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}

	// This machine has no internet: without the background-networking flags Chromium's own
	// connections are refused and slow it down.
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(bin), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 800),
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.Flag("hide-scrollbars", true), chromedp.Flag("disable-dev-shm-usage", true),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancelBrowser := chromedp.NewContext(actx)
	defer cancelBrowser()
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	// Confirmation dialogs (removing an exception) are accepted.
	dialogs := chromedp.Events(ctx, page.JavascriptDialogOpening)
	go func() {
		for _, err := range dialogs {
			if err != nil {
				return
			}
			_, _ = chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true})
		}
	}()
	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	text := func(sel string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Text(sel))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return v
	}
	shot := func(name string) {
		t.Helper()
		do("settle", chromedp.Sleep(300*time.Millisecond))
		png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
		if err != nil || len(png) < 1000 || string(png[1:4]) != "PNG" {
			t.Fatalf("screenshot %s: not a PNG (%v)", name, err)
		}
		if err := os.WriteFile(filepath.Join(shots, name), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	rows := func() []string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll('#signals tbody tr.row .chip.proc')).map(e => e.textContent)`))
		if err != nil {
			t.Fatalf("reading the list: %v", err)
		}
		return v
	}

	// The list: three signals, newest first.
	do("open the list", chromedp.EmulateViewport(1280, 800), chromedp.Navigate(s.url+"/"), chromedp.WaitVisible("#signals tbody tr.row"))
	if procs := rows(); !slices.Equal(procs, []string{"bash", "perl", "kworkerds"}) {
		t.Fatalf("the list shows %v, want bash, perl, kworkerds", procs)
	}
	do("live updates connect", chromedp.WaitVisible("#live.on"))
	shot("list-1280.png")

	// The keyboard: j three times selects kworkerds, Enter opens it.
	do("select with j", chromedp.KeyEvent("j"), chromedp.KeyEvent("j"), chromedp.KeyEvent("j"))
	if sel := text("#signals tr.row.selected .chip.proc"); sel != "kworkerds" {
		t.Fatalf("j j j selected %q, want kworkerds", sel)
	}
	do("open with Enter", chromedp.KeyEvent("\r"), chromedp.WaitVisible("#q-why"))
	answers, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll('.answer h2')).map(e => e.textContent.trim())`))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"1 Where did it connect?", "2 Who ran it?", "3 Is it regular?", "4 What ran?", "5 Why did it score?"}
	if !slices.Equal(answers, want) {
		t.Fatalf("the signal's page answers %q, want %q", answers, want)
	}
	where, what, why := text("#q-where"), text("#q-what"), text("#q-why")
	for _, c := range []struct{ text, want string }{
		{where, "45.9.148.99:3333"}, {where, "stratum: mining pool"}, {what, "/tmp/.X11-unix/kworkerds"},
		{what, "its executable is in /tmp"}, {why, "probability cap"},
	} {
		if !strings.Contains(c.text, c.want) {
			t.Errorf("the signal's page lacks %q", c.want)
		}
	}
	shot("signal-1280.png")

	// A status change through the page's form, then another with the keyboard.
	id := s.ids["kworkerds"]
	kv, err := console.TriageKV(ctx, s.js)
	if err != nil {
		t.Fatal(err)
	}
	do("acknowledge", chromedp.Click(`label.seg-acknowledged`), chromedp.SendKeys(`#status-form textarea`, "looking into it"),
		chromedp.Click("#save-status"), chromedp.WaitVisible(`#sig-status.acknowledged`))
	if tr, err := console.ReadStatus(ctx, kv, id); err != nil || tr == nil || tr.Status != "acknowledged" || tr.Note != "looking into it" {
		t.Fatalf("after the form the bucket holds %+v (%v)", tr, err)
	}
	do("close with c", chromedp.KeyEvent("c"), chromedp.WaitVisible(`#sig-status.closed`))
	if tr, _ := console.ReadStatus(ctx, kv, id); tr == nil || tr.Status != "closed" {
		t.Fatalf("after c the bucket holds %+v", tr)
	}
	if n, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('#history li .status').length`)); n != 2 {
		t.Errorf("the triage history shows %d changes, want 2", n)
	}

	// An exception from the pre-filled form, seen in the bucket, then removed from the page.
	do("add an exception", chromedp.Click("#add-exception"), chromedp.WaitVisible("#added"))
	attr, err := chromedp.Run(ctx, chromedp.AttributeValue("#exceptions tr.fresh", "data-id"))
	if err != nil {
		t.Fatal(err)
	}
	added := attr.Value
	xkv, err := windower.ExceptionsKV(ctx, s.js)
	if err != nil {
		t.Fatal(err)
	}
	xs, err := windower.ListExceptions(ctx, xkv, "")
	if err != nil || len(xs) != 1 || xs[0].ID != added || len(xs[0].Entries) != 2 ||
		xs[0].Entries[0].String() != "process.name is kworkerds" || xs[0].Entries[1].String() != "host.name is web-03" {
		t.Fatalf("after the form the bucket holds %+v (%v)", xs, err)
	}
	do("remove it", chromedp.Click(`#exceptions tr[data-id="`+added+`"] button`), chromedp.WaitVisible(`#removed`))
	if xs, _ := windower.ListExceptions(ctx, xkv, ""); len(xs) != 0 {
		t.Fatalf("after removal the bucket holds %+v", xs)
	}

	// A live signal appears in the open list without a reload, and so does a status change.
	do("back to the list", chromedp.Navigate(s.url+"/"), chromedp.WaitVisible("#live.on"))
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.notReloaded = true`)); err != nil {
		t.Fatal(err)
	}
	doc := liveSignal(t, s.docs["bash"], "nc-live", "2026-03-04T21:00:00Z")
	if _, err := s.js.Publish(ctx, stream.SignalsSubject, doc); err != nil {
		t.Fatal(err)
	}
	liveID := console.SignalID(doc)
	do("the live signal appears", chromedp.WaitVisible(`#signals tr.row.fresh[data-id="`+liveID+`"]`))
	if procs := rows(); len(procs) != 4 || procs[0] != "nc-live" {
		t.Errorf("after the live signal the list shows %v", procs)
	}
	if code, body := s.postJSON(t, "/api/signals/"+liveID+"/status", map[string]string{"status": "acknowledged"}); code != 200 {
		t.Fatalf("status: %d %s", code, body)
	}
	do("the status changes in place", chromedp.WaitVisible(`#signals tr[data-id="`+liveID+`"] .status.acknowledged`))
	if same, _ := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.notReloaded === true`)); !same {
		t.Error("the page reloaded instead of updating in place")
	}

	// Narrow: 375 px wide, nothing wider than the screen.
	overflow := func() int {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.documentElement.scrollWidth - window.innerWidth`))
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	do("375 px list", chromedp.EmulateViewport(375, 800), chromedp.Navigate(s.url+"/"), chromedp.WaitVisible("#signals tbody tr.row"))
	if o := overflow(); o > 0 {
		t.Errorf("the list at 375 px is %d px wider than the screen", o)
	}
	shot("list-375.png")
	do("375 px signal", chromedp.Navigate(s.url+"/signals/"+id), chromedp.WaitVisible("#q-where"))
	if o := overflow(); o > 0 {
		t.Errorf("the signal's page at 375 px is %d px wider than the screen", o)
	}
	shot("signal-375.png")
	t.Logf("screenshots in %s", shots)
}
