package bootstrap

import (
	"path/filepath"
	"strings"
	"testing"

	"scaleapi/internal/samtemplate"
)

func TestPackage(t *testing.T) {
	root, _ := filepath.Abs("testdata")
	hello := filepath.Join(root, "functions/hello")
	for _, tc := range []struct {
		name, id, codeURI, want, err string
	}{
		{name: "CodeUriIsMain", id: "X", codeURI: hello, want: hello},
		{name: "MakefileTarget", id: "HelloFunction", codeURI: root, want: hello},
		{name: "MakefileSharedTarget", id: "AliasFunction", codeURI: root, want: hello},
		{name: "TargetNamesNoMain", id: "OtherFunction", codeURI: root, err: "names no Go main package"},
		{name: "RecursiveMake", id: "IndirectFunction", codeURI: root, want: hello},
		{name: "NoTarget", id: "MissingFunction", codeURI: root, err: "No rule to make target"},
		{name: "NoMakefile", id: "X", codeURI: filepath.Join(root, "functions/lib"), err: "has no Makefile"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Package(&samtemplate.Function{LogicalID: tc.id, CodeURI: tc.codeURI})
			switch {
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Errorf("Package = %q, %v; want an error containing %q", got, err, tc.err)
			case tc.err == "" && (err != nil || got != tc.want):
				t.Errorf("Package = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}
