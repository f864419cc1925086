package resource

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
)

// ETag returns the strong entity tag of an entity's version: "7".
func ETag(version int) string { return `"` + strconv.Itoa(version) + `"` }

// DigestETag returns the strong entity tag of a representation that is not the plain entity (a
// GET with fields= or join=): a digest of its bytes, prefixed with h so that it can never be
// taken for a version by If-Match.
func DigestETag(body []byte) string {
	sum := sha256.Sum256(body)
	return `"h` + hex.EncodeToString(sum[:12]) + `"`
}

// NotModified reports whether r's If-None-Match matches etag, in which case a GET answers 304.
// If-None-Match compares weakly (RFC 9110 §13.1.2): W/"7" matches "7".
func NotModified(r *http.Request, etag string) bool {
	h := r.Header.Get("If-None-Match")
	if h == "" {
		return false
	}
	for tag := range strings.SplitSeq(h, ",") {
		tag = strings.TrimSpace(tag)
		if tag == "*" || strings.TrimPrefix(tag, "W/") == etag {
			return true
		}
	}
	return false
}

// Condition is what a write's If-Match asks of the entity's current version. The zero
// Condition asks nothing (no If-Match, or If-Match: *, which only asks that the entity exists,
// as any write does).
type Condition struct {
	set      bool
	versions []int32
}

// IfMatch reads r's If-Match header. Tags that can't be one of our versions (weak tags, which
// never match strongly, and digests) are dropped, so an If-Match made only of those matches
// nothing and the write answers 412.
func IfMatch(r *http.Request) Condition {
	values := r.Header.Values("If-Match")
	if len(values) == 0 {
		return Condition{}
	}
	c := Condition{set: true, versions: []int32{}}
	for _, v := range values {
		for tag := range strings.SplitSeq(v, ",") {
			tag = strings.TrimSpace(tag)
			if tag == "*" {
				return Condition{}
			}
			if len(tag) < 3 || tag[0] != '"' || tag[len(tag)-1] != '"' {
				continue
			}
			n, err := strconv.ParseInt(tag[1:len(tag)-1], 10, 32)
			if err == nil && n > 0 {
				c.versions = append(c.versions, int32(n))
			}
		}
	}
	return c
}

// Set reports whether the Condition asks anything.
func (c Condition) Set() bool { return c.set }

// Arg is the Condition as a statement argument for "($n::int[] IS NULL OR version = ANY($n))":
// NULL when nothing is asked, else the acceptable versions (possibly none).
func (c Condition) Arg() any {
	if !c.set {
		return nil
	}
	return c.versions
}

// Holds reports whether version satisfies c.
func (c Condition) Holds(version int) bool {
	if !c.set {
		return true
	}
	for _, v := range c.versions {
		if int(v) == version {
			return true
		}
	}
	return false
}
