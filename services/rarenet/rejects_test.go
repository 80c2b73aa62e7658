package rarenet

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
)

func TestRejectLogCollapsesRepeats(t *testing.T) {
	var out bytes.Buffer
	l := newRejectLog(&out, false)
	for i := 1; i <= 494; i++ {
		l.add(fmt.Sprintf("/bin/ls:%d", i), "malformed input: cannot detect the format")
	}
	l.add("/bin/ls:495", `malformed input: @timestamp: expected RFC 3339 time, got "x"`)
	l.add("/bin/ls:496", `malformed input: @timestamp: expected RFC 3339 time, got "yy"`)
	l.finish()
	want := "/bin/ls:1: malformed input: cannot detect the format\n" +
		"/bin/ls:495: malformed input: @timestamp: expected RFC 3339 time, got \"x\"\n" +
		"  ... and 493 more like it (the last at /bin/ls:494)\n" +
		"  ... and 1 more like it (the last at /bin/ls:496)\n"
	if out.String() != want {
		t.Errorf("got\n%s\nwant\n%s", out.String(), want)
	}
}

func TestRejectLogBoundsKinds(t *testing.T) {
	var out bytes.Buffer
	l := newRejectLog(&out, false)
	for i := range maxRejectKinds + 3 {
		l.add(fmt.Sprintf("f:%d", i), fmt.Sprintf("reason %c", 'a'+i))
		l.add(fmt.Sprintf("f:%d", i), fmt.Sprintf("reason %c", 'a'+i))
	}
	l.finish()
	if want := "  ... and 6 more rejected lines of 3 other kinds\n"; !bytes.HasSuffix(out.Bytes(), []byte(want)) {
		t.Errorf("got\n%s\nwant the end %q", out.String(), want)
	}
}

func TestRejectLogAll(t *testing.T) {
	var out bytes.Buffer
	l := newRejectLog(&out, true)
	l.add("f:1", "bad")
	l.add("f:2", "bad")
	l.finish()
	if out.String() != "f:1: bad\nf:2: bad\n" {
		t.Errorf("got %q", out.String())
	}
}

func TestNothingAccepted(t *testing.T) {
	if err := nothingAccepted(509, 0, 0, 494); !errors.Is(err, ErrNothingAccepted) {
		t.Errorf("all rejected: %v", err)
	}
	for _, c := range [][4]int64{{10, 1, 0, 9}, {10, 0, 3, 7}, {10, 0, 0, 0}, {0, 0, 0, 0}} {
		if err := nothingAccepted(c[0], c[1], c[2], c[3]); err != nil {
			t.Errorf("%v: %v", c, err)
		}
	}
}
