package main

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"unicode"

	"gopkg.in/yaml.v3"

	"scaleapi/shared/api"
	"scaleapi/shared/apsorc"
	"scaleapi/shared/guard"
	"scaleapi/shared/resource"
)

const (
	templateFile = "template.yaml"
	// entitiesFunction is the template's function that serves every route of the engine
	// (functions/entities).
	entitiesFunction = "EntitiesFunction"
)

// engineRoutes returns the routes the engine serves for s, as api.Router lists them (by path,
// then method): the engine mounted on a router with no dependencies, which only records them.
func engineRoutes(s *apsorc.Schema) ([]api.Route, error) {
	eng, err := resource.NewEngine(s, resource.EngineDeps{}, nil)
	if err != nil {
		return nil, err
	}
	rt := api.NewRouter()
	eng.Mount(rt, guard.Guards{Authn: func(h http.Handler) http.Handler { return h }})
	return rt.Routes(), nil
}

// event is one API event of a SAM function.
type event struct {
	name, path, method string // method in lower case, as the template writes it; "any" for ANY
}

// methodOrder is the order of a path's events: reads, creates, then changes.
var methodOrder = []string{"GET", "POST", "PATCH", "PUT", "DELETE"}

// events are the template events of routes: one per route, named <Method><PathWords>
// (GetProjectsId, PatchProjectsIdRecover), by path then in methodOrder, then one ANY event per
// path (AnyProjectsId), which makes API Gateway hand every other method to the function, which
// answers 405 with Allow.
func events(routes []api.Route) ([]event, error) {
	routes = slices.Clone(routes)
	slices.SortStableFunc(routes, func(a, b api.Route) int {
		return cmp.Or(strings.Compare(a.Path, b.Path), cmp.Compare(slices.Index(methodOrder, a.Method), slices.Index(methodOrder, b.Method)))
	})
	var evs, anys []event
	seen := map[string]bool{}
	names := map[string]string{}
	add := func(list *[]event, method, path string) error {
		e := event{name: eventWord(method) + pathWords(path), path: path, method: strings.ToLower(method)}
		if prev, dup := names[e.name]; dup {
			return fmt.Errorf("routes %s and %s %s both make the template event %s", prev, method, path, e.name)
		}
		names[e.name] = method + " " + path
		*list = append(*list, e)
		return nil
	}
	for _, r := range routes {
		if err := add(&evs, r.Method, r.Path); err != nil {
			return nil, err
		}
		if !seen[r.Path] {
			seen[r.Path] = true
			if err := add(&anys, "ANY", r.Path); err != nil {
				return nil, err
			}
		}
	}
	return append(evs, anys...), nil
}

// eventWord is a method as an event name starts: "Get", "Any".
func eventWord(method string) string { return method[:1] + strings.ToLower(method[1:]) }

// pathWords is a path as an event name goes on: every segment with its first letter upper-cased,
// braces and other non-alphanumerics dropped, the letter after one upper-cased
// ("/projects/{id}/recover" → "ProjectsIdRecover", "/x/{id}/line_items" → "XIdLineItems").
func pathWords(path string) string {
	var b strings.Builder
	up := true
	for _, r := range path {
		switch {
		case r > unicode.MaxASCII || !unicode.IsLetter(r) && !unicode.IsDigit(r):
			up = true
		case up:
			b.WriteRune(unicode.ToUpper(r))
			up = false
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// templateOutputs returns template.yaml with EntitiesFunction's Events made from the engine's
// routes.
func templateOutputs(root string, s *apsorc.Schema) ([]output, error) {
	src, err := os.ReadFile(filepath.Join(root, templateFile)) // #nosec G304 -- the module root and a fixed path
	if err != nil {
		return nil, err
	}
	routes, err := engineRoutes(s)
	if err != nil {
		return nil, err
	}
	evs, err := events(routes)
	if err != nil {
		return nil, err
	}
	out, err := withEvents(src, evs)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", templateFile, err)
	}
	return []output{{path: templateFile, data: out}}, nil
}

// withEvents returns template src with EntitiesFunction's Properties.Events replaced by evs
// (or added, as Properties' last key). The template is read with yaml.v3's Node API to find
// the Events block, and only that block's lines are replaced, by evs encoded as a yaml.v3
// node: every other byte (comments, blank lines, key order, quoting, !Ref and !Sub tags) stays
// as written, which a decode and re-encode of the whole document would not keep.
func withEvents(src []byte, evs []event) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		return nil, err
	}
	if len(doc.Content) == 0 {
		return nil, errors.New("empty document")
	}
	fn := lookup(lookup(doc.Content[0], "Resources"), entitiesFunction)
	if fn == nil {
		return nil, fmt.Errorf("no Resources.%s: add the function that serves the engine's routes (functions/entities) to the template, then run make generate again, which writes its Events", entitiesFunction)
	}
	props := lookup(fn, "Properties")
	if props == nil || props.Kind != yaml.MappingNode || len(props.Content) == 0 {
		return nil, fmt.Errorf("%s has no Properties mapping to put its Events in", entitiesFunction)
	}
	lines := bytes.SplitAfter(src, []byte("\n"))
	var from, to, indent int // the lines to replace, lines[from:to], and the Events key's column
	if key, _ := lookupKey(props, "Events"); key != nil {
		from, indent = key.Line-1, key.Column-1
		to = blockEnd(lines, from, indent) + 1
	} else {
		// After Properties' last line, at its keys' indentation.
		propsKey, _ := lookupKey(fn, "Properties")
		from = blockEnd(lines, propsKey.Line-1, propsKey.Column-1) + 1
		to, indent = from, props.Content[0].Column-1
	}
	block, err := eventsBlock(evs, indent)
	if err != nil {
		return nil, err
	}
	if to == len(lines) && len(lines[to-1]) > 0 && !bytes.HasSuffix(lines[to-1], []byte("\n")) {
		block = bytes.TrimSuffix(block, []byte("\n")) // the template ended without a newline
	}
	out := bytes.Join(slices.Concat(lines[:from], [][]byte{block}, lines[to:]), nil)
	// The result must read back as the template with evs: a check of the splice itself.
	if err := checkEvents(out, evs); err != nil {
		return nil, fmt.Errorf("the rewritten template: %w", err)
	}
	return out, nil
}

// blockEnd returns the last line of the block whose key is on line start at column indent: the
// last line after it, up to the first line indented no deeper than the key, that is not blank
// (so that blank lines after the block stay with what follows).
func blockEnd(lines [][]byte, start, indent int) int {
	last := start
	for i := start + 1; i < len(lines); i++ {
		l := bytes.TrimRight(lines[i], "\r\n")
		t := bytes.TrimLeft(l, " ")
		if len(bytes.TrimSpace(t)) == 0 {
			continue
		}
		if len(l)-len(t) <= indent {
			break
		}
		last = i
	}
	return last
}

// eventsBlock is "Events:" and evs as YAML, indented by indent spaces, each event as the
// template writes them:
//
//	GetProjectsId:
//	  Type: Api
//	  Properties:
//	    RestApiId: !Ref Api
//	    Path: /projects/{id}
//	    Method: get
func eventsBlock(evs []event, indent int) ([]byte, error) {
	scalar := func(v string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Value: v} }
	mapping := func(kv ...*yaml.Node) *yaml.Node { return &yaml.Node{Kind: yaml.MappingNode, Content: kv} }
	list := mapping()
	for _, e := range evs {
		list.Content = append(list.Content, scalar(e.name), mapping(
			scalar("Type"), scalar("Api"),
			scalar("Properties"), mapping(
				scalar("RestApiId"), &yaml.Node{Kind: yaml.ScalarNode, Tag: "!Ref", Value: "Api"},
				scalar("Path"), scalar(e.path),
				scalar("Method"), scalar(e.method))))
	}
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(mapping(scalar("Events"), list)); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	pad := strings.Repeat(" ", indent)
	var out bytes.Buffer
	for line := range strings.Lines(b.String()) {
		out.WriteString(pad + line)
	}
	return out.Bytes(), nil
}

// checkEvents checks that template src has exactly evs as EntitiesFunction's Events.
func checkEvents(src []byte, evs []event) error {
	var doc struct {
		Resources map[string]struct {
			Properties struct {
				Events yaml.Node `yaml:"Events"`
			} `yaml:"Properties"`
		} `yaml:"Resources"`
	}
	if err := yaml.Unmarshal(src, &doc); err != nil {
		return err
	}
	got := doc.Resources[entitiesFunction].Properties.Events
	if got.Kind != yaml.MappingNode || len(got.Content) != 2*len(evs) {
		return fmt.Errorf("%s has %d events, want %d", entitiesFunction, len(got.Content)/2, len(evs))
	}
	for i, e := range evs {
		var ev struct {
			Type       string `yaml:"Type"`
			Properties struct {
				RestApiID yaml.Node `yaml:"RestApiId"`
				Path      string    `yaml:"Path"`
				Method    string    `yaml:"Method"`
			} `yaml:"Properties"`
		}
		if err := got.Content[2*i+1].Decode(&ev); err != nil {
			return err
		}
		p := ev.Properties
		if got.Content[2*i].Value != e.name || ev.Type != "Api" || p.RestApiID.Tag != "!Ref" || p.RestApiID.Value != "Api" ||
			p.Path != e.path || p.Method != e.method {
			return fmt.Errorf("event %d is %s %+v, want %+v", i, got.Content[2*i].Value, ev, e)
		}
	}
	return nil
}

// lookup returns the value of key in mapping m, or nil.
func lookup(m *yaml.Node, key string) *yaml.Node {
	_, v := lookupKey(m, key)
	return v
}

// lookupKey returns the key node and the value of key in mapping m, or nils.
func lookupKey(m *yaml.Node, key string) (*yaml.Node, *yaml.Node) {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil, nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i], m.Content[i+1]
		}
	}
	return nil, nil
}
