package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/rarenet/rarenet/shared/cli"
	"github.com/rarenet/rarenet/shared/tokens"
)

func TestTokenCommand(t *testing.T) {
	file := filepath.Join(t.TempDir(), "tokens")
	for _, name := range []string{"web-shipper-2", "collector"} {
		if code := dispatch([]string{"token", "--append", file, name, "web-*"}, io.Discard, io.Discard); code != cli.ExitOK {
			t.Fatalf("rarenet token %s: exit %d", name, code)
		}
	}
	set, err := tokens.Load(file)
	if err != nil {
		t.Fatalf("the appended lines do not make a token file: %v", err)
	}
	if set.Len() != 2 || set.ByName("collector") == nil || !set.ByName("web-shipper-2").AllowsHost("web-1") {
		t.Errorf("the file holds %d tokens, want web-shipper-2 and collector for web-*", set.Len())
	}
	if fi, _ := os.Stat(file); fi.Mode().Perm() != 0o600 {
		t.Errorf("the token file has mode %v, want 0600", fi.Mode().Perm())
	}
	var stderr bytes.Buffer
	if code := dispatch([]string{"token", "bad name"}, io.Discard, &stderr); code != cli.ExitUsage || !bytes.Contains(stderr.Bytes(), []byte("bad name")) {
		t.Errorf("a bad name: exit %d, %q; want 2 naming it", code, stderr.String())
	}
}
