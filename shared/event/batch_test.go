package event

import (
	"errors"
	"reflect"
	"strconv"
	"testing"
	"time"
)

func sampleEvents() []*Event {
	t0 := time.Date(2026, 3, 2, 0, 0, 0, 430_000_000, time.UTC)
	full := &Event{
		Timestamp: t0,
		Event:     Connection("connected-to"),
		Agent:     Agent{Type: "auditbeat"},
		Host:      Host{Name: "web-06", ID: "h-1", OS: OS{Type: "linux", Family: "debian"}},
		Process: Process{Name: "curl", PID: 4242, Executable: "/usr/bin/curl", Args: []string{"curl", "-s", "http://x/"},
			Title: "curl -s http://x/", WorkingDirectory: "/tmp", Parent: Parent{PID: 1}},
		User:        User{Name: "www-data", ID: "33"},
		Source:      Endpoint{IP: "10.0.0.5", Port: 40000},
		Destination: Endpoint{IP: "203.0.113.9", Port: 443},
		Network:     Network{Type: "ipv4", Transport: "tcp", Direction: "egress", Family: "inet"},
		Origin:      Origin{Source: "audit.log", Line: 17, Format: "auditd", Filtered: ""},
	}
	full.Event.Outcome, full.Event.Module, full.Event.Dataset = "success", "auditd", "auditd.log"
	same := full.Clone()
	same.Timestamp = t0.Add(time.Millisecond)
	same.Origin.Line = 23
	// Posted with a token: its source vouched for.
	bound := full.Clone()
	bound.Origin = Origin{Source: "web-shipper-2", Line: 3, Format: "ecs", AuthSource: "web-shipper-2"}
	unix := &Event{Timestamp: t0.Add(-time.Hour), Event: Meta{Category: []string{"network"}},
		Process: Process{Name: "master"}, Destination: Endpoint{Path: "public/pickup"}, Network: Network{Family: "unix"},
		Origin: Origin{Filtered: "not network activity"}}
	empty := &Event{Timestamp: time.Unix(0, 0).UTC()}
	// Strings that differ only past a shared prefix, and arguments with a NUL byte in them.
	odd := &Event{Timestamp: t0, Process: Process{Name: "cur", Args: []string{"a\x00b", ""}}, User: User{Name: "curl"}}
	return []*Event{full, bound, same, unix, empty, odd}
}

// TestBatchAuthSource checks that a batch none of whose events has an authenticated source
// writes the column empty (one byte), and that a version 1 batch, which has no such column,
// still reads.
func TestBatchAuthSource(t *testing.T) {
	var evs []*Event
	for _, ev := range sampleEvents() {
		if ev.Origin.AuthSource == "" {
			evs = append(evs, ev)
		}
	}
	data, err := EncodeBatch(evs...)
	if err != nil {
		t.Fatal(err)
	}
	if data[len(data)-1] != 0x90 {
		t.Fatalf("the batch ends in %#x, want an empty array (0x90): the column written in full", data[len(data)-1])
	}
	// Version 1: 41 columns, the version byte 1.
	v1 := append([]byte{0xdc, 0x00, 41, 1}, data[4:len(data)-1]...)
	if data[3] != BatchVersion {
		t.Fatalf("version byte %d, want %d", data[3], BatchVersion)
	}
	var r BatchReader
	for name, b := range map[string][]byte{"version 2": data, "version 1": v1} {
		if err := r.Decode(b); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for i, want := range evs {
			var got Event
			r.Event(i, &got)
			if !reflect.DeepEqual(&got, want) {
				t.Errorf("%s event %d:\n got %+v\nwant %+v", name, i, got, *want)
			}
		}
	}
}

func TestBatchRoundTrip(t *testing.T) {
	evs := sampleEvents()
	data, err := EncodeBatch(evs...)
	if err != nil {
		t.Fatal(err)
	}
	var r BatchReader
	if err := r.Decode(data); err != nil {
		t.Fatal(err)
	}
	if r.Len() != len(evs) {
		t.Fatalf("Len = %d, want %d", r.Len(), len(evs))
	}
	for i, want := range evs {
		var got Event
		r.Event(i, &got)
		if !reflect.DeepEqual(&got, want) {
			t.Errorf("event %d:\n got %+v\nwant %+v", i, got, *want)
		}
	}
}

// TestBatchBuilderReuse checks that a builder reset between batches starts from nothing and
// that a reader reused across batches reads each one alone.
func TestBatchBuilderReuse(t *testing.T) {
	evs := sampleEvents()
	var bb BatchBuilder
	var r BatchReader
	for round := range 3 {
		bb.Reset()
		for _, ev := range evs[round:] {
			bb.Add(ev)
		}
		data, err := bb.AppendMsg(nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Decode(data); err != nil {
			t.Fatal(err)
		}
		if r.Len() != len(evs)-round {
			t.Fatalf("round %d: Len = %d, want %d", round, r.Len(), len(evs)-round)
		}
		for i, want := range evs[round:] {
			var got Event
			r.Event(i, &got)
			if !reflect.DeepEqual(&got, want) {
				t.Errorf("round %d event %d:\n got %+v\nwant %+v", round, i, got, *want)
			}
		}
	}
}

// TestBatchAddCopies checks that the builder keeps its own copy of what it is given: decoders
// reuse their events and buffers.
func TestBatchAddCopies(t *testing.T) {
	buf := []byte("curl")
	ev := &Event{Timestamp: time.Unix(1, 0).UTC(), Process: Process{Name: string(buf), Args: []string{"x"}}}
	var bb BatchBuilder
	bb.Add(ev)
	ev.Process.Args[0] = "changed"
	ev.Process.Name = "changed"
	data, err := bb.AppendMsg(nil)
	if err != nil {
		t.Fatal(err)
	}
	var r BatchReader
	if err := r.Decode(data); err != nil {
		t.Fatal(err)
	}
	var got Event
	r.Event(0, &got)
	if got.Process.Name != "curl" || got.Process.Args[0] != "x" {
		t.Fatalf("got %q %q, want the values at Add", got.Process.Name, got.Process.Args)
	}
}

func TestBatchRejectsCorruption(t *testing.T) {
	good, err := EncodeBatch(sampleEvents()...)
	if err != nil {
		t.Fatal(err)
	}
	var b Batch
	if _, err := b.UnmarshalMsg(good); err != nil {
		t.Fatal(err)
	}
	corrupt := map[string]func(b *Batch){
		"short column":        func(b *Batch) { b.HostName = b.HostName[:1] },
		"string out of range": func(b *Batch) { b.ProcessName[0] = uint32(len(b.Ends) + 1) },
		"list out of range":   func(b *Batch) { b.Args[0] = uint32(len(b.ListEnds) + 1) },
		"list item":           func(b *Batch) { b.ListItems[0] = uint32(len(b.Ends) + 5) },
		"ends backwards":      func(b *Batch) { b.Ends[1] = b.Ends[0] - 1 },
		"ends past table":     func(b *Batch) { b.Ends[len(b.Ends)-1] = uint32(len(b.Strings) + 1) },
		"version":             func(b *Batch) { b.Version = 99 },
	}
	for name, f := range corrupt {
		t.Run(name, func(t *testing.T) {
			var c Batch
			if _, err := c.UnmarshalMsg(good); err != nil {
				t.Fatal(err)
			}
			f(&c)
			data, err := c.MarshalMsg(nil)
			if err != nil {
				t.Fatal(err)
			}
			var r BatchReader
			if err := r.Decode(data); !errors.Is(err, ErrBatch) {
				t.Fatalf("Decode = %v, want ErrBatch", err)
			}
		})
	}
	var r BatchReader
	for _, data := range [][]byte{nil, []byte(`{"process":{"name":"curl"}}`), good[:len(good)/2], append(good, 0)} {
		if err := r.Decode(data); !errors.Is(err, ErrBatch) {
			t.Errorf("Decode(%d bytes) = %v, want ErrBatch", len(data), err)
		}
	}
}

func FuzzBatchDecode(f *testing.F) {
	good, err := EncodeBatch(sampleEvents()...)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte{0xdc, 0x00, 0x29, 0x01})
	f.Fuzz(func(t *testing.T, data []byte) {
		var r BatchReader
		if err := r.Decode(data); err != nil {
			return
		}
		// A batch that decodes can be read in full and encodes to a batch with the same
		// events.
		var bb BatchBuilder
		evs := make([]*Event, r.Len())
		for i := range evs {
			evs[i] = &Event{}
			r.Event(i, evs[i])
			evs[i] = evs[i].Clone()
			bb.Add(evs[i])
		}
		again, err := bb.AppendMsg(nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Decode(again); err != nil {
			t.Fatalf("re-encoded batch does not decode: %v", err)
		}
		for i, want := range evs {
			var got Event
			r.Event(i, &got)
			if !reflect.DeepEqual(&got, want) {
				t.Fatalf("event %d changed on re-encoding:\n got %+v\nwant %+v", i, got, *want)
			}
		}
	})
}

// BenchmarkBatch measures encoding and decoding a partition's batch of a raw message's events.
func BenchmarkBatch(b *testing.B) {
	base := sampleEvents()[0]
	evs := make([]*Event, 256)
	for i := range evs {
		e := base.Clone()
		e.Timestamp = e.Timestamp.Add(time.Duration(i) * time.Millisecond)
		e.Process.PID = int64(1000 + i%7)
		e.Host.Name = "web-0" + strconv.Itoa(i%6)
		e.Destination.IP = "10.0.0." + strconv.Itoa(i%40)
		e.Origin.Line = int64(i + 1)
		evs[i] = e
	}
	var bb BatchBuilder
	var r BatchReader
	var ev Event
	buf, err := EncodeBatch(evs...)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("encode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			bb.Reset()
			for _, e := range evs {
				bb.Add(e)
			}
			var err error
			if buf, err = bb.AppendMsg(buf[:0]); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(buf))/float64(len(evs)), "bytes/event")
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(evs)), "ns/event")
	})
	b.Run("append", func(b *testing.B) {
		// As ingest puts a large raw message's parts together: each part's batch, built by a
		// worker, appended in order to the message's (empty) batch, which then goes out.
		var parts [2]BatchBuilder
		b.ReportAllocs()
		for b.Loop() {
			for i := range parts {
				parts[i].Reset()
				for _, e := range evs[i*len(evs)/2 : (i+1)*len(evs)/2] {
					parts[i].Add(e)
				}
			}
			bb.Reset()
			for i := range parts {
				bb.Append(&parts[i])
			}
			var err error
			if buf, err = bb.AppendMsg(buf[:0]); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(evs)), "ns/event")
	})
	b.Run("decode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := r.Decode(buf); err != nil {
				b.Fatal(err)
			}
			for i := range r.Len() {
				r.Event(i, &ev)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(evs)), "ns/event")
	})
}

// TestBatchAppend checks that batches built in parts and appended are the batch built in one.
func TestBatchAppend(t *testing.T) {
	evs := sampleEvents()
	for cut := range len(evs) + 1 {
		var whole, first, second BatchBuilder
		for i, ev := range evs {
			whole.Add(ev)
			if i < cut {
				first.Add(ev)
			} else {
				second.Add(ev)
			}
		}
		first.Append(&second)
		a, err := whole.AppendMsg(nil)
		if err != nil {
			t.Fatal(err)
		}
		b, err := first.AppendMsg(nil)
		if err != nil {
			t.Fatal(err)
		}
		if string(a) != string(b) {
			t.Fatalf("cut at %d: the appended batch differs from the one built whole", cut)
		}
		// And events added after an Append still find the tables' strings.
		first.Add(evs[0])
		whole.Add(evs[0])
		a, _ = whole.AppendMsg(nil)
		b, _ = first.AppendMsg(nil)
		if string(a) != string(b) {
			t.Fatalf("cut at %d: an event added after Append differs", cut)
		}
	}
}
