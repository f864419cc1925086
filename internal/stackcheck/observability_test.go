package stackcheck

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"scaleapi/shared/config"
)

// The metrics of AWS's namespaces an alarm or a widget may read, from their CloudWatch
// documentation: a REST API stage's, a function's, an RDS Proxy's (with the dimension sets it
// publishes them under) and an ElastiCache Serverless cache's.
var (
	apiGatewayMetrics = []string{"4XXError", "5XXError", "CacheHitCount", "CacheMissCount", "Count", "IntegrationLatency", "Latency"}
	lambdaMetrics     = []string{"ConcurrentExecutions", "Duration", "Errors", "Invocations", "ProvisionedConcurrencyUtilization", "Throttles"}
	proxyMetrics      = []string{"ClientConnections", "DatabaseConnections", "DatabaseConnectionsCurrentlyBorrowed", "MaxDatabaseConnectionsAllowed", "QueryDatabaseResponseLatency", "QueryRequests"}
	proxyDimensions   = [][]string{{"ProxyName"}, {"EndpointName", "ProxyName"}, {"ProxyName", "Target", "TargetGroup"}, {"ProxyName", "TargetGroup", "TargetRole"}}
	cacheMetrics      = []string{"BytesUsedForCache", "CacheHitRate", "CurrConnections", "ElastiCacheProcessingUnits", "SuccessfulReadRequestLatency", "SuccessfulWriteRequestLatency", "ThrottledCmds"}
)

// metricCheck checks metric references against what the stack really publishes.
type metricCheck struct {
	s         *stack
	namespace string                // the functions' own (METRICS_NAMESPACE)
	ours      map[string][][]string // emitted's
	functions map[string]bool       // the stack's function names
}

func newMetricCheck(t *testing.T, s *stack) *metricCheck {
	namespace := s.environment("EntitiesFunction")["METRICS_NAMESPACE"]
	c := &metricCheck{s: s, namespace: namespace, ours: emitted(t, namespace), functions: map[string]bool{}}
	for _, id := range s.ofType("AWS::Serverless::Function") {
		c.functions[fmt.Sprint(s.props(id)["FunctionName"])] = true
	}
	return c
}

// check reports what is wrong with where's reference to m.
func (c *metricCheck) check(t *testing.T, where string, m metricRef) {
	t.Helper()
	keys := slices.Sorted(maps.Keys(m.dimensions))
	switch m.namespace {
	case c.namespace:
		sets, ok := c.ours[m.name]
		if !ok {
			t.Errorf("%s reads %s/%s, which no function emits (they emit %v)", where, m.namespace, m.name, slices.Sorted(maps.Keys(c.ours)))
			return
		}
		if !slices.ContainsFunc(sets, func(set []string) bool { return slices.Equal(slices.Sorted(slices.Values(set)), keys) }) {
			t.Errorf("%s reads %s under dimensions %v; it is emitted under %v", where, m.name, keys, sets)
		}
		if fn := m.dimensions["function"]; !c.functions[fn] {
			t.Errorf("%s reads function %q, which is not a function of the stack", where, fn)
		}
	case "AWS/ApiGateway":
		api := c.s.props("Api")
		if !slices.Contains(apiGatewayMetrics, m.name) {
			t.Errorf("%s reads AWS/ApiGateway %s, not a REST API metric", where, m.name)
		}
		if m.dimensions["ApiName"] != api["Name"] || m.dimensions["Stage"] != api["StageName"] || len(keys) != 2 {
			t.Errorf("%s reads %v, want ApiName %v and Stage %v", where, m.dimensions, api["Name"], api["StageName"])
		}
	case "AWS/Lambda":
		if !slices.Contains(lambdaMetrics, m.name) {
			t.Errorf("%s reads AWS/Lambda %s, not a function metric", where, m.name)
		}
		if !slices.Equal(keys, []string{"FunctionName"}) || !c.functions[m.dimensions["FunctionName"]] {
			t.Errorf("%s reads AWS/Lambda %s of %v, want the FunctionName of a function of the stack", where, m.name, m.dimensions)
		}
	case "AWS/RDS":
		if !slices.Contains(proxyMetrics, m.name) {
			t.Errorf("%s reads AWS/RDS %s, not an RDS Proxy metric", where, m.name)
		}
		if !slices.ContainsFunc(proxyDimensions, func(set []string) bool { return slices.Equal(set, keys) }) {
			t.Errorf("%s reads %s under %v, not a dimension set RDS Proxy publishes", where, m.name, keys)
		}
		if m.name == "MaxDatabaseConnectionsAllowed" && !slices.Contains(keys, "TargetGroup") {
			t.Errorf("%s reads MaxDatabaseConnectionsAllowed per proxy; it is published per target group", where)
		}
		if m.dimensions["ProxyName"] != c.s.props("DatabaseProxy")["DBProxyName"] {
			t.Errorf("%s reads proxy %q, not the stack's %v", where, m.dimensions["ProxyName"], c.s.props("DatabaseProxy")["DBProxyName"])
		}
		if tg, ok := m.dimensions["TargetGroup"]; ok && tg != c.s.props("DatabaseProxyTargetGroup")["TargetGroupName"] {
			t.Errorf("%s reads target group %q, not the proxy's", where, tg)
		}
		if role, ok := m.dimensions["TargetRole"]; ok && role != "READ_WRITE" && role != "READ_ONLY" {
			t.Errorf("%s reads target role %q", where, role)
		}
	case "AWS/ElastiCache":
		if !slices.Contains(cacheMetrics, m.name) {
			t.Errorf("%s reads AWS/ElastiCache %s, not a serverless cache metric", where, m.name)
		}
		if !slices.Equal(keys, []string{"clusterId"}) || m.dimensions["clusterId"] != c.s.props("Cache")["ServerlessCacheName"] {
			t.Errorf("%s reads %v, want the clusterId of the stack's cache %v", where, m.dimensions, c.s.props("Cache")["ServerlessCacheName"])
		}
	default:
		t.Errorf("%s reads namespace %s, which the stack publishes nothing to", where, m.namespace)
	}
}

// reserved is a ReservedConcurrency setting, under which the concurrency alarm exists too.
var reserved = map[string]string{"ReservedConcurrency": "40,20,300,20,10"}

// TestAlarmsWatchRealMetrics checks every alarm's metrics, on a fresh account (where the proxy's
// and the cache's alarms exist) with and without reserved concurrency: each is a metric its
// namespace publishes, under dimensions it is published with, of a resource of this stack.
func TestAlarmsWatchRealMetrics(t *testing.T) {
	for _, params := range []map[string]string{nil, reserved} {
		s := resolve(t, params)
		c := newMetricCheck(t, s)
		alarms := s.ofType("AWS::CloudWatch::Alarm")
		if len(alarms) == 0 {
			t.Fatal("no alarms")
		}
		for _, id := range alarms {
			for _, m := range alarmMetrics(s.props(id)) {
				c.check(t, id, m)
			}
		}
	}
}

// alarmOn returns the alarms that read metric name.
func alarmOn(s *stack, name string) []string {
	var ids []string
	for _, id := range s.ofType("AWS::CloudWatch::Alarm") {
		if slices.ContainsFunc(alarmMetrics(s.props(id)), func(m metricRef) bool { return m.name == name }) {
			ids = append(ids, id)
		}
	}
	return ids
}

// TestAlarmsCoverTheTargets checks that each of the seed's targets is an alarm whose threshold
// is that target, over every function the target concerns, and that what refuses requests
// before latency shows it (throttles, the reserved ceiling, the proxy's connections, the
// cache's ECPU limit) is alarmed too.
func TestAlarmsCoverTheTargets(t *testing.T) {
	s := resolve(t, reserved)
	name := func(fn string) string { return fmt.Sprint(s.props(fn)["FunctionName"]) }
	for _, c := range []struct {
		target    string
		metric    string
		stat      string // ExtendedStatistic, for the latency alarms
		threshold float64
		op        string
		functions []string // every function whose metric the alarm must read
	}{
		{"p50 < 50 ms", "Latency", "p50", 50, "GreaterThanThreshold", nil},
		{"p99 < 200 ms", "Latency", "p99", 200, "GreaterThanThreshold", nil},
		{"DB queries < 10 ms", "QueryTimePrimary", "", 10, "GreaterThanThreshold", []string{"AuthFunction", "OrganizationsFunction", "EntitiesFunction"}},
		{"DB queries < 10 ms (replica)", "QueryTimeReplica", "", 10, "GreaterThanThreshold", []string{"ReportsFunction"}},
		{"cache hit rate > 90 %", "CacheHits", "", 90, "LessThanThreshold", []string{"EntitiesFunction", "OrganizationsFunction", "ReportsFunction"}},
		{"no throttled request", "Throttles", "", 0, "GreaterThanThreshold", []string{"AuthFunction", "OrganizationsFunction", "EntitiesFunction", "ReportsFunction", "HealthFunction"}},
		{"70 % of the reserved ceiling (the seed's scale-out target)", "ConcurrentExecutions", "", 70, "GreaterThanThreshold", []string{"EntitiesFunction"}},
		{"80 % of the proxy's connections", "DatabaseConnections", "", 80, "GreaterThanThreshold", nil},
		{"70 % of the cache's ECPU limit (the seed's CPU target)", "ElastiCacheProcessingUnits", "", 70, "GreaterThanThreshold", nil},
	} {
		var found bool
		for _, id := range alarmOn(s, c.metric) {
			p := s.props(id)
			if c.stat != "" && p["ExtendedStatistic"] != c.stat {
				continue
			}
			found = true
			if p["Threshold"] != c.threshold || p["ComparisonOperator"] != c.op {
				t.Errorf("%s (%s): threshold %v %v, want %v %v", c.target, id, p["ComparisonOperator"], p["Threshold"], c.op, c.threshold)
			}
			read := map[string]bool{}
			for _, m := range alarmMetrics(p) {
				if m.name == c.metric {
					read[m.dimensions["function"]+m.dimensions["FunctionName"]] = true
				}
			}
			for _, fn := range c.functions {
				if !read[name(fn)] {
					t.Errorf("%s (%s) does not read %s's %s", c.target, id, fn, c.metric)
				}
			}
		}
		if !found {
			t.Errorf("no alarm on %s (%s)", c.target, c.metric)
		}
	}
}

// widgetMetrics expands a dashboard widget's metric rows, written in CloudWatch's shorthand
// ("." repeats the previous row's item in that position; "..." the previous row's items up to
// those that follow it), into the metrics they read. Expression rows read none of their own.
func widgetMetrics(t *testing.T, rows []any) []metricRef {
	var out []metricRef
	var prev []string
	for _, r := range rows {
		var items []string
		for _, v := range r.([]any) {
			if s, ok := v.(string); ok {
				items = append(items, s)
			}
		}
		if len(items) == 0 {
			continue // {"expression": ...}
		}
		var cur []string
		if items[0] == "..." {
			rest := items[1:]
			if len(prev) < len(rest) {
				t.Fatalf("row %v: \"...\" with no row before it", r)
			}
			cur = append(slices.Clone(prev[:len(prev)-len(rest)]), rest...)
		} else {
			for i, v := range items {
				if v == "." {
					if i >= len(prev) {
						t.Fatalf("row %v: \".\" beyond the previous row", r)
					}
					v = prev[i]
				}
				cur = append(cur, v)
			}
		}
		if len(cur)%2 != 0 {
			t.Fatalf("row %v expands to %v: not a namespace, a name and dimension pairs", r, cur)
		}
		m := metricRef{namespace: cur[0], name: cur[1], dimensions: map[string]string{}}
		for i := 2; i < len(cur); i += 2 {
			m.dimensions[cur[i]] = cur[i+1]
		}
		out = append(out, m)
		prev = cur
	}
	return out
}

// TestDashboard parses the dashboard as CloudWatch does and checks every metric it reads like an
// alarm's, that every seed target is drawn as a line on the widget of its metric (throughput
// per function included), and that the alarm widget lists every alarm that always exists.
func TestDashboard(t *testing.T) {
	s := resolve(t, nil)
	c := newMetricCheck(t, s)
	var body struct {
		Widgets []struct {
			Type       string
			Properties struct {
				Title       string
				Metrics     []any
				Alarms      []string
				Annotations struct {
					Horizontal []struct {
						Label string
						Value float64
					}
				}
			}
		}
	}
	if err := json.Unmarshal([]byte(fmt.Sprint(s.props("Dashboard")["DashboardBody"])), &body); err != nil {
		t.Fatalf("dashboard body: %v", err)
	}
	lines := map[string][]float64{} // metric name → the target lines drawn over it
	var alarms []string
	for _, w := range body.Widgets {
		if w.Type == "alarm" {
			alarms = append(alarms, w.Properties.Alarms...)
			continue
		}
		for _, m := range widgetMetrics(t, w.Properties.Metrics) {
			c.check(t, "widget "+w.Properties.Title, m)
			for _, a := range w.Properties.Annotations.Horizontal {
				lines[m.name] = append(lines[m.name], a.Value)
			}
		}
	}
	for metric, targets := range map[string][]float64{
		"Latency": {50, 200}, "Duration": {50, 200}, "Invocations": {1000},
		"CacheHits": {90}, "QueryTimePrimary": {10}, "QueryTimeReplica": {10},
	} {
		for _, v := range targets {
			if !slices.Contains(lines[metric], v) {
				t.Errorf("no widget draws the %v target over %s (lines %v)", v, metric, lines[metric])
			}
		}
	}
	for _, id := range s.ofType("AWS::CloudWatch::Alarm") {
		if _, conditional := s.resources[id]["Condition"]; conditional {
			continue
		}
		// The resolver stands an alarm's ARN in as one that ends in its logical id.
		if !slices.ContainsFunc(alarms, func(arn string) bool { return strings.HasSuffix(arn, ":"+id) }) {
			t.Errorf("the alarm widget does not list %s (it lists %v)", id, alarms)
		}
	}
}

// TestTracing checks the wiring of Tracing=xray that no linter sees: every API function carries
// the collector layer and points its OTLP exporter at the collector's receiver, as
// deploy/lambda/collector.yaml configures it; the file is in every function's artifact; the
// collector sends traces to X-Ray, reachable from the stack's VPC; and Tracing=none removes all
// of it.
func TestTracing(t *testing.T) {
	s := resolve(t, nil)
	layers := strs(s.globals["Layers"])
	if len(layers) != 1 || !strings.HasPrefix(layers[0], "arn:aws:lambda:us-east-1:901920570463:layer:aws-otel-collector-arm64-") {
		t.Fatalf("Globals layers %v, want the ADOT collector for arm64", layers)
	}
	if s.globals["Tracing"] != "Active" || s.globals["Architectures"] == nil || strs(s.globals["Architectures"])[0] != "arm64" {
		t.Errorf("Globals Tracing %v, Architectures %v: want Active (X-Ray's sampling and SAM's write policy) and arm64 (the layer's)", s.globals["Tracing"], s.globals["Architectures"])
	}
	var collector struct {
		Receivers struct {
			OTLP struct {
				Protocols map[string]struct{ Endpoint string }
			} `yaml:"otlp"`
		}
		Exporters map[string]any
		Service   struct {
			Pipelines map[string]struct{ Receivers, Exporters []string }
		}
	}
	raw, err := os.ReadFile("../../deploy/lambda/collector.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(raw, &collector); err != nil {
		t.Fatalf("collector.yaml: %v", err)
	}
	traces := collector.Service.Pipelines["traces"]
	if _, ok := collector.Exporters["awsxray"]; !ok || !slices.Equal(traces.Receivers, []string{"otlp"}) || !slices.Equal(traces.Exporters, []string{"awsxray"}) {
		t.Errorf("the collector's traces pipeline %+v, want otlp → awsxray", traces)
	}
	for _, id := range s.ofType("AWS::Serverless::Function") {
		if _, own := s.props(id)["Layers"]; own {
			t.Errorf("%s sets its own Layers, which replace the collector's", id)
		}
		env := s.environment(id)
		cfg, err := config.Load(func(k string) (string, bool) { v, ok := env[k]; return v, ok }, config.Needs{})
		if err != nil || cfg.TracingEndpoint == "" {
			t.Fatalf("%s: tracing endpoint %q: %v", id, cfg.TracingEndpoint, err)
		}
		if env["OPENTELEMETRY_COLLECTOR_CONFIG_URI"] != "/var/task/collector.yaml" {
			t.Errorf("%s: OPENTELEMETRY_COLLECTOR_CONFIG_URI %q, want the artifact's /var/task/collector.yaml", id, env["OPENTELEMETRY_COLLECTOR_CONFIG_URI"])
		}
		u, _ := url.Parse(cfg.TracingEndpoint)
		if u.Hostname() != "localhost" {
			t.Errorf("%s exports to %s, not to the collector in its own environment", id, u.Host)
		}
		if got := collector.Receivers.OTLP.Protocols["http"].Endpoint; got != u.Host {
			t.Errorf("the collector receives OTLP/HTTP on %q; %s exports to %q", got, id, u.Host)
		}
	}
	makefile, err := os.ReadFile("../../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(makefile), "cp deploy/lambda/collector.yaml $(if $(filter dist,$(ARTIFACTS_DIR)),dist/$(1),$(ARTIFACTS_DIR))/collector.yaml") {
		t.Error("the Makefile's function target does not copy deploy/lambda/collector.yaml beside each bootstrap")
	}
	if p := s.props("XRayEndpoint"); p["VpcId"] != "Vpc" {
		t.Errorf("the X-Ray endpoint is not in the stack's VPC: %v", p)
	}

	off := resolve(t, map[string]string{"Tracing": "none"})
	if off.globals["Layers"] != nil {
		t.Errorf("Tracing=none keeps the layers %v", off.globals["Layers"])
	}
	if _, ok := off.resources["XRayEndpoint"]; ok {
		t.Error("Tracing=none keeps the X-Ray endpoint")
	}
	for _, id := range off.ofType("AWS::Serverless::Function") {
		env := off.environment(id)
		if env["OTEL_EXPORTER_OTLP_ENDPOINT"] != "" || env["OPENTELEMETRY_COLLECTOR_CONFIG_URI"] != "" {
			t.Errorf("Tracing=none: %s still exports (%v)", id, env)
		}
	}
}
