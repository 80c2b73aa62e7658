package service

import (
	"flag"
	"testing"
	"time"

	"github.com/rarenet/rarenet/shared/cli"
)

// TestSharedSettingSetsEveryStage: in one command several stages register a shared setting;
// it is one flag, and its value, the default or given, reaches every stage's field.
func TestSharedSettingSetsEveryStage(t *testing.T) {
	type stage struct {
		lateness, leaseTTL time.Duration
		profile            string
	}
	var a, b stage
	c := cli.New("test", "")
	AddFlags(c, func(fs *flag.FlagSet) {
		AllowedLatenessFlag(fs, &a.lateness)
		ProfileFlag(fs, &a.profile)
		LeaseTTLFlag(fs, &a.leaseTTL)
	})
	AddFlags(c, func(fs *flag.FlagSet) {
		AllowedLatenessFlag(fs, &b.lateness)
		ProfileFlag(fs, &b.profile)
		LeaseTTLFlag(fs, &b.leaseTTL)
	})
	if a != b || a.lateness != time.Minute || a.profile != "faithful" {
		t.Fatalf("defaults: %+v and %+v; want both a minute, faithful", a, b)
	}
	if err := c.Parse([]string{"--allowed-lateness", "3m", "--profile", "enhanced"}); err != nil {
		t.Fatal(err)
	}
	want := stage{lateness: 3 * time.Minute, leaseTTL: a.leaseTTL, profile: "enhanced"}
	if a != want || b != want {
		t.Errorf("after the flags: %+v and %+v; want both %+v", a, b, want)
	}
	if err := c.Parse([]string{"--allowed-lateness", "soon"}); err == nil {
		t.Error("a bad duration was taken")
	}
}
