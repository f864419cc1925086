package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"scaleapi/shared/fault"
)

// MaxBody is the largest request body accepted (API.md: > 1 MiB is a 413).
const MaxBody = 1 << 20

// Decode reads r's JSON body into v: 415 unless the body is JSON, 413 over MaxBody, 400 for bad
// syntax, a wrong type, an unknown field, trailing data or a string that is not text (checkText).
// v must be a pointer.
func Decode(w http.ResponseWriter, r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			return fault.E(fault.UnsupportedType, "request body must be application/json")
		}
	}
	if r.ContentLength > MaxBody {
		return fault.E(fault.TooLarge, "request body is larger than %d bytes", MaxBody)
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return fault.E(fault.TooLarge, "request body is larger than %d bytes", MaxBody)
		}
		return fault.Wrap(fault.BadRequest, err, "could not read request body")
	}
	return DecodeBytes(body, v)
}

// DecodeBytes is Decode's parsing half, for bodies already read.
func DecodeBytes(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return fault.E(fault.BadRequest, "request body is empty; a JSON object is required")
	}
	if bytes.Equal(bytes.TrimSpace(body), []byte("null")) {
		// encoding/json leaves v as it is for null: a PATCH would take it for {}.
		return fault.E(fault.BadRequest, "request body must be a JSON object, not null")
	}
	if err := checkText(body); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(err)
	}
	if dec.More() {
		return fault.E(fault.BadRequest, "request body has data after the JSON value")
	}
	if _, err := dec.Token(); err != io.EOF {
		return fault.E(fault.BadRequest, "request body has data after the JSON value")
	}
	return nil
}

func decodeError(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fault.E(fault.BadRequest, "malformed JSON at byte %d", syn.Offset)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return fault.E(fault.BadRequest, "malformed JSON: unexpected end of input")
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			return fault.E(fault.BadRequest, "request body must be a JSON %s", kindName(typ.Type.Kind().String()))
		}
		return &fault.Error{Code: fault.BadRequest, Message: "wrong type for field " + field,
			Fields: []fault.FieldError{{Field: field, Message: "must be " + kindName(typ.Type.Kind().String())}}}
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return &fault.Error{Code: fault.BadRequest, Message: fmt.Sprintf("unknown field %q", name),
			Fields: []fault.FieldError{{Field: name, Message: "unknown field"}}}
	default:
		return fault.Wrap(fault.BadRequest, err, "malformed JSON")
	}
}

func kindName(k string) string {
	switch k {
	case "struct", "map":
		return "an object"
	case "slice", "array":
		return "an array"
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "ptr":
		return "a value"
	default:
		return "a number"
	}
}
