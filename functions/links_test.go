package functions_test

import (
	"os/exec"
	"slices"
	"strings"
	"testing"

	"scaleapi/functions/internal/function"
)

// chain is what the AWS SDK's default configuration chain links: STS, SSO, SSO-OIDC and the
// config loader itself. A function reads its credentials from Lambda's environment
// (shared/awsenv), so none of these may reach a function's binary; server mode reads them
// from a container's endpoints and must keep them.
var chain = []string{
	"github.com/aws/aws-sdk-go-v2/config",
	"github.com/aws/aws-sdk-go-v2/service/sts",
	"github.com/aws/aws-sdk-go-v2/service/sso",
	"github.com/aws/aws-sdk-go-v2/service/ssooidc",
}

// TestFunctionsLinkNoCredentialChain lists each Lambda binary's packages as make build builds
// it (-tags lambda.norpc) and fails on any of chain; server mode is the control, which must
// link all of them.
func TestFunctionsLinkNoCredentialChain(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Fatal("go is not on PATH:", err)
	}
	deps := func(t *testing.T, pkg string) []string {
		out, err := exec.Command("go", "list", "-tags", "lambda.norpc", "-deps", pkg).Output() // #nosec G204 -- the test's own package paths
		if err != nil {
			t.Fatalf("go list -deps %s: %v", pkg, err)
		}
		return strings.Fields(string(out))
	}
	pkgs := []string{"./migrate"}
	for _, f := range function.All() {
		pkgs = append(pkgs, "./"+strings.ToLower(strings.TrimSuffix(f.Name, "Function")))
	}
	for _, pkg := range pkgs {
		t.Run(pkg, func(t *testing.T) {
			t.Parallel()
			got := deps(t, pkg)
			if !slices.Contains(got, "github.com/aws/aws-sdk-go-v2/aws") {
				t.Fatalf("%s does not link the AWS SDK at all: the check below would prove nothing", pkg)
			}
			for _, p := range chain {
				if slices.Contains(got, p) {
					t.Errorf("%s links %s: build its AWS configuration with shared/awsenv", pkg, p)
				}
			}
		})
	}
	t.Run("./server", func(t *testing.T) {
		t.Parallel()
		got := deps(t, "./server")
		for _, p := range chain {
			if !slices.Contains(got, p) {
				t.Errorf("server mode does not link %s: a container could not find its credentials", p)
			}
		}
	})
}
