package shard

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
)

// Spec is one shard of the map.
type Spec struct {
	// Name is what the directory records: a letter, then letters, digits, '-' or '_', at most
	// 63. It must never change once organizations are placed on the shard.
	Name string `json:"name"`
	// Writer connects through the shard's pooler to its primary.
	Writer string `json:"writer"`
	// Reader is the shard's read-only endpoint; "" reads reports from Writer.
	Reader string `json:"reader,omitempty"`
	// Weight is the shard's share of new organizations (see Placement in the package
	// comment); nil means 1, and 0 places nothing there.
	Weight *float64 `json:"weight,omitempty"`
}

// weight returns the spec's weight, 1 when unset.
func (s Spec) weight() float64 {
	if s.Weight == nil {
		return 1
	}
	return *s.Weight
}

var nameRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]{0,62}$`)

// ParseMap reads DATABASE_SHARDS: a JSON array of Spec, the directory's shard first, e.g.
//
//	[{"name":"a","writer":"postgres://…proxy-a…","reader":"postgres://…proxy-a-ro…"},
//	 {"name":"b","writer":"postgres://…proxy-b…","weight":2}]
//
// Every problem is reported at once; the URLs, which may hold passwords, never appear in an
// error.
func ParseMap(raw string) ([]Spec, error) {
	dec := json.NewDecoder(strings.NewReader(raw))
	dec.DisallowUnknownFields()
	var specs []Spec
	if err := dec.Decode(&specs); err != nil {
		return nil, errors.New("not a JSON array of {name, writer, reader, weight}")
	}
	if dec.More() {
		return nil, errors.New("text after the JSON array")
	}
	if len(specs) == 0 {
		return nil, errors.New("no shards")
	}
	var errs []error
	seen := map[string]bool{}
	placeable := false
	for i, s := range specs {
		at := fmt.Sprintf("shard %d", i+1)
		if !nameRE.MatchString(s.Name) {
			errs = append(errs, fmt.Errorf("%s: name %q: a letter, then letters, digits, '-' or '_', at most 63", at, s.Name))
		} else if seen[s.Name] {
			errs = append(errs, fmt.Errorf("%s: name %q used twice", at, s.Name))
		}
		seen[s.Name] = true
		if err := checkURL(s.Writer); err != nil {
			errs = append(errs, fmt.Errorf("%s (%s): writer: %w", at, s.Name, err))
		}
		if s.Reader != "" {
			if err := checkURL(s.Reader); err != nil {
				errs = append(errs, fmt.Errorf("%s (%s): reader: %w", at, s.Name, err))
			}
		}
		if w := s.weight(); w < 0 || w > 1e6 || w != w {
			errs = append(errs, fmt.Errorf("%s (%s): weight must be between 0 and 1000000", at, s.Name))
		} else if w > 0 {
			placeable = true
		}
	}
	if len(errs) == 0 && !placeable {
		errs = append(errs, errors.New("every weight is 0: no shard takes new organizations"))
	}
	return specs, errors.Join(errs...)
}

func checkURL(raw string) error {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return errors.New("not a URL")
	case u.Scheme != "postgres" && u.Scheme != "postgresql":
		return fmt.Errorf("scheme %q is not postgres or postgresql", u.Scheme)
	case u.Host == "":
		return errors.New("no host")
	}
	return nil
}
