package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/rarenet/rarenet/services/windower"
	"github.com/rarenet/rarenet/shared/cli"
	"github.com/rarenet/rarenet/shared/natsembed"
)

func TestExceptionsAddListRemove(t *testing.T) {
	srv, err := natsembed.Start(natsembed.Config{StoreDir: t.TempDir(), Port: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
	url := srv.ClientURL()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	run := func(args ...string) (string, error) {
		var out bytes.Buffer
		err := exceptions(ctx, append([]string{args[0], "--nats-url", url}, args[1:]...), &out)
		return out.String(), err
	}
	// A rule id no windower has run here is refused, naming the known ones, unless forced.
	_, err = run("add", "--rule-id", "r1", "--entry", "process.name is teleport")
	var ue *cli.UsageError
	if !errors.As(err, &ue) || !errors.Is(err, windower.ErrUnknownRule) || !strings.Contains(err.Error(), windower.DefaultRule().ID) {
		t.Errorf("an unknown rule id: %v, want a usage error naming the built-in rule", err)
	}
	id, err := run("add", "--rule-id", "r1", "--force", "--entry", "process.name is teleport", "--entry", "host.name is one of web-1,web-2",
		"--comment", "teleport on the web tier")
	if err != nil {
		t.Fatal(err)
	}
	id = strings.TrimSpace(id)
	if _, err := run("add", "--entry", "process.name matches kworker*"); err != nil {
		t.Fatal(err)
	}
	if _, err := run("add", "--rule-id", "r1", "--force", "--entry", "process.args is x"); !errors.As(err, &ue) {
		t.Errorf("an entry on an unknown field: %v, want a usage error", err)
	}
	if _, err := run("add", "--rule-id", "r1", "--force"); !errors.As(err, &ue) {
		t.Errorf("an exception without entries: %v, want a usage error", err)
	}
	out, err := run("list", "--rule-id", "r1")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, id) || !strings.Contains(out, "process.name is teleport AND host.name is one of web-1,web-2") ||
		!strings.Contains(out, "teleport on the web tier") || strings.Contains(out, "kworker") {
		t.Errorf("list --rule-id r1:\n%s", out)
	}
	out, _ = run("list", "--json")
	if strings.Count(out, "\n") != 2 || !strings.Contains(out, `"rule_id":"`+windower.DefaultRule().ID+`"`) {
		t.Errorf("list --json:\n%s", out)
	}
	if out, err := run("remove", id); err != nil || !strings.Contains(out, "removed "+id) {
		t.Fatalf("remove: %q %v", out, err)
	}
	if _, err := run("remove", id); err == nil {
		t.Error("removing twice succeeded")
	}
	if out, _ := run("list", "--rule-id", "r1"); strings.Contains(out, id) {
		t.Errorf("removed exception still listed:\n%s", out)
	}
}
