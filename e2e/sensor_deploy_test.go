package e2e

import (
	"bytes"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// sensorService is the part of docker-compose.yml's sensor service that the tests read.
type sensorService struct {
	Image       string            `yaml:"image"`
	Command     []string          `yaml:"command"`
	User        string            `yaml:"user"`
	Privileged  bool              `yaml:"privileged"`
	PID         string            `yaml:"pid"`
	UTS         string            `yaml:"uts"`
	Volumes     []string          `yaml:"volumes"`
	Environment map[string]string `yaml:"environment"`
	Healthcheck struct {
		Test []string `yaml:"test"`
	} `yaml:"healthcheck"`
}

func composeSensorService(t *testing.T, root string) sensorService {
	t.Helper()
	var compose struct {
		Services map[string]sensorService `yaml:"services"`
	}
	if err := yaml.Unmarshal(mustRead(t, filepath.Join(root, "docker-compose.yml")), &compose); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	s, ok := compose.Services["sensor"]
	if !ok {
		t.Fatal("compose: no sensor service")
	}
	return s
}

// checkSensorDeploy checks the sensor's compose service and DaemonSet: the rights to load
// BPF, the host's pid namespace, the kernel's BTF, NATS, the node's name.
func checkSensorDeploy(t *testing.T, root string) {
	t.Helper()
	s := composeSensorService(t, root)
	if !slices.Equal(s.Command, []string{"rarenet", "sense"}) || s.User != "0:0" || !s.Privileged || s.PID != "host" || s.UTS != "host" {
		t.Errorf("compose: sensor runs %v as %q, privileged %v, pid %q, uts %q; want rarenet sense as root, privileged, in the host's pid and uts namespaces",
			s.Command, s.User, s.Privileged, s.PID, s.UTS)
	}
	if !slices.Contains(s.Volumes, "/sys/kernel/btf:/sys/kernel/btf:ro") || s.Environment["RARENET_NATS_URL"] == "" {
		t.Errorf("compose: sensor without the kernel's BTF or NATS: %v %v", s.Volumes, s.Environment)
	}
	if !slices.Equal(s.Healthcheck.Test, []string{"CMD", "ingest", "--healthcheck", "http://127.0.0.1:9090/readyz"}) || s.Environment["RARENET_HTTP_ADDR"] != ":9090" {
		t.Errorf("compose: sensor health check %v on %q", s.Healthcheck.Test, s.Environment["RARENET_HTTP_ADDR"])
	}

	var ds struct {
		Kind     string `yaml:"kind"`
		Metadata struct {
			Name string `yaml:"name"`
		} `yaml:"metadata"`
		Spec struct {
			Template struct {
				Spec struct {
					HostPID     bool `yaml:"hostPID"`
					Tolerations []map[string]string
					Containers  []struct {
						Command []string `yaml:"command"`
						Env     []struct {
							Name      string `yaml:"name"`
							ValueFrom struct {
								FieldRef struct {
									FieldPath string `yaml:"fieldPath"`
								} `yaml:"fieldRef"`
							} `yaml:"valueFrom"`
						} `yaml:"env"`
						SecurityContext struct {
							RunAsUser    *int `yaml:"runAsUser"`
							Capabilities struct {
								Drop []string `yaml:"drop"`
								Add  []string `yaml:"add"`
							} `yaml:"capabilities"`
						} `yaml:"securityContext"`
						VolumeMounts []struct {
							MountPath string `yaml:"mountPath"`
							ReadOnly  bool   `yaml:"readOnly"`
						} `yaml:"volumeMounts"`
						Readiness *struct {
							HTTPGet struct {
								Path string `yaml:"path"`
							} `yaml:"httpGet"`
						} `yaml:"readinessProbe"`
					} `yaml:"containers"`
				} `yaml:"spec"`
			} `yaml:"template"`
		} `yaml:"spec"`
	}
	if err := yaml.NewDecoder(bytes.NewReader(mustRead(t, filepath.Join(root, "deploy", "k8s", "sensor.yaml")))).Decode(&ds); err != nil {
		t.Fatalf("deploy/k8s/sensor.yaml: %v", err)
	}
	if !strings.Contains(string(mustRead(t, filepath.Join(root, "deploy", "k8s", "kustomization.yaml"))), "- sensor.yaml") {
		t.Error("deploy/k8s/kustomization.yaml does not apply sensor.yaml")
	}
	spec := ds.Spec.Template.Spec
	if ds.Kind != "DaemonSet" || ds.Metadata.Name != "rarenet-sensor" || !spec.HostPID || len(spec.Containers) != 1 {
		t.Fatalf("k8s: %s/%s hostPID %v with %d containers, want the DaemonSet rarenet-sensor in the host's pid namespace", ds.Kind, ds.Metadata.Name, spec.HostPID, len(spec.Containers))
	}
	c := spec.Containers[0]
	caps := c.SecurityContext.Capabilities
	if !slices.Equal(c.Command, []string{"rarenet", "sense"}) || c.SecurityContext.RunAsUser == nil || *c.SecurityContext.RunAsUser != 0 ||
		!slices.Equal(caps.Drop, []string{"ALL"}) || !slices.Contains(caps.Add, "BPF") || !slices.Contains(caps.Add, "PERFMON") || !slices.Contains(caps.Add, "SYS_PTRACE") {
		t.Errorf("k8s: sensor runs %v as %v with capabilities %+v; want rarenet sense as root with BPF, PERFMON, SYS_PTRACE", c.Command, c.SecurityContext.RunAsUser, caps)
	}
	if !slices.ContainsFunc(c.VolumeMounts, func(m struct {
		MountPath string `yaml:"mountPath"`
		ReadOnly  bool   `yaml:"readOnly"`
	}) bool {
		return m.MountPath == "/sys/kernel/btf" && m.ReadOnly
	}) {
		t.Error("k8s: sensor without /sys/kernel/btf mounted read-only")
	}
	host := false
	for _, e := range c.Env {
		host = host || e.Name == "RARENET_HOST" && e.ValueFrom.FieldRef.FieldPath == "spec.nodeName"
	}
	if !host || c.Readiness == nil || c.Readiness.HTTPGet.Path != "/readyz" {
		t.Error("k8s: sensor without host.name from the node's name, or without its readiness probe")
	}
}

// withoutService drops one service block from a compose file.
func withoutService(compose []byte, name string) []byte {
	var out bytes.Buffer
	skipping := false
	for line := range bytes.Lines(compose) {
		trimmed := bytes.TrimLeft(line, " ")
		indent := len(line) - len(trimmed)
		if skipping {
			if len(bytes.TrimSpace(line)) == 0 || indent > 2 {
				continue
			}
			skipping = false
		}
		if indent == 2 && bytes.Equal(bytes.TrimSpace(line), []byte(name+":")) {
			skipping = true
			continue
		}
		out.Write(line)
	}
	return out.Bytes()
}

// composeSensor runs docker-compose.yml's sensor service against the compose stack of
// project, with podman run (podman-compose 1.0.3 drops its pid and uts settings): it must
// load its BPF programs in the container, drop its capabilities, reach NATS and be ready.
func composeSensor(t *testing.T, root, project, image string) {
	t.Helper()
	s := composeSensorService(t, root)
	name := project + "_sensor_1"
	args := []string{"run", "-d", "--name", name, "--network", project + "_default", "--pid", s.PID, "--uts", s.UTS, "-u", s.User}
	if s.Privileged {
		args = append(args, "--privileged")
	}
	for _, v := range s.Volumes {
		args = append(args, "-v", v)
	}
	for k, v := range s.Environment {
		args = append(args, "-e", k+"="+v)
	}
	args = append(append(args, image), s.Command...)
	podman(t, args...)
	t.Cleanup(func() { _, _ = podmanErr("rm", "-f", name) })
	deadline := time.Now().Add(time.Minute)
	for {
		_, err := podmanErr(append([]string{"exec", name}, s.Healthcheck.Test[1:]...)...)
		if err == nil {
			break
		}
		logs, _ := podmanErr("logs", name)
		if strings.Contains(string(logs), "none of the ways it knows") {
			t.Logf("the kernel refuses BPF in a container here; the sensor says:\n%s", logs)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the compose sensor is not ready after a minute: %v\n%s", err, logs)
		}
		time.Sleep(time.Second)
	}
	logs := string(podman(t, "logs", name))
	for _, want := range []string{"probe attached", "capabilities dropped", "msg=sensing"} {
		if !strings.Contains(logs, want) {
			t.Errorf("the compose sensor's log lacks %q:\n%s", want, logs)
		}
	}
	t.Logf("compose sensor ready: %s", lastLine(logs))
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
