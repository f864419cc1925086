package chaos

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Fault is one fault's timeline: injected at Inject, healed at Heal, and watched until Settled.
type Fault struct {
	Name     string    `json:"name"`
	What     string    `json:"what"`
	Inject   time.Time `json:"inject"`
	Heal     time.Time `json:"heal"`
	Settled  time.Time `json:"settled"`
	HealNote string    `json:"healNote,omitempty"` // what healing took (e.g. a failover's steps)
}

// Line is one line of the table: what the answers of requests due in one fault's windows were.
type Line struct {
	Fault string `json:"fault"`
	What  string `json:"what"`
	// Sent counts the requests due from the injection to the end of the watch after the heal.
	Sent int64 `json:"sent"`
	// Status counts the answers by status; 0 is no answer (timeout or connection error).
	Status map[int]int64 `json:"status"`
	// During and After are latencies of the requests due while the fault held and after it
	// healed, in ms from their due time.
	DuringP50 float64 `json:"duringP50ms"`
	DuringP99 float64 `json:"duringP99ms"`
	AfterP50  float64 `json:"afterP50ms"`
	AfterP99  float64 `json:"afterP99ms"`
	// Recovery is the time from the heal to the start of the last failed request (5xx or no
	// answer) after it; 0 when nothing failed after the heal.
	RecoveryMs float64 `json:"recoveryMs"`
	// HeldMs is how long the fault was held, healing included.
	HeldMs float64 `json:"heldMs"`
	// Acked and Unknown count the writes acknowledged and of unknown outcome in the windows.
	Acked   int64 `json:"acked"`
	Unknown int64 `json:"unknown"`
	// Lost counts the acknowledged writes of the windows that the check did not find
	// (must be 0).
	Lost int64 `json:"lost"`
	// StaleAfter counts the stale reads that began after the heal (must be 0); StaleDuring
	// those while the fault held (reported, not held to 0: a paused Redis may answer late).
	StaleDuring int64 `json:"staleDuring"`
	StaleAfter  int64 `json:"staleAfter"`
	// Bad5xx counts the 5xx answers that are not 503 with Retry-After, and no-answers
	// (must be 0).
	Bad5xx int64 `json:"bad5xx"`
	// Crashes counts function processes that crashed or timed out (must be 0).
	Crashes int64 `json:"crashes"`
}

// Summarize builds f's line from the run's records.
func Summarize(f Fault, answers []Answer, acks []Ack, unknown []Unknown, lost []Lost, stale []Stale) Line {
	l := Line{Fault: f.Name, What: f.What, Status: map[int]int64{}, HeldMs: ms(f.Heal.Sub(f.Inject))}
	during := hdrhistogram.New(1, 120_000_000, 3)
	after := hdrhistogram.New(1, 120_000_000, 3)
	in := func(t time.Time) bool { return !t.Before(f.Inject) && t.Before(f.Settled) }
	var lastFail time.Time
	for _, a := range answers {
		if !in(a.Due) {
			continue
		}
		l.Sent++
		l.Status[a.Status]++
		us := max(a.Latency().Microseconds(), 1)
		if a.Due.Before(f.Heal) {
			_ = during.RecordValue(min(us, 120_000_000))
		} else {
			_ = after.RecordValue(min(us, 120_000_000))
		}
		failed := a.Status == 0 || a.Status >= 500
		if failed && !(a.Status == 503 && a.RetryAfter) {
			l.Bad5xx++
		}
		if failed && !a.Start.Before(f.Heal) && a.Start.After(lastFail) {
			lastFail = a.Start
		}
	}
	if !lastFail.IsZero() {
		l.RecoveryMs = ms(lastFail.Sub(f.Heal))
	}
	l.DuringP50, l.DuringP99 = pct(during, 50), pct(during, 99)
	l.AfterP50, l.AfterP99 = pct(after, 50), pct(after, 99)
	for _, a := range acks {
		if in(a.Start) {
			l.Acked++
		}
	}
	for _, u := range unknown {
		if in(u.Start) {
			l.Unknown++
		}
	}
	for _, x := range lost {
		if in(x.Start) {
			l.Lost++
		}
	}
	for _, s := range stale {
		switch {
		case !in(s.ReadAt):
		case s.ReadAt.Before(f.Heal):
			l.StaleDuring++
		default:
			l.StaleAfter++
		}
	}
	return l
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func pct(h *hdrhistogram.Histogram, q float64) float64 {
	if h.TotalCount() == 0 {
		return 0
	}
	return float64(h.ValueAtQuantile(q)) / 1000
}

// Holds reports whether every "must be 0" of l is 0.
func (l Line) Holds() bool {
	return l.Lost == 0 && l.StaleAfter == 0 && l.Bad5xx == 0 && l.Crashes == 0
}

// Table writes the lines as the table the run prints.
func Table(w io.Writer, lines []Line) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "fault\tsent\tanswers\tduring p50/p99 ms\tafter p50/p99 ms\trecover ms\tacked\tunknown\tlost\tstale after\t5xx≠503+RA\tcrashes\t")
	for _, l := range lines {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%.1f / %.1f\t%.1f / %.1f\t%.0f\t%d\t%d\t%d\t%d\t%d\t%d\t\n",
			l.Fault, l.Sent, statuses(l.Status), l.DuringP50, l.DuringP99, l.AfterP50, l.AfterP99,
			l.RecoveryMs, l.Acked, l.Unknown, l.Lost, l.StaleAfter, l.Bad5xx, l.Crashes)
	}
	_ = tw.Flush()
}

// statuses writes "2xx:412 503:9 none:1", the classes of answers a reader cares about.
func statuses(m map[int]int64) string {
	agg := map[string]int64{}
	for s, n := range m {
		switch {
		case s == 0:
			agg["none"] += n
		case s >= 200 && s < 300:
			agg["2xx"] += n
		default:
			agg[fmt.Sprint(s)] += n
		}
	}
	keys := make([]string, 0, len(agg))
	for k := range agg {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s:%d", k, agg[k])
	}
	return b.String()
}
