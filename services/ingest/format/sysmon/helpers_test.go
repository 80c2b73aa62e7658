package sysmon

import (
	"strings"
	"testing"

	"github.com/rarenet/rarenet/services/ingest/format/internal/formattest"
)

// realLines reads a file of the real samples as lines.
func realLines(t testing.TB, rel string) []string {
	t.Helper()
	return strings.Split(strings.TrimRight(string(formattest.ReadReal(t, rel)), "\n"), "\n")
}

func containsStr(s, sub string) bool { return strings.Contains(s, sub) }
