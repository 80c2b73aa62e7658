package rarenet

import (
	"bufio"
	"strings"
	"testing"
)

func TestIsAuditd(t *testing.T) {
	audit := "type=SYSCALL msg=audit(1700000000.000:10): arch=c000003e syscall=42 success=yes exit=0\n"
	ecs := `{"@timestamp":"2026-01-01T00:00:00Z","process":{"name":"curl"}}` + "\n"
	tests := []struct {
		format, input string
		want          bool
	}{
		{"auto", audit, true},
		{"auto", "\n  \n" + audit, true},
		{"auto", ecs + audit, false},
		{"auto", "", false},
		{"auto", strings.Repeat("x", 5000) + "\n" + audit, false},
		{"auto", strings.Repeat(" ", 70000) + "\n" + audit, true},
		{"auditd", ecs, true},
		{"ecs", audit, false},
	}
	for i, tt := range tests {
		got, err := isAuditd(bufio.NewReaderSize(strings.NewReader(tt.input), 1<<20), tt.format)
		if err != nil || got != tt.want {
			t.Errorf("case %d (%s): %v, %v; want %v", i, tt.format, got, err, tt.want)
		}
	}
}

func TestLimitsFor(t *testing.T) {
	for _, tt := range []struct {
		payload int64
		want    chunkLimits
	}{
		{1 << 20, chunkLimits{chunkLines, 1<<20 - 4<<10, 1<<20 - 4<<10, chunkBytes}},
		{8 << 20, chunkLimits{chunkLines, chunkBytes, maxLineBytes, 0}},
		{0, defaultChunkLimits},
		{1 << 10, defaultChunkLimits},
	} {
		if got := limitsFor(tt.payload); got != tt.want {
			t.Errorf("limitsFor(%d) = %+v, want %+v", tt.payload, got, tt.want)
		}
	}
}
