package sense

// The BPF object is compiled from bpf/connect.c by bpf2go and committed with its Go
// bindings, so building rarenet needs only Go. `make generate` runs this with Debian's
// clang-19, llvm-19 and libbpf-dev; .ci/run regenerates and fails when the committed files
// differ. The flags pin what would otherwise vary between machines: no debug paths
// (-fdebug-prefix-map), DWARF stripped (BTF, which CO-RE needs, is kept).
//go:generate go run github.com/cilium/ebpf/cmd/bpf2go -cc clang-19 -strip llvm-strip-19 -target amd64,arm64 -type event -go-package sense connect bpf/connect.c -- -O2 -g -Wall -Werror
