package e2e

import (
	"os"
	"testing"
)

func TestMain(m *testing.M) {
	code := m.Run()
	printFigures(os.Stdout)
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	removeBenchHistories()
	os.Exit(code)
}
