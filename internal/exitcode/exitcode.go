// Package exitcode maps errors to bgrender's exit codes: 0 success, 1 a
// runtime failure, 2 bad usage or invalid input, 3 a gate refused. Library
// code wraps an error with a code; only main turns it into an exit status.
package exitcode

import (
	"errors"
	"fmt"
)

// The exit codes of every bgrender command.
const (
	OK      = 0
	Failure = 1
	Invalid = 2
	Refused = 3
)

// Error carries the exit code of the error it wraps.
type Error struct {
	Code int
	Err  error
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// InvalidInput marks err as bad usage or invalid input (exit 2).
func InvalidInput(err error) error { return &Error{Code: Invalid, Err: err} }

// Invalidf formats an invalid-input error (exit 2).
func Invalidf(format string, args ...any) error {
	return &Error{Code: Invalid, Err: fmt.Errorf(format, args...)}
}

// GateRefused marks err as a refused gate (exit 3).
func GateRefused(err error) error { return &Error{Code: Refused, Err: err} }

// Of returns the exit code for err: OK for nil, the code of the outermost
// *Error in its chain, else Failure.
func Of(err error) int {
	if err == nil {
		return OK
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return Failure
}
