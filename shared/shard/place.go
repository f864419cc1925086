package shard

import (
	"crypto/sha256"
	"encoding/binary"
	"math"

	"github.com/google/uuid"
)

// place returns the index of the shard of specs that organization id is placed on: weighted
// rendezvous hashing (see Placement in the package comment). ParseMap guarantees a positive
// weight somewhere.
func place(specs []Spec, id uuid.UUID) int {
	best, bestScore := 0, -1.0
	for i, s := range specs {
		w := s.weight()
		if w <= 0 {
			continue
		}
		if score := -w / math.Log(unit(id, s.Name)); score > bestScore {
			best, bestScore = i, score
		}
	}
	return best
}

// unit is a hash of (id, name) mapped uniformly onto the open interval (0, 1).
func unit(id uuid.UUID, name string) float64 {
	h := sha256.New()
	h.Write(id[:])
	h.Write([]byte(name))
	var sum [sha256.Size]byte
	x := binary.BigEndian.Uint64(h.Sum(sum[:0]))
	// The top 53 bits, as many as a float64 holds exactly, shifted off 0 by half a step.
	return (float64(x>>11) + 0.5) / (1 << 53)
}
