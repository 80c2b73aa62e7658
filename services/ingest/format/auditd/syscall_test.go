package auditd

import "testing"

func TestIsConnect(t *testing.T) {
	tests := []struct {
		name, body, enrichedName string
		want                     bool
	}{
		{"x86_64 connect", "arch=c000003e syscall=42", "", true},
		{"x86_64 accept", "arch=c000003e syscall=43", "", false},
		{"upper-case arch", "arch=C000003E syscall=42", "", true},
		{"aarch64 connect", "arch=c00000b7 syscall=203", "", true},
		{"aarch64 42 is not connect", "arch=c00000b7 syscall=42", "", false},
		{"i386 connect", "arch=40000003 syscall=362", "", true},
		{"i386 socketcall connect", "arch=40000003 syscall=102 a0=3", "", true},
		{"i386 socketcall socket", "arch=40000003 syscall=102 a0=1", "", false},
		{"x86_64 102 is getuid", "arch=c000003e syscall=102 a0=3", "", false},
		{"unknown arch", "arch=deadbeef syscall=42", "", false},
		{"no arch", "syscall=42", "", false},
		{"interpreted", "arch=x86_64 syscall=connect", "", true},
		{"interpreted other", "arch=x86_64 syscall=execve", "", false},
		{"enriched name wins", "arch=c000003e syscall=42", "sendto", false},
		{"enriched connect", "arch=deadbeef syscall=9999", "connect", true},
		{"interpreted socketcall", "arch=i386 syscall=socketcall a0=connect", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := isConnect(parseFields(tt.body, nil), tt.enrichedName); got != tt.want {
				t.Errorf("isConnect(%q, %q) = %v, want %v", tt.body, tt.enrichedName, got, tt.want)
			}
		})
	}
}
