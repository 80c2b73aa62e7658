package control

import (
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

func TestMarkerRoundTrip(t *testing.T) {
	tests := []Marker{
		{Kind: KindWatermark, Watermark: time.UnixMilli(1700000000123).UTC()},
		{Kind: KindEOF, Watermark: time.UnixMilli(1700000900000).UTC(), Replay: "r1", Partition: 7,
			Stats: map[string]string{"ingest": `{"lines":3}`, "scorer": `{"records":1}`}},
		{Kind: KindEOF, Replay: "r2"},
	}
	for _, want := range tests {
		t.Run(want.Kind+want.Replay, func(t *testing.T) {
			msg := want.Msg("rarenet.events.7")
			if !IsControl(msg.Header) {
				t.Fatal("IsControl = false for a marker")
			}
			got, err := Parse(msg.Header)
			if err != nil {
				t.Fatal(err)
			}
			if !got.Watermark.Equal(want.Watermark) || got.Kind != want.Kind || got.Replay != want.Replay ||
				got.Partition != want.Partition || len(got.Stats) != len(want.Stats) {
				t.Fatalf("got %+v, want %+v", got, want)
			}
			for k, v := range want.Stats {
				if got.Stats[k] != v {
					t.Errorf("stats[%s] = %q, want %q", k, got.Stats[k], v)
				}
			}
		})
	}
}

func TestParseRejectsBadHeaders(t *testing.T) {
	tests := map[string]nats.Header{
		"unknown kind":        {HeaderKind: {"pause"}},
		"watermark not ms":    {HeaderKind: {KindWatermark}, HeaderWatermark: {"yesterday"}},
		"watermark missing":   {HeaderKind: {KindWatermark}},
		"partition not a num": {HeaderKind: {KindEOF}, HeaderPartition: {"x"}},
	}
	for name, h := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := Parse(h); !errors.Is(err, ErrBadMarker) {
				t.Fatalf("err = %v, want ErrBadMarker", err)
			}
		})
	}
	if IsControl(nats.Header{}) || IsControl(nil) {
		t.Error("IsControl true for a data message")
	}
}
