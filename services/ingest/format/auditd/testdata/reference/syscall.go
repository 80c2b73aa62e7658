package reference

import (
	"strconv"
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

var connectByArch = map[uint32]sysNumbers{
	0xc000003e: {connect: 42},                   // x86_64
	0xc00000b7: {connect: 203},                  // aarch64
	0xc00000f3: {connect: 203},                  // riscv64
	0x40000003: {connect: 362, socketcall: 102}, // i386
	0x40000028: {connect: 283},                  // arm
	0x80000015: {connect: 328, socketcall: 102}, // ppc64
	0xc0000015: {connect: 328, socketcall: 102}, // ppc64le
	0x80000016: {connect: 362, socketcall: 102}, // s390x
}

// archByName maps the names ausearch -i and the ENRICHED format write to AUDIT_ARCH_* values.
var archByName = map[string]uint32{
	"x86_64":  0xc000003e,
	"aarch64": 0xc00000b7,
	"riscv64": 0xc00000f3,
	"i386":    0x40000003,
	"i686":    0x40000003,
	"arm":     0x40000028,
	"armeb":   0x00000028,
	"ppc64":   0x80000015,
	"ppc64le": 0xc0000015,
	"s390x":   0x80000016,
}

// sysConnect is the socketcall call number of connect.
const sysConnect = 3

// parseArch returns the AUDIT_ARCH_* value of a SYSCALL record's arch field, written as hex
// by the kernel or as a name by tools that interpret the log.
func parseArch(s string) (uint32, bool) {
	if a, ok := archByName[strings.ToLower(s)]; ok {
		return a, true
	}
	a, err := strconv.ParseUint(s, 16, 32)
	return uint32(a), err == nil
}

// isConnect reports whether a SYSCALL record is a connect. name is the syscall name from the
// ENRICHED part, "" when absent.
func isConnect(sys []field, name string) bool {
	nr := get(sys, "syscall")
	if name == "" && nr != "" && !isDigits(nr) {
		name = nr // the log was interpreted already
	}
	a0 := get(sys, "a0")
	if name != "" {
		name = strings.ToLower(name)
		if name == "connect" {
			return true
		}
		return strings.HasPrefix(name, "socketcall") &&
			(strings.Contains(name, "connect") || a0 == "3" || a0 == "connect")
	}
	arch, ok := parseArch(get(sys, "arch"))
	if !ok {
		return false
	}
	nums, ok := connectByArch[arch]
	if !ok {
		return false
	}
	n, err := strconv.ParseInt(nr, 10, 64)
	if err != nil {
		return false
	}
	if n == nums.connect {
		return true
	}
	if nums.socketcall == 0 || n != nums.socketcall {
		return false
	}
	call, err := strconv.ParseUint(a0, 16, 64) // syscall arguments are hex
	return err == nil && call == sysConnect
}
