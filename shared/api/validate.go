package api

import (
	"scaleapi/shared/fault"
)

// Validator collects per-field errors so a client learns every problem with its input at once.
type Validator struct {
	fields []fault.FieldError
}

// Check records message for field unless ok.
func (v *Validator) Check(ok bool, field, message string) {
	if !ok {
		v.fields = append(v.fields, fault.FieldError{Field: field, Message: message})
	}
}

// Add records an error for field.
func (v *Validator) Add(field, message string) {
	v.fields = append(v.fields, fault.FieldError{Field: field, Message: message})
}

// Err returns a 422 error listing every recorded field error, or nil.
func (v *Validator) Err() error {
	if len(v.fields) == 0 {
		return nil
	}
	return &fault.Error{Code: fault.Invalid, Message: "validation failed", Fields: v.fields}
}
