package tokens

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"
)

// PollInterval is how often a File looks at its file for a change.
const PollInterval = 2 * time.Second

// File is a token file kept current: it is read again when it changes (its size, time or
// inode, checked every PollInterval, so an editor's rename-over and a Kubernetes secret's
// symlink swap are both seen) and when the process gets SIGHUP. A reload that fails keeps
// the tokens in force and logs why: a half-written file never locks everyone out.
type File struct {
	path string
	log  *slog.Logger
	set  atomic.Pointer[Set]
	// stamp identifies the version of the file last read.
	stamp atomic.Pointer[fileStamp]
	// reloaded is signalled after every reload attempt (for tests); it never blocks.
	reloaded chan struct{}
}

type fileStamp struct {
	size  int64
	mod   time.Time
	inode uint64
}

func stampOf(path string) (*fileStamp, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	st := &fileStamp{size: fi.Size(), mod: fi.ModTime()}
	if sys, ok := fi.Sys().(*syscall.Stat_t); ok {
		st.inode = sys.Ino
	}
	return st, nil
}

// Open reads the token file at path; it fails when the file cannot be read or parsed. Call
// Watch to keep it current.
func Open(path string, log *slog.Logger) (*File, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	f := &File{path: path, log: log, reloaded: make(chan struct{}, 1)}
	st, _ := stampOf(path)
	s, err := Load(path)
	if err != nil {
		return nil, err
	}
	f.set.Store(s)
	f.stamp.Store(st)
	return f, nil
}

// Set returns the tokens in force.
func (f *File) Set() *Set { return f.set.Load() }

// Lookup returns the entry of token in the tokens in force, or nil.
func (f *File) Lookup(token string) *Entry { return f.Set().Lookup(token) }

// Path is the file's path.
func (f *File) Path() string { return f.path }

// Watch reloads the file on change and on SIGHUP until ctx is done.
func (f *File) Watch(ctx context.Context) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	tick := time.NewTicker(PollInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			f.Reload("SIGHUP")
		case <-tick.C:
			st, err := stampOf(f.path)
			if err != nil {
				continue // being replaced; the next tick sees the new file
			}
			if old := f.stamp.Load(); old == nil || *old != *st {
				f.Reload("changed")
			}
		}
	}
}

// Reload reads the file again now; why is logged.
func (f *File) Reload(why string) {
	defer func() {
		select {
		case f.reloaded <- struct{}{}:
		default:
		}
	}()
	st, _ := stampOf(f.path)
	s, err := Load(f.path)
	f.stamp.Store(st) // a broken version is not retried until it changes again
	if err != nil {
		f.log.Error("token file not reloaded: the previous tokens stay in force", "file", f.path, "why", why, "err", err)
		return
	}
	f.set.Store(s)
	f.log.Info("token file reloaded", "file", f.path, "why", why, "tokens", s.Len())
}
