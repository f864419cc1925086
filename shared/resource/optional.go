package resource

import "encoding/json"

// Optional is one field of a partial update (PATCH): absent (leave it), null (clear it) or a
// value. A *T can't tell absent from null, and for a nullable column such as a description the
// difference is the whole point. encoding/json calls UnmarshalJSON only for members present in
// the document, null included, so the zero Optional means "absent".
type Optional[T any] struct {
	// Set says the member was present.
	Set bool
	// Null says it was JSON null; Value is then T's zero value.
	Null bool
	// Value is the member's value when Set and not Null.
	Value T
}

// UnmarshalJSON records that the member was present and decodes it.
func (o *Optional[T]) UnmarshalJSON(b []byte) error {
	o.Set = true
	if string(b) == "null" {
		var zero T
		o.Null, o.Value = true, zero
		return nil
	}
	o.Null = false
	return json.Unmarshal(b, &o.Value)
}

// Ptr returns the value for a nullable column: nil when null or absent.
func (o Optional[T]) Ptr() *T {
	if !o.Set || o.Null {
		return nil
	}
	v := o.Value
	return &v
}

// Value returns an Optional that is set to v, or to null when v is nil: how a full replacement
// (PUT) says "this field, whatever it was".
func Value[T any](v *T) Optional[T] {
	if v == nil {
		return Optional[T]{Set: true, Null: true}
	}
	return Optional[T]{Set: true, Value: *v}
}
