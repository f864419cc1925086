// Package bootstrap builds each function's `bootstrap` executable for this machine, with the
// flags `make build` uses for Lambda (-tags lambda.norpc, CGO off) but the host's GOOS and
// GOARCH instead of linux/arm64, so cmd/local can run the same program the deployment runs.
// cmd/loadgen builds its stack with it too, so it lives under the module's internal/.
//
// A function's Go main package is found from its CodeUri: either CodeUri is that package's
// directory, or CodeUri holds a Makefile (SAM's BuildMethod: makefile) whose build-<LogicalId>
// target, expanded by make -n, builds a ./path package, e.g.
//
//	build-ProjectsFunction:
//		GOOS=linux GOARCH=arm64 CGO_ENABLED=0 go build -tags lambda.norpc -o $(ARTIFACTS_DIR)/bootstrap ./functions/projects
package bootstrap

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"go/build"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"scaleapi/internal/samtemplate"
)

// Options configure Build.
type Options struct {
	// OutDir holds one directory per function, <OutDir>/<LogicalId>/bootstrap.
	OutDir string
	// Jobs is how many builds run at once; 1 when zero. The go command parallelises each build
	// itself, so more than the number of cores rarely helps.
	Jobs int
	// Progress, when set, gets one line per function built.
	Progress io.Writer
}

// Build builds the bootstrap of every function and returns each executable's path by logical id.
// It stops at the first failure and returns the go command's output with it.
func Build(ctx context.Context, fns []*samtemplate.Function, opts Options) (map[string]string, error) {
	out, err := filepath.Abs(opts.OutDir)
	if err != nil {
		return nil, err
	}
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(max(opts.Jobs, 1))
	var mu sync.Mutex
	bins := make(map[string]string, len(fns))
	for _, fn := range fns {
		g.Go(func() error {
			pkg, err := Package(fn)
			if err != nil {
				return fmt.Errorf("%s: %w", fn.LogicalID, err)
			}
			bin := filepath.Join(out, fn.LogicalID, "bootstrap")
			start := time.Now()
			if err := goBuild(ctx, pkg, bin); err != nil {
				return fmt.Errorf("%s: %w", fn.LogicalID, err)
			}
			if opts.Progress != nil {
				mu.Lock()
				fmt.Fprintf(opts.Progress, "built %-24s %s (%s)\n", fn.LogicalID, relative(pkg), time.Since(start).Round(time.Millisecond))
				mu.Unlock()
			}
			mu.Lock()
			bins[fn.LogicalID] = bin
			mu.Unlock()
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return bins, nil
}

func relative(dir string) string {
	if wd, err := os.Getwd(); err == nil {
		if r, err := filepath.Rel(wd, dir); err == nil && !strings.HasPrefix(r, "..") {
			return "./" + filepath.ToSlash(r)
		}
	}
	return dir
}

// goBuild runs go build for the package in dir from its module root, so the build sees the
// module's go.mod and the packages it shares with the other functions.
func goBuild(ctx context.Context, dir, bin string) error {
	root, err := moduleRoot(dir)
	if err != nil {
		return err
	}
	rel, err := filepath.Rel(root, dir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil { // #nosec G301 -- a build output directory, like go build's
		return err
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-tags", "lambda.norpc", "-o", bin, "./"+filepath.ToSlash(rel)) // #nosec G204 -- go build of a package of the developer's template, arguments not through a shell
	cmd.Dir = root
	// GOOS and GOARCH stay the host's: the deployed build is linux/arm64, this one runs here.
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build ./%s: %w\n%s", rel, err, strings.TrimSpace(buf.String()))
	}
	return nil
}

func moduleRoot(dir string) (string, error) {
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no go.mod above %s", dir)
		}
	}
}

// Package returns the directory of the Go main package fn is built from.
func Package(fn *samtemplate.Function) (string, error) {
	if isMain(fn.CodeURI) {
		return fn.CodeURI, nil
	}
	mk := filepath.Join(fn.CodeURI, "Makefile")
	if _, err := os.Stat(mk); err != nil {
		return "", fmt.Errorf("CodeUri %s is not a Go main package and has no Makefile naming one", fn.CodeURI)
	}
	commands, err := dryRun(fn.CodeURI, "build-"+fn.LogicalID)
	if err != nil {
		return "", err
	}
	for _, tok := range strings.Fields(commands) {
		tok = strings.Trim(tok, `'"`)
		if strings.HasSuffix(tok, ".go") {
			tok = filepath.Dir(tok)
		}
		if !strings.HasPrefix(tok, "./") && !strings.HasPrefix(tok, "functions/") {
			continue
		}
		dir := filepath.Join(fn.CodeURI, strings.TrimSuffix(tok, "/..."))
		if isMain(dir) {
			return dir, nil
		}
	}
	return "", fmt.Errorf("%s: target build-%s names no Go main package (a ./path argument)", mk, fn.LogicalID)
}

// dryRun returns the commands `make build-<LogicalId>` would run, as `sam build` runs it. Make
// itself expands them — variables, templates, recursive $(MAKE) calls — so any Makefile that
// works for sam build works here; -n runs nothing.
func dryRun(dir, target string) (string, error) {
	cmd := exec.Command("make", "-n", "--no-print-directory", "-C", dir, target, "ARTIFACTS_DIR=.aws-sam/dry-run") // #nosec G204 -- make -n (runs nothing) of the template's own Makefile target
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if errors.Is(err, exec.ErrNotFound) {
		return "", fmt.Errorf("make is not installed; it is needed to read %s/Makefile", dir)
	}
	if err != nil {
		return "", fmt.Errorf("make -n %s in %s: %w: %s", target, dir, err, strings.TrimSpace(stderr.String()))
	}
	return string(out), nil
}

func isMain(dir string) bool {
	ctx := build.Default
	ctx.BuildTags = append(ctx.BuildTags, "lambda.norpc")
	pkg, err := ctx.ImportDir(dir, 0)
	return err == nil && pkg.Name == "main"
}
