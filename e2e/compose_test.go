package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/rarenet/rarenet/services/notify"
)

// TestCompose brings up docker-compose.yml with podman-compose — a 3-node NATS cluster and
// the four stages with their replicas — on images built here without pulling anything (FROM
// scratch: the stage binaries and nats-server, static), replays the bundled sample into it
// with `rarenet replay --driver-only`, and checks the signals. The stack is torn down, volumes
// included, at the end.
func TestCompose(t *testing.T) {
	if testing.Short() {
		t.Skip("builds container images and runs a 3-node NATS cluster and seven stage containers with podman-compose; skipped with -short")
	}
	ensurePodman(t)
	began := time.Now()
	root := repoRoot(t)
	bin := binaries(t) // the rarenet driver on the host

	// Images, built without pulling: static binaries copied into FROM-scratch images.
	tag := "e2e-" + strconv.Itoa(os.Getpid())
	stageImage, natsImage := "localhost/rarenet:"+tag, "localhost/rarenet-nats:"+tag
	stageCtx := filepath.Join(t.TempDir(), "stage")
	natsCtx := filepath.Join(t.TempDir(), "nats")
	staticBuild(t, root, filepath.Join(stageCtx, "bin")+string(os.PathSeparator),
		"go", "build", "-trimpath", "-ldflags=-s -w", "-o", filepath.Join(stageCtx, "bin")+string(os.PathSeparator),
		"./services/rarenet/cmd/rarenet", "./services/ingest/cmd/ingest", "./services/scorer/cmd/scorer",
		"./services/enricher/cmd/enricher", "./services/windower/cmd/windower", "./services/notify/cmd/notify")
	staticBuild(t, os.TempDir(), natsCtx, "go", "install", "github.com/nats-io/nats-server/v2@"+natsServerVersion)
	podman(t, "build", "-q", "-t", stageImage, "-f", filepath.Join(root, "deploy", "docker", "Dockerfile.local"), stageCtx)
	podman(t, "build", "-q", "-t", natsImage, "-f", filepath.Join(root, "deploy", "docker", "nats.Dockerfile"), natsCtx)
	t.Cleanup(func() { _, _ = podmanErr("rmi", "-f", stageImage, natsImage) })
	t.Logf("images built in %s", time.Since(began).Round(time.Second))

	// podman-compose 1.0.3 (Debian 12) runs even a CMD health check through /bin/sh, which
	// FROM-scratch images lack, and fails on one shared by replicas; so the test runs a copy of
	// docker-compose.yml without the health checks and runs the same commands with podman exec.
	dir := t.TempDir()
	composeFile := filepath.Join(dir, "docker-compose.yml")
	// The sensor service is run on its own at the end (composeSensor): podman-compose 1.0.3
	// ignores its pid and uts settings, and its live events would move the event-time
	// watermark of the sample replayed here.
	if err := os.WriteFile(composeFile, withoutHealthChecks(t, withoutService(mustRead(t, filepath.Join(root, "docker-compose.yml")), "sensor"), root), 0o644); err != nil {
		t.Fatal(err)
	}
	// The override points every service at the local images and replays in event time.
	override := filepath.Join(dir, "compose.e2e.yml")
	var ov strings.Builder
	ov.WriteString("# written by e2e/compose_test.go\nservices:\n")
	for _, n := range []string{"nats-1", "nats-2", "nats-3"} {
		fmt.Fprintf(&ov, "  %s:\n    image: %s\n", n, natsImage)
	}
	for _, s := range []string{"ingest", "scorer", "enricher", "windower", "notify", "console"} {
		fmt.Fprintf(&ov, "  %s:\n    image: %s\n", s, stageImage)
		if s == "scorer" || s == "windower" {
			ov.WriteString("    environment:\n      RARENET_CLOCK: watermark\n")
		}
	}
	if err := os.WriteFile(override, []byte(ov.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	port, consolePort := freePort(t), freePort(t)
	project := "rarenet-e2e-" + strconv.Itoa(os.Getpid())
	compose := func(args ...string) ([]byte, error) {
		cmd := exec.Command("podman-compose", append([]string{"-p", project, "-f", composeFile, "-f", override}, args...)...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "RARENET_NATS_PORT="+strconv.Itoa(port), "RARENET_CONSOLE_PORT="+strconv.Itoa(consolePort),
			"RARENET_IMAGE="+stageImage, "RARENET_NATS_IMAGE="+natsImage)
		return cmd.CombinedOutput()
	}
	t.Cleanup(func() {
		if t.Failed() {
			out, _ := podmanErr("ps", "-a", "--filter", "label=io.podman.compose.project="+project, "--format", "{{.Names}}")
			for _, name := range strings.Fields(string(out)) {
				logs, _ := podmanErr("logs", "--tail", "40", name)
				t.Logf("--- logs of %s:\n%s", name, logs)
			}
		}
		if out, err := compose("down", "-v", "-t", "5"); err != nil {
			t.Logf("podman-compose down: %v\n%s", err, out)
		}
		// podman-compose 1.0.3 leaves the project's network behind.
		_, _ = podmanErr("network", "rm", "-f", project+"_default")
	})
	if out, err := compose("up", "-d", "--no-build"); err != nil {
		t.Fatalf("podman-compose up: %v\n%s", err, out)
	}
	containers := strings.Fields(string(podman(t, "ps", "--filter", "label=io.podman.compose.project="+project, "--format", "{{.Names}}")))
	slices.Sort(containers)
	t.Logf("up in %s: %v", time.Since(began).Round(time.Second), containers)
	want := []string{"ingest_1", "ingest_2", "scorer_1", "scorer_2", "enricher_1", "enricher_2", "windower_1", "windower_2",
		"notify_1", "nats-1_1", "nats-2_1", "nats-3_1", "console_1"}
	for _, w := range want {
		if !slices.Contains(containers, project+"_"+w) {
			t.Errorf("no container %s_%s running", project, w)
		}
	}

	// Every stage answers its health check, run in its container by the binary itself (the
	// images have no shell), once it has reached the cluster.
	deadline := time.Now().Add(2 * time.Minute)
	for _, c := range []string{"ingest_1", "ingest_2", "scorer_1", "scorer_2", "enricher_1", "enricher_2", "windower_1", "windower_2", "notify_1"} {
		stage := strings.TrimSuffix(strings.TrimSuffix(c, "_1"), "_2")
		for {
			_, err := podmanErr("exec", project+"_"+c, stage, "--healthcheck", "http://127.0.0.1:9090/readyz")
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s is not ready: %v", c, err)
			}
			time.Sleep(time.Second)
		}
	}
	if out, err := podmanErr("exec", project+"_scorer_1", "scorer", "--healthcheck", "http://127.0.0.1:9090/metrics"); err != nil {
		t.Errorf("scorer /metrics: %v\n%s", err, out)
	}
	t.Logf("ready in %s", time.Since(began).Round(time.Second))

	// Replay the sample through the stack; the driver runs on the host, against the one
	// published port, and waits for the windower's end-of-input status.
	out := filepath.Join(t.TempDir(), "signals.ndjson")
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	replay := exec.CommandContext(ctx, filepath.Join(bin, "rarenet"), "replay", "--driver-only",
		"--nats-url", "nats://127.0.0.1:"+strconv.Itoa(port), "--partitions", "8", "--replicas", "3",
		"--timeout", "3m", "--out", out, filepath.Join(root, "testdata", "sample", "fleet-3d.ndjson.gz"))
	var stderr bytes.Buffer
	replay.Stderr = &stderr
	if err := replay.Run(); err != nil {
		t.Fatalf("rarenet replay --driver-only: %v\n%s", err, stderr.String())
	}
	var names []string
	for line := range bytes.Lines(mustRead(t, out)) {
		var sig struct {
			Value string `json:"by_field_value"`
		}
		if err := json.Unmarshal(line, &sig); err != nil {
			t.Fatalf("signal is not JSON: %v\n%s", err, line)
		}
		names = append(names, sig.Value)
	}
	slices.Sort(names)
	if !slices.Equal(names, []string{"bash", "kworkerds", "perl"}) {
		t.Errorf("signals for %v, want bash, kworkerds and perl (the sample's intruders)", names)
	}
	// The notifier delivered each signal to its default destination, its log.
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(time.Second) {
		logs, _ := podmanErr("logs", project+"_notify_1")
		n := strings.Count(string(logs), `"idempotency_key"`)
		if n == len(names) {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("the notifier logged %d signals, want %d", n, len(names))
			break
		}
	}
	// The console, on its published port, lists them.
	var total int
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(time.Second) {
		code, body := httpGet(t, "http://127.0.0.1:"+strconv.Itoa(consolePort)+"/api/signals")
		var l struct{ Total int }
		if code == 200 && json.Unmarshal([]byte(body), &l) == nil {
			if total = l.Total; total == 3 {
				break
			}
		}
	}
	if total != 3 {
		t.Errorf("the console lists %d signals, want 3", total)
	}
	t.Logf("signals for %v; %s in all (%s)", names, time.Since(began).Round(time.Second), strings.TrimSpace(stderr.String()))
	composeSensor(t, root, project, stageImage)
}

// withoutHealthChecks drops the healthcheck blocks of a compose file and makes its ./deploy/
// paths absolute under root.
func withoutHealthChecks(t *testing.T, compose []byte, root string) []byte {
	t.Helper()
	var out bytes.Buffer
	skipIndent := -1
	dropped := 0
	for line := range bytes.Lines(compose) {
		indent := len(line) - len(bytes.TrimLeft(line, " "))
		if skipIndent >= 0 {
			if len(bytes.TrimSpace(line)) == 0 || indent > skipIndent {
				continue
			}
			skipIndent = -1
		}
		if bytes.Equal(bytes.TrimSpace(line), []byte("healthcheck:")) {
			skipIndent = indent
			dropped++
			continue
		}
		out.Write(bytes.ReplaceAll(line, []byte("./deploy/"), []byte(root+"/deploy/")))
	}
	if dropped != 6 {
		t.Fatalf("docker-compose.yml has %d health checks, want one per stage, the notifier's and the console's", dropped)
	}
	return out.Bytes()
}

// ensurePodman makes podman and podman-compose available, or skips the test saying what is
// missing: it runs ../shared/tools/podman-setup.sh only when they are missing and the test
// runs as root.
func ensurePodman(t *testing.T) {
	t.Helper()
	missing := func() []string {
		var m []string
		for _, tool := range []string{"podman", "podman-compose"} {
			if _, err := exec.LookPath(tool); err != nil {
				m = append(m, tool)
			}
		}
		return m
	}
	if m := missing(); len(m) > 0 {
		setup := filepath.Join(filepath.Dir(repoRoot(t)), "shared", "tools", "podman-setup.sh")
		if os.Geteuid() != 0 {
			t.Skipf("%s not installed, and not root to install them (run %s as root)", strings.Join(m, " and "), setup)
		}
		if _, err := os.Stat(setup); err != nil {
			t.Skipf("%s not installed, and no %s to install them", strings.Join(m, " and "), setup)
		}
		if out, err := exec.Command("bash", setup).CombinedOutput(); err != nil {
			t.Skipf("%s not installed, and %s failed: %v\n%s", strings.Join(m, " and "), setup, err, out)
		}
		if m := missing(); len(m) > 0 {
			t.Skipf("%s still missing after %s", strings.Join(m, " and "), setup)
		}
	}
	if out, err := podmanErr("info", "--format", "{{.Host.OCIRuntime.Name}}"); err != nil {
		t.Skipf("podman cannot run containers here: %v\n%s", err, out)
	}
}

// staticBuild runs a go command with CGO_ENABLED=0, so the binaries run FROM scratch; gobin
// receives what go install installs.
func staticBuild(t *testing.T, dir, gobin string, args ...string) {
	t.Helper()
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOBIN="+gobin)
	if strings.Contains(strings.Join(args, " "), "@") {
		cmd.Env = append(cmd.Env, "GOWORK=off")
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func podman(t *testing.T, args ...string) []byte {
	t.Helper()
	out, err := podmanErr(args...)
	if err != nil {
		t.Fatalf("podman %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func podmanErr(args ...string) ([]byte, error) {
	return exec.Command("podman", args...).CombinedOutput()
}

// TestDeployFiles parses docker-compose.yml and the Kubernetes manifests and checks what the
// stack relies on: the 3-node cluster, each stage's replicas, command, probes and resources.
func TestDeployFiles(t *testing.T) {
	root := repoRoot(t)
	type probe struct {
		HTTPGet struct {
			Path string `yaml:"path"`
		} `yaml:"httpGet"`
	}
	type doc struct {
		APIVersion string `yaml:"apiVersion"`
		Kind       string `yaml:"kind"`
		Metadata   struct {
			Name string `yaml:"name"`
		} `yaml:"metadata"`
		Data map[string]string `yaml:"data"`
		Spec struct {
			Replicas int `yaml:"replicas"`
			Template struct {
				Spec struct {
					Containers []struct {
						Name      string   `yaml:"name"`
						Command   []string `yaml:"command"`
						Liveness  *probe   `yaml:"livenessProbe"`
						Readiness *probe   `yaml:"readinessProbe"`
						Resources struct {
							Requests map[string]string `yaml:"requests"`
						} `yaml:"resources"`
					} `yaml:"containers"`
				} `yaml:"spec"`
			} `yaml:"template"`
		} `yaml:"spec"`
	}
	kinds := map[string]doc{}
	for _, f := range []string{"nats.yaml", "rarenet.yaml", "kustomization.yaml"} {
		dec := yaml.NewDecoder(bytes.NewReader(mustRead(t, filepath.Join(root, "deploy", "k8s", f))))
		for {
			var d doc
			if err := dec.Decode(&d); err != nil {
				if err.Error() == "EOF" {
					break
				}
				t.Fatalf("%s: %v", f, err)
			}
			if d.APIVersion == "" || d.Kind == "" {
				t.Errorf("%s: a document without apiVersion or kind", f)
			}
			kinds[d.Kind+"/"+d.Metadata.Name] = d
		}
	}
	if ss, ok := kinds["StatefulSet/nats"]; !ok || ss.Spec.Replicas != 3 {
		t.Errorf("no StatefulSet nats with 3 replicas")
	}
	if _, ok := kinds["Service/nats-headless"]; !ok {
		t.Errorf("no headless Service for the NATS routes")
	}
	wantReplicas := map[string]int{"ingest": 2, "scorer": 2, "enricher": 2, "windower": 2, "notify": 1}
	for stage, n := range wantReplicas {
		d, ok := kinds["Deployment/rarenet-"+stage]
		if !ok {
			t.Errorf("no Deployment rarenet-%s", stage)
			continue
		}
		if d.Spec.Replicas != n {
			t.Errorf("rarenet-%s: %d replicas, want %d", stage, d.Spec.Replicas, n)
		}
		for _, c := range d.Spec.Template.Spec.Containers {
			if !slices.Equal(c.Command, []string{stage}) {
				t.Errorf("rarenet-%s runs %v", stage, c.Command)
			}
			if c.Liveness == nil || c.Liveness.HTTPGet.Path != "/healthz" || c.Readiness == nil || c.Readiness.HTTPGet.Path != "/readyz" {
				t.Errorf("rarenet-%s: probes not on /healthz and /readyz", stage)
			}
			if c.Resources.Requests["cpu"] == "" || c.Resources.Requests["memory"] == "" {
				t.Errorf("rarenet-%s: no resource requests", stage)
			}
		}
	}

	// The notifier's configuration in the manifests is one it loads.
	cm, ok := kinds["ConfigMap/rarenet-notify"]
	if !ok || cm.Data["notify.toml"] == "" {
		t.Errorf("no ConfigMap rarenet-notify with notify.toml")
	} else {
		f := filepath.Join(t.TempDir(), "notify.toml")
		if err := os.WriteFile(f, []byte(cm.Data["notify.toml"]), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := notify.LoadConfig(f); err != nil {
			t.Errorf("deploy/k8s rarenet-notify: %v", err)
		}
	}
	if d, ok := kinds["Deployment/rarenet-console"]; !ok {
		t.Error("no Deployment rarenet-console")
	} else {
		for _, c := range d.Spec.Template.Spec.Containers {
			if !slices.Equal(c.Command, []string{"rarenet", "console"}) {
				t.Errorf("rarenet-console runs %v", c.Command)
			}
			if c.Liveness == nil || c.Liveness.HTTPGet.Path != "/healthz" || c.Readiness == nil || c.Readiness.HTTPGet.Path != "/readyz" {
				t.Error("rarenet-console: probes not on /healthz and /readyz")
			}
		}
	}
	if _, ok := kinds["Service/rarenet-console"]; !ok {
		t.Error("no Service rarenet-console")
	}

	var compose struct {
		Services map[string]struct {
			Image       string            `yaml:"image"`
			Command     []string          `yaml:"command"`
			Environment map[string]string `yaml:"environment"`
			Deploy      struct {
				Replicas int `yaml:"replicas"`
			} `yaml:"deploy"`
			Healthcheck struct {
				Test []string `yaml:"test"`
			} `yaml:"healthcheck"`
			Volumes []string `yaml:"volumes"`
		} `yaml:"services"`
	}
	if err := yaml.Unmarshal(mustRead(t, filepath.Join(root, "docker-compose.yml")), &compose); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	for _, n := range []string{"nats-1", "nats-2", "nats-3"} {
		s, ok := compose.Services[n]
		if !ok || !strings.Contains(s.Image, "RARENET_NATS_IMAGE") || !slices.Contains(s.Command, n) {
			t.Errorf("compose: %s missing, or not named, or its image not overridable", n)
		}
		if !slices.ContainsFunc(s.Volumes, func(v string) bool { return strings.HasSuffix(v, ":/data") }) {
			t.Errorf("compose: %s has no volume for its JetStream data", n)
		}
	}
	for stage, n := range wantReplicas {
		s, ok := compose.Services[stage]
		if !ok {
			t.Errorf("compose: no service %s", stage)
			continue
		}
		if s.Deploy.Replicas != n {
			t.Errorf("compose: %s has %d replicas, want %d", stage, s.Deploy.Replicas, n)
		}
		if !slices.Equal(s.Healthcheck.Test, []string{"CMD", stage, "--healthcheck", "http://127.0.0.1:9090/healthz"}) {
			t.Errorf("compose: %s health check %v", stage, s.Healthcheck.Test)
		}
		if s.Environment["RARENET_REPLICAS"] != "3" || s.Environment["RARENET_NATS_URL"] == "" {
			t.Errorf("compose: %s not configured for the cluster: %v", stage, s.Environment)
		}
	}
	if c, ok := compose.Services["console"]; !ok {
		t.Error("compose: no service console")
	} else {
		if !slices.Equal(c.Command, []string{"rarenet", "console"}) || c.Environment["RARENET_NATS_URL"] == "" || c.Environment["RARENET_REPLICAS"] != "3" {
			t.Errorf("compose: console runs %v with %v", c.Command, c.Environment)
		}
		if !slices.Equal(c.Healthcheck.Test, []string{"CMD", "rarenet", "console", "--healthcheck", "http://127.0.0.1:8080/healthz"}) {
			t.Errorf("compose: console health check %v", c.Healthcheck.Test)
		}
		// Listening beyond loopback in its container, it needs a token file or the explicit
		// insecure flag: the console refuses to start otherwise.
		if c.Environment["RARENET_TOKEN_FILE"] == "" && c.Environment["RARENET_INSECURE"] != "true" {
			t.Error("compose: the console listens on 0.0.0.0 without a token file or RARENET_INSECURE")
		}
	}
	checkSensorDeploy(t, root)
}
