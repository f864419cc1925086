package cache

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-json-experiment/json/jsontext"
	// Entries are encoded and decoded with encoding/json's semantics on the v2 engine, in one
	// pass where encoding/json validates and then decodes (as shared/lambdahttp does for the
	// events): a cached GET's CPU 99.9 -> 97.9 us and 10 fewer allocations (README).
	jsonv1 "github.com/go-json-experiment/json/v1"
	"github.com/redis/go-redis/v9"

	"scaleapi/shared/fault"
)

// Get returns the value cached under key, or calls load, caches its answer for ttl (± jitter)
// and returns it. Get is a function, not a method, because Go methods cannot have type
// parameters.
//
// load's errors are returned as they are. A not-found error (errors.Is(err, fault.ErrNotFound))
// is also cached, for the Cache's NegativeTTL, and a hit on it returns a fault.NotFound error
// with the same message. Redis errors are never returned: they are counted and Get answers from
// load. An empty key or a ttl <= 0 caches nothing. Values are stored as JSON, so T must
// round-trip through encoding/json; concurrent callers of one key each get their own copy.
func Get[T any](ctx context.Context, c *Cache, key string, ttl time.Duration, load func(context.Context) (T, error)) (T, error) {
	return get(ctx, c, key, nil, ttl, load)
}

// GetList is Get for a list (or any value derived from many rows) under scopes, whose Bump
// retires it: key is ListKey(scopes, …). The entry stores the scopes' generations as they were
// read before load ran, and a read serves it only while they are still the scopes' generations,
// so a Bump retires every list of the scope at once without touching them. The generations and
// the entry are read in one round trip (or none, when Prefetch read them), and a generation
// that is missing is created. If a generation can't be read (Redis failing), GetList answers
// from load and caches nothing: a list is never served under a generation that may be out of
// date. Without scopes nothing is cached either.
func GetList[T any](ctx context.Context, c *Cache, key string, scopes []string, ttl time.Duration, load func(context.Context) (T, error)) (T, error) {
	if len(scopes) == 0 {
		if c != nil {
			c.miss(ctx, uncachedName)
		}
		return load(ctx)
	}
	return get(ctx, c, key, scopes, ttl, load)
}

// get is Get, and GetList when scopes are given.
func get[T any](ctx context.Context, c *Cache, key string, scopes []string, ttl time.Duration, load func(context.Context) (T, error)) (T, error) {
	var zero T
	if c == nil {
		return load(ctx)
	}
	if key == "" || ttl <= 0 {
		c.miss(ctx, uncachedName)
		return load(ctx)
	}
	name := nameOf(key)
	st, ok := c.keyPrefix(ctx)
	if !ok {
		// The epoch is unknown, so what Redis holds may have been retired: neither read it nor
		// fill it.
		c.miss(ctx, name)
		return load(ctx)
	}
	vk := c.valueKey(st.prefix, key)
	bypass := Bypassed(ctx)
	if bypass && scopes == nil {
		c.bypassed.Add(1)
		v, _, err := fill(ctx, c, vk, name, "", ttl, true, load)
		return v, err
	}
	if !c.up() {
		c.miss(ctx, name)
		return load(ctx)
	}

	var (
		gens  string // a list's: the generations its entry must carry, "a" or "a,b,…"
		entry *redis.StringCmd
	)
	if scopes == nil {
		entry = c.get(ctx, vk)
	} else {
		gens, entry = c.readList(ctx, st.prefix, vk, scopes, bypass)
		if gens == "" {
			c.miss(ctx, name) // readList counted the error
			return load(ctx)
		}
		if bypass {
			c.bypassed.Add(1)
			v, _, err := fill(ctx, c, vk, name, gens, ttl, true, load)
			return v, err
		}
	}
	data, err := entry.Bytes()
	if err == nil && scopes != nil {
		data, err = listPayload(data, gens)
	}
	switch {
	case err == nil:
		v, cached, derr := decode[T](data)
		if derr == nil {
			c.hit(ctx, name)
			return v, cached
		}
		c.fail(ctx, name, fmt.Errorf("decode %s: %w", name, derr), false)
		c.miss(ctx, name) // refill below overwrites the bad entry
	case errors.Is(err, redis.Nil):
		c.miss(ctx, name)
	case errors.Is(err, errBadEntry):
		c.fail(ctx, name, fmt.Errorf("decode %s: %w", name, err), false)
		c.miss(ctx, name)
	default:
		// Redis is failing: do not also try a lease and a fill, each of which could cost
		// another timeout.
		c.fail(ctx, name, err, true)
		c.miss(ctx, name)
		return load(ctx)
	}

	// The loader runs in a goroutine owned by singleflight, so that a caller whose context
	// ends stops waiting. Only the caller whose closure runs (the leader) gets the loader's own
	// value; the others decode the payload, so no two callers share a map or slice. A list's
	// loads are shared per generation: a read that saw a Bump never joins a load that began
	// before it.
	flight := vk
	if gens != "" {
		flight = vk + "#" + gens
	}
	var (
		leader   bool
		mine     T
		panicked any
	)
	ch := c.group.DoChan(flight, func() (payload any, err error) {
		leader = true
		defer func() {
			if r := recover(); r != nil {
				// A panic must not escape in singleflight's goroutine, where nothing can
				// recover it: hand it to the leader to re-panic on its own goroutine.
				panicked = r
				payload, err = nil, errLoaderPanicked
			}
		}()
		v, p, err := fill(ctx, c, vk, name, gens, ttl, false, load)
		mine = v
		return p, err
	})
	if c.hookJoined != nil {
		c.hookJoined(key)
	}
	select {
	case r := <-ch:
		if leader {
			if panicked != nil {
				panic(panicked)
			}
			return mine, r.Err
		}
		if r.Err != nil {
			if isContextErr(r.Err) && ctx.Err() == nil {
				// The leader's request ended, not ours: load for ourselves.
				v, _, err := fill(ctx, c, vk, name, gens, ttl, false, load)
				return v, err
			}
			return zero, r.Err
		}
		if p, _ := r.Val.([]byte); p != nil {
			if v, cached, derr := decode[T](p); derr == nil {
				return v, cached
			}
		}
		// The leader's value did not encode (or decode as T): load for ourselves.
		return load(ctx)
	case <-ctx.Done():
		return zero, ctx.Err()
	}
}

// readList returns the generations of scopes, joined by ',' in their order, and the reply to
// the GET of the list's entry vk (nil under bypass, which does not read it), all read in one
// round trip but for what Prefetch already read. A missing generation is created (see the
// package comment). gens is "" when a generation could not be read: the error is counted and
// the list must not be cached.
func (c *Cache) readList(ctx context.Context, prefix, vk string, scopes []string, bypass bool) (gens string, entry *redis.StringCmd) {
	keys := make([]string, 0, len(scopes)+1)
	if !bypass {
		keys = append(keys, vk)
	}
	for _, s := range scopes {
		keys = append(keys, c.genKey(prefix, s))
	}
	replies := c.getAll(ctx, keys)
	if !bypass {
		entry, replies, keys = replies[0], replies[1:], keys[1:]
	}
	var b strings.Builder
	for i, r := range replies {
		g, err := r.Result()
		if errors.Is(err, redis.Nil) {
			g, err = genInitScript.Run(ctx, c.client, []string{keys[i]},
				time.Now().UnixMicro(), c.genTTL.Milliseconds()).Text()
		}
		if err != nil {
			c.fail(ctx, genName, err, true)
			return "", nil
		}
		if len(replies) == 1 {
			return g, entry
		}
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(g)
	}
	return b.String(), entry
}

// A list's entry is listMark, its generations, '\n', then the value as Get stores it (JSON or a
// tombstone). JSON never starts with '#', nor a tombstone.
const listMark = '#'

// errBadEntry is a list's entry without its generations.
var errBadEntry = errors.New("list entry without generations")

// listPayload returns the value of list entry data if it was filled under gens, and redis.Nil
// (a miss) if under other generations: a Bump has retired it.
func listPayload(data []byte, gens string) ([]byte, error) {
	if len(data) == 0 || data[0] != listMark {
		return nil, errBadEntry
	}
	i := bytes.IndexByte(data, '\n')
	if i < 0 {
		return nil, errBadEntry
	}
	if string(data[1:i]) != gens {
		return nil, redis.Nil
	}
	return data[i+1:], nil
}

// stored is what fill writes for payload: payload itself, or under a list's generations its
// entry (see listMark).
func stored(gens string, payload []byte) []byte {
	if gens == "" {
		return payload
	}
	b := make([]byte, 0, len(gens)+2+len(payload))
	b = append(b, listMark)
	b = append(b, gens...)
	b = append(b, '\n')
	return append(b, payload...)
}

// errLoaderPanicked is what callers sharing a load get when the loader panicked; the caller
// that ran it gets the panic itself.
var errLoaderPanicked = errors.New("cache: loader panicked")

// fill loads a value under a lease and writes it back to vk (the Redis key of the value) if
// the lease survived the load, under a list's generations gens ("" for Get's values). It
// returns the loaded value, its payload (for singleflight's other callers; nil if it did not
// encode or the load failed) and the loader's error. bypass takes the lease even from another
// reader.
func fill[T any](ctx context.Context, c *Cache, vk, name, gens string, ttl time.Duration, bypass bool, load func(context.Context) (T, error)) (T, []byte, error) {
	var zero T
	lk := vk + leaseSuffix

	// The lease must be taken before load reads the database: a write that commits after
	// that read then deletes after the lease exists, and the fill is discarded.
	token := ""
	if c.up() {
		tok := newToken()
		var err error
		if bypass {
			err = c.client.Set(ctx, lk, tok, c.leaseTTL).Err()
			if err == nil {
				token = tok
			}
		} else {
			var ok bool
			ok, err = c.client.SetNX(ctx, lk, tok, c.leaseTTL).Result()
			if ok {
				token = tok
			}
		}
		if err != nil {
			c.fail(ctx, name, err, true)
		}
	}

	v, err := load(ctx)
	if err != nil {
		if token != "" {
			if c.negTTL > 0 && errors.Is(err, fault.ErrNotFound) {
				t := tombstone(err)
				c.commit(ctx, name, vk, lk, token, stored(gens, t), c.jittered(c.negTTL))
				return zero, t, err
			}
			c.release(ctx, name, lk, token)
		}
		return zero, nil, err
	}
	payload, encErr := jsonv1.Marshal(v)
	if encErr != nil {
		c.fail(ctx, name, fmt.Errorf("encode %s: %w", name, encErr), false)
		if token != "" {
			c.release(ctx, name, lk, token)
		}
		return v, nil, nil
	}
	if token != "" {
		c.commit(ctx, name, vk, lk, token, stored(gens, payload), c.jittered(ttl))
	}
	return v, payload, nil
}

// commit writes payload under key if token still holds the lease.
func (c *Cache) commit(ctx context.Context, name, vk, lk, token string, payload []byte, ttl time.Duration) {
	n, err := fillScript.Run(ctx, c.client, []string{vk, lk}, token, payload, ttl.Milliseconds()).Int()
	switch {
	case err != nil:
		c.fail(ctx, name, err, true)
	case n == 0:
		c.discarded.Add(1)
	}
}

// release drops the lease after a failed load.
func (c *Cache) release(ctx context.Context, name, lk, token string) {
	if err := releaseScript.Run(ctx, c.client, []string{lk}, token).Err(); err != nil {
		c.fail(ctx, name, err, true)
	}
}

// A tombstone is a cached "not found": tombstonePrefix then the error's client-safe message.
// JSON never starts with '!', so it cannot be confused with a value.
const tombstonePrefix = "!notfound:"

func tombstone(err error) []byte {
	msg := ""
	var fe *fault.Error
	if errors.As(err, &fe) && fe.Code == fault.NotFound {
		msg = fe.Message
	}
	return []byte(tombstonePrefix + msg)
}

// decode turns an entry into the value, or the not-found error, it caches. err is not nil for
// an entry that does not decode as T.
func decode[T any](data []byte) (v T, cached error, err error) {
	if len(data) > 0 && data[0] == '!' {
		if len(data) >= len(tombstonePrefix) && string(data[:len(tombstonePrefix)]) == tombstonePrefix {
			return v, &fault.Error{Code: fault.NotFound, Message: string(data[len(tombstonePrefix):])}, nil
		}
		return v, nil, errors.New("unknown entry")
	}
	// A json.RawMessage (a list page, a view) is stored as its own bytes: fill wrote them
	// through json.Marshal, so they are the value as they stand. They are only checked to be
	// one JSON value, with v1's tolerance, in a single pass: json.Unmarshal would validate them
	// and then scan them again to copy them, which was a fifth of a cached list's CPU.
	if raw, ok := any(&v).(*json.RawMessage); ok {
		if !jsontext.Value(data).IsValid(rawValidity...) {
			return v, nil, errors.New("not one JSON value")
		}
		*raw = bytes.Clone(data) // followers of one load share the payload
		return v, nil, nil
	}
	if err := jsonv1.Unmarshal(data, &v); err != nil {
		return v, nil, err
	}
	return v, nil, nil
}

// rawValidity is what encoding/json accepts as valid and json.Marshal lets through a
// RawMessage: invalid UTF-8 and duplicate names included.
var rawValidity = []jsontext.Options{jsontext.AllowInvalidUTF8(true), jsontext.AllowDuplicateNames(true)}

func isContextErr(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}
