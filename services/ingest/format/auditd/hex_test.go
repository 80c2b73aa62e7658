package auditd

import (
	"strconv"
	"testing"
)

// TestHexValues checks the table against strconv for every byte.
func TestHexValues(t *testing.T) {
	for c := range 256 {
		want := byte(0xff)
		if v, err := strconv.ParseUint(string(rune(c)), 16, 8); err == nil && c < 0x80 {
			want = byte(v)
		}
		if got := hexDigit(byte(c)); got != want {
			t.Errorf("hexDigit(%#x) = %#x, want %#x", c, got, want)
		}
	}
}
