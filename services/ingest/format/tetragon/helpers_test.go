package tetragon

import (
	"testing"

	"github.com/rarenet/rarenet/services/ingest/format/internal/formattest"
)

// realFiles are Tetragon's documentation samples: one pretty-printed process_connect event
// per file.
var realFiles = []string{
	"merlin-agent-go-connect.json",
	"merlin-agent-job-connect.json",
	"merlin-agent-ssh-tunnel-connect.json",
	"nc_process_connect.json",
	"process_connect.json",
}

// realLine returns a real sample compacted to the one line the decoder reads.
func realLine(t testing.TB, name string) string {
	t.Helper()
	return formattest.Compact(t, formattest.ReadReal(t, "tetragon/"+name))
}
