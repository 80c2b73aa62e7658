package rarenet

import (
	"fmt"
	"net"
	"strconv"
)

func splitHostPort(addr string) (string, int, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("listen address %q: %w", addr, err)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < -1 || n > 65535 {
		return "", 0, fmt.Errorf("listen address %q: port must be a number from 0 to 65535", addr)
	}
	if n == 0 {
		n = -1 // ":0" asks for any free port
	}
	return host, n, nil
}
