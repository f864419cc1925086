package main

import (
	"bytes"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"scaleapi/internal/samtemplate"
	"scaleapi/shared/api"
	"scaleapi/shared/apsorc"
)

func TestEventNames(t *testing.T) {
	for path, want := range map[string]string{
		"/projects":                         "Projects",
		"/projects/{id}":                    "ProjectsId",
		"/projects/{id}/recover":            "ProjectsIdRecover",
		"/projects/{id}/tasks":              "ProjectsIdTasks",
		"/categories/{id}/products/{other}": "CategoriesIdProductsOther",
		"/workspaceusers/{id}/line_items":   "WorkspaceusersIdLineItems",
		"/x/{id}/lineItems":                 "XIdLineItems",
	} {
		if got := pathWords(path); got != want {
			t.Errorf("pathWords(%s) = %s, want %s", path, got, want)
		}
	}
	evs, err := events([]api.Route{{Method: "PUT", Path: "/categories/{id}/products/{other}"}, {Method: "PATCH", Path: "/projects/{id}/recover"},
		{Method: "DELETE", Path: "/projects/{id}"}, {Method: "GET", Path: "/projects/{id}"}})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range evs {
		names = append(names, e.name+" "+e.method)
	}
	want := []string{"PutCategoriesIdProductsOther put", "GetProjectsId get", "DeleteProjectsId delete", "PatchProjectsIdRecover patch",
		"AnyCategoriesIdProductsOther any", "AnyProjectsId any", "AnyProjectsIdRecover any"}
	if !slices.Equal(names, want) {
		t.Errorf("events %v, want %v", names, want)
	}
	if _, err := events([]api.Route{{Method: "GET", Path: "/a_b"}, {Method: "GET", Path: "/aB"}}); err == nil {
		t.Error("two routes with one event name are accepted")
	}
}

func TestWithEvents(t *testing.T) {
	repo := readFile(t, repoRoot, templateFile)
	// The EntitiesFunction's Events block, as the template writes it: six spaces in, up to the
	// next line that is indented less than its events.
	fn := bytes.Index(repo, []byte("\n  "+entitiesFunction+":\n"))
	if fn < 0 {
		t.Fatalf("the repository's template has no %s", entitiesFunction)
	}
	start := fn + bytes.Index(repo[fn:], []byte("\n      Events:\n")) + 1
	end := start + len("      Events:\n")
	for end < len(repo) {
		line, _, _ := bytes.Cut(repo[end:], []byte("\n"))
		if len(bytes.TrimSpace(line)) > 0 && !bytes.HasPrefix(line, []byte("        ")) {
			break
		}
		end += len(line) + 1
	}
	for bytes.HasSuffix(repo[:end], []byte("\n\n")) {
		end-- // the blank lines after the block are the next resource's
	}
	noEvents := slices.Concat(repo[:start], repo[end:]) // Events: and its events cut out
	stale := slices.Concat(repo[:start], []byte("      Events:\n        Old:\n          Type: Api\n          Properties: {Path: /old, Method: get}\n"), repo[end:])
	flow := slices.Concat(repo[:start], []byte("      Events: {}\n"), repo[end:])

	s, err := apsorc.Load(filepath.Join(repoRoot, ".apsorc"))
	if err != nil {
		t.Fatal(err)
	}
	every, err := apsorc.Parse(rootWith(t, everyType, everyTypeRelations, nil))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		src    []byte
		schema *apsorc.Schema
	}{
		{"current", repo, s}, {"stale", stale, s}, {"flow style", flow, s}, {"no Events", noEvents, s}, {"more entities", repo, every},
	} {
		t.Run(c.name, func(t *testing.T) {
			routes, err := engineRoutes(c.schema)
			if err != nil {
				t.Fatal(err)
			}
			evs, err := events(routes)
			if err != nil {
				t.Fatal(err)
			}
			out, err := withEvents(c.src, evs)
			if err != nil {
				t.Fatal(err)
			}
			if c.name == "current" && !bytes.Equal(out, repo) {
				t.Error("the repository's template is current, and was changed")
			}
			again, err := withEvents(out, evs)
			if err != nil || !bytes.Equal(again, out) {
				t.Errorf("a second run changes the template (%v)", err)
			}
			// Only the Events block differs: the lines before and after it are the input's.
			in := strings.SplitAfter(string(c.src), "\n")
			got := strings.SplitAfter(string(out), "\n")
			pre := 0
			for pre < len(in) && pre < len(got) && in[pre] == got[pre] {
				pre++
			}
			post := 0
			for post < len(in)-pre && post < len(got)-pre && in[len(in)-1-post] == got[len(got)-1-post] {
				post++
			}
			for _, l := range got[pre : len(got)-post] {
				if strings.TrimSpace(l) != "" && !strings.HasPrefix(l, "      Events:") && !strings.HasPrefix(l, "        ") {
					t.Errorf("a line outside the Events block changed: %q", l)
				}
			}
			checkTemplate(t, out, routes)
		})
	}

	noFunction := bytes.Replace(repo, []byte("\n  "+entitiesFunction+":\n"), []byte("\n  OtherFunction:\n"), 1)
	if _, err := withEvents(noFunction, nil); err == nil || !strings.Contains(err.Error(), "no Resources.EntitiesFunction") {
		t.Errorf("a template without %s: %v", entitiesFunction, err)
	}
}

// checkTemplate reads template src as cmd/local does and checks that EntitiesFunction routes
// exactly routes, and ANY for each of their paths, as REST API events.
func checkTemplate(t *testing.T, src []byte, routes []api.Route) {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, dir, templateFile, src)
	tpl, err := samtemplate.Parse(filepath.Join(dir, templateFile), samtemplate.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var got, want []string
	for _, f := range tpl.Functions {
		if f.LogicalID != entitiesFunction {
			continue
		}
		for _, e := range f.Events {
			if e.Kind != samtemplate.RESTAPI {
				t.Errorf("event %s is %s", e.Name, e.Kind)
			}
			got = append(got, e.Name+" "+e.Method+" "+e.Path)
		}
	}
	seen := map[string]bool{}
	for _, r := range routes {
		want = append(want, eventWord(r.Method)+pathWords(r.Path)+" "+r.Method+" "+r.Path)
		if !seen[r.Path] {
			seen[r.Path] = true
			want = append(want, "Any"+pathWords(r.Path)+" ANY "+r.Path)
		}
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("EntitiesFunction's events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
