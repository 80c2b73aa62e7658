package ecs

import (
	stdjson "encoding/json"
	"strings"
	"testing"

	"github.com/buger/jsonparser"
	gojson "github.com/goccy/go-json"
	"github.com/valyala/fastjson"
)

// ecsDoc is the nested spelling of the fields the decoder reads, for the struct decoders.
// It cannot hold the dotted spellings (nor tell a key's case: struct decoders match keys
// case-insensitively), which is one reason the decoder is not built on one.
type ecsDoc struct {
	Timestamp any `json:"@timestamp"`
	Event     struct {
		Kind, Action, Outcome, Module, Dataset any
		Category, Type                         any
	} `json:"event"`
	Agent struct{ Type any } `json:"agent"`
	Host  struct {
		Name, ID any
		OS       struct{ Type, Family any } `json:"os"`
	} `json:"host"`
	Process struct {
		Name             any               `json:"name"`
		PID              any               `json:"pid"`
		PPID             any               `json:"ppid"`
		Executable       any               `json:"executable"`
		Args             any               `json:"args"`
		Title            any               `json:"title"`
		WorkingDirectory any               `json:"working_directory"`
		Parent           struct{ PID any } `json:"parent"`
	} `json:"process"`
	User        struct{ Name, ID any }                   `json:"user"`
	Source      struct{ IP, Port any }                   `json:"source"`
	Destination struct{ IP, Port any }                   `json:"destination"`
	Network     struct{ Type, Transport, Direction any } `json:"network"`
}

// BenchmarkLibraries compares JSON libraries on the benchMix documents, each reading the
// fields the decoder needs the way the library is meant to be used, and the decoder itself:
//
//   - encoding-json-map: encoding/json into map[string]any and lookup, the first decoder's core;
//   - encoding-json-struct, goccy-struct: struct decoding of the nested spelling only;
//   - goccy-map: github.com/goccy/go-json into map[string]any and lookup;
//   - jsonparser: github.com/buger/jsonparser's EachKey over the nested paths, one pass and
//     no tree, but lenient (no validation) and blind to dotted keys;
//   - fastjson: github.com/valyala/fastjson's reused Parser and Get per path, lenient too;
//   - decoder: this package's Decoder, fastjson-based, doing all the decoder does.
//
// sonic (github.com/bytedance/sonic) is not measured here: it compiles decoders with a JIT
// for amd64 and arm64 only (elsewhere it falls back to encoding/json), pulls in six modules,
// and decodes into structs or maps, with the struct decoders' limits above.
//
//	go test -run '^$' -bench BenchmarkLibraries -benchmem ./format/ecs/
func BenchmarkLibraries(b *testing.B) {
	mix, size := benchMix(b)
	paths := make([][]string, len(fieldNames))
	for i, name := range fieldNames {
		paths[i] = strings.Split(name, ".")
	}
	run := func(name string, decode func(line []byte) int) {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(size)
			b.ReportAllocs()
			i, found := 0, 0
			cpu := cpuTime()
			for b.Loop() {
				found += decode(mix[i%len(mix)])
				i++
			}
			if found == 0 {
				b.Fatal("no field found")
			}
			if cpu := cpuTime() - cpu; cpu > 0 {
				b.ReportMetric(float64(cpu)/float64(b.N), "cpu-ns/op")
			}
		})
	}
	lookupAll := func(m map[string]any) int {
		n := 0
		for _, name := range fieldNames {
			if _, ok := lookup(m, name); ok {
				n++
			}
		}
		return n
	}
	run("encoding-json-map", func(line []byte) int {
		var m map[string]any
		if stdjson.Unmarshal(line, &m) != nil {
			return 0
		}
		return lookupAll(m)
	})
	run("encoding-json-struct", func(line []byte) int {
		var d ecsDoc
		if stdjson.Unmarshal(line, &d) != nil || d.Process.Name == nil {
			return 0
		}
		return 1
	})
	run("goccy-map", func(line []byte) int {
		var m map[string]any
		if gojson.Unmarshal(line, &m) != nil {
			return 0
		}
		return lookupAll(m)
	})
	run("goccy-struct", func(line []byte) int {
		var d ecsDoc
		if gojson.Unmarshal(line, &d) != nil || d.Process.Name == nil {
			return 0
		}
		return 1
	})
	run("jsonparser", func(line []byte) int {
		n := 0
		jsonparser.EachKey(line, func(int, []byte, jsonparser.ValueType, error) { n++ }, paths...)
		return n
	})
	var p fastjson.Parser
	run("fastjson", func(line []byte) int {
		v, err := p.ParseBytes(line)
		if err != nil {
			return 0
		}
		n := 0
		for _, path := range paths {
			if v.Get(path...) != nil {
				n++
			}
		}
		return n
	})
	d := New()
	run("decoder", func(line []byte) int {
		if ev, _ := d.decode(line); ev != nil {
			return 1
		}
		return 0
	})
}
