package lambdaenv

import (
	"context"
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// BenchmarkInvoke runs invocations through the Pool under both Runtime API clients and reports
// the CPU each side spends per invocation: fn-us/op the function process's (from /proc; Linux
// only), host-us/op this process's, which runs the Runtime API. The aws-lambda-go fixture
// answers a small JSON event with a small report, the lambdahttp one converts an API Gateway
// event of the same size into an http.Request and answers a proxy response.
func BenchmarkInvoke(b *testing.B) {
	for _, c := range []struct {
		name, bin string
		payload   []byte
	}{
		{"AWSLambdaGo", fixture, []byte(`{"op":"noop","pad":"` + strings.Repeat("x", 1500) + `"}`)},
		{"Lambdahttp", httpFixture, apiEvent("POST", "/echo", strings.Repeat("x", 1500))},
	} {
		b.Run(c.name, func(b *testing.B) {
			p := NewPool(Spec{
				Name: "F", Binary: c.bin, Handler: "bootstrap", Timeout: 10 * time.Second, MemoryMB: 256,
				MaxInstances: 1, Region: "eu-west-1", AccountID: "123456789012",
			}, Options{Output: io.Discard})
			defer p.Close()
			if _, err := p.Invoke(context.Background(), c.payload); err != nil { // the cold start
				b.Fatal(err)
			}
			var pid int
			p.mu.Lock()
			for in := range p.all {
				pid = in.cmd.Process.Pid
			}
			p.mu.Unlock()
			host, fn := selfCPU(), procCPU(pid)
			for b.Loop() {
				if res, err := p.Invoke(context.Background(), c.payload); err != nil || res.Err != nil {
					b.Fatal(err, res.Err)
				}
			}
			b.ReportMetric(float64(procCPU(pid)-fn)/float64(b.N)/1e3, "fn-us/op")
			b.ReportMetric(float64(selfCPU()-host)/float64(b.N)/1e3, "host-us/op")
		})
	}
}

// procCPU is a process's CPU time so far, from /proc/<pid>/stat (in clock ticks of 10 ms).
func procCPU(pid int) time.Duration {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	utime, _ := strconv.Atoi(f[11])
	stime, _ := strconv.Atoi(f[12])
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

// selfCPU is this process's CPU time so far.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
