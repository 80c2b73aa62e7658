package e2e

import (
	"bytes"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// TestGeoIPDeployFiles checks that every deployment puts the GeoIP databases in one place: the
// compose enricher's volume and RARENET_GEOIP_DIR, the image's directory owned by its user, and
// in Kubernetes the CronJob's `rarenet geoip update --dir` and the enricher patch's mount of the
// same claim (docs/geoip.md).
func TestGeoIPDeployFiles(t *testing.T) {
	const dir = "/var/lib/rarenet/geoip"
	root := repoRoot(t)

	var compose struct {
		Services map[string]struct {
			Environment map[string]string `yaml:"environment"`
			Volumes     []string          `yaml:"volumes"`
		} `yaml:"services"`
		Volumes map[string]any `yaml:"volumes"`
	}
	if err := yaml.Unmarshal(mustRead(t, filepath.Join(root, "docker-compose.yml")), &compose); err != nil {
		t.Fatal(err)
	}
	e := compose.Services["enricher"]
	if e.Environment["RARENET_GEOIP_DIR"] != dir || !slices.Contains(e.Volumes, "geoip:"+dir) {
		t.Errorf("compose: the enricher does not read %s from the geoip volume: %v %v", dir, e.Environment, e.Volumes)
	}
	if _, ok := compose.Volumes["geoip"]; !ok {
		t.Error("compose: no geoip volume")
	}
	if !bytes.Contains(mustRead(t, filepath.Join(root, "deploy", "docker", "Dockerfile")), []byte("--chown=nonroot:nonroot /geoip/ "+dir+"/")) {
		t.Errorf("Dockerfile: %s not made in the image for the image's user", dir)
	}

	type mount struct {
		Name      string `yaml:"name"`
		MountPath string `yaml:"mountPath"`
		ReadOnly  bool   `yaml:"readOnly"`
	}
	type podSpec struct {
		Containers []struct {
			Name    string   `yaml:"name"`
			Command []string `yaml:"command"`
			Env     []struct {
				Name  string `yaml:"name"`
				Value string `yaml:"value"`
			} `yaml:"env"`
			VolumeMounts []mount `yaml:"volumeMounts"`
		} `yaml:"containers"`
		Volumes []struct {
			Name string `yaml:"name"`
			PVC  struct {
				ClaimName string `yaml:"claimName"`
			} `yaml:"persistentVolumeClaim"`
		} `yaml:"volumes"`
	}
	type doc struct {
		Kind     string `yaml:"kind"`
		Metadata struct {
			Name string `yaml:"name"`
		} `yaml:"metadata"`
		Spec struct {
			AccessModes []string `yaml:"accessModes"`
			Template    struct {
				Spec podSpec `yaml:"spec"`
			} `yaml:"template"`
			JobTemplate struct {
				Spec struct {
					Template struct {
						Spec podSpec `yaml:"spec"`
					} `yaml:"template"`
				} `yaml:"spec"`
			} `yaml:"jobTemplate"`
		} `yaml:"spec"`
	}
	docs := map[string]doc{}
	for _, f := range []string{"geoip.yaml", "geoip-enricher-patch.yaml"} {
		dec := yaml.NewDecoder(bytes.NewReader(mustRead(t, filepath.Join(root, "deploy", "k8s", f))))
		for {
			var d doc
			if err := dec.Decode(&d); err != nil {
				if err.Error() == "EOF" {
					break
				}
				t.Fatalf("%s: %v", f, err)
			}
			docs[d.Kind+"/"+d.Metadata.Name] = d
		}
	}
	// claimAt says whether the pod mounts the claim rarenet-geoip at dir.
	claimAt := func(p podSpec, readOnly bool) bool {
		for _, v := range p.Volumes {
			if v.PVC.ClaimName != "rarenet-geoip" {
				continue
			}
			for _, c := range p.Containers {
				if slices.Contains(c.VolumeMounts, mount{Name: v.Name, MountPath: dir, ReadOnly: readOnly}) {
					return true
				}
			}
		}
		return false
	}
	if pvc, ok := docs["PersistentVolumeClaim/rarenet-geoip"]; !ok || !slices.Contains(pvc.Spec.AccessModes, "ReadWriteMany") {
		t.Error("k8s: no ReadWriteMany claim rarenet-geoip")
	}
	job := docs["CronJob/rarenet-geoip-update"].Spec.JobTemplate.Spec.Template.Spec
	if len(job.Containers) != 1 || strings.Join(job.Containers[0].Command, " ") != "rarenet geoip update --dir "+dir || !claimAt(job, false) {
		t.Errorf("k8s: the CronJob does not run rarenet geoip update into the claim at %s: %+v", dir, job)
	}
	enr := docs["Deployment/rarenet-enricher"].Spec.Template.Spec
	if len(enr.Containers) != 1 || enr.Containers[0].Name != "enricher" || !claimAt(enr, true) ||
		!slices.ContainsFunc(enr.Containers[0].Env, func(e struct {
			Name  string `yaml:"name"`
			Value string `yaml:"value"`
		}) bool {
			return e.Name == "RARENET_GEOIP_DIR" && e.Value == dir
		}) {
		t.Errorf("k8s: the enricher patch does not mount the claim read-only at %s with RARENET_GEOIP_DIR: %+v", dir, enr)
	}
}
