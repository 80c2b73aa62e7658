package cli

import (
	"fmt"
	"io"
	"runtime/debug"
	"strings"
)

// commit is the source revision when the build sets it (make build: -ldflags
// "-X github.com/rarenet/rarenet/shared/cli.commit=..."). Go stamps the revision itself
// (vcs.revision) only outside workspace mode and outside linked git worktrees, and the
// repository builds in workspace mode.
var commit string

// BuildInfo says what a binary was built from.
type BuildInfo struct {
	// Module and Version are the main module and its version: a release's tag when installed
	// with go install module@version, "(devel)" when built from a checkout.
	Module, Version string
	// Commit is the source revision (empty when unknown), Modified whether the tree had
	// uncommitted changes, Time the commit's time.
	Commit   string
	Modified bool
	Time     string
	// Go is the toolchain's version.
	Go string
}

// Build returns the binary's build information (debug.ReadBuildInfo), with the linker-set
// commit where Go stamped none.
func Build() BuildInfo {
	var b BuildInfo
	if bi, ok := debug.ReadBuildInfo(); ok {
		b.Module, b.Version, b.Go = bi.Main.Path, bi.Main.Version, bi.GoVersion
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				b.Commit = s.Value
			case "vcs.time":
				b.Time = s.Value
			case "vcs.modified":
				b.Modified = s.Value == "true"
			}
		}
	}
	if b.Commit == "" && commit != "" {
		b.Commit, b.Modified = strings.CutSuffix(commit, "-dirty")
	}
	if b.Version == "" {
		b.Version = "(devel)"
	}
	return b
}

// String is the one line `version` prints after the binary's name: "(devel), commit
// bcc870b5d2ed (modified), go1.26.8, module github.com/...".
func (b BuildInfo) String() string {
	parts := []string{b.Version}
	switch {
	case b.Commit == "":
		parts = append(parts, "commit unknown")
	case b.Modified:
		parts = append(parts, "commit "+short(b.Commit)+" (modified)")
	default:
		parts = append(parts, "commit "+short(b.Commit))
	}
	if b.Time != "" {
		parts = append(parts, b.Time)
	}
	if b.Go != "" {
		parts = append(parts, b.Go)
	}
	if b.Module != "" {
		parts = append(parts, "module "+b.Module)
	}
	return strings.Join(parts, ", ")
}

func short(rev string) string {
	if len(rev) > 12 {
		return rev[:12]
	}
	return rev
}

// PrintVersion writes "NAME version ..." to w.
func PrintVersion(w io.Writer, name string) {
	fmt.Fprintf(w, "%s version %s\n", name, Build())
}

// IsVersion reports whether args ask for the version: "version", "--version" or "-version"
// as the only argument.
func IsVersion(args []string) bool {
	return len(args) == 1 && (args[0] == "version" || args[0] == "--version" || args[0] == "-version")
}
