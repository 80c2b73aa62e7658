package rarenet

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/rarenet/rarenet/shared/stream"
)

// A second pipeline on a data directory in use is refused, naming the holder; once the first
// is closed, the directory is free again.
func TestDataDirLock(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	o := Options{DataDir: dir, NoStages: true, Streams: stream.Config{Partitions: 1, Replicas: 1}}
	log := slog.New(slog.DiscardHandler)
	first, err := Start(ctx, o, log)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Start(ctx, o, log)
	if !errors.Is(err, ErrDataDirInUse) || !strings.Contains(err.Error(), fmt.Sprintf("pid %d", os.Getpid())) || !strings.Contains(err.Error(), dir) {
		t.Fatalf("a second pipeline on %s: %v, want ErrDataDirInUse naming the directory and the holder's pid", dir, err)
	}
	// The first still stores what is published.
	if _, err := first.Conn().Request(stream.RawSubject("ecs"), []byte("{}"), 5*time.Second); err != nil {
		t.Errorf("the first pipeline no longer acknowledges: %v", err)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	again, err := Start(ctx, o, log)
	if err != nil {
		t.Fatalf("the directory is not free again once the first pipeline closed: %v", err)
	}
	again.Close()
}
