package partition

import "testing"

func TestOfIsStableAndInRange(t *testing.T) {
	// Pinned values: changing the hash would move a process's history to another scorer on
	// upgrade. xxhash64("") = 0xef46db3751d8e999 is the published test vector, so the first
	// rows also check that the hash is the specified XXH64 with seed 0.
	tests := []struct {
		value string
		n     int
		want  int
	}{
		{"", 16, int(0xef46db3751d8e999 % 16)},
		{"", 32, int(0xef46db3751d8e999 % 32)},
		{"bash", 1, 0},
		{"bash", 16, 5},
		{"bash", 32, 21},
		{"perl", 16, 15},
	}
	for _, tt := range tests {
		if got := Of(tt.value, tt.n); got != tt.want {
			t.Errorf("Of(%q, %d) = %d, want %d", tt.value, tt.n, got, tt.want)
		}
	}
	for _, v := range []string{"bash", "kworker/0:1", "unattended-upgr"} {
		for _, n := range []int{1, 2, 8, 32} {
			if p := Of(v, n); p < 0 || p >= n {
				t.Errorf("Of(%q, %d) = %d out of range", v, n, p)
			}
		}
	}
}
