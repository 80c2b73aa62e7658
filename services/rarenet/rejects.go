package rarenet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/rarenet/rarenet/services/ingest"
	"github.com/rarenet/rarenet/shared/control"
	"github.com/rarenet/rarenet/shared/stream"
)

// ErrNothingAccepted is returned by Replay and Normalize when input was read but not one line
// of it decoded into an event: the wrong file, or the wrong --format.
var ErrNothingAccepted = errors.New("no input line was accepted")

// nothingAccepted returns ErrNothingAccepted, with the counts and what to check, when lines
// were rejected and none decoded (accepted or filtered); nil otherwise. An input without any
// connect (an audit log of other syscalls) has nothing to reject and is no error.
func nothingAccepted(lines, accepted, filtered, rejected int64) error {
	if rejected == 0 || accepted+filtered > 0 {
		return nil
	}
	return fmt.Errorf("%w: %d of %d lines rejected (the reasons are above; is it the right file and --format?)", ErrNothingAccepted, rejected, lines)
}

// Reject summaries show this many kinds of reason line by line; the rest are counted.
const maxRejectKinds = 10

// rejectLog shows rejected lines to a user: the first line of each kind of reason as it
// comes, and at the end how many more of each kind there were, so 494 identical reasons read
// as one line and a count.
type rejectLog struct {
	w io.Writer
	// all shows every rejected line (normalize -v).
	all   bool
	kinds map[string]*rejectKind
	order []*rejectKind
	// unshown counts lines of kinds beyond maxRejectKinds.
	unshown, unshownKinds int64
}

type rejectKind struct {
	more     int64  // lines of the kind not shown
	lastMore string // "file:line" of the last of them
}

func newRejectLog(w io.Writer, all bool) *rejectLog {
	return &rejectLog{w: w, all: all, kinds: map[string]*rejectKind{}}
}

// add takes one rejected line: where it is ("file:line") and why.
func (l *rejectLog) add(where, reason string) {
	if l.w == nil {
		return
	}
	key := reasonKind(reason)
	k := l.kinds[key]
	switch {
	case k == nil && len(l.order) >= maxRejectKinds && !l.all:
		l.unshown++
		l.kinds[key] = &rejectKind{more: -1}
		l.unshownKinds++
		return
	case k == nil:
		k = &rejectKind{}
		l.kinds[key] = k
		l.order = append(l.order, k)
	case k.more < 0: // a kind beyond the limit
		l.unshown++
		return
	case !l.all:
		k.more++
		k.lastMore = where
		return
	}
	fmt.Fprintf(l.w, "%s: %s\n", where, reason)
}

// finish writes the counts of the lines not shown.
func (l *rejectLog) finish() {
	if l.w == nil {
		return
	}
	for _, k := range l.order {
		if k.more > 0 {
			fmt.Fprintf(l.w, "  ... and %d more like it (the last at %s)\n", k.more, k.lastMore)
		}
	}
	if l.unshown > 0 {
		fmt.Fprintf(l.w, "  ... and %d more rejected lines of %d other kinds\n", l.unshown, l.unshownKinds)
	}
}

var (
	quoted = regexp.MustCompile(`"(?:[^"\\]|\\.)*"|'[^']*'`)
	number = regexp.MustCompile(`\d+`)
)

// reasonKind is a reason with the parts that vary from line to line (quoted values, numbers)
// blanked, so reasons that differ only there count as one kind.
func reasonKind(reason string) string {
	k := quoted.ReplaceAllString(reason, `"…"`)
	return number.ReplaceAllString(k, "N")
}

// withoutPlace returns a dead letter's reason without the "file:line: " it starts with (ingest
// puts the place in the reason so that it reads on its own).
func withoutPlace(reason, source string, line int64) string {
	return strings.TrimPrefix(reason, source+":"+strconv.FormatInt(line, 10)+": ")
}

// showRejects writes the rejected lines of a replay's files (the dead letters of ingest and of
// the replay's driver from sequence first on) to w, collapsed as a rejectLog does. It reads
// their headers only.
func showRejects(ctx context.Context, js jetstream.JetStream, first uint64, files []string, w io.Writer) error {
	s, err := js.Stream(ctx, stream.DLQ)
	if err != nil {
		return err
	}
	subjects := []string{stream.DLQSubject(ingest.Stage), stream.DLQSubject(DriverStage)}
	var last uint64
	for _, subj := range subjects {
		m, err := s.GetLastMsgForSubject(ctx, subj)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			return fmt.Errorf("dead letters: %w", err)
		}
		last = max(last, m.Sequence)
	}
	if last < first {
		return nil
	}
	c, err := s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{FilterSubjects: subjects,
		DeliverPolicy: jetstream.DeliverByStartSequencePolicy, OptStartSeq: first, HeadersOnly: true})
	if err != nil {
		return fmt.Errorf("dead letters: %w", err)
	}
	log := newRejectLog(w, false)
	defer log.finish()
	for {
		batch, err := c.Fetch(1000, jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			return fmt.Errorf("dead letters: %w", err)
		}
		for m := range batch.Messages() {
			h := m.Headers()
			source := h.Get(control.HeaderSource)
			line, _ := strconv.ParseInt(h.Get(control.HeaderLine), 10, 64)
			if slices.Contains(files, source) {
				log.add(source+":"+strconv.FormatInt(line, 10), withoutPlace(h.Get(control.HeaderReason), source, line))
			}
			md, err := m.Metadata()
			if err != nil {
				return err
			}
			if md.Sequence.Stream >= last {
				return nil
			}
		}
		if err := batch.Error(); err != nil {
			return fmt.Errorf("dead letters: %w", err)
		}
	}
}
