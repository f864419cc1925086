package chaos

import (
	"strings"
	"testing"
	"time"
)

func desc(s string) *string { return &s }

var t0 = time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)

func at(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }

func ack(id string, v int64, row Row, start, end int) Ack {
	row.ID, row.Version = id, v
	return Ack{ID: id, Version: v, Hash: row.Hash(), Op: OpPatch, Start: at(start), End: at(end)}
}

func TestCheckHoldsEachRowToItsLatestAcknowledgedWrite(t *testing.T) {
	v1 := Row{Name: "a", Description: desc("one")}
	v2 := Row{Name: "a", Description: desc("two")}
	acks := []Ack{ack("p1", 1, v1, 0, 1), ack("p1", 2, v2, 2, 3), ack("p2", 1, v1, 0, 1), ack("p3", 4, v1, 0, 1)}
	row := func(id string, v int64, r Row) Row { r.ID, r.Version = id, v; return r }
	found := map[string]Row{
		"p1": row("p1", 2, v2), // the latest acknowledged write, as written
		"p2": row("p2", 7, v2), // a later version (an unknown write that happened): kept
		// p3 is missing
	}
	lost := Check(acks, "api", found)
	if len(lost) != 1 || lost[0].ID != "p3" || lost[0].Found != nil {
		t.Fatalf("lost = %+v, want p3 missing", lost)
	}

	found["p3"] = row("p3", 3, v1) // older than acknowledged
	found["p1"] = row("p1", 2, v1) // the acknowledged version with other content
	lost = Check(acks, "database", found)
	if len(lost) != 2 {
		t.Fatalf("lost = %+v, want p1 (content) and p3 (version)", lost)
	}
	for _, l := range lost {
		if l.Where != "database" || l.Found == nil {
			t.Errorf("%+v: want the row found recorded", l)
		}
	}
}

func TestHashTellsNullFromEmpty(t *testing.T) {
	if (Row{Name: "a"}).Hash() == (Row{Name: "a", Description: desc("")}).Hash() {
		t.Fatal("a null and an empty description hash alike")
	}
	if (Row{Name: "ab"}).Hash() == (Row{Name: "a", Description: desc("b")}).Hash() {
		t.Fatal("the fields' boundary is not in the hash")
	}
}

func TestStaleReadsCountOnlyReadsBegunAfterTheAcknowledgement(t *testing.T) {
	r := Row{Name: "a"}
	acks := []Ack{ack("p1", 2, r, 0, 10), ack("p1", 3, r, 20, 30), ack("p1", 1, r, 40, 41)}
	reads := []Read{
		{ID: "p1", Version: 1, Start: at(5)},  // before v2 was acknowledged: fine
		{ID: "p1", Version: 1, Start: at(15)}, // after v2's acknowledgement: stale
		{ID: "p1", Version: 2, Start: at(25)}, // v3 in flight: fine
		{ID: "p1", Version: 2, Start: at(50)}, // v3 acknowledged (a late v1 ack does not lower it): stale
		{ID: "p1", Version: 3, Start: at(50)}, // fine
		{ID: "p9", Version: 1, Start: at(50)}, // never written: fine
	}
	stale := StaleReads(acks, reads)
	if len(stale) != 2 || stale[0].ReadAt != at(15) || stale[0].Acked != 2 || stale[1].ReadAt != at(50) || stale[1].Acked != 3 {
		t.Fatalf("stale = %+v", stale)
	}
}

func TestSummarizeSplitsAFaultsWindowsAndCountsWhatMustBeZero(t *testing.T) {
	f := Fault{Name: "redis-kill", Inject: at(1000), Heal: at(2000), Settled: at(3000)}
	ans := func(due, end, status int, ra bool) Answer {
		return Answer{Op: OpRead, Due: at(due), Start: at(due), End: at(end), Status: status, RetryAfter: ra}
	}
	answers := []Answer{
		ans(500, 501, 200, false),   // before the fault: not counted
		ans(1100, 1110, 503, true),  // during, a proper 503
		ans(1200, 1300, 200, false), // during
		ans(2100, 2102, 502, false), // after the heal, a bad 5xx: recovery runs to it
		ans(2500, 2501, 0, false),   // after, no answer: bad, and the last failure
		ans(2600, 2602, 200, false), // after
		ans(3100, 3101, 500, false), // past the watch: not counted
	}
	r := Row{Name: "a"}
	acks := []Ack{ack("p1", 1, r, 1500, 1510), ack("p2", 1, r, 2500, 2510), ack("p3", 1, r, 3500, 3510)}
	lost := []Lost{{Ack: acks[1]}}
	stale := []Stale{{ReadAt: at(1500)}, {ReadAt: at(2500)}, {ReadAt: at(2600)}}
	l := Summarize(f, answers, acks, []Unknown{{Start: at(1100)}}, lost, stale)
	if l.Sent != 5 || l.Status[503] != 1 || l.Status[200] != 2 || l.Status[0] != 1 || l.Status[502] != 1 {
		t.Errorf("sent %d, statuses %v", l.Sent, l.Status)
	}
	if l.Bad5xx != 2 {
		t.Errorf("Bad5xx = %d, want 2 (the 502 and the no-answer; the 503 with Retry-After is fine)", l.Bad5xx)
	}
	if l.RecoveryMs != 500 {
		t.Errorf("RecoveryMs = %v, want 500 (the heal to the last failure's start)", l.RecoveryMs)
	}
	near := func(got, want float64) bool { return got >= want && got <= want*1.001 } // HDR: 3 digits
	if !near(l.DuringP99, 100) || !near(l.AfterP50, 2) {
		t.Errorf("during p99 %v, after p50 %v", l.DuringP99, l.AfterP50)
	}
	if l.Acked != 2 || l.Unknown != 1 || l.Lost != 1 || l.StaleDuring != 1 || l.StaleAfter != 2 {
		t.Errorf("acked %d unknown %d lost %d stale %d/%d", l.Acked, l.Unknown, l.Lost, l.StaleDuring, l.StaleAfter)
	}
	if l.Holds() {
		t.Error("a line with lost writes, stale reads and bad 5xx holds")
	}
	var b strings.Builder
	Table(&b, []Line{l})
	if !strings.Contains(b.String(), "redis-kill") || !strings.Contains(b.String(), "2xx:2 502:1 503:1 none:1") {
		t.Errorf("table:\n%s", b.String())
	}
}
