package metricsview

import (
	"cmp"
	"io"
	"slices"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

// TextFormat is the exposition format WritePrometheus writes (text/plain; version=0.0.4).
var TextFormat = expfmt.NewFormat(expfmt.TypeTextPlain)

// Families returns the aggregated metrics as Prometheus metric families, sorted by name and
// their series by labels, so the output is stable between scrapes.
func (a *Aggregator) Families() []*dto.MetricFamily {
	a.mu.Lock()
	defer a.mu.Unlock()

	requests := family("scaleapi_requests_total", "Requests served, by function, route pattern, method and status class.", dto.MetricType_COUNTER)
	errs := family("scaleapi_request_errors_total", "Requests answered with a 5xx status.", dto.MetricType_COUNTER)
	duration := family("scaleapi_request_duration_milliseconds", "Request duration measured inside the function, in milliseconds.", dto.MetricType_HISTOGRAM)
	// Errors by route without the status class (which would make it a copy of the 5xx
	// requests), with zeros, so a rate over it exists before the first error.
	routeErrors := map[requestKey]uint64{}
	for _, k := range sortedKeys(a.requests, cmpRequestKey) {
		rs := a.requests[k]
		labels := labelPairs("function", k.Function, "route", k.Route, "method", k.Method, "status_class", k.StatusClass)
		requests.Metric = append(requests.Metric, counter(labels, float64(rs.count)))
		duration.Metric = append(duration.Metric, histogramMetric(labels, rs.duration))
		rk := requestKey{Function: k.Function, Route: k.Route, Method: k.Method}
		routeErrors[rk] += rs.errors
	}
	for _, k := range sortedKeys(routeErrors, cmpRequestKey) {
		errs.Metric = append(errs.Metric, counter(labelPairs("function", k.Function, "route", k.Route, "method", k.Method), float64(routeErrors[k])))
	}

	cold := family("scaleapi_cold_starts_total", "Requests that were their function instance's first.", dto.MetricType_COUNTER)
	hits := family("scaleapi_cache_hits_total", "Cache reads answered from Redis.", dto.MetricType_COUNTER)
	misses := family("scaleapi_cache_misses_total", "Cache reads that went to the database.", dto.MetricType_COUNTER)
	cacheErrs := family("scaleapi_cache_errors_total", "Cache calls that failed (Redis down or slow); the request was served from the database.", dto.MetricType_COUNTER)
	ratio := family("scaleapi_cache_hit_ratio", "Cache hits over hits plus misses since cmd/local started.", dto.MetricType_GAUGE)
	queries := family("scaleapi_db_queries_total", "Database queries, all pools.", dto.MetricType_COUNTER)
	for _, fn := range sortedKeys(a.functions, cmp.Compare[string]) {
		fs := a.functions[fn]
		labels := labelPairs("function", fn)
		cold.Metric = append(cold.Metric, counter(labels, float64(fs.coldStarts)))
		hits.Metric = append(hits.Metric, counter(labels, float64(fs.cacheHits)))
		misses.Metric = append(misses.Metric, counter(labels, float64(fs.cacheMisses)))
		cacheErrs.Metric = append(cacheErrs.Metric, counter(labels, float64(fs.cacheErrors)))
		if n := fs.cacheHits + fs.cacheMisses; n > 0 {
			ratio.Metric = append(ratio.Metric, &dto.Metric{Label: labels, Gauge: &dto.Gauge{Value: ptr(float64(fs.cacheHits) / float64(n))}})
		}
		queries.Metric = append(queries.Metric, counter(labels, float64(fs.queries)))
	}

	queryTime := family("scaleapi_db_query_duration_milliseconds", "Database query duration by pool (primary, replica), in milliseconds.", dto.MetricType_HISTOGRAM)
	for _, k := range sortedKeys(a.queries, func(x, y poolKey) int {
		return cmp.Or(cmp.Compare(x.Function, y.Function), cmp.Compare(x.Pool, y.Pool))
	}) {
		queryTime.Metric = append(queryTime.Metric, histogramMetric(labelPairs("function", k.Function, "pool", k.Pool), a.queries[k]))
	}

	lines := family("scaleapi_local_emf_lines_total", "EMF lines cmd/local read from the functions' output.", dto.MetricType_COUNTER)
	lines.Metric = []*dto.Metric{counter(nil, float64(a.lines))}
	malformed := family("scaleapi_local_emf_malformed_lines_total", "Lines mentioning _aws that were not valid JSON.", dto.MetricType_COUNTER)
	malformed.Metric = []*dto.Metric{counter(nil, float64(a.malformed))}

	out := []*dto.MetricFamily{}
	for _, f := range []*dto.MetricFamily{requests, errs, duration, cold, hits, misses, cacheErrs, ratio, queries, queryTime, lines, malformed} {
		// A family without series would be a HELP and TYPE with nothing under them.
		if len(f.Metric) > 0 {
			out = append(out, f)
		}
	}
	slices.SortFunc(out, func(x, y *dto.MetricFamily) int { return cmp.Compare(x.GetName(), y.GetName()) })
	return out
}

// WritePrometheus writes the metrics in TextFormat.
func (a *Aggregator) WritePrometheus(w io.Writer) error {
	enc := expfmt.NewEncoder(w, TextFormat)
	for _, f := range a.Families() {
		if err := enc.Encode(f); err != nil {
			return err
		}
	}
	if c, ok := enc.(expfmt.Closer); ok {
		return c.Close()
	}
	return nil
}

func family(name, help string, typ dto.MetricType) *dto.MetricFamily {
	return &dto.MetricFamily{Name: ptr(name), Help: ptr(help), Type: typ.Enum()}
}

func counter(labels []*dto.LabelPair, v float64) *dto.Metric {
	return &dto.Metric{Label: labels, Counter: &dto.Counter{Value: ptr(v)}}
}

func histogramMetric(labels []*dto.LabelPair, h *histogram) *dto.Metric {
	buckets := make([]*dto.Bucket, len(h.bounds))
	var cum uint64
	for i, b := range h.bounds {
		cum += h.counts[i]
		buckets[i] = &dto.Bucket{UpperBound: ptr(b), CumulativeCount: ptr(cum)}
	}
	// The +Inf bucket is implied by SampleCount; the encoder writes it.
	return &dto.Metric{Label: labels, Histogram: &dto.Histogram{
		SampleCount: ptr(h.count), SampleSum: ptr(h.sum), Bucket: buckets,
	}}
}

// labelPairs turns name, value, name, value ... into label pairs. Empty values are kept: a
// series must carry the same label names as its siblings.
func labelPairs(kv ...string) []*dto.LabelPair {
	out := make([]*dto.LabelPair, 0, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, &dto.LabelPair{Name: ptr(kv[i]), Value: ptr(kv[i+1])})
	}
	return out
}

func cmpRequestKey(x, y requestKey) int {
	return cmp.Or(cmp.Compare(x.Function, y.Function), cmp.Compare(x.Route, y.Route),
		cmp.Compare(x.Method, y.Method), cmp.Compare(x.StatusClass, y.StatusClass))
}

func sortedKeys[K comparable, V any](m map[K]V, cmpFn func(K, K) int) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, cmpFn)
	return keys
}

func ptr[T any](v T) *T { return &v }
