package sysmon

import (
	"testing"
	"time"

	"github.com/rarenet/rarenet/services/ingest/datafeed"
	"github.com/rarenet/rarenet/services/ingest/format/internal/formattest"
)

// TestRealLog4Shell decodes the OTRF Log4Shell rows, whose SyslogMessage holds the XML: six
// EventID 3 records, all outbound. The last one, bash to the unspecified address, is decoded
// and then dropped by the datafeed filter.
func TestRealLog4Shell(t *testing.T) {
	lines := realLines(t, "sysmon-linux/otrf-log4shell-sysmon-eid3.jsonl")
	events, rejects := formattest.Split(formattest.Decode(t, New(), "eid3.jsonl", lines))
	if len(rejects) != 0 {
		t.Fatalf("rejects: %v", rejects[0].Err)
	}
	want := []struct {
		line        int64
		name, exe   string
		user        string
		pid         int64
		transport   string
		dstIP       string
		dstPort     int
		srcIP       string
		srcPort     int
		networkType string
		utc         string
		filteredWhy string
	}{
		{1, "wdavdaemon", "/opt/microsoft/mdatp/sbin/wdavdaemon", "root", 1774, "tcp", "104.46.127.225", 443, "192.168.2.5", 51492, "ipv4", "2022-05-11T18:10:20.472Z", ""},
		{2, "java", "/usr/lib/jvm/java-8-openjdk-amd64/jre/bin/java", "tomcat", 1340, "tcp", "192.168.2.6", 1389, "192.168.2.5", 41696, "ipv4", "2022-05-11T18:10:21.79Z", ""},
		{3, "java", "java", "", 1340, "tcp", "192.168.2.6", 8888, "192.168.2.5", 41878, "ipv4", "2022-05-11T18:10:21.925Z", ""},
		{4, "bash", "bash", "", 17806, "tcp", "192.168.2.6", 443, "192.168.2.5", 39634, "ipv4", "2022-05-11T18:10:22.139Z", ""},
		{5, "telemetryd_v2", "/opt/microsoft/mdatp/sbin/telemetryd_v2", "root", 2001, "tcp", "13.89.179.10", 443, "192.168.2.5", 57596, "ipv4", "2022-05-11T18:10:24.049Z", ""},
		// Sysmon wrote 0:0:0:0:0:0:0:0; the canonical form is what Elasticsearch stores.
		{6, "bash", "/bin/bash", "tomcat", 17806, "udp", "::", 0, "::", 0, "ipv6", "2022-05-11T18:10:25.513Z", "::"},
	}
	if len(events) != len(want) {
		t.Fatalf("got %d events, want %d", len(events), len(want))
	}
	filter := datafeed.Default()
	for i, w := range want {
		r, e := events[i], events[i].Event
		if r.Line != w.line || e.Origin.Line != w.line || e.Origin.Format != "sysmon" || e.Origin.Source != "eid3.jsonl" {
			t.Errorf("event %d: line %d origin %+v", i, r.Line, e.Origin)
		}
		formattest.Expect(t, [][3]string{
			{"process.name", e.Process.Name, w.name},
			{"process.executable", e.Process.Executable, w.exe},
			{"user.name", e.User.Name, w.user},
			{"network.transport", e.Network.Transport, w.transport},
			{"network.type", e.Network.Type, w.networkType},
			{"destination.ip", e.Destination.IP, w.dstIP},
			{"source.ip", e.Source.IP, w.srcIP},
			{"host.name", e.Host.Name, "UBUNTU5"},
			{"host.os.type", e.Host.OS.Type, "linux"},
			{"event.module", e.Event.Module, "sysmon"},
			{"event.dataset", e.Event.Dataset, "sysmon.network"},
			{"event.action", e.Event.Action, "network-connection"},
		})
		if e.Destination.Port != w.dstPort || e.Source.Port != w.srcPort || e.Process.PID != w.pid {
			t.Errorf("event %d: dport %d sport %d pid %d, want %d %d %d", i, e.Destination.Port, e.Source.Port, e.Process.PID, w.dstPort, w.srcPort, w.pid)
		}
		if want, _ := time.Parse(time.RFC3339Nano, w.utc); !e.Timestamp.Equal(want) {
			t.Errorf("event %d: @timestamp %v, want %v", i, e.Timestamp, want)
		}
		reason := filter.Reason(e)
		if w.filteredWhy == "" && reason != "" {
			t.Errorf("event %d (%s) filtered: %s", i, e.Process.Name, reason)
		}
		if w.filteredWhy != "" && !containsStr(reason, w.filteredWhy) {
			t.Errorf("event %d (%s): filter reason %q, want one naming %q", i, e.Process.Name, reason, w.filteredWhy)
		}
	}
}

// TestRealProcessCreateIsSkipped checks that EventID 1 rows are neither events nor rejects.
func TestRealProcessCreateIsSkipped(t *testing.T) {
	lines := realLines(t, "sysmon-linux/otrf-log4shell-sysmon-eid1.jsonl")
	if rs := formattest.Decode(t, New(), "eid1.jsonl", lines); len(rs) != 0 {
		t.Errorf("got %d results from EventID 1 rows, want none: %+v", len(rs), rs[0])
	}
}
