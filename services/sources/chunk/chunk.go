// Package chunk cuts input into raw messages of many lines, the one way every source of raw
// input does: `rarenet replay` and the live sources (tail, collect, the HTTP input, the
// sensor's sink). Many lines per message keep JetStream's per-message cost off the hot path;
// each message is a run of whole lines, numbered, so ingest names rejects by file:line.
//
// The limits are the caller's: the replay sends messages of up to 4 MiB of lines, sized so
// that compressed they fill a message (services/rarenet, docs/performance.md items 14 and
// 22); live sources send at most LiveLines lines and LiveBytes bytes, which fit a default
// nats-server's 1 MiB max_payload as they are.
//
// Two ways in, one cut: a Builder takes lines one by one from a source that reads them itself
// (tail follows files and holds back unfinished auditd events, the HTTP input has a request
// body, the sensors have events), and a Reader cuts a whole input from a bufio.Reader without
// copying it (the replay), cutting auditd logs only between events.
package chunk

// The limits of a live source's raw messages, and the zero Limits of a Builder. LiveBytes
// leaves room for the headers within the 1 MiB maximum payload of a default nats-server, so
// a message fits any server; it is also the longest line a live source sends in one piece.
// LiveLines is high enough that the bytes govern real logs: a message of 1,000 lines held
// only 166 auditd connects (docs/performance.md, item 15).
const (
	LiveLines = 8192
	LiveBytes = 1000 << 10
)

// LongHead is how much of a line too long to send a Reader keeps, for a dead letter.
const LongHead = 64 << 10

// Limits bound a raw message.
type Limits struct {
	// Lines is the most lines a message holds.
	Lines int
	// Bytes is about the most bytes of lines a message holds: a Builder's chunk is full once
	// it reaches Bytes, a Reader's never passes it.
	Bytes int
	// Line is the longest line a Reader sends (alone when longer than Bytes); of a longer
	// one it keeps only the head (LongHead). A Builder leaves long lines to its caller.
	Line int
}

// Live returns the limits of a live source's raw messages (LiveLines, LiveBytes).
func Live() Limits { return Limits{Lines: LiveLines, Bytes: LiveBytes, Line: LiveBytes} }

// Chunk is a run of consecutive lines of one input, ready to become one raw message, or the
// head of one line too long to send (Long).
type Chunk struct {
	// FirstLine is the number of the first line.
	FirstLine int64
	// Lines is the number of lines in Data (1 for a long line).
	Lines int
	// Data holds the lines separated by '\n', without a final newline.
	Data []byte
	// Long, set only by a Reader, holds the first LongHead bytes of a line longer than
	// Limits.Line, for a dead letter, and LongSize its length; Data is then empty.
	Long     []byte
	LongSize int
}
