package rarenet

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// LockFile is the file in a data directory that its embedded server's process holds locked.
const LockFile = "rarenet.lock"

// ErrDataDirInUse is returned when another process holds a data directory: two embedded
// servers on one JetStream store corrupt each other's view of it (the survivor of the two
// then answers every publish with a timeout).
var ErrDataDirInUse = errors.New("the data directory is in use")

// dirLock is a held lock on a data directory.
type dirLock struct{ f *os.File }

// lockDataDir takes the lock of dir for this process, writing who holds it (pid, address,
// since when) into the file so that another process refused it can say. The kernel drops
// the lock when the process ends, however it ends: a stale file never locks anyone out.
func lockDataDir(dir, listen string) (*dirLock, error) {
	path := filepath.Join(dir, LockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock the data directory: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder, _ := os.ReadFile(path)
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			who := strings.TrimSpace(string(holder))
			if who == "" {
				who = "another process"
			}
			return nil, fmt.Errorf("%w: %s is held by %s; stop that one, or give this one another --data-dir", ErrDataDirInUse, dir, who)
		}
		return nil, fmt.Errorf("lock the data directory %s: %w", dir, err)
	}
	if listen == "" {
		listen = "in-process only"
	}
	who := fmt.Sprintf("rarenet pid %d (listening on %s, since %s)\n", os.Getpid(), listen, time.Now().UTC().Format(time.RFC3339))
	if err := f.Truncate(0); err == nil {
		_, err = f.WriteAt([]byte(who), 0)
	}
	return &dirLock{f: f}, nil
}

// release gives the lock up. The file stays: removing it could race a process that has just
// opened it and would lock a file no one else sees.
func (l *dirLock) release() {
	if l != nil {
		l.f.Close()
	}
}
