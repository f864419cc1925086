// Command generate writes the files that are derived from the data model, the repository-root
// .apsorc, so that they are files where something other than the engine reads them:
//
//   - shared/migrations/schema.json and, when the model changed, the next goose migration,
//     shared/migrations/NNNNN_schema_<hash>.sql: the database has to be migrated before the
//     engine serves a changed model, and migrations are reviewed SQL, applied by cmd/migrate.
//   - template.yaml's EntitiesFunction Events: API Gateway routes only what the template
//     declares, one event per route of the engine and one ANY event per path (for the 405s).
//   - shared/openapi/openapi.json: the contract clients generate code from and schemathesis
//     fuzzes the running API with, the hand-written platform part (shared/openapi/platform.json:
//     auth, organizations, reports, health and the shared components) merged with what the
//     model generates: every engine route, each entity's schemas, every list's query parameters.
//
// Run it from the repository root:
//
//	go run ./cmd/generate            # write what is stale (make generate)
//	go run ./cmd/generate -check     # write nothing; exit 1 naming every stale file (CI)
//	go run ./cmd/generate -baseline  # schema.json only, no migration (see below)
//
// # Migrations: a diff of snapshots
//
// schema.json is the snapshot (apsorc.Schema.Snapshot) of the tables that the migrations realise.
// When the .apsorc's snapshot differs, the next migration is apsorc.Diff of the two, and
// schema.json becomes the new snapshot. The first migrations were written by hand, with more
// than the model says (partial indexes, composite foreign keys, CHECKs on lengths); -baseline
// records, once, that they realise the model as it is, and writes no migration. TestBaseline
// keeps that honest: every table and column of schema.json exists in the migrated database with
// a compatible type and nullability.
//
// The diff is ours rather than a schema-diff tool's such as Atlas (atlas migrate diff) for three
// reasons. It is deterministic: the same two snapshots give the same statements, byte for byte,
// which is what lets -check tell stale from current. It needs no database to plan: Atlas works
// out the current state by replaying the migration directory on a dev database (--dev-url; its
// guides use docker:// URLs, which start a container), so every make generate and every -check
// in CI would need a PostgreSQL (or Docker, which CI here does not have). And it diffs the model the engine
// serves, not a database: replayed, the hand-written migrations hold indexes and constraints
// the model doesn't know (projects_live_keyset_idx, the tasks → projects composite key), which
// a state-based diff against the model's DDL would plan to drop; the snapshot diff changes only
// what the model changed. What it can't know, a snapshot having names only (a rename is a drop
// and an add), it says in the migration, for review (see apsorc.Diff).
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"scaleapi/shared/apsorc"
)

// output is a file that generate writes: its path from the repository root, and its content.
type output struct {
	path string
	data []byte
}

func main() {
	check := flag.Bool("check", false, "write nothing; exit 1 naming every stale file")
	baseline := flag.Bool("baseline", false, "record in "+schemaFile+" that the migrations realise the .apsorc as it is, writing no migration")
	flag.Parse()
	stale, err := run(".", *check, *baseline, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "generate:", err)
		os.Exit(1)
	}
	if *check && len(stale) > 0 {
		for _, p := range stale {
			fmt.Fprintln(os.Stderr, "generate: stale:", p)
		}
		fmt.Fprintln(os.Stderr, "generate: run make generate and commit what it writes")
		os.Exit(1)
	}
}

// run computes every output from the .apsorc under root, then writes those whose content
// differs from the file's (or, with check, only names them), and returns their paths. Nothing
// is written unless every output could be computed.
func run(root string, check, baseline bool, log io.Writer) ([]string, error) {
	s, err := apsorc.Load(filepath.Join(root, ".apsorc"))
	if err != nil {
		return nil, err
	}
	var outs []output
	for _, step := range []func() ([]output, error){
		func() ([]output, error) { return migrationOutputs(root, s, baseline) },
		func() ([]output, error) { return templateOutputs(root, s) },
		func() ([]output, error) { return openapiOutputs(root, s) },
	} {
		o, err := step()
		if err != nil {
			return nil, err
		}
		outs = append(outs, o...)
	}
	var stale []string
	for _, o := range outs {
		name := filepath.Join(root, filepath.FromSlash(o.path))
		cur, err := os.ReadFile(name) // #nosec G304 -- a generated file of the repository: the module root and a fixed path
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		if err == nil && bytes.Equal(cur, o.data) {
			continue
		}
		stale = append(stale, o.path)
		if check {
			continue
		}
		if err := write(name, o.data); err != nil {
			return nil, err
		}
		fmt.Fprintln(log, "wrote", o.path)
	}
	return stale, nil
}

// write replaces the file name with data, whole: it is written aside and renamed, so that an
// interrupted run leaves the old file or the new one, never half of one.
func write(name string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(name), "."+filepath.Base(name)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		_ = f.Close() // the write's error is the one to report
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Chmod(f.Name(), 0o644); err != nil { // #nosec G302 -- a file of the repository, 0644 like every file git checks out
		return err
	}
	return os.Rename(f.Name(), name)
}
