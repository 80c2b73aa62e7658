package field

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"

	"github.com/rarenet/rarenet/services/ingest/format"
)

// Unmarshal decodes one JSON document into v and turns encoding/json's errors into rejects
// that name the field and what was expected.
func Unmarshal(data []byte, v any) error {
	err := json.Unmarshal(data, v)
	if err == nil {
		return nil
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		if te.Field == "" {
			return fmt.Errorf("%w: expected a JSON object, got %s", format.ErrMalformed, article(te.Value))
		}
		return Error(te.Field, expectedKind(te.Type), article(te.Value))
	}
	return fmt.Errorf("%w: expected a JSON object, got invalid JSON: %v", format.ErrMalformed, err)
}

// expectedKind names a Go type the way a JSON document would hold it.
func expectedKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Struct, reflect.Map, reflect.Pointer:
		return "an object"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	}
	return "a number"
}

// article puts an article before encoding/json's name of a JSON type ("string", "number
// 1.5", "array").
func article(v string) string {
	if v == "" {
		return "something else"
	}
	switch v[0] {
	case 'a', 'o':
		return "an " + v
	}
	return "a " + v
}
