package deploycheck

import (
	"bufio"
	"bytes"
	"debug/elf"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/template"
	"github.com/compose-spec/compose-go/v2/types"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	sigsjson "sigs.k8s.io/json"
	sigsyaml "sigs.k8s.io/yaml"

	"scaleapi/shared/config"
)

// root is the repository root, seen from this package's directory.
const root = "../.."

const (
	composeFile = "docker-compose.scale.yml"
	k8sDir      = "deploy/k8s"
	dockerfile  = "Dockerfile"
	serverPkg   = "./functions/server"
	migratePkg  = "./cmd/migrate"
	serverPort  = 8080
)

// ---------------------------------------------------------------------------------------------
// The variables the server reads.

// serverVars are the variables functions/server reads itself (readOptions and run), beside
// config's.
var serverVars = []string{"HOST", "PORT", "SHUTDOWN_TIMEOUT", "REQUEST_TIMEOUT", "DEBUG_ADDR"}

// runtimeVars are the Go runtime's, which a deployment may set.
var runtimeVars = []string{"GOMEMLIMIT", "GOMAXPROCS", "GOGC", "GODEBUG"}

// allNeeds is what the server asks of config: every function's needs together.
var allNeeds = config.Needs{Database: true, Redis: true, Signing: true}

// shutdownTimeout is functions/server's default SHUTDOWN_TIMEOUT.
const shutdownTimeout = 20 * time.Second

// knownVars returns every variable the server process reads: config's, found by watching which
// names config.Load looks up, the server's own and the Go runtime's.
func knownVars(t *testing.T) map[string]bool {
	t.Helper()
	known := map[string]bool{}
	_, _ = config.Load(func(k string) (string, bool) { known[k] = true; return "", false }, allNeeds)
	for _, k := range []string{"DATABASE_URL", "REDIS_URL", "JWT_SECRET"} {
		if !known[k] {
			t.Fatalf("config.Load did not look up %s: the way this test finds config's variables no longer works", k)
		}
	}
	for _, k := range append(slices.Clone(serverVars), runtimeVars...) {
		known[k] = true
	}
	return known
}

// checkServerEnv fails unless env names only variables the server reads and makes a
// configuration that config.Load accepts, with the server's own durations valid.
func checkServerEnv(t *testing.T, what string, env map[string]string) {
	t.Helper()
	known := knownVars(t)
	for _, k := range sortedKeys(env) {
		if !known[k] {
			t.Errorf("%s: %s is not a variable functions/server or shared/config reads", what, k)
		}
	}
	if _, err := config.Load(mapLookup(env), allNeeds); err != nil {
		t.Errorf("%s: the server's configuration does not load: %v", what, err)
	}
	for _, k := range []string{"SHUTDOWN_TIMEOUT", "REQUEST_TIMEOUT"} {
		if v, ok := env[k]; ok {
			if d, err := time.ParseDuration(v); err != nil || d <= 0 {
				t.Errorf("%s: %s=%q is not a positive duration", what, k, v)
			}
		}
	}
}

// deref formats *p, or "unset" for nil.
func deref[T any](p *T) string {
	if p == nil {
		return "unset"
	}
	return fmt.Sprint(*p)
}

func mapLookup(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// hostPort returns the host and port of a URL, the port defaulting to def.
func hostPort(t *testing.T, what, raw string, def int) (string, int) {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		t.Fatalf("%s: not a URL with a host", what) // never echo: it may hold a password
	}
	port := def
	if p := u.Port(); p != "" {
		port, err = strconv.Atoi(p)
		if err != nil {
			t.Fatalf("%s: port %q", what, p)
		}
	}
	return u.Hostname(), port
}

// pinned fails for an image reference without a tag or digest, or tagged latest.
func pinned(image string) error {
	if strings.Contains(image, "@sha256:") {
		return nil
	}
	tag := ""
	if i := strings.LastIndex(image, ":"); i > strings.LastIndex(image, "/") {
		tag = image[i+1:]
	}
	switch tag {
	case "":
		return fmt.Errorf("image %q has no tag: it is :latest", image)
	case "latest":
		return fmt.Errorf("image %q is tagged latest", image)
	}
	return nil
}

// repository is an image reference without its tag or digest.
func repository(image string) string {
	image, _, _ = strings.Cut(image, "@")
	if i := strings.LastIndex(image, ":"); i > strings.LastIndex(image, "/") {
		image = image[:i]
	}
	return image
}

func readFile(t *testing.T, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, rel))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// ---------------------------------------------------------------------------------------------
// docker-compose.scale.yml

// strictSubstitute is compose's interpolation, except that a variable which is neither in the
// environment given nor has a default is an error, where compose would warn and use "".
func strictSubstitute(s string, m template.Mapping) (string, error) {
	return template.SubstituteWithOptions(s, m, template.WithoutLogging,
		template.WithReplacementFunction(func(sub string, m template.Mapping, c *template.Config) (string, error) {
			v, applied, err := template.DefaultReplacementAppliedFunc(sub, m, c)
			if err == nil && !applied {
				err = fmt.Errorf("%s is not set and has no default", sub)
			}
			return v, err
		}))
}

// loadCompose loads the compose file (content, when not nil, in place of the file's) with
// every check compose-go has: the compose-spec schema, the consistency checks (references to
// services, networks, volumes), normalisation and path resolution. Interpolation reads env
// only, never the process environment.
func loadCompose(t *testing.T, env map[string]string, content []byte) (*types.Project, error) {
	t.Helper()
	dir, err := filepath.Abs(root)
	if err != nil {
		t.Fatal(err)
	}
	details := types.ConfigDetails{
		WorkingDir:  dir,
		ConfigFiles: []types.ConfigFile{{Filename: filepath.Join(dir, composeFile), Content: content}},
		Environment: env,
	}
	return loader.LoadWithContext(t.Context(), details, func(o *loader.Options) {
		o.SkipValidation = false
		o.SkipConsistencyCheck = false
		o.SkipNormalization = false
		o.SkipInterpolation = false
		o.SkipResolveEnvironment = false
		o.ResolvePaths = true
		o.Interpolate.Substitute = strictSubstitute
	})
}

func service(t *testing.T, p *types.Project, name string) types.ServiceConfig {
	t.Helper()
	s, err := p.GetService(name)
	if err != nil {
		t.Fatalf("%s: %v", composeFile, err)
	}
	return s
}

// environment returns a service's resolved environment.
func environment(t *testing.T, s types.ServiceConfig) map[string]string {
	t.Helper()
	env := map[string]string{}
	for k, v := range s.Environment {
		if v == nil {
			t.Errorf("%s: %s has no value", s.Name, k)
			continue
		}
		env[k] = *v
	}
	return env
}

func TestCompose(t *testing.T) {
	// Set in the process, it must not reach the model: only the map handed to the loader does.
	t.Setenv("SCALEAPI_HTTP_PORT", "1")
	p, err := loadCompose(t, map[string]string{}, nil)
	if err != nil {
		t.Fatalf("%s: %v", composeFile, err)
	}
	api := service(t, p, "api")

	t.Run("LoaderRejects", func(t *testing.T) {
		orig := readFile(t, composeFile)
		cases := []struct{ name, old, new string }{
			{"UnknownKey", "      replicas: 3\n", "      replicaz: 3\n"},
			{"UnknownService", "      migrate:\n        condition: service_completed_successfully\n",
				"      migrator:\n        condition: service_completed_successfully\n"},
			{"UnsetVariable", "${SCALEAPI_HTTP_PORT:-8080}", "${SCALEAPI_HTTP_PORT}"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				if !bytes.Contains(orig, []byte(tc.old)) {
					t.Fatalf("%s no longer contains %q: update the case", composeFile, tc.old)
				}
				bad := bytes.Replace(orig, []byte(tc.old), []byte(tc.new), 1)
				if _, err := loadCompose(t, map[string]string{}, bad); err == nil {
					t.Fatal("loaded without an error")
				}
			})
		}
	})

	t.Run("Interpolation", func(t *testing.T) {
		if got := service(t, p, "nginx").Ports; len(got) != 1 || got[0].Published != "8080" {
			t.Fatalf("nginx publishes %+v; want the default 8080, whatever the process environment says", got)
		}
		q, err := loadCompose(t, map[string]string{"SCALEAPI_HTTP_PORT": "9090"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := service(t, q, "nginx").Ports; len(got) != 1 || got[0].Published != "9090" {
			t.Fatalf("nginx publishes %+v; want SCALEAPI_HTTP_PORT's 9090", got)
		}
	})

	t.Run("APIReplicas", func(t *testing.T) {
		d := api.Deploy
		if d == nil {
			t.Fatal("api has no deploy section")
		}
		if d.Replicas == nil || *d.Replicas != 3 {
			t.Errorf("api: deploy.replicas %s, want 3", deref(d.Replicas))
		}
		lim := d.Resources.Limits
		if lim == nil || lim.NanoCPUs != 1 || lim.MemoryBytes != 512*1024*1024 {
			t.Fatalf("api: limits %+v; want cpus 1, memory 512M", lim)
		}
		if len(api.Ports) != 0 || api.ContainerName != "" {
			t.Error("api: replicas can't share a published port or a container name; nginx publishes the port")
		}
		if api.Build == nil || api.Build.Context != p.WorkingDir || filepath.Base(api.Build.Dockerfile) != dockerfile {
			t.Errorf("api: not built from the root %s: %+v", dockerfile, api.Build)
		}
		if len(api.Entrypoint) != 0 {
			t.Errorf("api: entrypoint %q overrides the image's /server", api.Entrypoint)
		}
		if g := api.StopGracePeriod; g == nil || time.Duration(*g) < shutdownTimeout+5*time.Second {
			t.Errorf("api: stop_grace_period %v leaves SHUTDOWN_TIMEOUT's %v of draining no time before SIGKILL", g, shutdownTimeout)
		}
		if !api.ReadOnly || !slices.Contains(api.CapDrop, "ALL") {
			t.Error("api: want read_only and cap_drop ALL, as in the Kubernetes manifests")
		}
	})

	t.Run("NginxInFront", func(t *testing.T) {
		ng := service(t, p, "nginx")
		if repository(ng.Image) != "nginx" {
			t.Errorf("nginx: image %q", ng.Image)
		}
		for _, name := range p.ServiceNames() {
			if s := service(t, p, name); name != "nginx" && len(s.Ports) > 0 {
				t.Errorf("%s publishes %+v: only nginx faces the host", name, s.Ports)
			}
		}
		if len(ng.Ports) != 1 || ng.Ports[0].Target != 80 || ng.Ports[0].HostIP != "127.0.0.1" {
			t.Errorf("nginx: ports %+v; want one, 127.0.0.1:…:80", ng.Ports)
		}
		if _, ok := ng.DependsOn["api"]; !ok {
			t.Error("nginx does not depend on api")
		}
		confPath := filepath.Join(p.WorkingDir, "deploy", "nginx", "nginx.conf")
		mounted := false
		for _, v := range ng.Volumes {
			if v.Target == "/etc/nginx/nginx.conf" && v.Source == confPath && v.ReadOnly {
				mounted = true
			}
		}
		if !mounted {
			t.Errorf("nginx does not mount %s read-only at /etc/nginx/nginx.conf: %+v", confPath, ng.Volumes)
		}
		port, err := strconv.Atoi(environment(t, api)["PORT"])
		if err != nil || port != serverPort {
			t.Errorf("api: PORT is not %d", serverPort)
		}
		conf := readFile(t, "deploy/nginx/nginx.conf")
		checkNginx(t, conf, "api", serverPort)
		// The upstream server's resolve parameter is in open-source nginx from 1.27.3 on.
		if regexp.MustCompile(`(?m)^\s*server\s+\S+.*\bresolve\b`).Match(nginxComment.ReplaceAll(conf, nil)) {
			major, minor := 0, 0
			if v := regexp.MustCompile(`^nginx:(\d+)\.(\d+)`).FindStringSubmatch(ng.Image); v != nil {
				major, _ = strconv.Atoi(v[1])
				minor, _ = strconv.Atoi(v[2])
			}
			if major < 1 || (major == 1 && minor < 27) {
				t.Errorf("nginx.conf resolves the upstream again (resolve), which %s does not support", ng.Image)
			}
		}
		if hc := ng.HealthCheck; hc == nil || !strings.Contains(strings.Join(hc.Test, " "), "/readyz") {
			t.Error("nginx: no healthcheck through to /readyz, so `up --wait` would not wait for a ready API")
		}
	})

	t.Run("MigrateBeforeAPI", func(t *testing.T) {
		if c := api.DependsOn["migrate"].Condition; c != types.ServiceConditionCompletedSuccessfully {
			t.Errorf("api depends on migrate with %q, want %s", c, types.ServiceConditionCompletedSuccessfully)
		}
		m := service(t, p, "migrate")
		if m.Build == nil || api.Build == nil || m.Build.Context != api.Build.Context || m.Build.Dockerfile != api.Build.Dockerfile {
			t.Errorf("migrate is not built as api is: %+v", m.Build)
		}
		if !slices.Equal(m.Entrypoint, []string{"/migrate"}) || !slices.Equal(m.Command, []string{"up"}) {
			t.Errorf("migrate runs %q %q, want /migrate up", m.Entrypoint, m.Command)
		}
		if !slices.Contains(finalCopies(t), "/migrate") {
			t.Errorf("the image has no /migrate: %s's final stage copies %q", dockerfile, finalCopies(t))
		}
		if m.Restart != "" && m.Restart != "no" {
			t.Errorf("migrate restarts (%q): a one-shot must exit", m.Restart)
		}
		env := environment(t, m)
		for k := range env {
			if k != "DATABASE_URL" {
				t.Errorf("migrate: cmd/migrate does not read %s", k)
			}
		}
		host, port := hostPort(t, "migrate DATABASE_URL", env["DATABASE_URL"], 5432)
		if host != "postgres" || port != 5432 {
			t.Errorf("migrate runs against %s:%d, want the primary itself (postgres:5432), never the pooler", host, port)
		}
		if c := m.DependsOn["postgres"].Condition; c != types.ServiceConditionHealthy {
			t.Errorf("migrate depends on postgres with %q", c)
		}
	})

	t.Run("PoolerInTransactionMode", func(t *testing.T) {
		env := environment(t, api)
		pgb := environment(t, service(t, p, "pgbouncer"))
		if pgb["POOL_MODE"] != "transaction" {
			t.Errorf("pgbouncer: POOL_MODE %q", pgb["POOL_MODE"])
		}
		listen, _ := strconv.Atoi(pgb["LISTEN_PORT"])
		for _, k := range []string{"DATABASE_URL", "DATABASE_READER_URL"} {
			if host, port := hostPort(t, "api "+k, env[k], 5432); host != "pgbouncer" || port != listen {
				t.Errorf("api %s reaches %s:%d, want the pooler pgbouncer:%d", k, host, port, listen)
			}
		}
		if host, _ := hostPort(t, "pgbouncer DATABASE_URL", pgb["DATABASE_URL"], 5432); host != "postgres" {
			t.Errorf("pgbouncer pools %s, want postgres", host)
		}
		if host, _ := hostPort(t, "api REDIS_URL", env["REDIS_URL"], 6379); host != "redis" {
			t.Errorf("api REDIS_URL reaches %s", host)
		}
		if repository(service(t, p, "postgres").Image) != "postgres" || repository(service(t, p, "redis").Image) != "redis" {
			t.Error("postgres and redis are not the official images")
		}
	})

	t.Run("ImagesPinned", func(t *testing.T) {
		for _, name := range p.ServiceNames() {
			s := service(t, p, name)
			switch {
			case s.Image == "" && s.Build == nil:
				t.Errorf("%s has neither image nor build", name)
			case s.Image != "":
				if err := pinned(s.Image); err != nil {
					t.Errorf("%s: %v", name, err)
				}
			}
		}
	})

	t.Run("HealthyDependencies", func(t *testing.T) {
		for _, name := range p.ServiceNames() {
			for dep, d := range service(t, p, name).DependsOn {
				if d.Condition != types.ServiceConditionHealthy {
					continue
				}
				if hc := service(t, p, dep).HealthCheck; hc == nil || hc.Disable || len(hc.Test) == 0 {
					t.Errorf("%s waits for %s to be healthy, which has no healthcheck", name, dep)
				}
			}
		}
		for _, name := range []string{"pgbouncer", "redis"} {
			if c := api.DependsOn[name].Condition; c != types.ServiceConditionHealthy {
				t.Errorf("api depends on %s with %q, want service_healthy", name, c)
			}
		}
	})

	t.Run("APIEnvironment", func(t *testing.T) {
		env := environment(t, api)
		checkServerEnv(t, "api", env)
		if !strings.Contains(strings.ToLower(env["JWT_SECRET"]), "placeholder") {
			t.Error("api: JWT_SECRET is not marked as a placeholder")
		}
	})
}

// nginxComment strips comments from nginx.conf; no value in the file holds a '#'.
var nginxComment = regexp.MustCompile(`(?m)#.*$`)

// checkNginx fails unless conf proxies to an upstream of host:port with keep-alive.
func checkNginx(t *testing.T, conf []byte, host string, port int) {
	t.Helper()
	c := nginxComment.ReplaceAllString(string(conf), "")
	m := regexp.MustCompile(`upstream\s+(\w+)\s*\{([^}]*)\}`).FindStringSubmatch(c)
	if m == nil {
		t.Fatal("nginx.conf: no upstream block")
	}
	name, block := m[1], m[2]
	if !regexp.MustCompile(`(?m)^\s*server\s+` + regexp.QuoteMeta(fmt.Sprintf("%s:%d", host, port)) + `[\s;]`).MatchString(block) {
		t.Errorf("nginx.conf: upstream %s has no server %s:%d", name, host, port)
	}
	if k := regexp.MustCompile(`\bkeepalive\s+(\d+);`).FindStringSubmatch(block); k == nil || k[1] == "0" {
		t.Errorf("nginx.conf: upstream %s keeps no idle connections (keepalive N)", name)
	}
	if k := regexp.MustCompile(`\bkeepalive_timeout\s+(\d+)s;`).FindStringSubmatch(block); k != nil {
		// functions/server's IdleTimeout is 75 s: the proxy must close an idle connection first.
		if n, _ := strconv.Atoi(k[1]); n >= 75 {
			t.Errorf("nginx.conf: keepalive_timeout %ss is not under the server's 75 s", k[1])
		}
	}
	for _, want := range []string{
		`proxy_pass\s+http://` + name + `;`,
		`proxy_http_version\s+1\.1;`,
		`proxy_set_header\s+Connection\s+"";`,
	} {
		if !regexp.MustCompile(want).MatchString(c) {
			t.Errorf("nginx.conf: no %s", want)
		}
	}
}

// ---------------------------------------------------------------------------------------------
// deploy/k8s

// kinds are the API types a manifest of deploy/k8s may hold, by apiVersion and kind.
var kinds = map[string]func() any{
	"apps/v1/Deployment":                     func() any { return &appsv1.Deployment{} },
	"v1/Service":                             func() any { return &corev1.Service{} },
	"autoscaling/v2/HorizontalPodAutoscaler": func() any { return &autoscalingv2.HorizontalPodAutoscaler{} },
	"policy/v1/PodDisruptionBudget":          func() any { return &policyv1.PodDisruptionBudget{} },
	"batch/v1/Job":                           func() any { return &batchv1.Job{} },
	"v1/ConfigMap":                           func() any { return &corev1.ConfigMap{} },
	"v1/Secret":                              func() any { return &corev1.Secret{} },
}

// decodeStrict decodes one YAML document as the API server's strict field validation does: a
// duplicate key, an unknown field or a field in the wrong case is an error (encoding/json
// alone would match "Replicas" to replicas).
func decodeStrict(doc []byte, into any) error {
	j, err := sigsyaml.YAMLToJSONStrict(doc)
	if err != nil {
		return err
	}
	strict, err := sigsjson.UnmarshalStrict(j, into, sigsjson.DisallowUnknownFields)
	if err != nil {
		return err
	}
	return errors.Join(strict...)
}

// documents splits a YAML stream into its documents, dropping empty ones.
func documents(data []byte) ([][]byte, error) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var docs [][]byte
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, err
		}
		j, err := sigsyaml.YAMLToJSON(doc)
		if err != nil {
			return nil, err
		}
		if s := string(bytes.TrimSpace(j)); s != "null" && s != "" {
			docs = append(docs, doc)
		}
	}
}

// decodeManifest decodes one document into the API type its apiVersion and kind name.
func decodeManifest(doc []byte) (any, error) {
	var tm metav1.TypeMeta
	if err := sigsyaml.Unmarshal(doc, &tm); err != nil {
		return nil, err
	}
	newObj, ok := kinds[tm.APIVersion+"/"+tm.Kind]
	if !ok {
		return nil, fmt.Errorf("%s %s is not a kind this test knows", tm.APIVersion, tm.Kind)
	}
	obj := newObj()
	return obj, decodeStrict(doc, obj)
}

// kustomization is the part of kustomization.yaml deploy/k8s uses; decoding it strictly makes
// any other field a failure, to be added here deliberately.
type kustomization struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Resources  []string `json:"resources"`
	Images     []struct {
		Name    string `json:"name"`
		NewName string `json:"newName,omitempty"`
		NewTag  string `json:"newTag,omitempty"`
		Digest  string `json:"digest,omitempty"`
	} `json:"images"`
}

// manifests are the objects of deploy/k8s, by kind.
type manifests struct {
	files      []string // every YAML file but kustomization.yaml
	kust       kustomization
	deployment *appsv1.Deployment
	service    *corev1.Service
	hpa        *autoscalingv2.HorizontalPodAutoscaler
	pdb        *policyv1.PodDisruptionBudget
	job        *batchv1.Job
	configMaps map[string]*corev1.ConfigMap
	secrets    map[string]*corev1.Secret
}

func loadManifests(t *testing.T) manifests {
	t.Helper()
	dir := filepath.Join(root, k8sDir)
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	m := manifests{configMaps: map[string]*corev1.ConfigMap{}, secrets: map[string]*corev1.Secret{}}
	for _, e := range entries {
		name := e.Name()
		ext := filepath.Ext(name)
		if e.IsDir() || (ext != ".yaml" && ext != ".yml") {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if name == "kustomization.yaml" {
			if err := decodeStrict(data, &m.kust); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			continue
		}
		m.files = append(m.files, name)
		docs, err := documents(data)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(docs) == 0 {
			t.Errorf("%s holds no object", name)
		}
		for i, doc := range docs {
			obj, err := decodeManifest(doc)
			if err != nil {
				t.Errorf("%s, document %d: %v", name, i+1, err)
				continue
			}
			switch o := obj.(type) {
			case *appsv1.Deployment:
				setOnce(t, name, &m.deployment, o)
			case *corev1.Service:
				setOnce(t, name, &m.service, o)
			case *autoscalingv2.HorizontalPodAutoscaler:
				setOnce(t, name, &m.hpa, o)
			case *policyv1.PodDisruptionBudget:
				setOnce(t, name, &m.pdb, o)
			case *batchv1.Job:
				setOnce(t, name, &m.job, o)
			case *corev1.ConfigMap:
				m.configMaps[o.Name] = o
			case *corev1.Secret:
				m.secrets[o.Name] = o
			}
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	if m.deployment == nil || m.service == nil || m.hpa == nil || m.pdb == nil || m.job == nil ||
		len(m.configMaps) == 0 || len(m.secrets) == 0 {
		t.Fatalf("%s lacks a Deployment, Service, HorizontalPodAutoscaler, PodDisruptionBudget, Job, ConfigMap or Secret", k8sDir)
	}
	return m
}

// setOnce sets *dst to v, failing when a second object of the kind turns up.
func setOnce[T any](t *testing.T, file string, dst **T, v *T) {
	t.Helper()
	if *dst != nil {
		t.Fatalf("%s: a second %T in %s", file, v, k8sDir)
	}
	*dst = v
}

func TestKubernetes(t *testing.T) {
	m := loadManifests(t)
	d := m.deployment
	pod := d.Spec.Template
	api := container(t, pod.Spec, "api")
	stages := readStages(t)
	final := stages[len(stages)-1]

	t.Run("StrictDecodingRejects", func(t *testing.T) {
		orig := readFile(t, filepath.Join(k8sDir, "deployment.yaml"))
		cases := []struct{ name, old, new string }{
			{"UnknownField", "  replicas: 2\n", "  replicaz: 2\n"},
			{"WrongCase", "  replicas: 2\n", "  Replicas: 2\n"},
			{"DuplicateKey", "  replicas: 2\n", "  replicas: 2\n  replicas: 3\n"},
			{"WrongType", "  replicas: 2\n", "  replicas: two\n"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				if !bytes.Contains(orig, []byte(tc.old)) {
					t.Fatalf("deployment.yaml no longer contains %q: update the case", tc.old)
				}
				if _, err := decodeManifest(bytes.Replace(orig, []byte(tc.old), []byte(tc.new), 1)); err == nil {
					t.Fatal("decoded without an error")
				}
			})
		}
	})

	t.Run("Kustomization", func(t *testing.T) {
		k := m.kust
		if k.APIVersion != "kustomize.config.k8s.io/v1beta1" || k.Kind != "Kustomization" {
			t.Errorf("kustomization.yaml: %s %s", k.APIVersion, k.Kind)
		}
		listed := slices.Sorted(slices.Values(k.Resources))
		if !slices.Equal(slices.Compact(slices.Clone(listed)), listed) {
			t.Errorf("kustomization.yaml lists a resource twice: %q", listed)
		}
		if files := slices.Sorted(slices.Values(m.files)); !slices.Equal(listed, files) {
			t.Errorf("kustomization.yaml lists %q; the folder holds %q", listed, files)
		}
		images := map[string]bool{}
		for _, img := range k.Images {
			images[img.Name] = true
			if img.Digest == "" && (img.NewTag == "" || img.NewTag == "latest") {
				t.Errorf("kustomization.yaml: image %s is not pinned to a tag", img.Name)
			}
		}
		for _, c := range append(slices.Clone(pod.Spec.Containers), m.job.Spec.Template.Spec.Containers...) {
			if !images[repository(c.Image)] {
				t.Errorf("container %s: image %s has no entry in kustomization.yaml's images", c.Name, repository(c.Image))
			}
		}
	})

	t.Run("ImagesPinned", func(t *testing.T) {
		for _, c := range append(slices.Clone(pod.Spec.Containers), m.job.Spec.Template.Spec.Containers...) {
			if err := pinned(c.Image); err != nil {
				t.Errorf("container %s: %v", c.Name, err)
			}
		}
		if api.Image != container(t, m.job.Spec.Template.Spec, "migrate").Image {
			t.Error("the migration Job runs another image than the Deployment")
		}
	})

	t.Run("Deployment", func(t *testing.T) {
		if d.Spec.Replicas == nil || *d.Spec.Replicas != 2 {
			t.Errorf("replicas %s, want 2", deref(d.Spec.Replicas))
		}
		mustSelect(t, "Deployment selector", d.Spec.Selector, pod.Labels)
		if len(api.Command) != 0 {
			t.Errorf("api: command %q overrides the image's entrypoint", api.Command)
		}
		p := namedPort(t, api, "http")
		if p.ContainerPort != serverPort || !slices.Contains(final.exposed(), strconv.Itoa(serverPort)) {
			t.Errorf("api: port http is %d; the server listens on %d and the image exposes %q", p.ContainerPort, serverPort, final.exposed())
		}
		want := resource.MustParse("1")
		mem := resource.MustParse("512Mi")
		for what, rl := range map[string]corev1.ResourceList{"requests": api.Resources.Requests, "limits": api.Resources.Limits} {
			if q, ok := rl[corev1.ResourceCPU]; !ok || q.Cmp(want) != 0 {
				t.Errorf("api: cpu %s %v, want 1", what, rl.Cpu())
			}
			if q, ok := rl[corev1.ResourceMemory]; !ok || q.Cmp(mem) != 0 {
				t.Errorf("api: memory %s %v, want 512Mi", what, rl.Memory())
			}
		}
		checkEnvFrom(t, m, api)
	})

	t.Run("Probes", func(t *testing.T) {
		probes := []struct {
			what string
			p    *corev1.Probe
			path string
		}{
			{"readinessProbe", api.ReadinessProbe, "/readyz"},
			{"livenessProbe", api.LivenessProbe, "/livez"},
			{"startupProbe", api.StartupProbe, "/livez"},
		}
		for _, pr := range probes {
			if pr.p == nil {
				if pr.what != "startupProbe" {
					t.Errorf("api has no %s", pr.what)
				}
				continue
			}
			g := pr.p.HTTPGet
			if g == nil || g.Path != pr.path {
				t.Errorf("api %s is not GET %s: %+v", pr.what, pr.path, pr.p.ProbeHandler)
				continue
			}
			if port := portNumber(t, api, g.Port); port != serverPort {
				t.Errorf("api %s probes port %d, not the server's %d", pr.what, port, serverPort)
			}
		}
		if r := api.ReadinessProbe; r != nil && r.TimeoutSeconds <= 1 {
			t.Errorf("api readinessProbe times out after %ds; /readyz gives its pings 1 s", r.TimeoutSeconds)
		}
	})

	t.Run("Shutdown", func(t *testing.T) {
		lc := api.Lifecycle
		if lc == nil || lc.PreStop == nil || lc.PreStop.Sleep == nil || lc.PreStop.Sleep.Seconds != 5 {
			t.Fatalf("api: preStop is not the kubelet's sleep action of 5 s: %+v", lc)
		}
		if lc.PreStop.Exec != nil {
			t.Error("api: a preStop exec can't run in a distroless image")
		}
		grace := pod.Spec.TerminationGracePeriodSeconds
		drain := shutdownTimeout
		if v, ok := m.configMaps["scaleapi-config"].Data["SHUTDOWN_TIMEOUT"]; ok {
			drain, _ = time.ParseDuration(v)
		}
		need := time.Duration(lc.PreStop.Sleep.Seconds)*time.Second + drain
		if grace == nil || *grace != 30 || time.Duration(*grace)*time.Second <= need {
			t.Errorf("terminationGracePeriodSeconds %s; want 30, over preStop + SHUTDOWN_TIMEOUT (%v)", deref(grace), need)
		}
	})

	t.Run("SecurityContext", func(t *testing.T) {
		for _, ps := range []struct {
			what string
			spec corev1.PodSpec
		}{{"Deployment", pod.Spec}, {"Job", m.job.Spec.Template.Spec}} {
			for _, c := range ps.spec.Containers {
				checkSecurity(t, ps.what+" "+c.Name, ps.spec.SecurityContext, c.SecurityContext, final.user())
			}
		}
	})

	t.Run("HPA", func(t *testing.T) {
		h := m.hpa.Spec
		ref := h.ScaleTargetRef
		if ref.APIVersion != "apps/v1" || ref.Kind != "Deployment" || ref.Name != d.Name {
			t.Errorf("HPA targets %+v, not Deployment %s", ref, d.Name)
		}
		if h.MinReplicas == nil || *h.MinReplicas != 2 || h.MaxReplicas != 10 {
			t.Errorf("HPA replicas %s to %d, want 2 to 10", deref(h.MinReplicas), h.MaxReplicas)
		}
		got := map[corev1.ResourceName]int32{}
		for _, mt := range h.Metrics {
			if mt.Type != autoscalingv2.ResourceMetricSourceType || mt.Resource == nil ||
				mt.Resource.Target.Type != autoscalingv2.UtilizationMetricType || mt.Resource.Target.AverageUtilization == nil {
				t.Errorf("HPA metric %+v is not a resource utilization", mt)
				continue
			}
			got[mt.Resource.Name] = *mt.Resource.Target.AverageUtilization
		}
		if want := map[corev1.ResourceName]int32{corev1.ResourceCPU: 70, corev1.ResourceMemory: 80}; len(got) != 2 || got[corev1.ResourceCPU] != 70 || got[corev1.ResourceMemory] != 80 {
			t.Errorf("HPA targets %v, want %v", got, want)
		}
		for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			if _, ok := api.Resources.Requests[r]; !ok {
				t.Errorf("api requests no %s: the HPA's utilization has nothing to divide by", r)
			}
		}
	})

	t.Run("PDB", func(t *testing.T) {
		p := m.pdb.Spec
		if p.MinAvailable == nil || *p.MinAvailable != intstr.FromInt32(1) || p.MaxUnavailable != nil {
			t.Errorf("PDB minAvailable %v, maxUnavailable %v; want minAvailable 1", p.MinAvailable, p.MaxUnavailable)
		}
		mustSelect(t, "PDB selector", p.Selector, pod.Labels)
	})

	t.Run("Service", func(t *testing.T) {
		s := m.service.Spec
		if len(s.Selector) == 0 || !labels.SelectorFromSet(s.Selector).Matches(labels.Set(pod.Labels)) {
			t.Errorf("Service selects %v, not the Deployment's pods %v", s.Selector, pod.Labels)
		}
		if len(s.Ports) != 1 || portNumber(t, api, s.Ports[0].TargetPort) != serverPort {
			t.Errorf("Service ports %+v do not reach the server's port", s.Ports)
		}
	})

	t.Run("MigrateJob", func(t *testing.T) {
		spec := m.job.Spec.Template.Spec
		c := container(t, spec, "migrate")
		if !slices.Equal(c.Command, []string{"/migrate"}) || !slices.Equal(c.Args, []string{"up"}) {
			t.Errorf("the Job runs %q %q, want /migrate up", c.Command, c.Args)
		}
		if !slices.Contains(finalCopies(t), "/migrate") {
			t.Errorf("the image has no /migrate")
		}
		if spec.RestartPolicy != corev1.RestartPolicyNever && spec.RestartPolicy != corev1.RestartPolicyOnFailure {
			t.Errorf("the Job's restartPolicy is %q", spec.RestartPolicy)
		}
		if m.job.Spec.BackoffLimit == nil || m.job.Spec.ActiveDeadlineSeconds == nil {
			t.Error("the Job's retries are unbounded (backoffLimit, activeDeadlineSeconds)")
		}
		checkEnvFrom(t, m, c)
		env := envFrom(t, m, c)
		for k := range env {
			if k != "DATABASE_URL" {
				t.Errorf("the Job gets %s, which cmd/migrate does not read", k)
			}
		}
		if apiURL := envFrom(t, m, api)["DATABASE_URL"]; env["DATABASE_URL"] == "" || env["DATABASE_URL"] == apiURL {
			t.Error("the Job's DATABASE_URL is not the primary's own: it must not be the API's pooler URL")
		}
	})

	t.Run("Environment", func(t *testing.T) {
		env := envFrom(t, m, api)
		for _, k := range sortedKeys(env) {
			if k == "JWT_SECRET" || !strings.HasSuffix(k, "_URL") {
				continue
			}
			if !strings.Contains(env[k], "REPLACE_ME") {
				t.Errorf("secret.example.yaml: %s holds no REPLACE_ME placeholder", k)
			}
		}
		// The placeholder is too short to sign with, so a pod started with it fails at start.
		if _, err := config.Load(mapLookup(env), allNeeds); err == nil || !strings.Contains(err.Error(), "JWT_SECRET") {
			t.Errorf("the example Secret's JWT_SECRET is accepted by config (%v): a deployed placeholder would sign tokens", err)
		}
		env["JWT_SECRET"] = strings.Repeat("k", 32)
		checkServerEnv(t, "ConfigMap + Secret", env)
		if env["PORT"] != strconv.Itoa(serverPort) {
			t.Errorf("PORT %q", env["PORT"])
		}
	})
}

func container(t *testing.T, spec corev1.PodSpec, name string) corev1.Container {
	t.Helper()
	for _, c := range spec.Containers {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no container %s", name)
	return corev1.Container{}
}

func namedPort(t *testing.T, c corev1.Container, name string) corev1.ContainerPort {
	t.Helper()
	for _, p := range c.Ports {
		if p.Name == name {
			return p
		}
	}
	t.Fatalf("container %s has no port %s", c.Name, name)
	return corev1.ContainerPort{}
}

// portNumber resolves a probe's or Service's port, by name or number, against the container.
func portNumber(t *testing.T, c corev1.Container, p intstr.IntOrString) int32 {
	t.Helper()
	if p.Type == intstr.String {
		return namedPort(t, c, p.StrVal).ContainerPort
	}
	return p.IntVal
}

func mustSelect(t *testing.T, what string, sel *metav1.LabelSelector, podLabels map[string]string) {
	t.Helper()
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil || sel == nil || s.Empty() || !s.Matches(labels.Set(podLabels)) {
		t.Errorf("%s %v does not select the Deployment's pods %v (%v)", what, sel, podLabels, err)
	}
}

// checkEnvFrom fails unless every ConfigMap and Secret the container reads is in deploy/k8s.
func checkEnvFrom(t *testing.T, m manifests, c corev1.Container) {
	t.Helper()
	if len(c.EnvFrom) == 0 {
		t.Errorf("container %s: no envFrom", c.Name)
	}
	for _, e := range c.EnvFrom {
		switch {
		case e.ConfigMapRef != nil:
			if m.configMaps[e.ConfigMapRef.Name] == nil {
				t.Errorf("container %s reads ConfigMap %s, which deploy/k8s does not define", c.Name, e.ConfigMapRef.Name)
			}
		case e.SecretRef != nil:
			if m.secrets[e.SecretRef.Name] == nil {
				t.Errorf("container %s reads Secret %s, which deploy/k8s does not define", c.Name, e.SecretRef.Name)
			}
		}
	}
}

// envFrom is the environment a container gets from its ConfigMaps, Secrets and env, in the
// kubelet's order (env wins, then the later envFrom source).
func envFrom(t *testing.T, m manifests, c corev1.Container) map[string]string {
	t.Helper()
	env := map[string]string{}
	for _, e := range c.EnvFrom {
		switch {
		case e.ConfigMapRef != nil && m.configMaps[e.ConfigMapRef.Name] != nil:
			for k, v := range m.configMaps[e.ConfigMapRef.Name].Data {
				env[e.Prefix+k] = v
			}
		case e.SecretRef != nil && m.secrets[e.SecretRef.Name] != nil:
			s := m.secrets[e.SecretRef.Name]
			for k, v := range s.Data {
				env[e.Prefix+k] = string(v)
			}
			for k, v := range s.StringData {
				env[e.Prefix+k] = v
			}
		}
	}
	for _, e := range c.Env {
		if e.ValueFrom != nil {
			t.Errorf("container %s: env %s comes from elsewhere, which this test does not follow", c.Name, e.Name)
		}
		env[e.Name] = e.Value
	}
	return env
}

// checkSecurity checks a container's effective security context (its own, else the pod's).
func checkSecurity(t *testing.T, what string, pod *corev1.PodSecurityContext, c *corev1.SecurityContext, imageUser string) {
	t.Helper()
	if pod == nil {
		pod = &corev1.PodSecurityContext{}
	}
	if c == nil {
		c = &corev1.SecurityContext{}
	}
	nonRoot := c.RunAsNonRoot
	if nonRoot == nil {
		nonRoot = pod.RunAsNonRoot
	}
	if nonRoot == nil || !*nonRoot {
		t.Errorf("%s: runAsNonRoot is not true", what)
	}
	uid := c.RunAsUser
	if uid == nil {
		uid = pod.RunAsUser
	}
	switch {
	case uid != nil && *uid == 0:
		t.Errorf("%s: runAsUser 0", what)
	case uid != nil && strconv.FormatInt(*uid, 10) != imageUser:
		t.Errorf("%s: runAsUser %d, the image's USER is %s", what, *uid, imageUser)
	case uid == nil:
		if _, err := strconv.Atoi(imageUser); err != nil {
			t.Errorf("%s: no runAsUser and the image's USER %q is not numeric: runAsNonRoot can't verify it", what, imageUser)
		}
	}
	if c.ReadOnlyRootFilesystem == nil || !*c.ReadOnlyRootFilesystem {
		t.Errorf("%s: readOnlyRootFilesystem is not true", what)
	}
	if c.AllowPrivilegeEscalation == nil || *c.AllowPrivilegeEscalation {
		t.Errorf("%s: allowPrivilegeEscalation is not false", what)
	}
	if c.Privileged != nil && *c.Privileged {
		t.Errorf("%s: privileged", what)
	}
	if c.Capabilities == nil || !slices.Contains(c.Capabilities.Drop, "ALL") || len(c.Capabilities.Add) > 0 {
		t.Errorf("%s: capabilities %+v; want drop ALL, add none", what, c.Capabilities)
	}
	sp := c.SeccompProfile
	if sp == nil {
		sp = pod.SeccompProfile
	}
	if sp == nil || sp.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("%s: seccompProfile is not RuntimeDefault", what)
	}
}

// ---------------------------------------------------------------------------------------------
// Dockerfile

// instruction is one Dockerfile instruction, its continuation lines joined.
type instruction struct {
	line int    // where it starts
	cmd  string // upper case: FROM, RUN, ...
	args string
}

// parseDockerfile reads a Dockerfile as BuildKit does for the subset this repository uses:
// comments and parser directives, backslash continuations (comment lines inside one dropped).
// It refuses what it would misread: another escape character and heredocs.
func parseDockerfile(src string) ([]instruction, error) {
	var (
		out  []instruction
		cur  *instruction
		text strings.Builder
	)
	for i, raw := range strings.Split(src, "\n") {
		line := strings.TrimRight(raw, " \t\r")
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "#") {
			if d := strings.ToLower(strings.ReplaceAll(trimmed, " ", "")); strings.HasPrefix(d, "#escape=") {
				return nil, fmt.Errorf("line %d: an escape directive: this parser knows only the backslash", i+1)
			}
			continue // a comment, also inside a continued instruction
		}
		if cur == nil {
			if trimmed == "" {
				continue
			}
			cmd, _, _ := strings.Cut(trimmed, " ")
			cur = &instruction{line: i + 1, cmd: strings.ToUpper(cmd)}
			trimmed = strings.TrimSpace(trimmed[len(cmd):])
		}
		cont := strings.HasSuffix(trimmed, `\`)
		text.WriteString(strings.TrimSpace(strings.TrimSuffix(trimmed, `\`)))
		if cont {
			text.WriteString(" ")
			continue
		}
		cur.args = strings.TrimSpace(text.String())
		if strings.Contains(cur.args, "<<") {
			return nil, fmt.Errorf("line %d: a heredoc, which this parser does not read", cur.line)
		}
		out = append(out, *cur)
		cur, text = nil, strings.Builder{}
	}
	if cur != nil {
		return nil, fmt.Errorf("line %d: the last instruction ends in a continuation", cur.line)
	}
	return out, nil
}

// stage is one FROM and the instructions after it.
type stage struct {
	image, name string
	instrs      []instruction
}

func (s stage) all(cmd string) []instruction {
	var out []instruction
	for _, in := range s.instrs {
		if in.cmd == cmd {
			out = append(out, in)
		}
	}
	return out
}

// user is the stage's last USER, "" if none.
func (s stage) user() string {
	u := ""
	for _, in := range s.all("USER") {
		u, _, _ = strings.Cut(in.args, ":")
	}
	return u
}

func (s stage) exposed() []string {
	var out []string
	for _, in := range s.all("EXPOSE") {
		for _, p := range strings.Fields(in.args) {
			p, _, _ = strings.Cut(p, "/")
			out = append(out, p)
		}
	}
	return out
}

// env is the stage's ENV, in the KEY=VALUE form.
func (s stage) env(t *testing.T) map[string]string {
	t.Helper()
	env := map[string]string{}
	for _, in := range s.all("ENV") {
		words, err := shellWords(in.args)
		if err != nil {
			t.Fatalf("%s line %d: %v", dockerfile, in.line, err)
		}
		for _, w := range words {
			k, v, ok := strings.Cut(w, "=")
			if !ok {
				t.Fatalf("%s line %d: ENV %q: use the KEY=VALUE form", dockerfile, in.line, in.args)
			}
			env[k] = v
		}
	}
	return env
}

func readStages(t *testing.T) []stage {
	t.Helper()
	instrs, err := parseDockerfile(string(readFile(t, dockerfile)))
	if err != nil {
		t.Fatalf("%s: %v", dockerfile, err)
	}
	var stages []stage
	for _, in := range instrs {
		if in.cmd == "FROM" {
			var words []string
			for _, w := range strings.Fields(in.args) {
				if !strings.HasPrefix(w, "--") { // --platform=...
					words = append(words, w)
				}
			}
			s := stage{image: words[0]}
			if len(words) == 3 && strings.EqualFold(words[1], "AS") {
				s.name = words[2]
			} else if len(words) != 1 {
				t.Fatalf("%s line %d: FROM %s", dockerfile, in.line, in.args)
			}
			stages = append(stages, s)
			continue
		}
		if len(stages) == 0 {
			if in.cmd != "ARG" {
				t.Fatalf("%s line %d: %s before FROM", dockerfile, in.line, in.cmd)
			}
			continue
		}
		stages[len(stages)-1].instrs = append(stages[len(stages)-1].instrs, in)
	}
	if len(stages) == 0 {
		t.Fatalf("%s has no FROM", dockerfile)
	}
	return stages
}

// copyFrom is a COPY --from=stage of the final stage.
type copyFrom struct {
	from, dst string
	srcs      []string
}

func finalCopyFroms(t *testing.T) []copyFrom {
	t.Helper()
	stages := readStages(t)
	var out []copyFrom
	for _, in := range stages[len(stages)-1].all("COPY") {
		words, err := shellWords(in.args)
		if err != nil {
			t.Fatalf("%s line %d: %v", dockerfile, in.line, err)
		}
		var c copyFrom
		var paths []string
		for _, w := range words {
			if v, ok := strings.CutPrefix(w, "--from="); ok {
				c.from = v
			} else if !strings.HasPrefix(w, "--") {
				paths = append(paths, w)
			}
		}
		if c.from == "" || len(paths) < 2 {
			continue
		}
		c.srcs, c.dst = paths[:len(paths)-1], paths[len(paths)-1]
		out = append(out, c)
	}
	return out
}

// finalCopies are the paths the final stage copies from other stages.
func finalCopies(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, c := range finalCopyFroms(t) {
		out = append(out, c.dst)
	}
	return out
}

// shellWords splits a simple shell command into words: quotes and backslashes are honoured,
// and an unquoted operator or command substitution is refused rather than misread.
func shellWords(s string) ([]string, error) {
	var (
		words []string
		cur   strings.Builder
		in    bool // inside a word
		quote rune
	)
	rs := []rune(s)
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		switch {
		case quote == '\'':
			if r == '\'' {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case quote == '"':
			switch {
			case r == '"':
				quote = 0
			case r == '\\' && i+1 < len(rs) && strings.ContainsRune(`"\$`+"`", rs[i+1]):
				i++
				cur.WriteRune(rs[i])
			case r == '`' || (r == '$' && i+1 < len(rs) && rs[i+1] == '('):
				return nil, fmt.Errorf("command substitution in %q", s)
			default:
				cur.WriteRune(r)
			}
		case r == '\'' || r == '"':
			quote, in = r, true
		case r == '\\' && i+1 < len(rs):
			i++
			cur.WriteRune(rs[i])
			in = true
		case r == ' ' || r == '\t' || r == '\n':
			if in {
				words = append(words, cur.String())
				cur.Reset()
				in = false
			}
		case strings.ContainsRune(";&|<>()`", r) || (r == '$' && i+1 < len(rs) && rs[i+1] == '('):
			return nil, fmt.Errorf("shell operator %q in %q: one simple command per RUN", r, s)
		default:
			cur.WriteRune(r)
			in = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("unterminated quote in %q", s)
	}
	if in {
		words = append(words, cur.String())
	}
	return words, nil
}

// goBuild is one `go build` of the Dockerfile.
type goBuild struct {
	line   int
	env    map[string]string // the stage's ENV, then the command's own assignments
	flags  []string          // every flag but -o
	output string
	pkgs   []string
}

// goValueFlags are the go build flags that take a value.
var goValueFlags = map[string]bool{
	"o": true, "tags": true, "ldflags": true, "gcflags": true, "asmflags": true, "mod": true,
	"modfile": true, "overlay": true, "pgo": true, "p": true, "pkgdir": true, "toolexec": true,
	"buildmode": true, "compiler": true, "installsuffix": true, "coverpkg": true, "covermode": true,
	"C": true, "gccgoflags": true,
}

// parseGoBuild reads `go build` arguments: flags (-f v, -f=v, --f) until the packages.
func parseGoBuild(args []string) (flags []string, output string, pkgs []string, err error) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") {
			pkgs = args[i:]
			break
		}
		name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		f := []string{a}
		if goValueFlags[name] && !hasValue {
			if i+1 >= len(args) {
				return nil, "", nil, fmt.Errorf("%s without a value", a)
			}
			i++
			f = append(f, args[i])
		}
		if name == "o" {
			output = f[len(f)-1]
			if hasValue {
				_, output, _ = strings.Cut(a, "=")
			}
			continue
		}
		flags = append(flags, f...)
	}
	if len(pkgs) == 0 {
		err = errors.New("no package")
	}
	return flags, output, pkgs, err
}

// goBuilds are the Dockerfile's `go build` commands, with their stage's environment.
func goBuilds(t *testing.T) []goBuild {
	t.Helper()
	var out []goBuild
	for _, s := range readStages(t) {
		for _, in := range s.all("RUN") {
			if !strings.Contains(in.args, "go build") {
				continue
			}
			words, err := shellWords(in.args)
			if err != nil {
				t.Fatalf("%s line %d: %v", dockerfile, in.line, err)
			}
			b := goBuild{line: in.line, env: s.env(t)}
			for len(words) > 0 && strings.HasPrefix(words[0], "--") { // --mount=...
				words = words[1:]
			}
			for len(words) > 0 && regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*=`).MatchString(words[0]) {
				k, v, _ := strings.Cut(words[0], "=")
				b.env[k] = v
				words = words[1:]
			}
			if len(words) < 2 || words[0] != "go" || words[1] != "build" {
				t.Fatalf("%s line %d: a RUN that names go build but is not one: %q", dockerfile, in.line, in.args)
			}
			if b.flags, b.output, b.pkgs, err = parseGoBuild(words[2:]); err != nil {
				t.Fatalf("%s line %d: %v", dockerfile, in.line, err)
			}
			out = append(out, b)
		}
	}
	return out
}

func TestDockerfile(t *testing.T) {
	stages := readStages(t)
	final := stages[len(stages)-1]
	builds := goBuilds(t)

	t.Run("FinalStage", func(t *testing.T) {
		if img := final.image; img != "scratch" && !(strings.HasPrefix(img, "gcr.io/distroless/") && strings.Contains(img, ":nonroot")) {
			t.Errorf("the final stage is %s, not distroless nonroot (or scratch)", img)
		}
		switch u := final.user(); u {
		case "", "root", "0":
			t.Errorf("the final stage's USER is %q: the image runs as root", u)
		}
		if !slices.Contains(final.exposed(), strconv.Itoa(serverPort)) {
			t.Errorf("the final stage exposes %q, not %d", final.exposed(), serverPort)
		}
		eps := final.all("ENTRYPOINT")
		var ep []string
		if len(eps) == 0 || json.Unmarshal([]byte(eps[len(eps)-1].args), &ep) != nil || !slices.Equal(ep, []string{"/server"}) {
			t.Errorf("the ENTRYPOINT is not the exec form [\"/server\"]: %+v", eps)
		}
		copies := map[string]string{} // destination in the image -> the build output it is
		for _, c := range finalCopyFroms(t) {
			for _, src := range c.srcs {
				copies[c.dst] = src
			}
		}
		for dst, pkg := range map[string]string{"/server": serverPkg, "/migrate": migratePkg} {
			found := false
			for _, b := range builds {
				if slices.Contains(b.pkgs, pkg) && copies[dst] == b.output {
					found = true
				}
			}
			if !found {
				t.Errorf("%s in the image is not the output of a go build of %s", dst, pkg)
			}
		}
	})

	t.Run("Builder", func(t *testing.T) {
		gomod := string(readFile(t, "go.mod"))
		goLine := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindStringSubmatch(gomod)
		for _, s := range stages[:len(stages)-1] {
			if err := pinned(s.image); err != nil {
				t.Errorf("stage %s: %v", s.name, err)
			}
			if repo := repository(s.image); repo == "golang" && (goLine == nil || !strings.HasPrefix(s.image, "golang:"+goLine[1])) {
				t.Errorf("stage %s builds with %s; go.mod says go %v", s.name, s.image, goLine)
			}
		}
		var pkgs []string
		for _, b := range builds {
			pkgs = append(pkgs, b.pkgs...)
			if b.env["CGO_ENABLED"] != "0" || b.env["GOOS"] != "linux" {
				t.Errorf("line %d: go build without CGO_ENABLED=0 GOOS=linux: %v", b.line, b.env)
			}
			if !slices.Contains(b.flags, "-trimpath") {
				t.Errorf("line %d: go build without -trimpath", b.line)
			}
			if ld := flagValue(b.flags, "ldflags"); !slices.Contains(strings.Fields(ld), "-s") || !slices.Contains(strings.Fields(ld), "-w") {
				t.Errorf("line %d: -ldflags %q lacks -s -w", b.line, ld)
			}
		}
		if slices.Sort(pkgs); !slices.Equal(pkgs, []string{migratePkg, serverPkg}) {
			t.Errorf("the Dockerfile builds %q, want %s and %s", pkgs, serverPkg, migratePkg)
		}
	})

	t.Run("SameFlagsAsMake", func(t *testing.T) {
		m := regexp.MustCompile(`(?m)^BUILD_FLAGS\s*:?=\s*(.*)$`).FindStringSubmatch(string(readFile(t, "Makefile")))
		if m == nil {
			t.Fatal("the Makefile has no BUILD_FLAGS")
		}
		want, err := shellWords(m[1])
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range builds {
			if !slices.Equal(b.flags, want) {
				t.Errorf("line %d: go build %q; make build-server builds with %q", b.line, b.flags, want)
			}
		}
	})

	t.Run("Build", func(t *testing.T) {
		out := t.TempDir()
		for _, b := range builds {
			bin := filepath.Join(out, path.Base(b.output))
			args := append([]string{"build"}, b.flags...)
			args = append(append(args, "-o", bin), b.pkgs...)
			cmd := exec.Command("go", args...)
			cmd.Dir = root
			cmd.Env = buildEnv(b)
			if msg, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("go %s (Dockerfile line %d): %v\n%s", strings.Join(args, " "), b.line, err, msg)
			}
			checkStatic(t, bin)
		}
	})

	t.Run("ContextHoldsTheSources", func(t *testing.T) {
		rules, err := readDockerignore(filepath.Join(root, ".dockerignore"))
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{".git/HEAD", ".local/x", "dist/server/server", ".aws-sam/build", "bench-results/x.json"} {
			if !ignored(rules, p) {
				t.Errorf(".dockerignore sends %s to the builder", p)
			}
		}
		files := []string{"go.mod", "go.sum"}
		for _, b := range builds {
			files = append(files, sourceFiles(t, b)...)
		}
		if len(files) < 10 {
			t.Fatalf("go list found only %q", files)
		}
		for _, f := range files {
			if ignored(rules, f) {
				t.Errorf(".dockerignore leaves out %s, which the image's build needs", f)
			}
		}
	})
}

func flagValue(flags []string, name string) string {
	for i, f := range flags {
		n, v, ok := strings.Cut(strings.TrimLeft(f, "-"), "=")
		if n != name {
			continue
		}
		if ok {
			return v
		}
		if i+1 < len(flags) {
			return flags[i+1]
		}
	}
	return ""
}

// buildEnv is the process environment with CGO_ENABLED=0 GOOS=linux and then the Dockerfile's
// for b, less values that are build arguments ($TARGETARCH): the test builds for this
// machine's architecture. (The Builder subtest checks that the Dockerfile sets the first two.)
func buildEnv(b goBuild) []string {
	env := append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	for _, k := range sortedKeys(b.env) {
		if v := b.env[k]; !strings.Contains(v, "$") {
			env = append(env, k+"="+v)
		}
	}
	return env
}

// checkStatic fails unless bin is an ELF executable with no dynamic loader and no shared
// library: one that runs on distroless/static or scratch.
func checkStatic(t *testing.T, bin string) {
	t.Helper()
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatalf("%s: %v", bin, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("%s is dynamically linked (it asks for a program interpreter)", filepath.Base(bin))
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("%s needs shared libraries %q", filepath.Base(bin), libs)
	}
}

// sourceFiles are the main module's files that b compiles or embeds, relative to the root.
func sourceFiles(t *testing.T, b goBuild) []string {
	t.Helper()
	args := append([]string{"list", "-deps", "-json=Dir,GoFiles,CgoFiles,EmbedFiles,Module"}, b.flags...)
	cmd := exec.Command("go", append(args, b.pkgs...)...)
	cmd.Dir = root
	cmd.Env = buildEnv(b)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p struct {
			Dir                           string
			GoFiles, CgoFiles, EmbedFiles []string
			Module                        *struct{ Main bool }
		}
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		if p.Module == nil || !p.Module.Main {
			continue
		}
		for _, f := range slices.Concat(p.GoFiles, p.CgoFiles, p.EmbedFiles) {
			rel, err := filepath.Rel(abs, filepath.Join(p.Dir, f))
			if err != nil || strings.HasPrefix(rel, "..") {
				t.Fatalf("%s is outside the module", f)
			}
			files = append(files, filepath.ToSlash(rel))
		}
	}
	return files
}

// ignoreRule is one .dockerignore line.
type ignoreRule struct {
	pattern string
	exclude bool // false for a "!" exception
}

// readDockerignore reads the patterns, refusing "**", whose meaning path.Match does not share.
func readDockerignore(file string) ([]ignoreRule, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var rules []ignoreRule
	for _, l := range strings.Split(string(data), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		r := ignoreRule{exclude: true}
		if p, ok := strings.CutPrefix(l, "!"); ok {
			l, r.exclude = p, false
		}
		if strings.Contains(l, "**") {
			return nil, fmt.Errorf(".dockerignore: %q: this test does not read **", l)
		}
		r.pattern = path.Clean(strings.TrimPrefix(l, "/"))
		if _, err := path.Match(r.pattern, ""); err != nil {
			return nil, fmt.Errorf(".dockerignore: %q: %v", l, err)
		}
		rules = append(rules, r)
	}
	return rules, nil
}

// ignored applies the rules as Docker does: a pattern matches a path or any of its parent
// folders, and the last rule that matches decides.
func ignored(rules []ignoreRule, rel string) bool {
	out := false
	for _, r := range rules {
		for p := rel; p != "." && p != "/"; p = path.Dir(p) {
			if ok, _ := path.Match(r.pattern, p); ok {
				out = r.exclude
				break
			}
		}
	}
	return out
}

// ---------------------------------------------------------------------------------------------

// TestHelpers checks the parsers the tests above rely on, on inputs whose answer is known.
func TestHelpers(t *testing.T) {
	t.Run("ShellWords", func(t *testing.T) {
		got, err := shellWords(`GOARCH=$TARGETARCH go build -ldflags='-s -w' "-o" a\ b ./x`)
		want := []string{"GOARCH=$TARGETARCH", "go", "build", "-ldflags=-s -w", "-o", "a b", "./x"}
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("got %q, %v; want %q", got, err, want)
		}
		for _, bad := range []string{"go build ./a && go build ./b", "go build $(ls)", "go build 'x"} {
			if _, err := shellWords(bad); err == nil {
				t.Errorf("%q: no error", bad)
			}
		}
	})
	t.Run("Dockerfile", func(t *testing.T) {
		in, err := parseDockerfile("# syntax=docker/dockerfile:1\nFROM a AS b\nRUN --mount=x \\\n  # note\n  go build \\\n  ./y\n")
		if err != nil || len(in) != 2 || in[1].cmd != "RUN" || in[1].args != "--mount=x go build ./y" || in[1].line != 3 {
			t.Errorf("got %+v, %v", in, err)
		}
		if _, err := parseDockerfile("# escape=`\nFROM a\n"); err == nil {
			t.Error("escape directive: no error")
		}
	})
	t.Run("GoBuild", func(t *testing.T) {
		flags, out, pkgs, err := parseGoBuild([]string{"-trimpath", "-tags", "x", "-o=/out/s", "-ldflags=-s", "./a", "./b"})
		if err != nil || out != "/out/s" || !slices.Equal(flags, []string{"-trimpath", "-tags", "x", "-ldflags=-s"}) || !slices.Equal(pkgs, []string{"./a", "./b"}) {
			t.Errorf("got %q %q %q %v", flags, out, pkgs, err)
		}
	})
	t.Run("Dockerignore", func(t *testing.T) {
		rules := []ignoreRule{{"dist", true}, {"*.test", true}, {"docs", true}, {"docs/keep.md", false}}
		for p, want := range map[string]bool{
			"dist/server/server": true, "a.test": true, "pkg/a.test": false, "distro/x.go": false,
			"docs/a.md": true, "docs/keep.md": false, ".apsorc": false,
		} {
			if got := ignored(rules, p); got != want {
				t.Errorf("%s: ignored %v, want %v", p, got, want)
			}
		}
	})
	t.Run("Pinned", func(t *testing.T) {
		for img, ok := range map[string]bool{
			"nginx:1.27-alpine": true, "localhost:5000/x:1": true, "x@sha256:ab": true,
			"nginx": false, "nginx:latest": false, "localhost:5000/x": false,
		} {
			if err := pinned(img); (err == nil) != ok {
				t.Errorf("%s: %v", img, err)
			}
		}
	})
	t.Run("HostPort", func(t *testing.T) {
		if h, p := hostPort(t, "x", "postgres://u:p@db:6432/x", 5432); h != "db" || p != 6432 {
			t.Errorf("got %s %d", h, p)
		}
		if _, p := hostPort(t, "x", "redis://r/0", 6379); p != 6379 {
			t.Errorf("default port: got %d", p)
		}
	})
}
