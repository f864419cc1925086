package load

import (
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Histogram bounds: microseconds from 1 µs to 120 s, three significant digits (0.1 % error),
// enough for a p99.9 of a sub-millisecond read and for a stall of a minute alike.
const (
	histMin = 1
	histMax = 120_000_000
	histSig = 3
)

// maxSamples bounds the error bodies kept per endpoint and status.
const maxSamples = 3

// Recorder accumulates one endpoint's outcomes. Workers share it under a mutex: the critical
// section is a histogram increment, tens of nanoseconds, invisible next to a request; one
// histogram per worker would cost 140 KB each and hundreds of them in open-loop mode.
type Recorder struct {
	mu        sync.Mutex
	hist      *hdrhistogram.Histogram
	status    map[int]int64
	transport int64 // requests that got no HTTP answer at all
	samples   map[int][]string
	bytes     int64
}

func newRecorder() *Recorder {
	return &Recorder{
		hist:    hdrhistogram.New(histMin, histMax, histSig),
		status:  map[int]int64{},
		samples: map[int][]string{},
	}
}

// record adds one request: its latency, its status (0 for a transport error) and, for a
// failure, the start of the answer or the error.
func (r *Recorder) record(d time.Duration, status int, n int64, sample func() string) {
	us := max(d.Microseconds(), histMin)
	r.mu.Lock()
	defer r.mu.Unlock()
	_ = r.hist.RecordValue(min(us, histMax))
	r.bytes += n
	if status == 0 {
		r.transport++
	} else {
		r.status[status]++
	}
	if (status == 0 || status >= 400) && len(r.samples[status]) < maxSamples && sample != nil {
		r.samples[status] = append(r.samples[status], sample())
	}
}

// Stats is a snapshot of a Recorder.
type Stats struct {
	Hist            *hdrhistogram.Histogram
	Status          map[int]int64
	TransportErrors int64
	Samples         map[int][]string
	Bytes           int64
}

// Count is every request recorded.
func (s *Stats) Count() int64 { return s.Hist.TotalCount() }

// OK counts the 2xx and 3xx answers.
func (s *Stats) OK() int64 {
	var n int64
	for st, c := range s.Status {
		if st >= 200 && st < 400 {
			n += c
		}
	}
	return n
}

// Failures counts everything else: 4xx, 5xx and transport errors.
func (s *Stats) Failures() int64 { return s.Count() - s.OK() }

func (r *Recorder) snapshot() *Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := &Stats{
		Hist:            hdrhistogram.Import(r.hist.Export()),
		Status:          maps.Clone(r.status),
		TransportErrors: r.transport,
		Samples:         map[int][]string{},
		Bytes:           r.bytes,
	}
	for k, v := range r.samples {
		s.Samples[k] = slices.Clone(v)
	}
	return s
}

// merge returns the sum of several endpoints' stats.
func merge(all []*Stats) *Stats {
	t := &Stats{Hist: hdrhistogram.New(histMin, histMax, histSig), Status: map[int]int64{}, Samples: map[int][]string{}}
	for _, s := range all {
		t.Hist.Merge(s.Hist)
		for k, v := range s.Status {
			t.Status[k] += v
		}
		t.TransportErrors += s.TransportErrors
		t.Bytes += s.Bytes
	}
	return t
}
