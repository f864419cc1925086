// Package samtemplate reads an AWS SAM template into what cmd/local needs to serve it: each
// AWS::Serverless::Function with its Globals merged and its intrinsic functions resolved, and
// the Api (REST, payload 1.0) and HttpApi (payload 2.0 or 1.0) events that route to it. It is
// dev tooling shared by cmd/local, cmd/loadgen and the tests that check template.yaml
// (functions, localstack, stackcheck: Resolve hands them the whole resolved template), so it
// lives under the module's internal/, not under one command.
//
// Parsing goes through awslabs/goformation: its YAML reader turns short-form tags (!Ref, !Sub,
// !GetAtt, ...) into long form, its intrinsic processor resolves them, and its typed
// serverless.Function and global.Function structs carry the properties. Three of its defaults do
// not fit a local run and are replaced: Ref, Fn::Sub and Fn::GetAtt resolve pseudo parameters
// from Options and resources to their logical ids (as `sam local` does) instead of fixed sample
// values and nil; conditions are evaluated here, because goformation's EvaluateConditions
// replaces any resource carrying a Condition with a boolean; and events and environment values
// are read from the resolved JSON, because goformation's event union silently drops an event
// whose properties fall outside its schema and its Variables map rejects numbers, which
// CloudFormation accepts and turns into strings.
package samtemplate

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/awslabs/goformation/v7/cloudformation"
	"github.com/awslabs/goformation/v7/cloudformation/global"
	"github.com/awslabs/goformation/v7/cloudformation/serverless"
	"github.com/awslabs/goformation/v7/intrinsics"
)

// SAM's defaults for properties a function and its Globals leave out.
const (
	DefaultTimeout    = 3 * time.Second
	DefaultMemorySize = 128
)

// Options are the values a deployment would supply and a template can refer to.
type Options struct {
	Region     string            // AWS::Region; "us-east-1" when empty
	AccountID  string            // AWS::AccountId; "123456789012" when empty
	StackName  string            // AWS::StackName; "local" when empty
	Parameters map[string]string // values for the template's Parameters, over their Defaults
	// Defaults replace the Defaults of the parameters the template declares, under Parameters;
	// one the template does not declare is ignored (a caller's defaults for templates in
	// general, where Parameters names a parameter that must exist).
	Defaults map[string]string
	// Attributes are values for Fn::GetAtt, keyed "LogicalId.Attribute", over the placeholders:
	// what only a deployment knows, such as an ARN a policy takes apart with Fn::Split.
	Attributes map[string]any
}

// Template is the part of a SAM template that cmd/local serves.
type Template struct {
	Path      string      // absolute path of the template file
	Functions []*Function // ordered by logical id
}

// Function is one AWS::Serverless::Function with Globals merged and intrinsics resolved.
type Function struct {
	LogicalID string
	// Name is the FunctionName property, or the logical id when there is none (CloudFormation
	// would generate one).
	Name string
	// CodeURI is the absolute directory CodeUri names, relative to the template's directory.
	CodeURI       string
	Handler       string
	Runtime       string
	Architectures []string
	Timeout       time.Duration
	MemorySize    int
	// ReservedConcurrency is ReservedConcurrentExecutions, nil when unset; 0 throttles every
	// invocation, as in Lambda.
	ReservedConcurrency *int
	// Environment holds the template's variables, Globals merged, values resolved to strings.
	Environment map[string]string
	// BuildMethod is Metadata.BuildMethod ("makefile" for this project).
	BuildMethod string
	Events      []Event
}

// EventKind is the kind of API an event attaches a function to.
type EventKind string

// The event kinds cmd/local serves.
const (
	RESTAPI EventKind = "Api"     // API Gateway REST API, payload 1.0
	HTTPAPI EventKind = "HttpApi" // API Gateway HTTP API, payload 2.0 unless PayloadFormatVersion says 1.0
)

// Event is one Api or HttpApi event of a function: a route.
type Event struct {
	Name string // the event's key under Events
	Kind EventKind
	// Method is upper case; "ANY" matches every method.
	Method string
	// Path is the route path, e.g. "/projects/{id}" or "/{proxy+}". An HttpApi event without a
	// path is the API's catch-all, "$default".
	Path           string
	PayloadVersion string // "1.0" or "2.0"
	Stage          string // "Prod" for SAM's implicit REST API, "$default" for its HTTP API
	API            string // logical id of the API resource; "" for SAM's implicit API
}

// DefaultRoute is the Path of an HttpApi event without a path: the API's catch-all route.
const DefaultRoute = "$default"

// Parse reads the SAM template at path.
func Parse(path string, opts Options) (*Template, error) {
	abs, resolved, err := read(path, opts)
	if err != nil {
		return nil, err
	}
	t, err := build(resolved, filepath.Dir(abs))
	if err != nil {
		return nil, fmt.Errorf("template %s: %w", path, err)
	}
	t.Path = abs
	return t, nil
}

// Resolve reads the SAM template at path and returns the whole of it as JSON values, resolved as
// Parse resolves it: parameters applied, conditions evaluated, the resources whose condition is
// false removed, a Ref to a resource its logical id and a GetAtt "LogicalId.Attribute". It is
// for tests of the wiring between resources (a security group rule's source, a policy's
// resource), which Parse's Functions leave out; the SAM transform is not applied, so Globals are
// still in their own section.
func Resolve(path string, opts Options) (map[string]any, error) {
	_, resolved, err := read(path, opts)
	return resolved, err
}

func read(path string, opts Options) (abs string, _ rawTemplate, _ error) {
	if opts.Region == "" {
		opts.Region = "us-east-1"
	}
	if opts.AccountID == "" {
		opts.AccountID = "123456789012"
	}
	if opts.StackName == "" {
		opts.StackName = "local"
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", nil, err
	}
	data, err := os.ReadFile(abs) // #nosec G304 -- the developer's SAM template (cmd/local -template, tests)
	if err != nil {
		return "", nil, fmt.Errorf("read template: %w", err)
	}
	resolved, err := resolve(data, opts)
	if err != nil {
		return "", nil, fmt.Errorf("template %s: %w", path, err)
	}
	return abs, resolved, nil
}

// rawTemplate is the resolved template as plain JSON values.
type rawTemplate = map[string]any

// resolve turns the template into JSON with its parameters applied, its conditions evaluated,
// its intrinsic functions resolved and the resources whose condition is false removed.
func resolve(data []byte, opts Options) (rawTemplate, error) {
	// Long form, nothing resolved yet (JSON is YAML, so this reads both).
	plain, err := intrinsics.ProcessYAML(data, &intrinsics.ProcessorOptions{NoProcess: true})
	if err != nil {
		return nil, err
	}
	var tpl rawTemplate
	if err := json.Unmarshal(plain, &tpl); err != nil {
		return nil, err
	}
	r := &resolver{opts: opts, tpl: tpl}
	if err := r.applyParameters(); err != nil {
		return nil, err
	}
	if err := r.evaluateConditions(); err != nil {
		return nil, err
	}
	in, err := json.Marshal(tpl)
	if err != nil {
		return nil, err
	}
	out, err := intrinsics.ProcessJSON(in, &intrinsics.ProcessorOptions{IntrinsicHandlerOverrides: r.handlers()})
	if err != nil {
		return nil, err
	}
	var res rawTemplate
	if err := json.Unmarshal(out, &res); err != nil {
		return nil, err
	}
	res = dropNoValue(res).(rawTemplate)
	resources, _ := res["Resources"].(map[string]any)
	for id, v := range resources {
		m, _ := v.(map[string]any)
		if name, ok := m["Condition"].(string); ok && !r.conditions[name] {
			delete(resources, id)
		}
	}
	return res, nil
}

// typedProperties are the function properties decoded through goformation's structs. Only
// these are handed to it: its Function decoder rejects any property its schema predates (such as
// LoggingConfig or SnapStart), and its Tags and Policies reject values CloudFormation accepts, so
// a template that deploys fine would otherwise fail to run locally for a property cmd/local never
// reads.
var typedProperties = []string{
	"Architectures", "CodeUri", "Environment", "FunctionName", "Handler", "MemorySize",
	"PackageType", "ReservedConcurrentExecutions", "Runtime", "Timeout",
}

// numericProperties are coerced to numbers: a Ref to a String parameter yields "30", which
// CloudFormation accepts for an Integer property.
var numericProperties = []string{"MemorySize", "ReservedConcurrentExecutions", "Timeout"}

func typedSubset(props any) (map[string]any, error) {
	p, _ := props.(map[string]any)
	out := map[string]any{}
	for _, k := range typedProperties {
		if v, ok := p[k]; ok && v != nil {
			out[k] = v
		}
	}
	for _, k := range numericProperties {
		if s, ok := out[k].(string); ok {
			n, err := strconv.Atoi(s)
			if err != nil {
				return nil, fmt.Errorf("%s: %q is not an integer", k, s)
			}
			out[k] = n
		}
	}
	normalizeVariables(out)
	return out, nil
}

func build(res rawTemplate, dir string) (*Template, error) {
	resources, _ := res["Resources"].(map[string]any)
	kept := map[string]any{}
	for id, v := range resources {
		m, _ := v.(map[string]any)
		if typ, _ := m["Type"].(string); typ == "AWS::Serverless::Function" {
			props, err := typedSubset(m["Properties"])
			if err != nil {
				return nil, fmt.Errorf("function %s: %w", id, err)
			}
			kept[id] = map[string]any{"Type": typ, "Properties": props, "Metadata": m["Metadata"]}
		}
	}
	typed := map[string]any{"Resources": kept}
	if g, ok := res["Globals"].(map[string]any); ok && g["Function"] != nil {
		props, err := typedSubset(g["Function"])
		if err != nil {
			return nil, fmt.Errorf("Globals.Function: %w", err)
		}
		typed["Globals"] = map[string]any{"Function": props}
	}
	b, err := json.Marshal(typed)
	if err != nil {
		return nil, err
	}
	var cfn cloudformation.Template
	if err := json.Unmarshal(b, &cfn); err != nil {
		return nil, fmt.Errorf("decode functions: %w", err)
	}
	globals, _ := cfn.GetServerlessGlobalFunction() // no Globals.Function: nothing to merge

	t := &Template{}
	for id, fn := range cfn.GetAllServerlessFunctionResources() {
		f, err := function(id, fn, globals, dir)
		if err != nil {
			return nil, fmt.Errorf("function %s: %w", id, err)
		}
		props, _ := resources[id].(map[string]any)["Properties"].(map[string]any)
		if f.Events, err = eventsOf(props, resources); err != nil {
			return nil, fmt.Errorf("function %s: %w", id, err)
		}
		t.Functions = append(t.Functions, f)
	}
	slices.SortFunc(t.Functions, func(a, b *Function) int { return strings.Compare(a.LogicalID, b.LogicalID) })
	return t, nil
}

// function merges Globals into fn the way SAM does: the function's own value wins for a scalar,
// and maps (Environment.Variables) are merged key by key.
func function(id string, fn *serverless.Function, g *global.Function, dir string) (*Function, error) {
	if g == nil {
		g = &global.Function{}
	}
	f := &Function{
		LogicalID:           id,
		Name:                pick(fn.FunctionName, nil, id),
		Handler:             pick(fn.Handler, g.Handler, ""),
		Runtime:             pick(fn.Runtime, g.Runtime, ""),
		Timeout:             time.Duration(pick(fn.Timeout, g.Timeout, int(DefaultTimeout/time.Second))) * time.Second,
		MemorySize:          pick(fn.MemorySize, g.MemorySize, DefaultMemorySize),
		ReservedConcurrency: fn.ReservedConcurrentExecutions,
		Environment:         map[string]string{},
	}
	if f.ReservedConcurrency == nil {
		f.ReservedConcurrency = g.ReservedConcurrentExecutions
	}
	switch {
	case fn.Architectures != nil:
		f.Architectures = fn.Architectures
	case g.Architectures != nil:
		f.Architectures = *g.Architectures
	}
	if g.Environment != nil {
		maps.Copy(f.Environment, g.Environment.Variables)
	}
	if fn.Environment != nil {
		maps.Copy(f.Environment, fn.Environment.Variables)
	}
	if m, ok := fn.AWSCloudFormationMetadata["BuildMethod"].(string); ok {
		f.BuildMethod = m
	}

	codeURI := fn.CodeUri
	if codeURI == nil {
		codeURI = g.CodeUri
	}
	switch {
	case fn.PackageType != nil && *fn.PackageType == "Image":
		return nil, fmt.Errorf("PackageType Image is not supported: cmd/local runs Go bootstrap binaries")
	case codeURI == nil:
		return nil, fmt.Errorf("no CodeUri (in the function or Globals)")
	case codeURI.String == nil:
		return nil, fmt.Errorf("CodeUri is an S3 location: cmd/local builds from a local directory")
	}
	f.CodeURI = filepath.Clean(filepath.Join(dir, *codeURI.String))
	if !strings.HasPrefix(f.Runtime, "provided") && f.Runtime != "go1.x" {
		return nil, fmt.Errorf("runtime %q is not supported: cmd/local runs Go on provided.al2023/provided.al2", f.Runtime)
	}
	return f, nil
}

func pick[T any](own, global *T, def T) T {
	switch {
	case own != nil:
		return *own
	case global != nil:
		return *global
	}
	return def
}

// rawEvent is an event as the resolved template has it; its properties are read leniently.
type rawEvent struct {
	Type       string
	Properties struct {
		Path                 string
		Method               string
		RestApiId            any //nolint:revive // SAM's property name
		ApiId                any //nolint:revive // SAM's property name
		PayloadFormatVersion any
	}
}

func eventsOf(props map[string]any, resources map[string]any) ([]Event, error) {
	rawEvents, _ := props["Events"].(map[string]any)
	var out []Event
	for name, v := range rawEvents {
		b, _ := json.Marshal(v)
		var re rawEvent
		if err := json.Unmarshal(b, &re); err != nil {
			return nil, fmt.Errorf("event %s: %w", name, err)
		}
		p := re.Properties
		switch EventKind(re.Type) {
		case RESTAPI:
			if p.Path == "" || p.Method == "" {
				return nil, fmt.Errorf("event %s: an Api event needs Path and Method", name)
			}
			api := apiID(p.RestApiId)
			out = append(out, Event{
				Name: name, Kind: RESTAPI, Method: method(p.Method), Path: p.Path,
				PayloadVersion: "1.0", Stage: stageOf(resources, api, "Prod"), API: api,
			})
		case HTTPAPI:
			e := Event{Name: name, Kind: HTTPAPI, Method: method(p.Method), Path: p.Path, PayloadVersion: "2.0"}
			if e.Path == "" {
				e.Path, e.Method = DefaultRoute, "ANY"
			}
			if v := scalar(p.PayloadFormatVersion); v != "" {
				e.PayloadVersion = v
			}
			if e.PayloadVersion != "1.0" && e.PayloadVersion != "2.0" {
				return nil, fmt.Errorf("event %s: PayloadFormatVersion %q is neither 1.0 nor 2.0", name, e.PayloadVersion)
			}
			e.API = apiID(p.ApiId)
			e.Stage = stageOf(resources, e.API, "$default")
			out = append(out, e)
		}
	}
	slices.SortFunc(out, func(a, b Event) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

func method(m string) string {
	if m = strings.ToUpper(m); m == "" {
		return "ANY"
	}
	return m
}

// apiID is the logical id a RestApiId/ApiId names (Ref resolves to it); "" for the implicit API.
func apiID(v any) string {
	s, _ := v.(string)
	return s
}

func stageOf(resources map[string]any, api, def string) string {
	res, _ := resources[api].(map[string]any)
	props, _ := res["Properties"].(map[string]any)
	if s := scalar(props["StageName"]); s != "" {
		return s
	}
	return def
}

// normalizeVariables turns the values of Environment.Variables into strings, as CloudFormation
// does, so that `POOL_SIZE: 2` reads as "2".
func normalizeVariables(props any) {
	p, _ := props.(map[string]any)
	env, _ := p["Environment"].(map[string]any)
	vars, _ := env["Variables"].(map[string]any)
	for k, v := range vars {
		vars[k] = scalar(v)
	}
}

// scalar renders a resolved JSON value as CloudFormation renders a property value into a string.
func scalar(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(v)
	default:
		b, _ := json.Marshal(v)
		return string(b)
	}
}
