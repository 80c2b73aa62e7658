package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
)

// Exit codes of every rarenet binary (documented in the README).
const (
	// ExitOK: done.
	ExitOK = 0
	// ExitFailure: the command failed (a file, NATS, a stage); the message says why.
	ExitFailure = 1
	// ExitUsage: the command line is wrong (an unknown flag, a bad value, a missing argument).
	ExitUsage = 2
	// ExitNoInput: the input was read, but not one line of it was accepted (every line
	// rejected: the wrong file or the wrong --format).
	ExitNoInput = 3
	// ExitInterrupted: stopped by SIGINT or SIGTERM before it finished (128 + SIGINT, as
	// shells report it).
	ExitInterrupted = 130
)

// UsageError is an error in the command line: it is printed in one line, followed by where
// the help is, and exits ExitUsage.
type UsageError struct {
	// Command is the command whose help to point at, e.g. "rarenet replay".
	Command string
	Err     error
}

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

// ExitError is an error with the exit code it asks for.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string { return e.Err.Error() }
func (e *ExitError) Unwrap() error { return e.Err }

// WithCode returns err with the exit code code (nil stays nil).
func WithCode(code int, err error) error {
	if err == nil {
		return nil
	}
	return &ExitError{Code: code, Err: err}
}

// ErrInterrupted is what a command stopped by a signal reports.
var ErrInterrupted = errors.New("interrupted")

// Interrupted turns the error of a command whose ctx was cancelled by a signal into
// ErrInterrupted with ExitInterrupted; other errors pass unchanged.
func Interrupted(ctx context.Context, err error) error {
	if err != nil && ctx.Err() != nil && errors.Is(err, context.Canceled) {
		return WithCode(ExitInterrupted, ErrInterrupted)
	}
	return err
}

// Exit prints err for the user, after prefix (the program and command, "rarenet replay"),
// and returns the exit code it calls for: ExitOK for nil and ErrHelp, ExitUsage for a
// *UsageError (with a pointer to the help), an ExitError's code, else ExitFailure.
func Exit(w io.Writer, prefix string, err error) int {
	if err == nil || errors.Is(err, ErrHelp) {
		return ExitOK
	}
	fmt.Fprintf(w, "%s: %v\n", prefix, err)
	var ue *UsageError
	if errors.As(err, &ue) {
		fmt.Fprintf(w, "see %s --help\n", ue.Command)
		return ExitUsage
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		return ee.Code
	}
	return ExitFailure
}
