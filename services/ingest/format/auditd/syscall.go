package auditd

import (
	"bytes"
	"encoding/binary"
	"strings"
)

// archLE is the __AUDIT_ARCH_LE bit of an AUDIT_ARCH_* value: the arch is little-endian,
// which decides how the family in a SOCKADDR's raw bytes reads.
const archLE = 0x40000000

// sysNumbers holds the connect and socketcall syscall numbers of an audit arch; socketcall
// is 0 where the arch has none. On i386, s390x and ppc, libc may reach connect through
// socketcall(SYS_CONNECT=3, ...), so both must count.
type sysNumbers struct {
	connect, socketcall int64
}

// connectNumbers returns the syscall numbers of an AUDIT_ARCH_* value.
func connectNumbers(arch uint32) (sysNumbers, bool) {
	switch arch {
	case 0xc000003e: // x86_64
		return sysNumbers{connect: 42}, true
	case 0xc00000b7, 0xc00000f3: // aarch64, riscv64
		return sysNumbers{connect: 203}, true
	case 0x40000003: // i386
		return sysNumbers{connect: 362, socketcall: 102}, true
	case 0x40000028: // arm
		return sysNumbers{connect: 283}, true
	case 0x80000015, 0xc0000015: // ppc64, ppc64le
		return sysNumbers{connect: 328, socketcall: 102}, true
	case 0x80000016: // s390x
		return sysNumbers{connect: 362, socketcall: 102}, true
	}
	return sysNumbers{}, false
}

// archByName returns the AUDIT_ARCH_* value of the names ausearch -i and the ENRICHED format
// write, in any case.
func archByName(name []byte) (uint32, bool) {
	var lower [8]byte // longer than every name
	if len(name) > len(lower) {
		return 0, false
	}
	for i, c := range name {
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		lower[i] = c
	}
	switch string(lower[:len(name)]) {
	case "x86_64":
		return 0xc000003e, true
	case "aarch64":
		return 0xc00000b7, true
	case "riscv64":
		return 0xc00000f3, true
	case "i386", "i686":
		return 0x40000003, true
	case "arm":
		return 0x40000028, true
	case "armeb":
		return 0x00000028, true
	case "ppc64":
		return 0x80000015, true
	case "ppc64le":
		return 0xc0000015, true
	case "s390x":
		return 0x80000016, true
	}
	return 0, false
}

// sysConnect is the socketcall call number of connect.
const sysConnect = 3

// parseArch returns the AUDIT_ARCH_* value of a SYSCALL record's arch field, written as hex
// by the kernel or as a name by tools that interpret the log. (Only ASCII letters need
// folding: no other character lower-cases to a letter of an arch name.)
func parseArch(s []byte) (uint32, bool) {
	// No name is valid hex, so the order does not matter; numbers are the common case.
	if a, ok := parseHex(s, 32); ok {
		return uint32(a), true
	}
	return archByName(s)
}

// connectCall reports whether a SYSCALL record is a connect, from its syscall and a0 fields
// as written, its arch (parseArch) and the syscall name of the ENRICHED part (empty when
// absent).
func connectCall(nr, a0 []byte, arch uint32, archOK bool, name []byte) bool {
	if len(name) == 0 && len(nr) > 0 && !isDigits(nr) {
		name = nr // the log was interpreted already
	}
	if len(name) > 0 {
		return connectName(name, a0)
	}
	if !archOK {
		return false
	}
	nums, ok := connectNumbers(arch)
	if !ok {
		return false
	}
	n, ok := parseDecimal(nr)
	if !ok {
		return false
	}
	if n == nums.connect {
		return true
	}
	if nums.socketcall == 0 || n != nums.socketcall {
		return false
	}
	call, ok := parseHex(a0, 64) // syscall arguments are hex
	return ok && call == sysConnect
}

// connectName reports whether a syscall name (of an interpreted or ENRICHED log) is a
// connect, in any case: connect itself, or socketcall with the connect call.
func connectName(name, a0 []byte) bool {
	var buf [32]byte
	lower := buf[:0]
	for _, c := range name {
		if c >= 0x80 || len(lower) == len(buf) {
			// Rare: let Unicode case folding decide, as for any other name.
			lower = []byte(strings.ToLower(string(name)))
			break
		}
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		lower = append(lower, c)
	}
	if string(lower) == "connect" {
		return true
	}
	return bytes.HasPrefix(lower, []byte("socketcall")) &&
		(bytes.Contains(lower, []byte("connect")) || string(a0) == "3" || string(a0) == "connect")
}

// parseHex parses an unsigned hex number of at most bits bits, as strconv.ParseUint(s, 16,
// bits) does, without allocating on bad input.
func parseHex(s []byte, bits uint) (uint64, bool) {
	if len(s) == 0 {
		return 0, false
	}
	limit := uint64(1)<<bits - 1 // all ones for 64 too: the shift gives 0
	var n uint64
	for _, c := range s {
		d := hexDigit(c)
		if d > 0xf || n > limit>>4 {
			return 0, false
		}
		n = n<<4 | uint64(d)
	}
	return n, true
}

// syscallRecord holds what a connect event reads from its SYSCALL record: the first value of
// each field as written, as spans of the group's buffer.
type syscallRecord struct {
	arch, nr, success, exit, a0, ppid, pid, uid, comm, exe span
	name, uidName                                          span // SYSCALL= and UID= of the ENRICHED part
}

// Bits of the SYSCALL fields found so far.
const (
	hasArch = 1 << iota
	hasNr
	hasSuccess
	hasExit
	hasA0
	hasPPID
	hasPID
	hasUID
	hasComm
	hasExe
	hasAll = 1<<iota - 1
)

// kernelOrder is the order in which the kernel writes the fields of a SYSCALL record
// (audit_log_exit and audit_log_task_info, linux kernel/auditsc.c), keys with their '='.
// success and exit are missing where the syscall did not return.
var kernelOrder = [...]orderedField{
	ordered("arch=", hasArch, false), ordered("syscall=", hasNr, false), ordered("success=", hasSuccess, true),
	ordered("exit=", hasExit, true), ordered("a0=", hasA0, false), ordered("a1=", 0, false), ordered("a2=", 0, false),
	ordered("a3=", 0, false), ordered("items=", 0, false), ordered("ppid=", hasPPID, false), ordered("pid=", hasPID, false),
	ordered("auid=", 0, false), ordered("uid=", hasUID, false), ordered("gid=", 0, false), ordered("euid=", 0, false),
	ordered("suid=", 0, false), ordered("fsuid=", 0, false), ordered("egid=", 0, false), ordered("sgid=", 0, false),
	ordered("fsgid=", 0, false), ordered("tty=", 0, false), ordered("ses=", 0, false), ordered("comm=", hasComm, false),
	ordered("exe=", hasExe, false),
}

// orderedField is a field of kernelOrder: its key with '=', also as the little-endian word
// of its bytes and the mask of that word's bytes.
type orderedField struct {
	key        string
	word, mask uint64
	bit        int // 0 for the fields an event does not read
	optional   bool
}

func ordered(key string, bit int, optional bool) orderedField {
	f := orderedField{key: key, bit: bit, optional: optional}
	for i := range len(key) { // every key is at most 8 bytes
		f.word |= uint64(key[i]) << (8 * i)
		f.mask |= 0xff << (8 * i)
	}
	return f
}

// at reports whether s[j:] starts with the key of f. Every key fits in a word, so where eight
// bytes remain this compares one word under a mask instead of calling memequal.
func (f *orderedField) at(s []byte, j int) bool {
	if len(s)-j >= 8 {
		return binary.LittleEndian.Uint64(s[j:])&f.mask == f.word
	}
	return hasPrefixAt(s, j, f.key)
}

// parseSyscall reads the fields a connect event needs from a SYSCALL record whose body and
// ENRICHED part lie at body and enriched of buf, and skips the others; connect says whether
// the record is a connect (connectCall), and only then is r complete. Where the record
// follows the kernel's order of fields, a comparison with the expected key replaces the
// scan for the key and its lookup, and the syscall is known after its first fields, so
// that the records of other syscalls cost little; from the first field out of order,
// fields are read one by one. Either way the first value of each key counts.
func parseSyscall(buf []byte, body, enriched span) (r syscallRecord, connect bool) {
	r.enrichedNames(buf[:enriched.end], enriched.start)
	text := buf[:body.end]
	found := 0
	i := body.start
	decided := false
	for k := range &kernelOrder {
		f := &kernelOrder[k]
		j := skipSpaces(text, i)
		if !f.at(text, j) {
			if f.optional {
				continue
			}
			break
		}
		v := span{j + len(f.key), valueEnd(text, j+len(f.key))}
		if f.bit != 0 {
			*r.slot(f.bit) = v
			found |= f.bit
		}
		i = v.end
		if f.bit == hasA0 { // arch, syscall and a0 are final: they came first
			if !r.isConnect(buf) {
				return r, false
			}
			decided = true
		}
	}
	for found != hasAll {
		k, v, ok := nextField(text, i)
		if !ok {
			break
		}
		i = v.end
		var bit int
		var dst *span
		switch string(k.in(text)) {
		case "arch":
			bit, dst = hasArch, &r.arch
		case "syscall":
			bit, dst = hasNr, &r.nr
		case "success":
			bit, dst = hasSuccess, &r.success
		case "exit":
			bit, dst = hasExit, &r.exit
		case "a0":
			bit, dst = hasA0, &r.a0
		case "ppid":
			bit, dst = hasPPID, &r.ppid
		case "pid":
			bit, dst = hasPID, &r.pid
		case "uid":
			bit, dst = hasUID, &r.uid
		case "comm":
			bit, dst = hasComm, &r.comm
		case "exe":
			bit, dst = hasExe, &r.exe
		default:
			continue
		}
		if found&bit == 0 {
			found |= bit
			*dst = v
		}
	}
	return r, decided || r.isConnect(buf)
}

// isConnect reports whether the record is a connect, from the fields read so far.
func (r *syscallRecord) isConnect(buf []byte) bool {
	arch, archOK := parseArch(r.arch.in(buf))
	return connectCall(r.nr.in(buf), r.a0.in(buf), arch, archOK, r.name.in(buf))
}

// slot returns where the value of the field of bit goes.
func (r *syscallRecord) slot(bit int) *span {
	switch bit {
	case hasArch:
		return &r.arch
	case hasNr:
		return &r.nr
	case hasSuccess:
		return &r.success
	case hasExit:
		return &r.exit
	case hasA0:
		return &r.a0
	case hasPPID:
		return &r.ppid
	case hasPID:
		return &r.pid
	case hasUID:
		return &r.uid
	case hasComm:
		return &r.comm
	}
	return &r.exe
}

// enrichedNames reads the syscall and user names of the ENRICHED part, which starts at i of
// enr.
func (r *syscallRecord) enrichedNames(enr []byte, i int) {
	var haveName, haveUID bool
	for !haveName || !haveUID {
		k, v, ok := nextField(enr, i)
		if !ok {
			break
		}
		i = v.end
		switch string(k.in(enr)) {
		case "SYSCALL":
			if !haveName {
				r.name, haveName = v, true
			}
		case "UID":
			if !haveUID {
				r.uidName, haveUID = v, true
			}
		}
	}
}
