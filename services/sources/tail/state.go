package tail

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Position is how far one path has been read: the generation of the file (its device and
// inode, and a counter of the generations seen at the path) and the end of its last line
// published.
type Position struct {
	Dev   uint64 `json:"dev"`
	Inode uint64 `json:"inode"`
	// Offset is the byte just after the last complete line consumed.
	Offset int64 `json:"offset"`
	// Line is the number of lines of this generation consumed.
	Line int64 `json:"line"`
	// Generation counts the files seen at the path (rotations, truncations). It keeps the
	// message ids of a new generation apart from the old one's, whose inode and offsets the
	// new file may well repeat.
	Generation uint64 `json:"generation"`
}

// State is the content of the state file: the acknowledged position of every path.
type State struct {
	Version int                 `json:"version"`
	Files   map[string]Position `json:"files"`
}

const stateVersion = 1

// ErrBadState is returned when the state file does not parse.
var ErrBadState = errors.New("tail: unreadable state file")

// LoadState reads the state file; a file that does not exist yet gives an empty state.
func LoadState(path string) (State, error) {
	st := State{Version: stateVersion, Files: map[string]Position{}}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return st, fmt.Errorf("tail: %w", err)
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, fmt.Errorf("%w %s: %w", ErrBadState, path, err)
	}
	if st.Version != stateVersion {
		return st, fmt.Errorf("%w %s: version %d, want %d", ErrBadState, path, st.Version, stateVersion)
	}
	if st.Files == nil {
		st.Files = map[string]Position{}
	}
	return st, nil
}

// SaveState writes the state file atomically: a temporary file beside it, synced, renamed
// over it. A crash leaves the old state or the new one, never half of either.
func SaveState(path string, st State) error {
	st.Version = stateVersion
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("tail: state directory: %w", err)
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("tail: state: %w", err)
	}
	defer os.Remove(tmp.Name()) // fails harmlessly once renamed
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("tail: state: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("tail: state: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("tail: state: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("tail: state: %w", err)
	}
	// Make the rename itself durable; not every filesystem can sync a directory.
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}
