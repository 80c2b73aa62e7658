package scorer

import (
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/tinylib/msgp/msgp"

	"github.com/rarenet/rarenet/shared/control"
	"github.com/rarenet/rarenet/shared/rawdata"
)

// msgpackEncoder encodes the scorer's msgpack messages in a scratch buffer it keeps from one
// message to the next. MarshalMsg(nil) grows a new buffer by doubling for every message, and
// s2.Encode(nil, ...) allocates its worst case: for the partition closes of a replay that was
// three times their size in garbage before compression. Each message now gets only its own
// bytes, of their final size. A msgpackEncoder is not safe for concurrent use.
type msgpackEncoder struct {
	buf []byte
	s2  rawdata.Encoder
}

// marshal encodes v into the scratch buffer: the result is valid until the next call.
func (e *msgpackEncoder) marshal(v msgp.Marshaler) ([]byte, error) {
	b, err := v.MarshalMsg(e.buf[:0])
	if err != nil {
		return nil, fmt.Errorf("scorer: encode %T: %w", v, err)
	}
	e.buf = b
	return b, nil
}

// compressed returns a message on subject holding data (msgpack), compressed when that pays
// (rawdata), with bytes of its own: data may be the scratch buffer.
func (e *msgpackEncoder) compressed(subject string, data []byte) *nats.Msg {
	m := msgpackMsg(subject)
	e.s2.Compress(m, data)
	return m
}

// msgpackMsg is a message on subject whose data is msgpack, saying so in
// control.HeaderEncoding.
func msgpackMsg(subject string) *nats.Msg {
	m := nats.NewMsg(subject)
	m.Header.Set(control.HeaderEncoding, control.EncodingMsgpack)
	return m
}
