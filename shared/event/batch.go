package event

//go:generate go run github.com/tinylib/msgp@v1.6.5 -file batch.go -o batch_gen.go -tests=false -io=false

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"time"
)

// BatchVersion is the layout of Batch that this code writes; it reads version 1 too (the
// layout before OriginAuthSource, which a stream may still hold after an upgrade).
const BatchVersion = 2

// ErrBatch is wrapped by every error of a message that is not a valid event batch.
var ErrBatch = errors.New("event: not a valid event batch")

// Batch is how events travel from ingest to the scorer: the events of one raw message for one
// partition, in columns, every string once in a string table. A raw message of a thousand
// lines becomes one message per partition a few tens of bytes per event long, decoded without
// an allocation per event (see BatchReader); JSON cost more than decoding the input itself.
//
// Strings are referred to by their index in the table; index 0 is the empty string. Lists
// (event.category, event.type, process.args) are referred to by their index in the list
// table; index 0 is no list. Every column has one entry per event. The msgpack layout is
// generated from this struct (go generate; github.com/tinylib/msgp): a tuple, so field order
// is the wire order, and a field is only ever appended. No column may claim more than 2^20
// entries (a message of 1 MiB cannot hold more), so a corrupt length cannot make the reader
// allocate more than a few megabytes.
//
//msgp:tuple Batch
//msgp:limit arrays:1048576
type Batch struct {
	Version uint8
	// Strings holds the string table: string i (i >= 1) is Strings[Ends[i-2]:Ends[i-1]]
	// (from 0 for i = 1).
	Strings []byte
	Ends    []uint32
	// ListEnds and ListItems hold the list table the same way: list i (i >= 1) is
	// ListItems[ListEnds[i-2]:ListEnds[i-1]], string indexes.
	ListEnds  []uint32
	ListItems []uint32

	// Time is @timestamp in Unix nanoseconds.
	Time []int64

	Kind, Category, Type, Action, Outcome, Module, Dataset []uint32
	AgentType                                              []uint32
	HostName, HostID, OSType, OSFamily                     []uint32
	ProcessName                                            []uint32
	PID, ParentPID                                         []int64
	Executable, Args, Title, WorkingDirectory              []uint32
	UserName, UserID                                       []uint32
	SourceIP                                               []uint32
	SourcePort                                             []int64
	SourcePath                                             []uint32
	DestinationIP                                          []uint32
	DestinationPort                                        []int64
	DestinationPath                                        []uint32
	NetworkType, Transport, Direction, Family              []uint32
	OriginSource                                           []uint32
	OriginLine                                             []int64
	OriginFormat, OriginFiltered                           []uint32
	// OriginAuthSource (version 2) is empty when no event of the batch has an authenticated
	// source, which is most input: it then costs one byte.
	OriginAuthSource []uint32
}

// Len is the number of events in the batch.
func (b *Batch) Len() int { return len(b.Time) }

// BatchBuilder gathers events into a Batch. The zero value is ready to use; Reset starts a
// new batch and keeps the memory.
type BatchBuilder struct {
	b       Batch
	strings map[string]uint32
	lists   map[string]uint32
	key     []byte
	last    [31]lastValue // per string or list column
	// authed says an event of the batch has an authenticated source: OriginAuthSource is
	// written only then.
	authed bool
}

// Len is the number of events added since the last Reset.
func (bb *BatchBuilder) Len() int { return bb.b.Len() }

// Reset empties the builder for the next batch.
func (bb *BatchBuilder) Reset() {
	b := &bb.b
	b.Strings, b.Ends, b.ListEnds, b.ListItems = b.Strings[:0], b.Ends[:0], b.ListEnds[:0], b.ListItems[:0]
	for _, col := range b.stringColumns() {
		*col = (*col)[:0]
	}
	for _, col := range b.intColumns() {
		*col = (*col)[:0]
	}
	clear(bb.strings)
	clear(bb.lists)
	bb.authed = false
	for i := range bb.last {
		bb.last[i] = lastValue{list: bb.last[i].list[:0]} // no index: the tables start again
	}
}

// Add appends ev to the batch. The builder copies what it keeps: ev may be reused after.
func (bb *BatchBuilder) Add(ev *Event) {
	if bb.strings == nil {
		bb.strings, bb.lists = map[string]uint32{}, map[string]uint32{}
	}
	b, c := &bb.b, &bb.last
	b.Time = append(b.Time, ev.Timestamp.UnixNano())
	b.Kind = append(b.Kind, bb.cached(&c[0], ev.Event.Kind))
	b.Category = append(b.Category, bb.list(&c[1], ev.Event.Category))
	b.Type = append(b.Type, bb.list(&c[2], ev.Event.Type))
	b.Action = append(b.Action, bb.cached(&c[3], ev.Event.Action))
	b.Outcome = append(b.Outcome, bb.cached(&c[4], ev.Event.Outcome))
	b.Module = append(b.Module, bb.cached(&c[5], ev.Event.Module))
	b.Dataset = append(b.Dataset, bb.cached(&c[6], ev.Event.Dataset))
	b.AgentType = append(b.AgentType, bb.cached(&c[7], ev.Agent.Type))
	b.HostName = append(b.HostName, bb.cached(&c[8], ev.Host.Name))
	b.HostID = append(b.HostID, bb.cached(&c[9], ev.Host.ID))
	b.OSType = append(b.OSType, bb.cached(&c[10], ev.Host.OS.Type))
	b.OSFamily = append(b.OSFamily, bb.cached(&c[11], ev.Host.OS.Family))
	b.ProcessName = append(b.ProcessName, bb.cached(&c[12], ev.Process.Name))
	b.PID = append(b.PID, ev.Process.PID)
	b.ParentPID = append(b.ParentPID, ev.Process.Parent.PID)
	b.Executable = append(b.Executable, bb.cached(&c[13], ev.Process.Executable))
	b.Args = append(b.Args, bb.list(&c[14], ev.Process.Args))
	b.Title = append(b.Title, bb.cached(&c[15], ev.Process.Title))
	b.WorkingDirectory = append(b.WorkingDirectory, bb.cached(&c[16], ev.Process.WorkingDirectory))
	b.UserName = append(b.UserName, bb.cached(&c[17], ev.User.Name))
	b.UserID = append(b.UserID, bb.cached(&c[18], ev.User.ID))
	b.SourceIP = append(b.SourceIP, bb.cached(&c[19], ev.Source.IP))
	b.SourcePort = append(b.SourcePort, int64(ev.Source.Port))
	b.SourcePath = append(b.SourcePath, bb.cached(&c[20], ev.Source.Path))
	b.DestinationIP = append(b.DestinationIP, bb.cached(&c[21], ev.Destination.IP))
	b.DestinationPort = append(b.DestinationPort, int64(ev.Destination.Port))
	b.DestinationPath = append(b.DestinationPath, bb.cached(&c[22], ev.Destination.Path))
	b.NetworkType = append(b.NetworkType, bb.cached(&c[23], ev.Network.Type))
	b.Transport = append(b.Transport, bb.cached(&c[24], ev.Network.Transport))
	b.Direction = append(b.Direction, bb.cached(&c[25], ev.Network.Direction))
	b.Family = append(b.Family, bb.cached(&c[26], ev.Network.Family))
	b.OriginSource = append(b.OriginSource, bb.cached(&c[27], ev.Origin.Source))
	b.OriginLine = append(b.OriginLine, ev.Origin.Line)
	b.OriginFormat = append(b.OriginFormat, bb.cached(&c[28], ev.Origin.Format))
	b.OriginFiltered = append(b.OriginFiltered, bb.cached(&c[29], ev.Origin.Filtered))
	b.OriginAuthSource = append(b.OriginAuthSource, bb.cached(&c[30], ev.Origin.AuthSource))
	if ev.Origin.AuthSource != "" {
		bb.authed = true
	}
}

// lastValue is a column's previous string (or list) and its index: consecutive events share
// most of their values, and comparing with the last one costs less than a map lookup.
type lastValue struct {
	v    string
	list []string
	i    uint32
}

// cached returns the index of v, looking at the column's last value first. The column's
// last value is "" with index 0 until it has one, so the look is one comparison, inlined in
// Add: its 28 columns made a call each.
func (bb *BatchBuilder) cached(c *lastValue, v string) uint32 {
	if v == c.v {
		return c.i
	}
	return bb.cachedMiss(c, v)
}

// cachedMiss is cached when v is not the column's last value.
func (bb *BatchBuilder) cachedMiss(c *lastValue, v string) uint32 {
	if v == "" {
		return 0
	}
	i := bb.str(v)
	c.v, c.i = v, i
	return i
}

// str returns the index of v in the string table, adding it when new.
func (bb *BatchBuilder) str(v string) uint32 {
	if v == "" {
		return 0
	}
	if i, ok := bb.strings[v]; ok {
		return i
	}
	bb.b.Strings = append(bb.b.Strings, v...)
	i := bb.end()
	// v is immutable and can be the key itself: copying the table's bytes into a new key
	// was most of what ingest allocated per batch.
	bb.strings[v] = i
	return i
}

// strBytes is str for a string given as bytes, made a string only when new.
func (bb *BatchBuilder) strBytes(v []byte) uint32 {
	if len(v) == 0 {
		return 0
	}
	if i, ok := bb.strings[string(v)]; ok {
		return i
	}
	bb.b.Strings = append(bb.b.Strings, v...)
	return bb.added(len(v))
}

// end ends the string just appended to the table and returns its index.
func (bb *BatchBuilder) end() uint32 {
	b := &bb.b
	b.Ends = append(b.Ends, uint32(len(b.Strings)))
	return uint32(len(b.Ends))
}

// added ends the string of n bytes just appended to the table and returns its index.
func (bb *BatchBuilder) added(n int) uint32 {
	b := &bb.b
	i := bb.end()
	// The key is a copy: it must outlive the caller's bytes, which it may reuse.
	bb.strings[string(b.Strings[len(b.Strings)-n:])] = i
	return i
}

// list returns the index of vs in the list table, adding it when new.
func (bb *BatchBuilder) list(c *lastValue, vs []string) uint32 {
	if len(vs) == 0 {
		return 0
	}
	if c.i != 0 && slices.Equal(c.list, vs) {
		return c.i
	}
	key := bb.key[:0]
	for _, v := range vs {
		key = binary.LittleEndian.AppendUint32(key, bb.str(v))
	}
	bb.key = key
	if i, ok := bb.lists[string(key)]; ok {
		c.remember(vs, i)
		return i
	}
	b := &bb.b
	for k := 0; k < len(key); k += 4 {
		b.ListItems = append(b.ListItems, binary.LittleEndian.Uint32(key[k:]))
	}
	b.ListEnds = append(b.ListEnds, uint32(len(b.ListItems)))
	i := uint32(len(b.ListEnds))
	bb.lists[string(key)] = i
	c.remember(vs, i)
	return i
}

// remember keeps vs as the column's last list, in memory of the cache's own: the caller may
// reuse vs's array once Add returns (strings themselves do not change).
func (c *lastValue) remember(vs []string, i uint32) {
	c.list, c.i = append(c.list[:0], vs...), i
}

// AppendMsg appends the batch's msgpack encoding to dst.
func (bb *BatchBuilder) AppendMsg(dst []byte) ([]byte, error) {
	bb.b.Version = BatchVersion
	if bb.authed {
		return bb.b.MarshalMsg(dst)
	}
	// No event has an authenticated source: the column goes out empty.
	col := bb.b.OriginAuthSource
	bb.b.OriginAuthSource = col[:0]
	out, err := bb.b.MarshalMsg(dst)
	bb.b.OriginAuthSource = col
	return out, err
}

// stringColumns are the columns of string and list indexes, for Reset and validation.
// stringColumns and intColumns are arrays, not slices: a slice of them escaped to the heap at
// every Reset and Append.
func (b *Batch) stringColumns() [31]*[]uint32 {
	return [31]*[]uint32{&b.Kind, &b.Action, &b.Outcome, &b.Module, &b.Dataset, &b.AgentType,
		&b.HostName, &b.HostID, &b.OSType, &b.OSFamily, &b.ProcessName, &b.Executable, &b.Title,
		&b.WorkingDirectory, &b.UserName, &b.UserID, &b.SourceIP, &b.SourcePath, &b.DestinationIP,
		&b.DestinationPath, &b.NetworkType, &b.Transport, &b.Direction, &b.Family, &b.OriginSource,
		&b.OriginFormat, &b.OriginFiltered, &b.OriginAuthSource, &b.Category, &b.Type, &b.Args}
}

// listColumns is how many of stringColumns, at their end, refer to lists.
const listColumns = 3

func (b *Batch) intColumns() [6]*[]int64 {
	return [6]*[]int64{&b.Time, &b.PID, &b.ParentPID, &b.SourcePort, &b.DestinationPort, &b.OriginLine}
}

// validate checks that every column has one entry per event and every index points into
// its table, so that reading the batch cannot go out of bounds.
func (b *Batch) validate() error {
	if b.Version != 1 && b.Version != BatchVersion {
		return fmt.Errorf("%w: layout version %d, this scorer reads 1 to %d", ErrBatch, b.Version, BatchVersion)
	}
	n := b.Len()
	for _, col := range b.intColumns() {
		if len(*col) != n {
			return fmt.Errorf("%w: columns of %d and %d entries", ErrBatch, n, len(*col))
		}
	}
	if err := checkEnds(b.Ends, len(b.Strings)); err != nil {
		return fmt.Errorf("%w: string table: %w", ErrBatch, err)
	}
	if err := checkEnds(b.ListEnds, len(b.ListItems)); err != nil {
		return fmt.Errorf("%w: list table: %w", ErrBatch, err)
	}
	strs, lists := uint32(len(b.Ends)), uint32(len(b.ListEnds))
	for _, it := range b.ListItems {
		if it > strs {
			return fmt.Errorf("%w: list item %d of %d strings", ErrBatch, it, strs)
		}
	}
	cols := b.stringColumns()
	for c, col := range cols {
		if len(*col) != n {
			return fmt.Errorf("%w: columns of %d and %d entries", ErrBatch, n, len(*col))
		}
		limit := strs
		if c >= len(cols)-listColumns {
			limit = lists
		}
		for _, v := range *col {
			if v > limit {
				return fmt.Errorf("%w: index %d of %d", ErrBatch, v, limit)
			}
		}
	}
	return nil
}

func checkEnds(ends []uint32, size int) error {
	prev := uint32(0)
	for _, e := range ends {
		if e < prev || int(e) > size {
			return fmt.Errorf("end %d after %d, of %d", e, prev, size)
		}
		prev = e
	}
	if len(ends) > 0 && int(prev) != size {
		return fmt.Errorf("ends at %d of %d", prev, size)
	}
	return nil
}

// BatchReader decodes batches into events, reusing its memory from one batch to the next.
// Strings are interned: a string seen in an earlier batch costs no allocation.
type BatchReader struct {
	b      Batch
	strs   []string
	lists  [][]string
	intern map[string]string
	v1     []byte // a version 1 batch, made a version 2 one (upgrade)
}

// The msgpack array headers of a version 1 batch (41 columns) and of a version 2 one (42).
var (
	headerV1 = []byte{0xdc, 0x00, 41}
	headerV2 = []byte{0xdc, 0x00, 42}
)

// internBound bounds the strings a BatchReader remembers across batches: past it the table
// starts again, so memory stays bounded whatever the variety of the input.
const internBound = 1 << 16

// Decode reads a batch's msgpack encoding. The events it holds are then read with Event.
func (r *BatchReader) Decode(data []byte) error {
	if bytes.HasPrefix(data, headerV1) {
		// A version 1 batch lacks the last column: it reads as version 2 with that column
		// empty (an empty msgpack array) after its own.
		r.v1 = append(append(append(r.v1[:0], headerV2...), data[len(headerV1):]...), 0x90)
		data = r.v1
	}
	rest, err := r.b.UnmarshalMsg(data)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrBatch, err)
	}
	if len(rest) > 0 {
		return fmt.Errorf("%w: %d bytes after the batch", ErrBatch, len(rest))
	}
	if n := r.b.Len(); len(r.b.OriginAuthSource) == 0 && n > 0 {
		// Written empty: no event has an authenticated source. The column's memory is kept
		// from batch to batch, as every other column's.
		col := slices.Grow(r.b.OriginAuthSource[:0], n)[:n]
		clear(col)
		r.b.OriginAuthSource = col
	}
	if err := r.b.validate(); err != nil {
		return err
	}
	if r.intern == nil || len(r.intern) > internBound {
		r.intern = make(map[string]string, 1024)
	}
	b := &r.b
	r.strs = append(r.strs[:0], "")
	start := uint32(0)
	for _, end := range b.Ends {
		raw := b.Strings[start:end]
		s, ok := r.intern[string(raw)]
		if !ok {
			s = string(raw)
			r.intern[s] = s
		}
		r.strs = append(r.strs, s)
		start = end
	}
	r.lists = append(r.lists[:0], nil)
	start = 0
	for _, end := range b.ListEnds {
		items := b.ListItems[start:end]
		l := make([]string, len(items))
		for i, it := range items {
			l[i] = r.strs[it]
		}
		r.lists = append(r.lists, l)
		start = end
	}
	return nil
}

// Len is the number of events in the batch decoded last.
func (r *BatchReader) Len() int { return r.b.Len() }

// Event fills ev with event i of the batch decoded last. Its slices (event.category,
// event.type, process.args) are shared by the events of the batch that have the same list:
// read them, copy them to keep them past the next Decode, never change them.
func (r *BatchReader) Event(i int, ev *Event) {
	b, s := &r.b, r.strs
	*ev = Event{
		Timestamp: time.Unix(0, b.Time[i]).UTC(),
		Event: Meta{Kind: s[b.Kind[i]], Category: r.lists[b.Category[i]], Type: r.lists[b.Type[i]],
			Action: s[b.Action[i]], Outcome: s[b.Outcome[i]], Module: s[b.Module[i]], Dataset: s[b.Dataset[i]]},
		Agent: Agent{Type: s[b.AgentType[i]]},
		Host:  Host{Name: s[b.HostName[i]], ID: s[b.HostID[i]], OS: OS{Type: s[b.OSType[i]], Family: s[b.OSFamily[i]]}},
		Process: Process{Name: s[b.ProcessName[i]], PID: b.PID[i], Executable: s[b.Executable[i]],
			Args: r.lists[b.Args[i]], Title: s[b.Title[i]], WorkingDirectory: s[b.WorkingDirectory[i]],
			Parent: Parent{PID: b.ParentPID[i]}},
		User:        User{Name: s[b.UserName[i]], ID: s[b.UserID[i]]},
		Source:      Endpoint{IP: s[b.SourceIP[i]], Port: int(b.SourcePort[i]), Path: s[b.SourcePath[i]]},
		Destination: Endpoint{IP: s[b.DestinationIP[i]], Port: int(b.DestinationPort[i]), Path: s[b.DestinationPath[i]]},
		Network: Network{Type: s[b.NetworkType[i]], Transport: s[b.Transport[i]], Direction: s[b.Direction[i]],
			Family: s[b.Family[i]]},
		Origin: Origin{Source: s[b.OriginSource[i]], Line: b.OriginLine[i], Format: s[b.OriginFormat[i]],
			Filtered: s[b.OriginFiltered[i]], AuthSource: s[b.OriginAuthSource[i]]},
	}
}

// EncodeBatch encodes events as one batch: for tests and tools that publish events directly.
func EncodeBatch(events ...*Event) ([]byte, error) {
	var bb BatchBuilder
	for _, ev := range events {
		bb.Add(ev)
	}
	return bb.AppendMsg(nil)
}

// DecodeBatch decodes a batch into events of their own: for tests and tools that read event
// batches, not for the hot path.
func DecodeBatch(data []byte) ([]*Event, error) {
	var r BatchReader
	if err := r.Decode(data); err != nil {
		return nil, err
	}
	out := make([]*Event, r.Len())
	for i := range out {
		var ev Event
		r.Event(i, &ev)
		out[i] = ev.Clone()
	}
	return out, nil
}

// Append adds the events of other after those of bb, as if they had been added to bb one
// by one: the batch that results is the same, byte for byte (tables keep the order in which
// strings and lists first appear). Decoders working on parts of one input in parallel put
// their parts together with it. Reset other before using it again: into an empty bb,
// Append takes other's memory rather than copying it (and leaves other empty).
func (bb *BatchBuilder) Append(other *BatchBuilder) {
	o := &other.b
	if o.Len() == 0 {
		return
	}
	if bb.Len() == 0 && len(bb.b.Ends) == 0 && len(bb.b.ListEnds) == 0 {
		// Into an empty batch, other's tables and columns are the result as they are: the
		// builders trade places (the first part of every large raw message is appended so).
		*bb, *other = *other, *bb
		other.Reset()
		return
	}
	if bb.strings == nil {
		bb.strings, bb.lists = map[string]uint32{}, map[string]uint32{}
	}
	strs := make([]uint32, len(o.Ends)+1) // other's string index -> bb's
	start := uint32(0)
	for i, end := range o.Ends {
		strs[i+1] = bb.strBytes(o.Strings[start:end])
		start = end
	}
	lists := make([]uint32, len(o.ListEnds)+1)
	start = 0
	for i, end := range o.ListEnds {
		key := bb.key[:0]
		for _, it := range o.ListItems[start:end] {
			key = binary.LittleEndian.AppendUint32(key, strs[it])
		}
		bb.key = key
		li, ok := bb.lists[string(key)]
		if !ok {
			b := &bb.b
			for k := 0; k < len(key); k += 4 {
				b.ListItems = append(b.ListItems, binary.LittleEndian.Uint32(key[k:]))
			}
			b.ListEnds = append(b.ListEnds, uint32(len(b.ListItems)))
			li = uint32(len(b.ListEnds))
			bb.lists[string(key)] = li
		}
		lists[i+1] = li
		start = end
	}
	b := &bb.b
	dst, src := b.stringColumns(), o.stringColumns()
	for c := range dst {
		table := strs
		if c >= len(dst)-listColumns {
			table = lists
		}
		for _, v := range *src[c] {
			*dst[c] = append(*dst[c], table[v])
		}
	}
	di, si := b.intColumns(), o.intColumns()
	for c := range di {
		*di[c] = append(*di[c], *si[c]...)
	}
	bb.authed = bb.authed || other.authed
	// The last values of bb's columns still hold: Append added no string they name anew.
}
