package natsembed

import (
	"errors"
	"net"
	"strings"
	"testing"
	"time"
)

// TestAddressInUseFailsAtOnce: a second server on a taken port says so at once, instead of
// waiting for connections that never come.
func TestAddressInUseFailsAtOnce(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	began := time.Now()
	s, err := Start(Config{StoreDir: t.TempDir(), Port: port})
	if err == nil {
		s.Shutdown()
		t.Fatal("started on a port in use")
	}
	if !errors.Is(err, ErrAddrInUse) || !strings.Contains(err.Error(), l.Addr().String()+" is already in use") {
		t.Errorf("err %q, want %q", err, l.Addr().String()+" is already in use")
	}
	// Not a speed target: the failure must not wait for the readiness timeout.
	if d := time.Since(began); d >= readyTimeout/2 {
		t.Errorf("took %s to fail: it waited for the readiness timeout", d)
	}
}

func TestStartsOnAFreePort(t *testing.T) {
	s, err := Start(Config{StoreDir: t.TempDir(), Port: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown()
	if s.ClientURL() == "" {
		t.Error("no client URL")
	}
}
