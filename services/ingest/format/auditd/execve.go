package auditd

// execve rebuilds argv from the EXECVE records of an event: argc, then a0..aN, where an
// argument too long for one record is written as aN_len=... aN[0]=... aN[1]=..., and long
// argument lists span several records. A decoder keeps one and reuses its slices.
type execve struct {
	fields []kv      // the fields of the event's EXECVE records, in order
	plain  []int     // by argument: the field of aN, or -1
	split  []bool    // by argument: whether aN_len was seen
	parts  []argPart // the aN[k] fields, in order
}

type kv struct{ key, val span }

// argPart is a field aN[k]: part k of argument n.
type argPart struct{ arg, part, field int }

// reset forgets the fields of the previous event.
func (x *execve) reset() { x.fields = x.fields[:0] }

// add collects the fields of an EXECVE record whose body is at body of buf.
func (x *execve) add(buf []byte, body span) {
	s := buf[:body.end]
	for i := body.start; ; {
		k, v, ok := nextField(s, i)
		if !ok {
			return
		}
		i = v.end
		x.fields = append(x.fields, kv{k, v})
	}
}

// Kinds of EXECVE field names.
const (
	nameOther   = iota
	nameArgc    // argc
	nameArg     // aN
	nameArgLen  // aN_len
	nameArgPart // aN[k]
)

// argv appends the arguments of the fields collected to args, decoding each with scratch
// and interning it in strs. It appends nothing without fields; when a record of the event
// was lost it keeps the arguments before the first one missing. Where a name repeats, its
// first value counts.
func (x *execve) argv(buf []byte, args []string, scratch []byte, strs *interner) ([]string, []byte) {
	n := len(x.fields)
	if n == 0 {
		return args, scratch
	}
	// An argument index or part number past the number of fields can never be reached:
	// each argument before it takes a field of its own.
	x.plain = resize(x.plain, n, -1)
	x.split = resize(x.split, n, false)
	x.parts = x.parts[:0]
	argc, haveArgc := int64(-1), false
	for i, f := range x.fields {
		kind, arg, part := argName(f.key.in(buf))
		switch {
		case kind == nameArgc && !haveArgc:
			haveArgc = true
			if v, ok := parseDecimal(f.val.in(buf)); ok && v >= 0 {
				argc = v // otherwise read arguments until one is missing
			}
		case kind == nameArg && arg < n && x.plain[arg] < 0:
			x.plain[arg] = i
		case kind == nameArgLen && arg < n:
			x.split[arg] = true
		case kind == nameArgPart && arg < n && part < n:
			x.parts = append(x.parts, argPart{arg, part, i})
		}
	}
	for i := 0; (argc < 0 || int64(i) < argc) && i < n; i++ {
		if f := x.plain[i]; f >= 0 {
			scratch = appendValue(scratch[:0], x.fields[f].val.in(buf))
			args = append(args, strs.str(scratch))
			continue
		}
		if !x.split[i] {
			break // a record of the event was lost; keep what there is
		}
		scratch = scratch[:0]
		for k := 0; ; k++ {
			f := x.part(i, k)
			if f < 0 {
				break
			}
			scratch = appendValue(scratch, x.fields[f].val.in(buf))
		}
		args = append(args, strs.str(scratch))
	}
	return args, scratch
}

// part returns the first field of part k of argument arg, or -1.
func (x *execve) part(arg, k int) int {
	for _, p := range x.parts {
		if p.arg == arg && p.part == k {
			return p.field
		}
	}
	return -1
}

// argName tells which kind of EXECVE field a name is, with its argument index and part
// number. Indexes are written in decimal without leading zeros; others name no argument.
func argName(name []byte) (kind, arg, part int) {
	if string(name) == "argc" {
		return nameArgc, 0, 0
	}
	if len(name) < 2 || name[0] != 'a' {
		return nameOther, 0, 0
	}
	arg, rest, ok := index(name[1:])
	switch {
	case !ok:
		return nameOther, 0, 0
	case len(rest) == 0:
		return nameArg, arg, 0
	case string(rest) == "_len":
		return nameArgLen, arg, 0
	case rest[0] == '[' && rest[len(rest)-1] == ']':
		part, tail, ok := index(rest[1 : len(rest)-1])
		if ok && len(tail) == 0 {
			return nameArgPart, arg, part
		}
	}
	return nameOther, 0, 0
}

// index reads a decimal index at the start of s, as strconv.Itoa writes it, and returns the
// rest of s. Indexes of more than nine digits are refused: no record holds that many fields.
func index(s []byte) (n int, rest []byte, ok bool) {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		n = n*10 + int(s[i]-'0')
		i++
		if i > 9 {
			return 0, nil, false
		}
	}
	if i == 0 || i > 1 && s[0] == '0' {
		return 0, nil, false
	}
	return n, s[i:], true
}

// resize returns s with length n, every element set to v, reusing its array.
func resize[T any](s []T, n int, v T) []T {
	if cap(s) < n {
		s = make([]T, n)
	}
	s = s[:n]
	for i := range s {
		s[i] = v
	}
	return s
}
