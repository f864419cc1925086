package lambdabench

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"scaleapi/cmd/local/lambdaenv"
	"scaleapi/functions/internal/function"
	"scaleapi/internal/samtemplate"
)

// BenchmarkColdStart measures what CloudWatch's REPORT line shows for a new execution
// environment of each function: its init phase (process start to the first GET
// .../invocation/next: configuration, clients, schema; connections open lazily, so no round
// trip is in it), the first invocation's duration (which opens them), and the environment's
// peak resident set after warmInvocations more (Max Memory Used). Each iteration is one cold
// start of the real bootstrap, built as `make build` builds it (for this machine's
// architecture), run by cmd/local's lambdaenv (the Runtime API, Lambda's environment
// variables, GOMAXPROCS for the function's memory size) with template.yaml's memory size and
// timeout and the harness's endpoints.
//
// Metrics: init-ms, first-ms (medians over the iterations), max-memory-MiB (the largest),
// each beside the testing package's ns/op, which is the whole iteration (start, the
// invocations, shutdown).
func BenchmarkColdStart(b *testing.B) {
	s := newStack(b)
	tmpl, err := samtemplate.Parse("../../../../template.yaml", samtemplate.Options{})
	if err != nil {
		b.Fatal(err)
	}
	bin := b.TempDir()
	for _, f := range function.All() {
		fn := templateFunction(b, tmpl, f.Name)
		dir := strings.ToLower(strings.TrimSuffix(f.Name, "Function"))
		boot := filepath.Join(bin, dir, "bootstrap")
		// make build's flags (Makefile BUILD_FLAGS), for this machine's GOOS and GOARCH.
		build := exec.Command("go", "build", "-trimpath", "-tags", "lambda.norpc", "-ldflags=-s -w -buildid=",
			"-o", boot, "../../../"+dir)
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			b.Fatalf("build %s: %v\n%s", dir, err, out)
		}
		rt := coldRoute(f)
		b.Run(f.Name, func(b *testing.B) {
			evs := eventsOf(b, rt.req(s), warmInvocations+1)
			spec := lambdaenv.Spec{
				Name: f.Name, Binary: boot, Handler: "bootstrap", Timeout: fn.Timeout, MemoryMB: fn.MemorySize,
				MaxInstances: 1, Env: env(s.database, s.redisURL, f), Region: "us-east-1", AccountID: accountID,
			}
			var inits, firsts []time.Duration
			var peak int64
			for b.Loop() {
				lines := &lineCounter{}
				p := lambdaenv.NewPool(spec, lambdaenv.Options{Output: lines, ReportMemory: true})
				for i, ev := range evs {
					res, err := p.Invoke(context.Background(), ev)
					if err == nil && res.Err != nil {
						err = res.Err
					}
					if err != nil {
						b.Fatalf("%s: %v", rt.name, err)
					}
					var resp struct{ StatusCode int }
					if err := json.Unmarshal(res.Payload, &resp); err != nil || resp.StatusCode != rt.status {
						b.Fatalf("%s: %v %.300s", rt.name, err, res.Payload)
					}
					if i == 0 {
						if !res.ColdStart {
							b.Fatal("the first invocation of a new pool was not a cold start")
						}
						inits, firsts = append(inits, res.InitDuration), append(firsts, res.Duration)
					}
					peak = max(peak, res.MaxMemoryUsed)
				}
				p.Close()
				lines.close()
			}
			slices.Sort(inits)
			slices.Sort(firsts)
			b.ReportMetric(float64(percentile(inits, 50).Microseconds())/1e3, "init-ms")
			b.ReportMetric(float64(percentile(firsts, 50).Microseconds())/1e3, "first-ms")
			b.ReportMetric(float64(peak)/(1<<20), "max-memory-MiB")
		})
	}
}

// warmInvocations is how many invocations follow the cold one before the peak is read: enough
// for the pools, the caches and the garbage collector to reach their steady size.
const warmInvocations = 200

// coldRoute is the route each function's cold starts invoke: its commonest read.
func coldRoute(f function.Function) route {
	name := map[string]string{
		function.Auth.Name:          "auth/me",
		function.Organizations.Name: "organizations/get",
		function.Entities.Name:      "projects/get-cached",
		function.Reports.Name:       "reports/summary-cached",
		function.Health.Name:        "health",
	}[f.Name]
	for _, rt := range routes {
		if rt.name == name {
			return rt
		}
	}
	panic("no route for " + f.Name)
}

// templateFunction is template.yaml's function of the given logical id.
func templateFunction(tb testing.TB, t *samtemplate.Template, logicalID string) *samtemplate.Function {
	for _, fn := range t.Functions {
		if fn.LogicalID == logicalID {
			return fn
		}
	}
	tb.Fatalf("template.yaml has no function %s", logicalID)
	return nil
}
