// Package chaos is the bookkeeping of a fault run (loadgen chaos): an open-loop mix of reads and
// writes whose every answer is logged, the acknowledged writes kept as a ledger and checked
// afterwards, and the answers summed per fault window into the table the run prints.
//
// The promises it checks, per fault:
//   - no acknowledged write is lost: every write that answered 2xx (its id, version and the hash
//     of the row it answered) is read back after recovery, through the API and straight from the
//     database, and must be there at its version or a later one, and at its version with the same
//     content. A write that answered 5xx or no answer at all is "unknown": it may or may not have
//     happened, and it is reported apart, never counted as lost or as kept;
//   - no stale read once the fault has healed: a read that began after a write of the same row
//     was acknowledged must answer that write's version or a later one;
//   - every 5xx is a 503 with Retry-After: a dependency that is down is the client's cue to come
//     back, not a server error;
//   - no function process crashes.
package chaos

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"sort"
	"sync"
	"time"
)

// Row is the part of a project the ledger keeps: what a write answered, or what a read or the
// database holds.
type Row struct {
	ID          string  `json:"id"`
	Version     int64   `json:"version"`
	Name        string  `json:"name"`
	Description *string `json:"description"`
}

// Hash is the hash of the row's content, the fields the run writes.
func (r Row) Hash() string {
	h := sha256.New()
	h.Write([]byte(r.Name))
	h.Write([]byte{0})
	if r.Description != nil {
		h.Write([]byte{1})
		h.Write([]byte(*r.Description))
	}
	return hex.EncodeToString(h.Sum(nil)[:12])
}

// Ack is one acknowledged write.
type Ack struct {
	ID      string    `json:"id"`
	Version int64     `json:"version"`
	Hash    string    `json:"hash"`
	Op      string    `json:"op"`
	Org     string    `json:"org"`
	Start   time.Time `json:"start"`
	End     time.Time `json:"end"`
}

// Unknown is a write whose outcome the client cannot know: it answered 5xx or nothing.
type Unknown struct {
	ID     string    `json:"id,omitempty"` // empty for a create
	Op     string    `json:"op"`
	Status int       `json:"status"` // 0: no answer (timeout, connection error)
	Start  time.Time `json:"start"`
}

// Read is one successful read of a row by id.
type Read struct {
	ID      string
	Version int64
	Start   time.Time
}

// Answer is one request's outcome.
type Answer struct {
	Op         string
	Due, Start time.Time // Due: when the open loop meant to send it; latency counts from there
	End        time.Time
	Status     int  // 0: no answer
	RetryAfter bool // a Retry-After header came with it
}

// Latency is the answer's latency from its due time.
func (a Answer) Latency() time.Duration { return a.End.Sub(a.Due) }

// Ledger records everything a run saw. It is safe for concurrent use.
type Ledger struct {
	mu      sync.Mutex
	answers []Answer
	acks    []Ack
	unknown []Unknown
	reads   []Read
}

// Answered records one request's outcome.
func (l *Ledger) Answered(a Answer) {
	l.mu.Lock()
	l.answers = append(l.answers, a)
	l.mu.Unlock()
}

// Acked records an acknowledged write.
func (l *Ledger) Acked(a Ack) {
	l.mu.Lock()
	l.acks = append(l.acks, a)
	l.mu.Unlock()
}

// Unsure records a write whose outcome is unknown.
func (l *Ledger) Unsure(u Unknown) {
	l.mu.Lock()
	l.unknown = append(l.unknown, u)
	l.mu.Unlock()
}

// ReadRow records a successful read of a row.
func (l *Ledger) ReadRow(r Read) {
	l.mu.Lock()
	l.reads = append(l.reads, r)
	l.mu.Unlock()
}

// Records is a copy of everything a Ledger holds.
type Records struct {
	Answers []Answer
	Acks    []Ack
	Unknown []Unknown
	Reads   []Read
}

// Records returns a copy of what l has recorded so far.
func (l *Ledger) Records() Records {
	l.mu.Lock()
	defer l.mu.Unlock()
	return Records{slices.Clone(l.answers), slices.Clone(l.acks), slices.Clone(l.unknown), slices.Clone(l.reads)}
}

// Lost is an acknowledged write that the check did not find.
type Lost struct {
	Ack
	Where string `json:"where"` // "api" or "database"
	Found *Row   `json:"found,omitempty"`
}

// Check compares the latest acknowledged state of every row with what a source holds (the API or
// the database, read after recovery): found maps an id to the row there, absent when the row is
// missing. A row must be at the highest version acknowledged for it or later, and at that
// version with the content acknowledged.
func Check(acks []Ack, where string, found map[string]Row) []Lost {
	latest := latestAcks(acks)
	var lost []Lost
	for _, a := range latest {
		row, ok := found[a.ID]
		switch {
		case !ok:
			lost = append(lost, Lost{Ack: a, Where: where})
		case row.Version < a.Version, row.Version == a.Version && row.Hash() != a.Hash:
			lost = append(lost, Lost{Ack: a, Where: where, Found: &row})
		}
	}
	return lost
}

// latestAcks returns each row's acknowledged write of the highest version, by id.
func latestAcks(acks []Ack) []Ack {
	by := map[string]Ack{}
	for _, a := range acks {
		if b, ok := by[a.ID]; !ok || a.Version > b.Version {
			by[a.ID] = a
		}
	}
	out := make([]Ack, 0, len(by))
	for _, a := range by {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Stale is a read that answered a version older than a write of the row acknowledged before the
// read began.
type Stale struct {
	ID      string    `json:"id"`
	Read    int64     `json:"readVersion"`
	Acked   int64     `json:"ackedVersion"`
	AckedAt time.Time `json:"ackedAt"`
	ReadAt  time.Time `json:"readAt"`
}

// StaleReads returns the stale reads among reads, against acks.
func StaleReads(acks []Ack, reads []Read) []Stale {
	// Per row, the acknowledgements in the order they finished, with the highest version
	// acknowledged by each moment.
	type mark struct {
		end     time.Time
		version int64
	}
	marks := map[string][]mark{}
	sorted := slices.Clone(acks)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].End.Before(sorted[j].End) })
	for _, a := range sorted {
		m := marks[a.ID]
		v := a.Version
		if n := len(m); n > 0 && m[n-1].version > v {
			v = m[n-1].version
		}
		marks[a.ID] = append(m, mark{a.End, v})
	}
	var stale []Stale
	for _, r := range reads {
		m := marks[r.ID]
		// The last acknowledgement that finished before the read began.
		i := sort.Search(len(m), func(i int) bool { return !m[i].end.Before(r.Start) }) - 1
		if i >= 0 && m[i].version > r.Version {
			stale = append(stale, Stale{ID: r.ID, Read: r.Version, Acked: m[i].version, AckedAt: m[i].end, ReadAt: r.Start})
		}
	}
	return stale
}
