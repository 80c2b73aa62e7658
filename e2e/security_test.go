package e2e

import (
	"bufio"
	"compress/gzip"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rarenet/rarenet/shared/control"
	"github.com/rarenet/rarenet/shared/stream"
	"github.com/rarenet/rarenet/shared/syncbuf"
)

// The stage binaries serve /healthz, /readyz and /metrics on :9090 by default. The tests run
// several on one machine: they serve nothing unless a test asks (as the security test does).
func init() { os.Setenv("RARENET_HTTP_ADDR", "") }

// secureServer is a standalone nats-server with mutual TLS and deploy/nats/accounts.conf.
type secureServer struct {
	url       string
	dir       string // certificates and keys
	passwords map[string]string
}

// users of deploy/nats/accounts.conf.
var users = []string{"ingest", "scorer", "enricher", "windower", "notify", "console", "signals", "publisher", "sensor", "admin", "shipper-web", "shipper-db"}

func startSecureServer(t *testing.T, bin string) *secureServer {
	t.Helper()
	dir := t.TempDir()
	writeCerts(t, dir)
	accounts, err := os.ReadFile(filepath.Join(repoRoot(t), "deploy", "nats", "accounts.conf"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "accounts.conf"), accounts, 0o600); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	conf := `listen: "127.0.0.1:` + strconv.Itoa(port) + `"
max_payload: 8MB
jetstream { store_dir: "` + filepath.Join(dir, "js") + `" }
tls {
  cert_file: "` + filepath.Join(dir, "server.pem") + `"
  key_file: "` + filepath.Join(dir, "server-key.pem") + `"
  ca_file: "` + filepath.Join(dir, "ca.pem") + `"
  verify: true
}
include "accounts.conf"
`
	confFile := filepath.Join(dir, "server.conf")
	if err := os.WriteFile(confFile, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	s := &secureServer{url: "tls://127.0.0.1:" + strconv.Itoa(port), dir: dir, passwords: map[string]string{}}
	var env []string
	for _, u := range users {
		s.passwords[u] = "pw-" + u + "-" + strconv.FormatInt(time.Now().UnixNano(), 36)
		env = append(env, "RARENET_"+strings.ToUpper(strings.ReplaceAll(u, "-", "_"))+"_PASSWORD="+s.passwords[u])
	}
	startEnv(t, env, filepath.Join(bin, "nats-server"), "-c", confFile)
	waitPort(t, port)
	return s
}

// connect connects as user with the client certificate and the user's inbox prefix.
func (s *secureServer) connect(t *testing.T, user string, errs chan<- error) *nats.Conn {
	t.Helper()
	opts := []nats.Option{
		nats.RootCAs(filepath.Join(s.dir, "ca.pem")),
		nats.ClientCert(filepath.Join(s.dir, "client.pem"), filepath.Join(s.dir, "client-key.pem")),
		nats.UserInfo(user, s.passwords[user]),
		nats.CustomInboxPrefix("_INBOX_" + user),
	}
	if errs != nil {
		opts = append(opts, nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			select {
			case errs <- err:
			default:
			}
		}))
	}
	var nc *nats.Conn
	var err error
	for range 100 { // the server may still be starting
		if nc, err = nats.Connect(s.url, opts...); err == nil {
			t.Cleanup(nc.Close)
			return nc
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("connect as %s: %v", user, err)
	return nil
}

// stageArgs are the flags that connect a stage binary as its own user over mutual TLS.
func (s *secureServer) stageArgs(user string) []string {
	return []string{"--nats-url", s.url, "--partitions", "4",
		"--tls-ca", filepath.Join(s.dir, "ca.pem"),
		"--tls-cert", filepath.Join(s.dir, "client.pem"), "--tls-key", filepath.Join(s.dir, "client-key.pem"),
		"--nats-user", user, "--nats-inbox-prefix", "_INBOX_" + user}
}

// TestSecurity runs the four stage binaries over mutual TLS, each as its own user of
// deploy/nats/accounts.conf, publishes the bundled sample as the publisher user and reads
// its signals as the signals user; then shows each user refused outside its permissions.
func TestSecurity(t *testing.T) {
	if testing.Short() {
		t.Skip("builds binaries and runs a TLS nats-server and four stages; skipped with -short")
	}
	bin := binaries(t)
	srv := startSecureServer(t, bin)

	// Each stage as its own user: ingest reads its password from a file, the others from
	// RARENET_NATS_PASSWORD. None may log it.
	stages := map[string]*proc{}
	httpPort, scorerPort := freePort(t), freePort(t)
	for _, name := range []string{"ingest", "scorer", "enricher", "windower"} {
		args := srv.stageArgs(name)
		env := []string{}
		if name == "ingest" {
			pw := filepath.Join(t.TempDir(), "password")
			if err := os.WriteFile(pw, []byte(srv.passwords[name]+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			args = append(args, "--nats-password-file", pw, "--http-addr", "127.0.0.1:"+strconv.Itoa(httpPort))
		} else {
			env = append(env, "RARENET_NATS_PASSWORD="+srv.passwords[name])
		}
		if name == "scorer" || name == "windower" {
			args = append(args, "--clock", "watermark")
		}
		if name == "scorer" {
			args = append(args, "--http-addr", "127.0.0.1:"+strconv.Itoa(scorerPort))
		}
		stages[name] = startEnv(t, env, filepath.Join(bin, name), args...)
	}

	// The notifier as its own user, from the first signal: one webhook takes every signal, one
	// refuses them (400), so the signals also go to its dead-letter subject.
	var hooked, refused atomic.Int64
	okHook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hooked.Add(1) }))
	defer okHook.Close()
	badHook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		refused.Add(1)
		w.WriteHeader(http.StatusBadRequest)
	}))
	defer badHook.Close()
	stages["notify"] = startEnv(t, []string{"RARENET_NATS_PASSWORD=" + srv.passwords["notify"]}, filepath.Join(bin, "notify"),
		append(srv.stageArgs("notify"), "--from", "all", "--to", "webhook+"+okHook.URL, "--to", "webhook+"+badHook.URL)...)

	// The signals user subscribes before anything is published.
	signalsNC := srv.connect(t, "signals", nil)
	signals := make(chan *nats.Msg, 100)
	if _, err := signalsNC.ChanSubscribe(stream.SignalsSubject, signals); err != nil {
		t.Fatal(err)
	}
	if err := signalsNC.Flush(); err != nil {
		t.Fatal(err)
	}

	// Ingest is ready once connected over TLS with its consumer created.
	waitReady(t, "http://127.0.0.1:"+strconv.Itoa(httpPort)+"/readyz")

	// The publisher sends the sample, then the end-of-input marker that flushes every stage.
	pubNC := srv.connect(t, "publisher", nil)
	js, err := jetstream.New(pubNC)
	if err != nil {
		t.Fatal(err)
	}
	publishSample(t, js)

	want := 3 // kworkerds, perl, bash (README)
	var names []string
	timeout := time.After(2 * time.Minute)
	for len(names) < want {
		select {
		case m := <-signals:
			var sig struct {
				Value string `json:"by_field_value"`
			}
			if err := json.Unmarshal(m.Data, &sig); err != nil {
				t.Fatalf("signal is not JSON: %v", err)
			}
			var doc map[string]any
			if err := json.Unmarshal(m.Data, &doc); err != nil {
				t.Fatal(err)
			}
			checkFieldMap(t, doc)
			names = append(names, sig.Value)
		case <-timeout:
			t.Fatalf("got %d signals %v in 2 minutes, want %d", len(names), names, want)
		}
	}
	t.Logf("signals for %v", names)
	// Both destinations get every signal, each in its own time: wait for both counts.
	for deadline := time.Now().Add(30 * time.Second); (hooked.Load() < int64(want) || refused.Load() < int64(want)) && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
	}
	if hooked.Load() != int64(want) || refused.Load() != int64(want) {
		t.Errorf("the notifier delivered %d signals and had %d refused, want %d each", hooked.Load(), refused.Load(), want)
	}
	admin := srv.connect(t, "admin", nil)
	adminJS, err := jetstream.New(admin)
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		info, err := adminJS.Stream(context.Background(), stream.DLQ)
		if err != nil {
			t.Fatal(err)
		}
		si, err := info.Info(context.Background(), jetstream.WithSubjectFilter(stream.NotifyDLQSubject("to-2")))
		if err == nil && si.State.Msgs == uint64(want) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the notifier's dead letters did not reach %s", stream.NotifyDLQSubject("to-2"))
		}
	}

	// Signals come as the watermark passes their rule runs, possibly before ingest has read
	// the end of the input: wait for the count of every line.
	var code int
	var body string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if code, body = httpGet(t, "http://127.0.0.1:"+strconv.Itoa(httpPort)+"/metrics"); strings.Contains(body, "rarenet_ingest_lines_total 27651") {
			break
		}
	}
	if code != 200 || !strings.Contains(body, "rarenet_ingest_lines_total 27651") {
		var got []string
		for _, l := range strings.Split(body, "\n") {
			if strings.HasPrefix(l, "rarenet_ingest_") {
				got = append(got, l)
			}
		}
		t.Errorf("ingest /metrics = %d without rarenet_ingest_lines_total 27651: %v", code, got)
	}
	// A restarted scorer reads its checkpoint back (an ordered consumer on the object store),
	// which the first start never does, and reports the checkpoint's age. The checkpoint
	// follows the records it covers: wait for it before the restart.
	scorerMetrics := "http://127.0.0.1:" + strconv.Itoa(scorerPort) + "/metrics"
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if _, body := httpGet(t, scorerMetrics); strings.Contains(body, "rarenet_checkpoint_age_seconds{") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the scorer wrote no checkpoint")
		}
	}
	stages["scorer"].stop()
	args := append(srv.stageArgs("scorer"), "--clock", "watermark", "--http-addr", "127.0.0.1:"+strconv.Itoa(scorerPort))
	restarted := startEnv(t, []string{"RARENET_NATS_PASSWORD=" + srv.passwords["scorer"]}, filepath.Join(bin, "scorer"), args...)
	waitReady(t, "http://127.0.0.1:"+strconv.Itoa(scorerPort)+"/readyz")
	if _, body := httpGet(t, scorerMetrics); !strings.Contains(body, "rarenet_checkpoint_age_seconds{") {
		t.Errorf("the restarted scorer reports no checkpoint age:\n%s", body)
	}
	stages["scorer (restarted)"] = restarted
	stages["console"] = checkConsole(t, srv, bin, signalsNC)
	for name, p := range stages {
		out := p.out.String()
		if strings.Contains(out, "Permissions Violation") || strings.Contains(out, "permissions violation") {
			t.Errorf("%s hit a permissions violation: the accounts config misses a subject it needs", name)
		}
		if strings.Contains(out, srv.passwords[strings.Fields(name)[0]]) {
			t.Errorf("%s logged its password", name)
		}
	}

	t.Run("refusals", func(t *testing.T) {
		tests := []struct {
			user, action, subject string
		}{
			{"ingest", "pub", stream.SignalsSubject},
			{"ingest", "pub", stream.AnomaliesSubject},
			{"ingest", "sub", stream.RawWildcard},
			{"ingest", "sub", "_INBOX.>"},
			{"ingest", "pub", "$JS.API.STREAM.DELETE." + stream.Signals},
			{"ingest", "pub", "$JS.API.CONSUMER.MSG.NEXT." + stream.Enriched + "." + stream.WindowerConsumer},
			{"scorer", "pub", stream.SignalsSubject},
			{"enricher", "pub", stream.EventsSubject(0)},
			{"windower", "pub", stream.RawSubject("ecs")},
			{"signals", "pub", stream.SignalsSubject},
			{"signals", "pub", stream.RawSubject("ecs")},
			{"signals", "pub", "$JS.API.INFO"},
			{"signals", "sub", stream.EventsWildcard},
			{"signals", "sub", "_INBOX_ingest.>"},
			{"publisher", "pub", stream.EventsSubject(0)},
			{"publisher", "sub", stream.SignalsSubject},
			{"notify", "pub", stream.SignalsSubject},
			{"notify", "pub", stream.DLQSubject("ingest")},
			{"notify", "sub", stream.RawWildcard},
			{"notify", "pub", "$JS.API.CONSUMER.MSG.NEXT." + stream.Enriched + "." + stream.WindowerConsumer},
			{"console", "pub", stream.SignalsSubject},
			{"console", "pub", stream.RawSubject("ecs")},
			{"console", "pub", "$KV." + stream.HistoryBucket + ".fleet"},
			{"console", "pub", "$JS.API.STREAM.DELETE." + stream.Signals},
			{"console", "pub", "$JS.API.STREAM.PURGE.KV_" + stream.ConsoleBucket},
			{"console", "pub", "$JS.API.STREAM.CREATE." + stream.Signals},
			{"console", "sub", stream.AnomaliesSubject},
			{"signals", "pub", "$KV." + stream.ConsoleBucket + ".status.x"},
			{"sensor", "pub", stream.RawSubject("auditd")},
			{"sensor", "pub", stream.EventsSubject(0)},
			{"sensor", "pub", "$JS.API.STREAM.DELETE." + stream.Raw},
			{"sensor", "sub", stream.RawWildcard},
			{"sensor", "sub", "_INBOX_publisher.>"},
			// A source-bound user publishes only on subjects naming it.
			{"shipper-web", "pub", stream.RawSubject("ecs")},
			{"shipper-web", "pub", stream.RawSubject("ecs") + ".shipper-db"},
			{"shipper-web", "pub", stream.RawSubject("ecs") + ".shipper-web.x"},
			{"shipper-web", "pub", stream.EventsSubject(0)},
			{"shipper-web", "sub", stream.RawWildcard},
			{"shipper-web", "sub", "_INBOX_shipper-db.>"},
		}
		for _, tt := range tests {
			t.Run(tt.user+"/"+tt.action+"/"+tt.subject, func(t *testing.T) {
				errs := make(chan error, 10)
				nc := srv.connect(t, tt.user, errs)
				var err error
				if tt.action == "pub" {
					err = nc.Publish(tt.subject, []byte("{}"))
				} else {
					_, err = nc.SubscribeSync(tt.subject)
				}
				if err != nil {
					t.Fatal(err)
				}
				if err := nc.Flush(); err != nil {
					t.Fatal(err)
				}
				select {
				case err := <-errs:
					if !errors.Is(err, nats.ErrPermissionViolation) && !strings.Contains(strings.ToLower(err.Error()), "permissions violation") {
						t.Errorf("got %v, want a permissions violation", err)
					}
				case <-time.After(5 * time.Second):
					t.Errorf("%s may %s %s", tt.user, tt.action, tt.subject)
				}
			})
		}
	})

	t.Run("ingest may still publish its own output", func(t *testing.T) {
		errs := make(chan error, 10)
		nc := srv.connect(t, "ingest", errs)
		if err := nc.Publish(stream.DLQSubject("ingest"), []byte("allowed")); err != nil {
			t.Fatal(err)
		}
		if err := nc.Flush(); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-errs:
			t.Errorf("ingest publishing its dead letters: %v", err)
		case <-time.After(time.Second):
		}
	})

	t.Run("the sensor may publish ECS, acknowledged", func(t *testing.T) {
		nc := srv.connect(t, "sensor", nil)
		js, err := jetstream.New(nc)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		// A line ingest rejects (no @timestamp): it reaches the dead letters, not the model.
		if _, err := js.Publish(ctx, stream.RawSubject("ecs"), []byte(`{"security-test":"sensor"}`)); err != nil {
			t.Errorf("sensor publishing on %s: %v", stream.RawSubject("ecs"), err)
		}
	})

	t.Run("a source-bound user may publish on the subject naming it, acknowledged", func(t *testing.T) {
		nc := srv.connect(t, "shipper-web", nil)
		js, err := jetstream.New(nc)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		subject := stream.RawSubject("ecs") + ".shipper-web"
		if _, err := js.Publish(ctx, subject, []byte(`{"security-test":"shipper-web"}`)); err != nil {
			t.Errorf("shipper-web publishing on %s: %v", subject, err)
		}
	})

	t.Run("rarenet sense as the sensor user", func(t *testing.T) {
		ns := senseNetns(t)
		ln := listenInNetns(t, ns, senseServerAddr+":0")
		args := []string{"sense", "--nats-url", srv.url, "--host", "secure-01",
			"--tls-ca", filepath.Join(srv.dir, "ca.pem"),
			"--tls-cert", filepath.Join(srv.dir, "client.pem"), "--tls-key", filepath.Join(srv.dir, "client-key.pem"),
			"--nats-user", "sensor", "--nats-inbox-prefix", "_INBOX_sensor"}
		sensor := startEnv(t, []string{"RARENET_NATS_PASSWORD=" + srv.passwords["sensor"]}, filepath.Join(bin, "rarenet"), args...)
		for deadline := time.Now().Add(30 * time.Second); !strings.Contains(sensor.out.String(), "msg=sensing"); time.Sleep(50 * time.Millisecond) {
			if strings.Contains(sensor.out.String(), "none of the ways it knows") {
				t.Skipf("skipped: the kernel refuses BPF here:\n%s", sensor.out.String())
			}
			if time.Now().After(deadline) {
				t.Fatalf("rarenet sense did not start:\n%s", sensor.out.String())
			}
		}
		script := fmt.Sprintf("exec 3<>/dev/tcp/%s/%d", senseServerAddr, ln.Addr().(*net.TCPAddr).Port)
		if out, err := exec.Command("ip", "netns", "exec", ns, "bash", "-c", script).CombinedOutput(); err != nil {
			t.Fatalf("workload: %v: %s", err, out)
		}
		time.Sleep(time.Second) // two flush intervals
		sensor.stop()
		out := sensor.out.String()
		if strings.Contains(strings.ToLower(out), "permissions violation") || strings.Contains(out, srv.passwords["sensor"]) {
			t.Errorf("the sensor hit a permissions violation or logged its password:\n%s", out)
		}
		if strings.Contains(out, "published=0 ") || !strings.Contains(out, "msg=stopped") {
			t.Errorf("the sensor published nothing over TLS as its user:\n%s", out)
		}
	})

	t.Run("no client certificate, no connection", func(t *testing.T) {
		nc, err := nats.Connect(srv.url, nats.RootCAs(filepath.Join(srv.dir, "ca.pem")),
			nats.UserInfo("admin", srv.passwords["admin"]), nats.Timeout(3*time.Second), nats.NoReconnect())
		if err == nil {
			nc.Close()
			t.Fatal("connected over TLS without a client certificate")
		}
	})

	t.Run("a wrong password is refused and never logged", func(t *testing.T) {
		wrong := "not-the-" + srv.passwords["ingest"]
		args := append(srv.stageArgs("ingest"), "--start-timeout", "2s")
		out, err := runEnv([]string{"RARENET_NATS_PASSWORD=" + wrong}, filepath.Join(bin, "ingest"), args...)
		if err == nil {
			t.Fatal("ingest started with a wrong password")
		}
		if !strings.Contains(strings.ToLower(out), "authorization violation") {
			t.Errorf("the failure does not say why:\n%s", out)
		}
		if strings.Contains(out, wrong) {
			t.Errorf("the output shows the password:\n%s", out)
		}
	})
}

// checkConsole runs `rarenet console` as the console user against the secured cluster once the
// sample's signals are out: it lists them, shows a signal's page (the history read from the
// enricher's bucket), sets a status that the signals user sees on rarenet.triage and reads
// from the console's bucket, and adds an exception to the windower's bucket.
func checkConsole(t *testing.T, srv *secureServer, bin string, signalsNC *nats.Conn) *proc {
	t.Helper()
	port := freePort(t)
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	args := []string{"console", "--nats-url", srv.url, "--listen", "127.0.0.1:" + strconv.Itoa(port),
		"--tls-ca", filepath.Join(srv.dir, "ca.pem"),
		"--tls-cert", filepath.Join(srv.dir, "client.pem"), "--tls-key", filepath.Join(srv.dir, "client-key.pem"),
		"--nats-user", "console", "--nats-inbox-prefix", "_INBOX_console"}
	p := startEnv(t, []string{"RARENET_NATS_PASSWORD=" + srv.passwords["console"]}, filepath.Join(bin, "rarenet"), args...)
	waitReady(t, base+"/readyz")
	var list struct {
		Total   int `json:"total"`
		Signals []struct {
			ID string `json:"id"`
		} `json:"signals"`
	}
	if code, body := httpGet(t, base+"/api/signals"); code != 200 || json.Unmarshal([]byte(body), &list) != nil || list.Total != 3 {
		t.Fatalf("console as its own user: /api/signals %d %s\n%s", code, body, p.out.String())
	}
	id := list.Signals[0].ID
	if code, body := httpGet(t, base+"/signals/"+id); code != 200 || !strings.Contains(body, "Is it regular?") {
		t.Errorf("console: the signal's page %d", code)
	}
	triage := make(chan *nats.Msg, 4)
	sub, err := signalsNC.ChanSubscribe(stream.TriageSubject, triage)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	signalsNC.Flush()
	post := func(path, body string) (int, string) {
		resp, err := http.Post(base+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := post("/api/signals/"+id+"/status", `{"status":"acknowledged","note":"security test"}`); code != 200 {
		t.Fatalf("console: set status %d %s\n%s", code, body, p.out.String())
	}
	select {
	case m := <-triage:
		if !strings.Contains(string(m.Data), `"kibana.alert.workflow_status":"acknowledged"`) {
			t.Errorf("the signals user got %s on %s", m.Data, stream.TriageSubject)
		}
	case <-time.After(10 * time.Second):
		t.Errorf("the signals user got nothing on %s", stream.TriageSubject)
	}
	// The signals user reads a signal's state (as `rarenet signals --json` does).
	sjs, err := jetstream.New(signalsNC)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if kv, err := sjs.KeyValue(ctx, stream.ConsoleBucket); err != nil {
		t.Errorf("the signals user cannot open %s: %v", stream.ConsoleBucket, err)
	} else if e, err := kv.Get(ctx, "status."+id); err != nil || !strings.Contains(string(e.Value()), "acknowledged") {
		t.Errorf("the signals user reads the triage state: %v", err)
	}
	if code, body := post("/api/exceptions", `{"entries":[{"field":"process.name","operator":"is","values":["teleport"]}],"comment":"security test"}`); code != 201 {
		t.Errorf("console: add an exception %d %s", code, body)
	}
	if code, body := httpGet(t, base+"/exceptions"); code != 200 || !strings.Contains(body, "process.name is teleport") {
		t.Errorf("console: the exceptions page %d", code)
	}
	return p
}

// publishSample publishes the bundled 3-day fleet history on rarenet.raw.ecs in messages of
// 1,000 lines, then the end-of-input marker.
func publishSample(t *testing.T, js jetstream.JetStream) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	f, err := os.Open(filepath.Join(repoRoot(t), "testdata", "sample", "fleet-3d.ndjson.gz"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(zr)
	sc.Buffer(make([]byte, 1<<20), 4<<20)
	var chunk []byte
	lines, first := 0, 1
	send := func() {
		if lines == 0 {
			return
		}
		m := nats.NewMsg(stream.RawSubject("ecs"))
		m.Data = chunk
		m.Header.Set(control.HeaderSource, "fleet-3d.ndjson")
		m.Header.Set(control.HeaderLine, strconv.Itoa(first))
		if _, err := js.PublishMsgAsync(m); err != nil {
			t.Fatal(err)
		}
		first += lines
		chunk, lines = nil, 0
	}
	for sc.Scan() {
		chunk = append(append(chunk, sc.Bytes()...), '\n')
		if lines++; lines == 1000 {
			send()
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	send()
	eof := control.Marker{Kind: control.KindEOF, Replay: "security-test"}
	if _, err := js.PublishMsgAsync(eof.Msg(stream.RawSubject("control"))); err != nil {
		t.Fatal(err)
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-ctx.Done():
		t.Fatal("the raw input was not all acknowledged")
	}
}

func waitReady(t *testing.T, url string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		code, body := httpGet(t, url)
		if code == 200 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d %s", url, code, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	var b strings.Builder
	_, _ = bufio.NewReader(resp.Body).WriteTo(&b)
	return resp.StatusCode, b.String()
}

// writeCerts writes a CA, a server certificate for 127.0.0.1 and localhost, and a client
// certificate, all signed by the CA, as PEM files in dir.
func writeCerts(t *testing.T, dir string) {
	t.Helper()
	now := time.Now()
	caKey := newKey(t)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "rarenet test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	writePEM(t, filepath.Join(dir, "ca.pem"), "CERTIFICATE", caDER)
	leaf := func(name string, serial int64, usage x509.ExtKeyUsage) {
		key := newKey(t)
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "rarenet " + name},
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
			DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		keyDER, err := x509.MarshalECPrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		writePEM(t, filepath.Join(dir, name+".pem"), "CERTIFICATE", der)
		writePEM(t, filepath.Join(dir, name+"-key.pem"), "EC PRIVATE KEY", keyDER)
	}
	leaf("server", 2, x509.ExtKeyUsageServerAuth)
	leaf("client", 3, x509.ExtKeyUsageClientAuth)
	// Check the pair loads as the stages will load it.
	if _, err := tls.LoadX509KeyPair(filepath.Join(dir, "client.pem"), filepath.Join(dir, "client-key.pem")); err != nil {
		t.Fatal(err)
	}
}

func newKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// startEnv is start with extra environment variables.
func startEnv(t *testing.T, env []string, name string, args ...string) *proc {
	t.Helper()
	p := &proc{name: filepath.Base(name), cmd: exec.Command(name, args...), out: &syncbuf.Buffer{}, done: make(chan struct{})}
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("--- output of %s:\n%s", p.name, p.out.String())
		}
	})
	return p
}

// runEnv runs a binary to completion with extra environment; it returns stdout and stderr
// together.
func runEnv(env []string, name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}
