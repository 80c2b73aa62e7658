package sense

// The BPF objects are compiled from bpf/connect.c by bpf2go (a tool of this module, at the
// version of the cilium/ebpf library) and committed with their Go bindings, so building
// rarenet needs only Go. `make generate` runs this with Debian's clang-19, llvm-19 and
// libbpf-dev (bpf_helpers.h and friends); `make generate-check`, which .ci/run runs, fails
// when the committed files differ from fresh ones. The objects are the same bytes wherever
// they are built with the same clang: bpf2go maps the source directory to a relative path
// (-fdebug-prefix-map, -fdebug-compilation-dir .) and strips DWARF (BTF, which CO-RE needs,
// stays), the kernel types come from bpf/types.h rather than the build machine's kernel,
// and the compiler is named by its major version.
//go:generate go tool bpf2go -cc clang-19 -strip llvm-strip-19 -target amd64,arm64 -type event -go-package sense connect bpf/connect.c -- -O2 -g -Wall -Werror
