package main

import (
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A fake /proc with one process (pid 4242, "perl") holding a connection to 203.0.113.7:4444.
func fakeProcWithPerl(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	write := func(rel, s string) {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	link := func(rel, target string) {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, p); err != nil {
			t.Fatal(err)
		}
	}
	write("4242/comm", "perl\n")
	write("4242/cmdline", "perl\x00-e\x00connect\x00")
	write("4242/status", "Name:\tperl\nPPid:\t1\nUid:\t33\t33\t33\t33\n")
	link("4242/exe", "/usr/bin/perl")
	link("4242/cwd", "/var/www")
	link("4242/fd/3", "socket:[777]")
	link("4242/ns/net", "net:[4026531840]")
	header := "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
	// 10.0.0.5:51000 -> 203.0.113.7:4444, as a little-endian kernel prints it.
	row := "   0: 0500000A:C738 077100CB:115C 01 00000000:00000000 00:00000000 00000000    33        0 777 1 0000000000000000 20 4 30 10 -1\n"
	write("4242/net/tcp", header+row)
	for _, n := range []string{"tcp6", "udp", "udp6"} {
		write("4242/net/"+n, header)
	}
	write("passwd", "www-data:x:33:33::/var/www:/usr/sbin/nologin\n")
	return root
}

func TestCollectCommand(t *testing.T) {
	if !littleEndianHost() {
		t.Skip("the fake table is written as a little-endian kernel prints it")
	}
	url, js, ctx := startListeningJetStream(t)
	root := fakeProcWithPerl(t)
	args := []string{"--nats-url", url, "--interval", "50ms", "--host", "web-1", "--proc", root, "--passwd", filepath.Join(root, "passwd")}
	runInBackground(t, ctx, func(ctx context.Context) error { return collectCmd(ctx, args) })
	waitFor(t, "perl's connection", func() bool { return len(rawLines(t, ctx, js)) > 0 })
	got := rawLines(t, ctx, js)
	if len(got) != 1 {
		t.Fatalf("%d lines, want 1 (a connection is reported once): %q", len(got), got)
	}
	for _, want := range []string{"rarenet.raw.ecs collect:web-1:1 {", `"name":"perl"`, `"destination":{"ip":"203.0.113.7","port":4444}`,
		`"user":{"name":"www-data","id":"33"}`, `"working_directory":"/var/www"`, `"dataset":"rarenet_collect.proc"`} {
		if !strings.Contains(got[0], want) {
			t.Errorf("event lacks %s: %s", want, got[0])
		}
	}
}

func littleEndianHost() bool { return binary.NativeEndian.Uint16([]byte{1, 0}) == 1 }
