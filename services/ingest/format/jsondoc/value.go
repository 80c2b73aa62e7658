package jsondoc

// role says what a value is to the reader: most are only copied; the top-level value and
// the members of a _search response that lead to its hits are watched.
type role uint8

const (
	roleNone      role = iota
	roleTop            // a top-level value, or a top-level array's element: a _search response?
	roleHitsOuter      // the top-level value's "hits" object
	roleHit            // an element of hits.hits: its _source is the document
)

// value reads one JSON value at the current byte (white space before it skipped).
func (p *parser) value(r role) error {
	c, ok := p.skipSpace()
	if !ok {
		return p.eofError("a value")
	}
	switch {
	case c == '{':
		return p.object(r)
	case c == '[':
		return p.arrayValue()
	case c == '"':
		return p.str()
	case c == '-' || c >= '0' && c <= '9' || c == 't' || c == 'f' || c == 'n':
		return p.literal()
	}
	return p.errorf("expected a value, got %q", c)
}

// object reads an object; r says which member leads to a _search response's hits.
func (p *parser) object(r role) error {
	if p.depth++; p.depth > maxDepth {
		return p.errorf("nested deeper than %d", maxDepth)
	}
	defer func() { p.depth-- }()
	p.i++
	p.put('{')
	for n := 0; ; n++ {
		c, ok := p.skipSpace()
		if !ok {
			return p.eofError("a member or }")
		}
		if c == '}' {
			p.i++
			p.put('}')
			return nil
		}
		if n > 0 {
			if c != ',' {
				return p.errorf("expected , or } after an object member, got %q", c)
			}
			p.i++
			p.put(',')
			if c, ok = p.skipSpace(); !ok {
				return p.eofError("a member name")
			}
		}
		if c != '"' {
			return p.errorf("expected a member name in double quotes, got %q", c)
		}
		keyAt := len(p.out)
		if err := p.str(); err != nil {
			return err
		}
		key := ""
		if r != roleNone && keyAt < len(p.out) {
			key = string(p.out[keyAt:])
		}
		if c, ok = p.skipSpace(); !ok {
			return p.eofError(":")
		}
		if c != ':' {
			return p.errorf("expected : after a member name, got %q", c)
		}
		p.i++
		p.put(':')
		if c, ok = p.skipSpace(); !ok {
			return p.eofError("a value")
		}
		var err error
		switch {
		case r == roleTop && key == `"hits"` && c == '{':
			err = p.object(roleHitsOuter)
		case r == roleHitsOuter && key == `"hits"` && c == '[':
			err = p.hits()
		case r == roleHit && key == `"_source"`:
			p.srcStart = len(p.out)
			err = p.value(roleNone)
			p.srcEnd = len(p.out)
		default:
			err = p.value(roleNone)
		}
		if err != nil {
			return err
		}
	}
}

// hits reads a _search response's hits.hits array: each hit is a unit of its own, whose
// _source goes to fn. What was read of the response before is dropped: it is not a document.
func (p *parser) hits() error {
	p.search = true
	p.i++
	for n := 0; ; n++ {
		c, ok := p.skipSpace()
		if !ok {
			return p.eofError("a hit or ]")
		}
		if c == ']' {
			p.i++
			p.out, p.raw, p.rawFrom = p.out[:0], p.raw[:0], p.i
			p.put(']')
			return nil
		}
		if n > 0 {
			if c != ',' {
				return p.errorf("expected , or ] after a hit, got %q", c)
			}
			p.i++
			if c, ok = p.skipSpace(); !ok {
				return p.eofError("a hit")
			}
		}
		// The hit is the unit now: a reject of it names its line and keeps its text only.
		p.out, p.raw, p.size = p.out[:0], p.raw[:0], 0
		p.rawFrom, p.unitLine, p.srcEnd = p.i, p.line, 0
		depth := p.depth
		p.depth = 0
		if err := p.value(roleHit); err != nil {
			return err
		}
		p.depth = depth
		doc := p.out
		if p.srcEnd > 0 {
			doc = p.out[p.srcStart:p.srcEnd]
		}
		if err := p.emit(doc); err != nil {
			return err
		}
	}
}

// arrayValue reads an array below the top level.
func (p *parser) arrayValue() error {
	if p.depth++; p.depth > maxDepth {
		return p.errorf("nested deeper than %d", maxDepth)
	}
	defer func() { p.depth-- }()
	p.i++
	p.put('[')
	for n := 0; ; n++ {
		c, ok := p.skipSpace()
		if !ok {
			return p.eofError("a value or ]")
		}
		if c == ']' {
			p.i++
			p.put(']')
			return nil
		}
		if n > 0 {
			if c != ',' {
				return p.errorf("expected , or ] after an array element, got %q", c)
			}
			p.i++
			p.put(',')
		}
		if err := p.value(roleNone); err != nil {
			return err
		}
	}
}

// str reads a string; it cannot span lines.
func (p *parser) str() error {
	start := p.i
	p.i++
	for p.i < len(p.buf) {
		switch p.buf[p.i] {
		case '\\':
			p.i += 2
			continue
		case '"':
			p.i++
			p.put(p.buf[start:p.i]...)
			return nil
		}
		if p.buf[p.i] < 0x20 {
			return p.errorf("control character %q in a string", p.buf[p.i])
		}
		p.i++
	}
	p.i = len(p.buf)
	return p.errorf("string not closed at the end of the line")
}

// literal reads a number, true, false or null; the decoder checks its spelling.
func (p *parser) literal() error {
	start := p.i
	for p.i < len(p.buf) {
		c := p.buf[p.i]
		if c == '-' || c == '+' || c == '.' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' {
			p.i++
			continue
		}
		break
	}
	p.put(p.buf[start:p.i]...)
	return nil
}

// eofError is the syntax error of input that ends inside a document.
func (p *parser) eofError(want string) error {
	return &syntaxError{line: p.line, col: len(p.buf) + 1, msg: "the input ends inside a document, expected " + want}
}
