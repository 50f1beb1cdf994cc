package domain

import (
	"errors"
	"fmt"
)

// Error codes. Transports map each code to a user-facing reply in one table; anything that is not an
// *Error is EINTERNAL, logged and never shown raw.
const (
	EINVALID   = "invalid"   // bad input: the message says what to fix
	ENOTFOUND  = "not_found" // no such item, handoff or person
	EFORBIDDEN = "forbidden" // the actor may not do this, in this state
	ECONFLICT  = "conflict"  // the state changed under the request (already decided, not allowed from this stage)
	EINTERNAL  = "internal"  // a bug or an I/O failure
)

// Error is an application error with a code and a message safe to show to the user.
// Field names the input at fault, when there is one (a modal maps it to a block).
type Error struct {
	Code    string
	Message string
	Field   string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Errorf builds an *Error with a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// FieldError builds an EINVALID error about one input field.
func FieldError(field, format string, args ...any) *Error {
	return &Error{Code: EINVALID, Message: fmt.Sprintf(format, args...), Field: field}
}

// ErrorCode returns the code of an *Error in err's chain, EINTERNAL for any other error, "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the user-facing message of an *Error, or a generic one for other errors.
func ErrorMessage(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "Something went wrong on our side. It has been logged; please try again."
}

// FieldErrors collects several field errors, so a form can show them all at once.
type FieldErrors []*Error

func (fe FieldErrors) Error() string {
	if len(fe) == 0 {
		return "no errors"
	}
	return fmt.Sprintf("%d invalid fields; first: %s", len(fe), fe[0].Message)
}

// Err returns nil when there are no errors, so callers can `return errs.Err()`.
func (fe FieldErrors) Err() error {
	if len(fe) == 0 {
		return nil
	}
	return fe
}
