package samtemplate

import (
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func parse(t *testing.T, opts Options) *Template {
	t.Helper()
	tpl, err := Parse("testdata/template.yaml", opts)
	if err != nil {
		t.Fatal(err)
	}
	return tpl
}

func byID(t *testing.T, tpl *Template, id string) *Function {
	t.Helper()
	for _, f := range tpl.Functions {
		if f.LogicalID == id {
			return f
		}
	}
	t.Fatalf("no function %s", id)
	return nil
}

func TestParse(t *testing.T) {
	tpl := parse(t, Options{Region: "eu-west-1"})
	dir, _ := filepath.Abs("testdata")

	var ids []string
	for _, f := range tpl.Functions {
		ids = append(ids, f.LogicalID)
	}
	if want := []string{"HealthFunction", "ProjectsFunction"}; !reflect.DeepEqual(ids, want) {
		t.Fatalf("functions = %v, want %v (ProdOnlyFunction's condition is false)", ids, want)
	}

	t.Run("GlobalsMerged", func(t *testing.T) {
		h := byID(t, tpl, "HealthFunction")
		if h.Name != "HealthFunction" || h.Runtime != "provided.al2023" || h.Handler != "bootstrap" ||
			h.Timeout != 10*time.Second || h.MemorySize != 256 || h.ReservedConcurrency != nil ||
			!reflect.DeepEqual(h.Architectures, []string{"arm64"}) {
			t.Errorf("HealthFunction = %+v", h)
		}
		if want := filepath.Join(dir, "functions/health"); h.CodeURI != want {
			t.Errorf("CodeURI = %s, want %s", h.CodeURI, want)
		}
		want := map[string]string{"STAGE": "dev", "DATABASE_URL": "", "POOL_SIZE": "2", "LOG_LEVEL": "info"}
		if !reflect.DeepEqual(h.Environment, want) {
			t.Errorf("Environment = %v, want %v", h.Environment, want)
		}
	})

	t.Run("FunctionOverridesAndIntrinsics", func(t *testing.T) {
		p := byID(t, tpl, "ProjectsFunction")
		if p.Name != "local-projects" || p.Timeout != 7*time.Second || p.ReservedConcurrency == nil ||
			*p.ReservedConcurrency != 4 || p.BuildMethod != "makefile" || p.CodeURI != dir {
			t.Errorf("ProjectsFunction = %+v", p)
		}
		want := map[string]string{
			"STAGE": "dev", "DATABASE_URL": "", "POOL_SIZE": "2", "LOG_LEVEL": "debug",
			"SECRET_ARN":  "Secret",
			"SECRET_ATTR": "Secret.Id",
			"REGION_SUB":  "eu-west-1/dev/${Literal}",
			"ARN_SUB":     "x@arn:aws:secretsmanager:eu-west-1:123456789012:Secret",
			"RETRIES":     "3",
			"ENABLED":     "true",
			"PICK":        "dev-or-test",
		}
		if !reflect.DeepEqual(p.Environment, want) {
			t.Errorf("Environment:\n got %v\nwant %v", p.Environment, want)
		}
	})

	t.Run("Events", func(t *testing.T) {
		want := map[string][]Event{
			"ProjectsFunction": {
				{Name: "List", Kind: RESTAPI, Method: "GET", Path: "/projects", PayloadVersion: "1.0", Stage: "v1", API: "Api"},
				{Name: "Proxy", Kind: RESTAPI, Method: "ANY", Path: "/projects/{proxy+}", PayloadVersion: "1.0", Stage: "Prod"},
			},
			"HealthFunction": {
				{Name: "Default", Kind: HTTPAPI, Method: "ANY", Path: DefaultRoute, PayloadVersion: "2.0", Stage: "$default"},
				{Name: "Get", Kind: HTTPAPI, Method: "GET", Path: "/health", PayloadVersion: "2.0", Stage: "$default"},
				{Name: "Legacy", Kind: HTTPAPI, Method: "POST", Path: "/legacy", PayloadVersion: "1.0", Stage: "$default"},
			},
		}
		for id, events := range want {
			if got := byID(t, tpl, id).Events; !reflect.DeepEqual(got, events) {
				t.Errorf("%s events:\n got %+v\nwant %+v", id, got, events)
			}
		}
	})
}

func TestParseParameterOverrides(t *testing.T) {
	tpl := parse(t, Options{Parameters: map[string]string{"Stage": "prod", "DatabaseUrl": "postgres://x", "ProjectsTimeout": "2"}})
	if len(tpl.Functions) != 3 {
		t.Fatalf("%d functions, want 3: ProdOnlyFunction's condition is true for Stage=prod", len(tpl.Functions))
	}
	p := byID(t, tpl, "ProjectsFunction")
	if p.Environment["PROD_ONLY"] != "yes" || p.Environment["PICK"] != "other" || p.Environment["DATABASE_URL"] != "postgres://x" {
		t.Errorf("Environment = %v", p.Environment)
	}
	if p.Timeout != 2*time.Second {
		t.Errorf("Timeout = %v, want 2s from the overridden String parameter", p.Timeout)
	}
}

// Defaults apply to the parameters the template declares, under Parameters, and ignore the
// ones it does not.
func TestParseDefaults(t *testing.T) {
	tpl := parse(t, Options{Defaults: map[string]string{"Stage": "prod", "NotDeclared": "x"}})
	if len(tpl.Functions) != 3 {
		t.Fatalf("%d functions, want 3: Stage's default is prod", len(tpl.Functions))
	}
	tpl = parse(t, Options{Defaults: map[string]string{"Stage": "prod"}, Parameters: map[string]string{"Stage": "dev"}})
	if len(tpl.Functions) != 2 {
		t.Fatalf("%d functions, want 2: the Stage override wins over the default", len(tpl.Functions))
	}
}

func TestParseErrors(t *testing.T) {
	for name, tc := range map[string]struct{ template, want string }{
		"UnknownOverride": {"", "no such parameter"},
		"NoCodeUri": {`
Resources:
  F: {Type: AWS::Serverless::Function, Properties: {Runtime: provided.al2023}}`, "no CodeUri"},
		"NodeRuntime": {`
Resources:
  F: {Type: AWS::Serverless::Function, Properties: {CodeUri: ., Runtime: nodejs20.x}}`, "not supported"},
		"ApiWithoutPath": {`
Resources:
  F:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: ., Runtime: provided.al2023, Events: {E: {Type: Api, Properties: {Method: get}}}}`, "needs Path and Method"},
		"BadTimeout": {`
Resources:
  F: {Type: AWS::Serverless::Function, Properties: {CodeUri: ., Runtime: provided.al2023, Timeout: soon}}`, "not an integer"},
	} {
		t.Run(name, func(t *testing.T) {
			path := "testdata/template.yaml"
			opts := Options{Parameters: map[string]string{"Nope": "x"}}
			if tc.template != "" {
				path = filepath.Join(t.TempDir(), "template.yaml")
				if err := os.WriteFile(path, []byte(tc.template), 0o644); err != nil {
					t.Fatal(err)
				}
				opts = Options{}
			}
			_, err := Parse(path, opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Parse = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestAttributes(t *testing.T) {
	tpl := parse(t, Options{Attributes: map[string]any{"Secret.Id": "sec-1", "Secret.Arn": "arn:aws:secretsmanager:us-east-1:1:secret:s-AbC"}})
	env := byID(t, tpl, "ProjectsFunction").Environment
	if env["SECRET_ATTR"] != "sec-1" || env["ARN_SUB"] != "x@arn:aws:secretsmanager:us-east-1:1:secret:s-AbC" {
		t.Errorf("Environment = %v, want the given attributes in Fn::GetAtt and Fn::Sub", env)
	}
}

func TestResolve(t *testing.T) {
	doc, err := Resolve("testdata/template.yaml", Options{})
	if err != nil {
		t.Fatal(err)
	}
	resources, _ := doc["Resources"].(map[string]any)
	if _, ok := resources["Secret"]; !ok {
		t.Errorf("resources %v: the secret is missing", slices.Sorted(maps.Keys(resources)))
	}
	if _, ok := resources["ProdOnlyFunction"]; ok {
		t.Error("ProdOnlyFunction's condition is false, but it is there")
	}
	if _, ok := doc["Globals"]; !ok {
		t.Error("no Globals section")
	}
}
