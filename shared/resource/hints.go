package resource

import (
	"slices"
	"sync"

	"github.com/google/uuid"
)

// maxOrgHints bounds orgHints: about 100 bytes an entry, so at most a few hundred KiB in an
// environment.
const maxOrgHints = 4096

// orgHints remembers, per user, the organizations the user's last list covered, so that the next
// list can read their cache generations in the session check's round trip instead of after the
// memberships come back (a cached list: three round trips to Redis become two). A hint decides
// only what is read early: the list is always scoped by the memberships read in the request
// itself, and a hint gone stale (a membership added or removed) costs the round trip it would
// have saved, never a wrong answer. When full it is emptied rather than evicted entry by entry:
// losing hints costs a round trip each, nothing more.
type orgHints struct {
	mu sync.Mutex
	m  map[uuid.UUID][]uuid.UUID
}

func (h *orgHints) get(user uuid.UUID) []uuid.UUID {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.m[user]
}

func (h *orgHints) put(user uuid.UUID, orgs []uuid.UUID) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if old, ok := h.m[user]; ok && slices.Equal(old, orgs) {
		return
	}
	if h.m == nil || len(h.m) >= maxOrgHints {
		h.m = make(map[uuid.UUID][]uuid.UUID)
	}
	h.m[user] = slices.Clone(orgs)
}
