// Package tail follows log files (typically /var/log/audit/audit.log) and publishes their new
// lines on rarenet.raw.<format>, in chunks named by the path and the number of their first
// line, as `rarenet replay` publishes files.
//
// It polls; no inotify is needed. Each poll reads every file to its end and then looks at the
// path:
//
//   - rotation by rename (logrotate's default, auditd's own num_logs rotation): the path now
//     names another device/inode. The old file is read to its end first (its last line
//     counts even without a newline: nothing will complete it), then the new one is read from
//     its start.
//   - truncation in place (copytruncate): the open file is shorter than the offset reached.
//     Reading starts again at its start. Lines written between the copy and the truncation
//     are lost by copytruncate itself, and a file truncated and refilled past the old offset
//     within one poll interval looks merely appended to: prefer rotation by rename.
//   - removal without a successor: the open file is kept and read until one appears.
//
// A line is published only when its newline is there; a partial last line waits for the next
// poll. Lines are numbered from 1 in each generation of a file (after each rotation or
// truncation).
//
// After the publish of lines is acknowledged by JetStream, their position (device, inode,
// offset, line number, generation) is written to the state file, atomically. A restart
// resumes there; when the file was rotated meanwhile, the old generation is looked for by its
// inode beside the path (audit.log.1) and finished first. Message ids are derived from host,
// generation and byte range, so a chunk published again after a crash between the ack and
// the state write is dropped by JetStream's duplicate window (2 minutes).
package tail

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/rarenet/rarenet/services/ingest/format"
	"github.com/rarenet/rarenet/services/ingest/format/auditd"
	"github.com/rarenet/rarenet/services/ingest/format/jsondoc"
	"github.com/rarenet/rarenet/services/sources/chunk"
	"github.com/rarenet/rarenet/services/sources/rawpub"
	"github.com/rarenet/rarenet/shared/natsutil"
)

// MaxLineBytes bounds a line: a longer run without newline is cut and published in pieces of
// this size (which fit any server's payload limit) rather than held without end.
const MaxLineBytes = rawpub.MaxBytes

// flushEvery bounds the messages in flight before the tailer waits for their acks and saves
// its state, so a large backlog is checkpointed as it goes.
const flushEvery = 256

// ackTimeout bounds the wait for JetStream's acks; then the poll fails and is retried.
const ackTimeout = 30 * time.Second

// Config configures a Tailer.
type Config struct {
	// Paths are the files to follow.
	Paths []string
	// Format names the raw subject: auto (ingest detects it from the first line) or a format.
	Format string
	// StateFile keeps the acknowledged positions across restarts; empty keeps none.
	StateFile string
	// Poll is the interval between polls (default 250ms).
	Poll time.Duration
	// FromEnd starts a file without a saved position at its end rather than its start.
	FromEnd bool
	// SourceName, when set, names the source in the raw subject (rawpub.Subject).
	SourceName string
	// Host goes into the message ids, so tailers on several hosts never share one; default
	// os.Hostname.
	Host string
}

// Validate checks the configuration.
func (c *Config) Validate() error {
	if len(c.Paths) == 0 {
		return errors.New("tail: no file to follow")
	}
	if c.Format == "" {
		c.Format = format.Auto
	}
	if c.Poll <= 0 {
		c.Poll = 250 * time.Millisecond
	}
	if c.Host == "" {
		c.Host, _ = os.Hostname()
	}
	return rawpub.CheckFormat(c.Format)
}

// Tailer follows files and publishes their lines. It is not safe for concurrent use: Run
// (or Poll) on one goroutine.
type Tailer struct {
	cfg   Config
	js    jetstream.JetStream
	pub   *natsutil.Publisher
	log   *slog.Logger
	files []*follower
	state State // as last saved
}

// follower is one followed path.
type follower struct {
	path string // as given: the Rarenet-Source of its lines
	key  string // absolute: the key in the state file
	file *os.File
	// pos is how far lines have been read and handed to the publisher; committed, how far
	// their publish was acknowledged.
	pos, committed Position
	// known is false until the path was first looked at without a saved position.
	known  bool
	br     *bufio.Reader
	chunk  chunk.Builder
	from   int64  // the offset of the current chunk's first line
	warned string // the last problem logged, so a lasting one is logged once
	// Chunks hold whole auditd events (ingest decodes each raw message on its own): bound
	// finds the places between events; safe is the last one in the current chunk, after
	// safeLines of its lines; held is the offset of the lines held back at the end of the
	// last read, as their event might continue (-1: none).
	bound auditd.Boundary
	// docs is set for a file of JSON documents that span or share lines (jsondoc.Sniff, from
	// the start of the generation docsOf names): docBound then finds the places between
	// documents, and each chunk is published one document per line.
	docs      bool
	docsOf    Position
	docBound  jsondoc.Boundary
	safe      Position
	safeLines int
	held      int64
}

// New returns a Tailer publishing on js, resuming from the state file.
func New(cfg Config, js jetstream.JetStream, log *slog.Logger) (*Tailer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	t := &Tailer{cfg: cfg, js: js, pub: natsutil.NewPublisher(js), log: log.With("source", "tail"),
		state: State{Version: stateVersion, Files: map[string]Position{}}}
	if cfg.StateFile != "" {
		st, err := LoadState(cfg.StateFile)
		if err != nil {
			return nil, err
		}
		t.state = st
	}
	seen := map[string]bool{}
	for _, p := range cfg.Paths {
		key, err := filepath.Abs(p)
		if err != nil {
			return nil, fmt.Errorf("tail: %s: %w", p, err)
		}
		if seen[key] {
			continue
		}
		seen[key] = true
		f := &follower{path: p, key: key, br: bufio.NewReaderSize(nil, 256<<10), held: -1}
		if pos, ok := t.state.Files[key]; ok {
			f.pos, f.committed, f.known = pos, pos, true
		}
		t.files = append(t.files, f)
	}
	return t, nil
}

// Run polls until ctx is done. A failed publish is retried from the last acknowledged
// position, with a growing pause; Run returns nil on cancellation.
func (t *Tailer) Run(ctx context.Context) error {
	defer t.Close()
	t.log.Info("following", "files", len(t.files), "format", t.cfg.Format, "state", t.cfg.StateFile)
	wait := t.cfg.Poll
	for {
		err := t.Poll(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			wait = min(2*wait, 30*time.Second)
			t.log.Warn("publish failed; retrying from the last acknowledged position", "err", err, "retry_in", wait)
			t.reset()
		} else {
			wait = t.cfg.Poll
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
	}
}

// Poll reads every file to its end, publishes the new lines, waits for their acks and saves
// the state. Problems with one file (missing, unreadable) are logged and do not stop the
// others; the error is for publishing. After an error, call Reset before the next Poll.
func (t *Tailer) Poll(ctx context.Context) error {
	for _, f := range t.files {
		if err := t.follow(ctx, f); err != nil {
			var pe *publishError
			if errors.As(err, &pe) {
				return pe.err
			}
			t.warn(f, err)
		}
	}
	return t.commit(ctx)
}

// Reset forgets what was read but not acknowledged: the next Poll reads again from the last
// acknowledged positions.
func (t *Tailer) Reset() { t.reset() }

// Close closes the open files.
func (t *Tailer) Close() {
	for _, f := range t.files {
		if f.file != nil {
			f.file.Close()
			f.file = nil
		}
	}
}

// publishError marks errors of the publisher, which fail the whole poll.
type publishError struct{ err error }

func (e *publishError) Error() string { return e.err.Error() }

func (t *Tailer) reset() {
	t.Close()
	t.pub = natsutil.NewPublisher(t.js) // drops the futures of a failed batch
	for _, f := range t.files {
		f.pos = f.committed
		f.chunk = chunk.Builder{}
		f.safeLines, f.held = 0, -1
	}
}

func (t *Tailer) warn(f *follower, err error) {
	if msg := err.Error(); msg != f.warned {
		f.warned = msg
		t.log.Warn("cannot follow", "path", f.path, "err", err)
	}
}

// follow reads f to its end and moves on to the path's next generation when there is one.
func (t *Tailer) follow(ctx context.Context, f *follower) error {
	if f.file == nil {
		if err := t.open(f); err != nil {
			return err
		}
		if f.file == nil {
			return nil
		}
		f.warned = ""
	}
	// Bounded: a path that rotates again while being switched is taken up at the next poll.
	for range 4 {
		if err := t.read(ctx, f, false); err != nil {
			return err
		}
		fi, err := f.file.Stat()
		if err != nil {
			return err
		}
		if fi.Size() < f.pos.Offset {
			t.log.Info("file truncated; reading it from its start", "path", f.path, "size", fi.Size(), "offset", f.pos.Offset)
			f.pos = Position{Dev: f.pos.Dev, Inode: f.pos.Inode, Generation: f.pos.Generation + 1}
			continue
		}
		st, err := os.Stat(f.path)
		if errors.Is(err, fs.ErrNotExist) {
			return nil // renamed or removed, no successor yet: the open file may still grow
		}
		if err != nil {
			return err
		}
		if dev, ino := fileID(st); dev == f.pos.Dev && ino == f.pos.Inode {
			return nil
		}
		// A new file at the path. What the writer appended to the old one before switching is
		// read now; its last line is complete even without a newline.
		if err := t.read(ctx, f, true); err != nil {
			return err
		}
		t.log.Info("file rotated; reading the new one", "path", f.path, "old_inode", f.pos.Inode, "lines", f.pos.Line)
		f.file.Close()
		f.file = nil
		f.pos = Position{Generation: f.pos.Generation + 1}
		if err := t.open(f); err != nil || f.file == nil {
			return err
		}
	}
	return nil
}

// open opens the generation f.pos names, or the file at the path when f.pos names none. It
// leaves f.file nil when there is nothing to open yet.
func (t *Tailer) open(f *follower) error {
	p := f.pos
	st, err := os.Stat(f.path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	exists := err == nil
	if p.Inode != 0 {
		if !exists || !sameGeneration(st, p) {
			// The generation was rotated away while not followed: finish it where rotation put
			// it, beside the path.
			if ok, err := t.openRotated(f, p); ok || err != nil {
				return err
			}
			t.log.Warn("the unread rest of a rotated file is lost: no file beside the path has its inode any more",
				"path", f.path, "inode", p.Inode, "offset", p.Offset, "line", p.Line)
			p = Position{Generation: p.Generation + 1}
		}
	}
	if !exists {
		f.pos, f.known = p, true
		return fmt.Errorf("waiting for the file to appear: %w", fs.ErrNotExist)
	}
	file, err := os.Open(f.path)
	if err != nil {
		return err
	}
	fi, err := file.Stat()
	if err != nil {
		file.Close()
		return err
	}
	dev, ino := fileID(fi)
	switch {
	case p.Inode == 0:
		p = Position{Dev: dev, Inode: ino, Generation: p.Generation}
		if !f.known && t.cfg.FromEnd {
			if p.Offset, p.Line, err = lastLineEnd(file); err != nil {
				file.Close()
				return err
			}
		}
	case dev != p.Dev || ino != p.Inode:
		file.Close() // replaced between Stat and Open: look again at the next poll
		return nil
	case fi.Size() < p.Offset:
		t.log.Info("file truncated while not followed; reading it from its start", "path", f.path)
		p = Position{Dev: dev, Inode: ino, Generation: p.Generation + 1}
	}
	f.file, f.pos, f.known = file, p, true
	return nil
}

// openRotated looks for the file of generation p beside f's path and opens it at p.
func (t *Tailer) openRotated(f *follower, p Position) (bool, error) {
	dir := filepath.Dir(f.path)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return false, err
	}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		name := filepath.Join(dir, e.Name())
		fi, err := os.Stat(name)
		if err != nil || !sameGeneration(fi, p) {
			continue
		}
		file, err := os.Open(name)
		if err != nil {
			return false, err
		}
		if fi, err = file.Stat(); err != nil || !sameGeneration(fi, p) || fi.Size() < p.Offset {
			file.Close()
			continue
		}
		t.log.Info("finishing a file rotated while not followed", "path", f.path, "rotated_to", name, "offset", p.Offset)
		f.file, f.pos = file, p
		return true, nil
	}
	return false, nil
}

// errReread makes read start again from f.pos, where it went back to publish only whole
// events.
var errReread = errors.New("tail: read again from the last place between events")

// read reads f from its position to the end of the file, handing complete lines to the
// publisher. With final, a last line without newline counts too, and the file's end is the end
// of its last event.
func (t *Tailer) read(ctx context.Context, f *follower, final bool) error {
	for {
		if err := t.readFrom(ctx, f, final); !errors.Is(err, errReread) {
			return err
		}
	}
}

func (t *Tailer) readFrom(ctx context.Context, f *follower, final bool) error {
	if _, err := f.file.Seek(f.pos.Offset, io.SeekStart); err != nil {
		return err
	}
	f.br.Reset(f.file)
	// What the file holds past the position sizes the chunks' buffers (chunk.Builder.SizeHint).
	size := int64(0)
	if fi, err := f.file.Stat(); err == nil {
		size = fi.Size()
	}
	f.chunk.Next = f.pos.Line + 1
	if err := t.sniff(f); err != nil {
		return err
	}
	f.bound.Reset() // reading starts between events
	f.docBound.Reset()
	f.safeLines = 0
	var line []byte
	add := func(l []byte, n int) error {
		between := f.between(l)
		if between && f.chunk.Len() > 0 {
			f.safe, f.safeLines = f.pos, f.chunk.Len()
		}
		if !f.chunk.Room(len(l)) {
			if err := t.publishWhole(ctx, f, between); err != nil {
				return err
			}
		}
		if f.chunk.Len() == 0 {
			f.from = f.pos.Offset
			f.chunk.SizeHint = int(min(max(size-f.pos.Offset, int64(n)), MaxLineBytes))
		}
		full := f.chunk.Add(l)
		f.pos.Offset += int64(n)
		f.pos.Line++
		if full {
			return t.publishWhole(ctx, f, !f.open())
		}
		return nil
	}
	for {
		frag, err := f.br.ReadSlice('\n')
		line = append(line, frag...)
		switch {
		case err == nil:
			if err := add(line[:len(line)-1], len(line)); err != nil {
				return err
			}
			line = line[:0]
		case errors.Is(err, bufio.ErrBufferFull):
			if len(line) >= MaxLineBytes {
				if err := add(line, len(line)); err != nil {
					return err
				}
				line = line[:0]
			}
		case errors.Is(err, io.EOF):
			if final && len(line) > 0 {
				if err := add(line, len(line)); err != nil {
					return err
				}
			}
			return t.publishEnd(ctx, f, final)
		default:
			return err
		}
	}
}

// publishWhole publishes the full chunk when whole (the cut after it is between events), or
// else its whole events only, and has the rest read again into the next chunk. A chunk that
// is one unfinished event goes as it is.
func (t *Tailer) publishWhole(ctx context.Context, f *follower, whole bool) error {
	if whole || f.safeLines == 0 {
		return t.publish(ctx, f, f.chunk.Len(), f.pos)
	}
	if err := t.publish(ctx, f, f.safeLines, f.safe); err != nil {
		return err
	}
	return errReread
}

// publishEnd publishes the chunk at the end of a read. Lines whose event may still get
// records (auditd writes an event's records one by one) are held back for one poll, read
// again at the next; a final read, or lines held once already, go as they are.
func (t *Tailer) publishEnd(ctx context.Context, f *follower, final bool) error {
	if final || f.chunk.Len() == 0 || !f.open() {
		f.held = -1
		return t.publish(ctx, f, f.chunk.Len(), f.pos)
	}
	from := f.from
	if f.safeLines > 0 {
		from = f.safe.Offset
	}
	if from == f.held {
		f.held = -1
		return t.publish(ctx, f, f.chunk.Len(), f.pos)
	}
	f.held = from
	if f.safeLines == 0 { // the chunk is one event: hold it all
		start := f.pos
		start.Offset, start.Line = f.from, f.chunk.Next-int64(f.chunk.Len())-1
		return t.publish(ctx, f, 0, start)
	}
	return t.publish(ctx, f, f.safeLines, f.safe)
}

// publish sends the first lines of f's current chunk, which end at position end, and drops
// the rest of the chunk: f's position goes back to end, from where the rest is read again.
// Its id names the host, the generation and the byte range, so only the very same chunk is
// ever dropped as a duplicate.
func (t *Tailer) publish(ctx context.Context, f *follower, lines int, end Position) error {
	ch, ok := f.chunk.TakeLines(lines)
	f.pos, f.safeLines = end, 0
	if !ok {
		return nil
	}
	id := "tail:" + t.cfg.Host + ":" + strconv.FormatUint(end.Dev, 10) + ":" + strconv.FormatUint(end.Inode, 10) + ":" +
		strconv.FormatUint(end.Generation, 10) + ":" + strconv.FormatInt(f.from, 10) + "-" + strconv.FormatInt(end.Offset, 10)
	if f.docs {
		// Each document on the line it starts on; documents sharing a line go in messages of
		// their own, whose ids say which.
		for i, piece := range jsondoc.Align(ch.Data, ch.FirstLine, MaxLineBytes) {
			pid := id
			if i > 0 {
				pid += "#" + strconv.Itoa(i)
			}
			if err := t.pub.Publish(rawpub.BoundMessage(t.cfg.Format, t.cfg.SourceName, f.path, piece.FirstLine, piece.Data), pid); err != nil {
				return &publishError{err}
			}
		}
	} else if err := t.pub.Publish(rawpub.BoundMessage(t.cfg.Format, t.cfg.SourceName, f.path, ch.FirstLine, ch.Data), id); err != nil {
		return &publishError{err}
	}
	f.chunk.Reuse(ch.Data) // the messages hold copies
	if t.pub.Pending() >= flushEvery {
		return t.commit(ctx)
	}
	return nil
}

// commit waits for every publish to be acknowledged, then saves the positions reached. Every
// follower's chunk is empty here (chunks are published as soon as they are full, and at the
// end of each read), so each position covers exactly what was published.
func (t *Tailer) commit(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, ackTimeout)
	defer cancel()
	if err := t.pub.Flush(ctx); err != nil {
		return &publishError{err}
	}
	changed := false
	for _, f := range t.files {
		f.committed = f.pos
		if old, ok := t.state.Files[f.key]; !ok || old != f.pos {
			t.state.Files[f.key] = f.pos
			changed = true
		}
	}
	if changed && t.cfg.StateFile != "" {
		if err := SaveState(t.cfg.StateFile, t.state); err != nil {
			// The lines are published; a restart before the next successful save sends them
			// again, and JetStream drops them as duplicates within its window.
			t.log.Warn("cannot save the state", "err", err)
		}
	}
	return nil
}

// Positions returns the acknowledged position of every followed path, by absolute path.
func (t *Tailer) Positions() map[string]Position {
	m := make(map[string]Position, len(t.files))
	for _, f := range t.files {
		m[f.key] = f.committed
	}
	return m
}

// lastLineEnd counts the complete lines of file, for starting at its end.
func lastLineEnd(file *os.File) (offset, lines int64, err error) {
	if _, err := file.Seek(0, io.SeekStart); err != nil {
		return 0, 0, err
	}
	buf := make([]byte, 256<<10)
	var pos int64
	for {
		n, err := file.Read(buf)
		for i, b := range buf[:n] {
			if b == '\n' {
				lines++
				offset = pos + int64(i) + 1
			}
		}
		pos += int64(n)
		if errors.Is(err, io.EOF) {
			return offset, lines, nil
		}
		if err != nil {
			return 0, 0, err
		}
	}
}

func fileID(fi fs.FileInfo) (dev, ino uint64) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Dev), st.Ino //nolint:unconvert // Dev is not uint64 on every platform
	}
	return 0, 0
}

func sameGeneration(fi fs.FileInfo, p Position) bool {
	dev, ino := fileID(fi)
	return dev == p.Dev && ino == p.Inode
}
