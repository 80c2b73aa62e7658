package sense

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// /proc/<pid>/cgroup in the shapes container runtimes leave (cgroup v1 and v2, cgroupfs and
// systemd drivers), as published in the runtimes' and monitoring agents' test suites.
func TestContainerID(t *testing.T) {
	const id = "4f797c539e6c745de61a93ca3ff892358ecbcaccd8414d5db545c38428142970"
	for _, c := range []struct{ name, cgroup, want string }{
		{"docker cgroupfs v1", "10:net_prio:/" + id + "\n4:memory:/" + id + "\n1:name=systemd:/" + id + "\n", id},
		{"docker systemd v1", "10:devices:/system.slice/docker-" + id + ".scope\n1:name=systemd:/system.slice/docker-" + id + ".scope\n", id},
		{"docker v2", "0::/system.slice/docker-" + id + ".scope\n", id},
		{"docker v2 cgroupfs", "0::/docker/" + id + "\n", id},
		{"kubernetes containerd cgroupfs", "0::/kubepods/besteffort/podac04f3f2-1f2c-11e9-a5a6-0800277ef1d3/" + id + "\n", id},
		{"kubernetes containerd systemd", "0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-podac04f3f2_1f2c_11e9_a5a6_0800277ef1d3.slice/cri-containerd-" + id + ".scope\n", id},
		{"cri-o", "0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1.slice/crio-" + id + ".scope\n", id},
		{"podman", "0::/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" + id + ".scope/container\n", id},
		{"host process v2", "0::/user.slice/user-0.slice/session-3.scope\n", ""},
		{"host service v1", "12:pids:/system.slice/sshd.service\n1:name=systemd:/system.slice/sshd.service\n", ""},
		{"inside a cgroup namespace", "0::/\n", ""},
		{"not hex", "0::/docker/" + id[:63] + "g\n", ""},
	} {
		if got := containerID([]byte(c.cgroup)); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}

func TestProcCacheReadsOnceAndIsBounded(t *testing.T) {
	self := uint32(os.Getpid())
	c := newProcCache("/proc", 2)
	r := Record{TGID: self, StartTime: 1, Comm: "sense.test"}
	p, miss := c.get(&r)
	if !miss || p.gone {
		t.Fatalf("first lookup: miss %v gone %v", miss, p.gone)
	}
	exe, _ := os.Executable()
	wd, _ := os.Getwd()
	if p.exe != exe || p.cwd != wd || len(p.args) == 0 || p.args[0] != os.Args[0] {
		t.Errorf("process: %+v, want exe %s cwd %s args %v", p, exe, wd, os.Args)
	}
	if _, miss := c.get(&r); miss {
		t.Error("second lookup read /proc again")
	}
	// Another process start time or name is another process.
	for i, other := range []Record{{TGID: self, StartTime: 2, Comm: "sense.test"}, {TGID: self, StartTime: 1, Comm: "execd"}} {
		if _, miss := c.get(&other); !miss {
			t.Errorf("lookup %d hit the cache", i)
		}
	}
	if len(c.m) != 2 {
		t.Errorf("cache holds %d entries, want its bound 2", len(c.m))
	}
	if _, miss := c.get(&r); !miss {
		t.Error("the oldest entry was not evicted")
	}
	gone, _ := c.get(&Record{TGID: 1<<31 - 1, StartTime: 1})
	if !gone.gone {
		t.Error("a pid without /proc entry is not marked gone")
	}
}

func TestUserNames(t *testing.T) {
	path := filepath.Join(t.TempDir(), "passwd")
	// The layout of passwd(5); the first entry of a uid wins, as getpwuid does.
	if err := os.WriteFile(path, []byte("root:x:0:0:root:/root:/bin/bash\n# comment\nwww-data:x:33:33:www-data:/var/www:/usr/sbin/nologin\ntoor:x:0:0::/root:/bin/sh\nbad line\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	u := &userNames{path: path}
	now := time.Now()
	if got := []string{u.lookup(0, now), u.lookup(33, now), u.lookup(1000, now)}; !slices.Equal(got, []string{"root", "www-data", ""}) {
		t.Errorf("names %q", got)
	}
	if err := os.WriteFile(path, []byte("app:x:1000:1000::/home/app:/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	later := now.Add(2 * time.Second)
	if err := os.Chtimes(path, later, later); err != nil {
		t.Fatal(err)
	}
	if got := u.lookup(1000, later); got != "app" {
		t.Errorf("after the file changed: %q, want app", got)
	}
}

// The tests run in the host's pid namespace (CI, the development machines): the sensor says
// nothing about it there.
func TestInInitialPIDNamespace(t *testing.T) {
	link, err := os.Readlink("/proc/self/ns/pid")
	if err != nil {
		t.Skipf("skipped: no /proc/self/ns/pid: %v", err)
	}
	if got := inInitialPIDNamespace(); got != (link == initialPIDNamespace) {
		t.Errorf("inInitialPIDNamespace() = %v with %s", got, link)
	}
}
