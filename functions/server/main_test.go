package main

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"scaleapi/shared/devservices/devtest"
	rt "scaleapi/shared/resource/resourcetest"
)

func TestMain(m *testing.M) { os.Exit(devtest.Main(m)) }

// env is the environment of a server over fresh databases of the harness (with
// SCALEAPI_TEST_SHARD_COUNT, that many shards).
func env(t *testing.T) map[string]string {
	t.Helper()
	vars := rt.DatabaseEnv(t, true)
	vars["REDIS_URL"] = devtest.Services(t).RedisURL
	vars["JWT_SECRET"] = "0123456789abcdef0123456789abcdef"
	return vars
}

func lookupIn(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

// started is a server serving on a loopback port until stop is called.
type started struct {
	url  string
	stop func() error // cancels and returns serve's error
}

func start(t *testing.T, vars map[string]string, extra func(*server)) started {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	lookup := withDefaults(lookupIn(vars))
	opts, err := readOptions(lookup)
	if err != nil {
		t.Fatal(err)
	}
	d, routes, err := build(ctx, lookup, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Close)
	s := newServer(d, routes, opts)
	if extra != nil {
		extra(s)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.serve(ctx, ln) }()
	var once bool
	var result error
	stop := func() error {
		if !once {
			once = true
			cancel()
			result = <-done
		}
		return result
	}
	t.Cleanup(func() { _ = stop() })
	return started{url: "http://" + ln.Addr().String(), stop: stop}
}

func call(t *testing.T, method, url, token, body string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// TestServer serves every function's routes from one process: a session is made through the
// auth function, used on the organizations and entities functions, and the reports and health
// functions answer too; what no function serves is a problem, as behind API Gateway.
func TestServer(t *testing.T) {
	s := start(t, env(t), nil)
	for _, c := range []struct {
		method, path string
		status       int
	}{
		{"GET", "/livez", 204},
		{"GET", "/readyz", 204},
		{"GET", "/health", 200},
		{"GET", "/openapi.json", 200},
		{"GET", "/projects", 401},
		{"GET", "/nowhere", 404},
		{"PUT", "/projects/bulk", 405},
		{"DELETE", "/auth/login", 405},
	} {
		code, h, body := call(t, c.method, s.url+c.path, "", "")
		if code != c.status {
			t.Errorf("%s %s: %d %s, want %d", c.method, c.path, code, body, c.status)
		}
		if code >= 400 && h.Get("Content-Type") != "application/problem+json" {
			t.Errorf("%s %s: %s, want a problem", c.method, c.path, h.Get("Content-Type"))
		}
	}

	code, _, body := call(t, "POST", s.url+"/auth/register", "", `{"email":"srv@example.com","password":"correct horse battery","name":"S"}`)
	if code != 201 {
		t.Fatalf("register: %d %s", code, body)
	}
	var session struct {
		AccessToken string `json:"accessToken"`
	}
	if err := json.Unmarshal([]byte(body), &session); err != nil {
		t.Fatal(err)
	}
	tok := session.AccessToken
	code, _, body = call(t, "POST", s.url+"/organizations", tok, `{"name":"Server"}`)
	if code != 201 {
		t.Fatalf("create organization: %d %s", code, body)
	}
	var org struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal([]byte(body), &org)
	code, _, body = call(t, "POST", s.url+"/projects", tok, `{"organizationId":"`+org.ID+`","name":"One process"}`)
	if code != 201 {
		t.Fatalf("create project: %d %s", code, body)
	}
	for _, path := range []string{"/auth/me", "/organizations/" + org.ID, "/projects?filter=organizationId||$eq||" + org.ID, "/reports/organizations/" + org.ID + "/summary"} {
		if code, _, body := call(t, "GET", s.url+path, tok, ""); code != 200 {
			t.Errorf("GET %s: %d %s", path, code, body)
		}
	}
	if err := s.stop(); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if _, err := http.Get(s.url + "/livez"); err == nil {
		t.Fatal("still serving after shutdown")
	}
}

// TestShutdownDrains: after the signal (ctx ends), the listener closes but a request in flight
// finishes with its answer, and serve returns nil.
func TestShutdownDrains(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	s := start(t, env(t), func(s *server) {
		// A slow route beside the real ones, wrapped like them.
		mux := http.NewServeMux()
		mux.HandleFunc("GET /slow", func(w http.ResponseWriter, _ *http.Request) {
			close(entered)
			<-release
			w.WriteHeader(http.StatusOK)
		})
		mux.Handle("/", s.http.Handler)
		s.http.Handler = mux
	})
	answered := make(chan int, 1)
	go func() {
		resp, err := http.Get(s.url + "/slow")
		if err != nil {
			answered <- 0
			return
		}
		resp.Body.Close()
		answered <- resp.StatusCode
	}()
	<-entered
	stopped := make(chan error, 1)
	go func() { stopped <- s.stop() }()
	// The listener closes at once: a new connection is refused while the slow request runs.
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", strings.TrimPrefix(s.url, "http://"), 200*time.Millisecond)
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("the listener is still accepting after the signal")
		}
		time.Sleep(10 * time.Millisecond)
	}
	select {
	case err := <-stopped:
		t.Fatalf("serve returned (%v) with a request in flight", err)
	default:
	}
	close(release)
	if code := <-answered; code != http.StatusOK {
		t.Fatalf("the request in flight got %d, want 200", code)
	}
	if err := <-stopped; err != nil {
		t.Fatalf("shutdown: %v", err)
	}
}

// TestReadyzFailsWithoutRedis: a dependency that is down makes readiness 503 while liveness
// stays 204.
func TestReadyzFailsWithoutRedis(t *testing.T) {
	vars := env(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	vars["REDIS_URL"] = "redis://" + ln.Addr().String()
	ln.Close() // nothing listens there now
	s := start(t, vars, nil)
	if code, _, body := call(t, "GET", s.url+"/readyz", "", ""); code != 503 || !strings.Contains(body, `"status":503`) {
		t.Fatalf("readyz: %d %s", code, body)
	}
	if code, _, _ := call(t, "GET", s.url+"/livez", "", ""); code != 204 {
		t.Fatalf("livez: %d", code)
	}
}

// TestPoolDefaults: server mode's pools are the seed's 20 unless the environment says
// otherwise.
func TestPoolDefaults(t *testing.T) {
	vars := env(t)
	for _, c := range []struct {
		set       map[string]string
		db, redis int
	}{
		{nil, 20, 20},
		{map[string]string{"DB_MAX_CONNS": "7", "REDIS_POOL_SIZE": "3"}, 7, 3},
	} {
		m := map[string]string{}
		for k, v := range vars {
			m[k] = v
		}
		for k, v := range c.set {
			m[k] = v
		}
		d, _, err := build(context.Background(), withDefaults(lookupIn(m)), io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		if got := d.Primary.Stat().MaxConns(); int(got) != c.db {
			t.Errorf("%v: primary pool %d, want %d", c.set, got, c.db)
		}
		rdb, ok := d.Redis.(*redis.Client)
		if !ok {
			t.Fatalf("redis client is a %T", d.Redis)
		}
		if got := rdb.Options().PoolSize; got != c.redis {
			t.Errorf("%v: redis pool %d, want %d", c.set, got, c.redis)
		}
		d.Close()
	}
}

func TestOptions(t *testing.T) {
	o, err := readOptions(lookupIn(map[string]string{"PORT": "9000", "HOST": "127.0.0.1", "SHUTDOWN_TIMEOUT": "3s"}))
	if err != nil || o.addr != "127.0.0.1:9000" || o.shutdownTimeout != 3*time.Second || o.requestTimeout != 10*time.Second {
		t.Fatalf("%+v %v", o, err)
	}
	if o, err := readOptions(lookupIn(nil)); err != nil || o.addr != ":8080" {
		t.Fatalf("%+v %v", o, err)
	}
	_, err = readOptions(lookupIn(map[string]string{"SHUTDOWN_TIMEOUT": "soon", "REQUEST_TIMEOUT": "-1s"}))
	if err == nil || !strings.Contains(err.Error(), "SHUTDOWN_TIMEOUT") || !strings.Contains(err.Error(), "REQUEST_TIMEOUT") {
		t.Fatalf("bad durations: %v", err)
	}
}
