package tokens

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strings"
)

// Generate returns a new random token (256 bits, URL-safe base64) and its line for the token
// file: NAME, the token's SHA-256 and the options given (host patterns, role=...). The token
// itself is shown once, to its holder; only the line is kept.
func Generate(name string, options ...string) (token, line string, err error) {
	if !namePattern.MatchString(name) {
		return "", "", fmt.Errorf("%w: name %q: want letters, digits and _.@- only", ErrSyntax, name)
	}
	// The options are checked as Parse would check them in the file.
	line = strings.Join(append([]string{name, strings.Repeat("0", 64)}, options...), " ")
	if _, err := Parse("the new line", strings.NewReader(line)); err != nil {
		return "", "", err
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", "", fmt.Errorf("tokens: %w", err)
	}
	token = base64.RawURLEncoding.EncodeToString(b)
	line = strings.Join(append([]string{name, Hash(token)}, options...), " ")
	return token, line, nil
}
