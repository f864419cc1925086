package localstack

import (
	"bufio"
	"encoding/json"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"scaleapi/internal/samtemplate"
	"scaleapi/shared/config"
)

const templatePath = "../template.yaml"

// compose is the part of docker-compose.yml the tests read. yaml.v3 resolves the file's anchors.
type compose struct {
	Name     string
	Networks map[string]struct{ Name string }
	Services map[string]service
}

type service struct {
	Image       string
	Ports       []string
	Environment map[string]string
	Volumes     []string
	DependsOn   map[string]struct{ Condition string } `yaml:"depends_on"`
	Healthcheck *struct{ Test []string }
	Restart     string
}

func readCompose(t *testing.T) compose {
	t.Helper()
	b, err := os.ReadFile("docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var c compose
	if err := yaml.Unmarshal(b, &c); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	return c
}

// containerPorts returns the container side of a service's published port ("127.0.0.1:${X:-6432}:6432").
func (s service) containerPorts() []string {
	var out []string
	for _, p := range s.Ports {
		out = append(out, p[strings.LastIndex(p, ":")+1:])
	}
	return out
}

// configVars are the variables shared/config reads: the env tags of config.Config.
func configVars() map[string]bool {
	vars := map[string]bool{}
	rt := reflect.TypeOf(config.Config{})
	for i := range rt.NumField() {
		if tag := rt.Field(i).Tag.Get("env"); tag != "" {
			vars[strings.Split(tag, ",")[0]] = true
		}
	}
	return vars
}

// loadConfig loads a function's configuration the way its main does, from env plus the
// AWS_REGION that Lambda (and sam local) set, requiring everything a function may need.
func loadConfig(env map[string]string) (config.Config, error) {
	lookup := func(k string) (string, bool) {
		if k == "AWS_REGION" {
			return "us-east-1", true
		}
		v, ok := env[k]
		return v, ok
	}
	return config.Load(lookup, config.Needs{Database: true, Redis: true, Signing: true})
}

// checkEndpoint fails unless raw's host is a compose service that publishes raw's port from
// inside the network, which is where a function under `sam local --docker-network` or in
// LocalStack connects.
func checkEndpoint(t *testing.T, c compose, what, raw string) {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("%s: not a URL", what)
	}
	s, ok := c.Services[u.Hostname()]
	if !ok {
		t.Errorf("%s: host %q is not a service of docker-compose.yml", what, u.Hostname())
		return
	}
	if !slices.Contains(s.containerPorts(), u.Port()) {
		t.Errorf("%s: service %s listens on %v inside the network, not %s", what, u.Hostname(), s.containerPorts(), u.Port())
	}
}

func parseTemplate(t *testing.T, params map[string]string) *samtemplate.Template {
	t.Helper()
	tpl, err := samtemplate.Parse(templatePath, samtemplate.Options{Parameters: params})
	if err != nil {
		t.Fatal(err)
	}
	if len(tpl.Functions) == 0 {
		t.Fatal("template.yaml has no functions")
	}
	return tpl
}

// TestEnvFile checks env.json, the --env-vars file of `sam local start-api`, against the template
// and the configuration: each function has its section, every variable in it is one the template
// declares for the function (sam local silently drops the others) and one shared/config reads,
// and the function's configuration loads from the result.
func TestEnvFile(t *testing.T) {
	b, err := os.ReadFile("env.json")
	if err != nil {
		t.Fatal(err)
	}
	var file map[string]map[string]string
	if err := json.Unmarshal(b, &file); err != nil {
		t.Fatalf("env.json: %v (sections of string values expected)", err)
	}
	tpl := parseTemplate(t, nil)
	c := readCompose(t)
	reads := configVars()

	ids := map[string]bool{}
	for _, fn := range tpl.Functions {
		ids[fn.LogicalID] = true
		vars, ok := file[fn.LogicalID]
		if !ok {
			t.Errorf("env.json has no section for %s", fn.LogicalID)
			continue
		}
		env := map[string]string{}
		for k, v := range fn.Environment {
			env[k] = v
		}
		for k, v := range vars {
			if _, declared := fn.Environment[k]; !declared {
				t.Errorf("env.json %s.%s: template.yaml does not declare it for the function, so sam local drops it", fn.LogicalID, k)
			}
			if !reads[k] {
				t.Errorf("env.json %s.%s: shared/config does not read it", fn.LogicalID, k)
			}
			env[k] = v
		}
		cfg, err := loadConfig(env)
		if err != nil {
			t.Errorf("%s with env.json: %v", fn.LogicalID, err)
			continue
		}
		if cfg.DatabaseIAMAuth {
			t.Errorf("%s: DATABASE_IAM_AUTH must be false locally (PgBouncer takes no IAM tokens)", fn.LogicalID)
		}
		if cfg.JWTSecret == "" {
			t.Errorf("%s: JWT_SECRET unset: the function would call Secrets Manager, which sam local cannot reach", fn.LogicalID)
		}
		checkEndpoint(t, c, fn.LogicalID+" DATABASE_URL", cfg.DatabaseURL)
		checkEndpoint(t, c, fn.LogicalID+" DATABASE_READER_URL", cfg.DatabaseReaderURL)
		checkEndpoint(t, c, fn.LogicalID+" REDIS_URL", cfg.RedisURL)
	}
	for section := range file {
		if !ids[section] && section != "Parameters" {
			t.Errorf("env.json section %s names no function of template.yaml", section)
		}
	}
}

// deployOverrides reads the parameter overrides deploy.sh passes to `samlocal deploy`.
func deployOverrides(t *testing.T) map[string]string {
	t.Helper()
	b, err := os.ReadFile("deploy.sh")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?s)\noverrides=\(\n(.*?)\n\)\n`).FindSubmatch(b)
	if m == nil {
		t.Fatal("deploy.sh: no overrides=( ... ) block")
	}
	out := map[string]string{}
	for _, line := range strings.Split(string(m[1]), "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), "=")
		if !ok {
			t.Fatalf("deploy.sh: override line %q is not Key=Value", line)
		}
		out[k] = v
	}
	return out
}

// TestDeployOverrides resolves template.yaml with deploy.sh's parameter overrides, as
// `samlocal deploy` will, and checks that every function's configuration loads, that it reaches
// the compose services, and that the ready hook's SSM parameters hold the same URLs.
func TestDeployOverrides(t *testing.T) {
	params := deployOverrides(t)
	// deploy.sh adds these two at run time: the secret's ARN (with the suffix LocalStack
	// generates) and the stage.
	params["JwtSecretArn"] = "arn:aws:secretsmanager:us-east-1:000000000000:secret:scaleapi/jwt-AbCdEf"
	params["Stage"] = "dev"
	tpl := parseTemplate(t, params) // fails on an override the template has no parameter for
	c := readCompose(t)
	ls := c.Services["localstack"]

	for _, fn := range tpl.Functions {
		env := fn.Environment
		cfg, err := loadConfig(env)
		if err != nil {
			t.Errorf("%s with deploy.sh's overrides: %v", fn.LogicalID, err)
			continue
		}
		if cfg.DatabaseIAMAuth {
			t.Errorf("%s: DATABASE_IAM_AUTH resolves to true; LocalStack has no RDS Proxy to take the token", fn.LogicalID)
		}
		if cfg.JWTSecret == "" && cfg.JWTSecretARN != params["JwtSecretArn"] {
			t.Errorf("%s: JWT_SECRET_ARN = %q, want the secret's ARN", fn.LogicalID, cfg.JWTSecretARN)
		}
		checkEndpoint(t, c, fn.LogicalID+" DATABASE_URL", cfg.DatabaseURL)
		checkEndpoint(t, c, fn.LogicalID+" DATABASE_READER_URL", cfg.DatabaseReaderURL)
		checkEndpoint(t, c, fn.LogicalID+" REDIS_URL", cfg.RedisURL)
		for v, param := range map[string]string{
			"DATABASE_URL":        "SCALEAPI_DATABASE_URL",
			"DATABASE_READER_URL": "SCALEAPI_DATABASE_READER_URL",
			"REDIS_URL":           "SCALEAPI_REDIS_URL",
		} {
			if got := ls.Environment[param]; got != env[v] {
				t.Errorf("localstack %s = %q, but %s resolves %s to %q", param, got, fn.LogicalID, v, env[v])
			}
		}
	}
}

// TestCompose checks the promises docker-compose.yml makes in its comments and the README.
func TestCompose(t *testing.T) {
	c := readCompose(t)
	const network = "scaleapi-local"
	if got := c.Networks["default"].Name; got != network {
		t.Errorf("default network is named %q, want %q (env.json's hosts and --docker-network depend on it)", got, network)
	}
	// See the comment on the localstack service: later releases need an auth token.
	if got := c.Services["localstack"].Image; got != "localstack/localstack:4.14.0" {
		t.Errorf("localstack image %s: 4.14.0 is the last release that starts without an auth token", got)
	}
	if got := c.Services["localstack"].Environment["LAMBDA_DOCKER_NETWORK"]; got != network {
		t.Errorf("LAMBDA_DOCKER_NETWORK = %q, want %q", got, network)
	}
	for _, want := range []string{"postgres-primary", "postgres-replica", "pgbouncer", "pgbouncer-reader", "redis", "localstack", "migrate"} {
		if _, ok := c.Services[want]; !ok {
			t.Errorf("no service %s", want)
		}
	}
	adopted := map[string]bool{} // one-shot services a long-running one waits for
	for name, s := range c.Services {
		image, tag, ok := strings.Cut(s.Image, ":")
		if !ok || tag == "latest" || !strings.ContainsAny(tag, "0123456789") {
			t.Errorf("%s: image %q is not pinned to a version", name, s.Image)
		}
		if image == "postgres" && !strings.HasPrefix(tag, "15.") {
			t.Errorf("%s: image %s is not PostgreSQL 15", name, s.Image)
		}
		if image == "redis" && !strings.HasPrefix(tag, "7.") {
			t.Errorf("%s: image %s is not Redis 7", name, s.Image)
		}
		for _, p := range s.Ports {
			if !strings.HasPrefix(p, "127.0.0.1:") {
				t.Errorf("%s: port %q is not bound to 127.0.0.1", name, p)
			}
		}
		for dep, cond := range s.DependsOn {
			d, ok := c.Services[dep]
			switch {
			case !ok:
				t.Errorf("%s depends on unknown service %s", name, dep)
			case d.Restart == "no" && cond.Condition != "service_completed_successfully":
				t.Errorf("%s waits for one-shot %s with %q, want service_completed_successfully", name, dep, cond.Condition)
			case d.Restart != "no" && cond.Condition != "service_healthy":
				t.Errorf("%s waits for %s with %q, want service_healthy", name, dep, cond.Condition)
			}
			if ok && d.Restart == "no" && s.Restart != "no" {
				adopted[dep] = true
			}
		}
		if s.Restart != "no" && (s.Healthcheck == nil || len(s.Healthcheck.Test) == 0) {
			t.Errorf("%s: long-running service without a healthcheck", name)
		}
		for _, v := range s.Volumes {
			host, _, _ := strings.Cut(v, ":")
			if strings.HasPrefix(host, ".") {
				if _, err := os.Stat(host); err != nil {
					t.Errorf("%s mounts %s: %v", name, host, err)
				}
			}
		}
	}
	for name, s := range c.Services {
		// `up --wait` fails on an exited container unless a running one depends on it this way.
		if s.Restart == "no" && !adopted[name] {
			t.Errorf("one-shot %s: no long-running service waits for it (service_completed_successfully), so `up --wait` fails", name)
		}
	}
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), "--docker-network "+network) {
		t.Errorf("README.md does not show `--docker-network %s`", network)
	}
}

// readINI reads PgBouncer's key = value lines (sections flattened; [databases] keys kept too).
func readINI(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == ';' || line[0] == '#' || line[0] == '[' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("%s: %q is not key = value", path, line)
		}
		out[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestPgBouncer checks both poolers against the seed's configuration and the compose file: the
// backend each one fronts, the port the functions use, and the files it reads being mounted.
func TestPgBouncer(t *testing.T) {
	c := readCompose(t)
	seed := map[string]string{
		"pool_mode": "transaction", "max_client_conn": "1000", "default_pool_size": "20",
		"min_pool_size": "5", "reserve_pool_size": "5",
		"listen_port": "6432", "auth_type": "trust",
	}
	for svc, backend := range map[string]string{"pgbouncer": "postgres-primary", "pgbouncer-reader": "postgres-replica"} {
		s := c.Services[svc]
		var ini string
		mounts := map[string]bool{}
		for _, v := range s.Volumes {
			parts := strings.Split(v, ":")
			mounts[parts[1]] = true
			if parts[1] == "/etc/pgbouncer/pgbouncer.ini" {
				ini = parts[0]
			}
		}
		if ini == "" {
			t.Errorf("%s mounts no /etc/pgbouncer/pgbouncer.ini", svc)
			continue
		}
		conf := readINI(t, ini)
		for k, want := range seed {
			if conf[k] != want {
				t.Errorf("%s (%s): %s = %q, want %q", svc, ini, k, conf[k], want)
			}
		}
		if want := "host=" + backend + " port=5432"; conf["*"] != want {
			t.Errorf("%s (%s): [databases] * = %q, want %q", svc, ini, conf["*"], want)
		}
		if conf["client_tls_sslmode"] == "" || conf["client_tls_sslmode"] == "disable" {
			t.Errorf("%s: no TLS for clients, but the template's DATABASE_URL says sslmode=require", svc)
		}
		for _, k := range []string{"auth_file", "client_tls_key_file", "client_tls_cert_file"} {
			if !mounts[conf[k]] && !mounts[filepath.Dir(conf[k])] {
				t.Errorf("%s: %s %s is not mounted", svc, k, conf[k])
			}
		}
	}
	users, err := os.ReadFile("pgbouncer/userlist.txt")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(users), `"scaleapi" `) {
		t.Errorf("pgbouncer/userlist.txt does not list scaleapi, the template's DatabaseUser")
	}
}

// TestScripts checks every shell script here: executable (LocalStack skips a hook that is not,
// and the postgres image would source an init script instead of running it), a shebang, and
// bash -n. Running them needs Docker and LocalStack.
func TestScripts(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Fatalf("bash is needed to check the scripts' syntax: %v", err)
	}
	var scripts []string
	err = filepath.WalkDir(".", func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, ".sh") {
			scripts = append(scripts, path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"init/ready.d/10-scaleapi.sh", "deploy.sh", "postgres/replica.sh", "postgres/primary-init.sh", "postgres/make-certs.sh"} {
		if !slices.Contains(scripts, filepath.FromSlash(want)) {
			t.Errorf("missing %s", want)
		}
	}
	for _, s := range scripts {
		info, err := os.Stat(s)
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode()&0o111 == 0 {
			t.Errorf("%s is not executable", s)
		}
		b, err := os.ReadFile(s)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(string(b), "#!") {
			t.Errorf("%s has no shebang", s)
		}
		if out, err := exec.Command(bash, "-n", s).CombinedOutput(); err != nil {
			t.Errorf("bash -n %s: %v\n%s", s, err, out)
		}
	}
}

// TestLocalURLs checks that the host-side URLs the README gives for `make run` against the
// compose services load as configuration and point at published loopback ports.
func TestLocalURLs(t *testing.T) {
	c := readCompose(t)
	env := map[string]string{
		"DATABASE_URL":        "postgres://scaleapi@127.0.0.1:6432/scaleapi?sslmode=disable",
		"DATABASE_READER_URL": "postgres://scaleapi@127.0.0.1:6433/scaleapi?sslmode=disable",
		"REDIS_URL":           "redis://127.0.0.1:6379/0",
		"JWT_SECRET":          strings.Repeat("k", 32),
	}
	if _, err := loadConfig(env); err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	published := map[string]string{} // default host port -> service
	re := regexp.MustCompile(`^127\.0\.0\.1:\$\{[A-Z_]+:-(\d+)\}:\d+$`)
	for name, s := range c.Services {
		for _, p := range s.Ports {
			if m := re.FindStringSubmatch(p); m != nil {
				published[m[1]] = name
			}
		}
	}
	for _, k := range []string{"DATABASE_URL", "DATABASE_READER_URL", "REDIS_URL"} {
		if !strings.Contains(string(readme), k+"='"+strings.Split(env[k], "?")[0]) {
			t.Errorf("README.md does not give %s=%s", k, env[k])
		}
		u, _ := url.Parse(env[k])
		host, port, _ := net.SplitHostPort(u.Host)
		if host != "127.0.0.1" || published[port] == "" {
			t.Errorf("%s: %s is not a port docker-compose.yml publishes on 127.0.0.1", k, u.Host)
		}
	}
}
