package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"

	"github.com/jackc/pgx/v5"

	"scaleapi/internal/samtemplate"
	"scaleapi/shared/api"
	"scaleapi/shared/apsorc"
	"scaleapi/shared/guard"
	"scaleapi/shared/resource"
)

// entitiesFunction is the template's function that serves the schema's entities.
const entitiesFunction = "EntitiesFunction"

// serveSchema points the template's entities function at the .apsorc at path (-schema): its
// routes become the engine's routes for that schema, and the function reads that file instead
// of the embedded root schema (SCALEAPI_SCHEMA). It returns the loaded schema, or the schema's
// problems (one per line, naming entity and field) before anything starts.
func serveSchema(tpl *samtemplate.Template, path string) (*apsorc.Schema, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	s, err := apsorc.Load(abs)
	if err != nil {
		return nil, err
	}
	eng, err := resource.NewEngine(s, resource.EngineDeps{}, nil)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var fn *samtemplate.Function
	for _, f := range tpl.Functions {
		if f.LogicalID == entitiesFunction {
			fn = f
		}
	}
	if fn == nil {
		return nil, fmt.Errorf("-schema: the template has no %s", entitiesFunction)
	}
	rt := api.NewRouter()
	eng.Mount(rt, guard.Guards{Authn: func(h http.Handler) http.Handler { return h }})
	fn.Events = nil
	seen := map[string]bool{}
	for _, r := range rt.Routes() {
		fn.Events = append(fn.Events, samtemplate.Event{Name: r.Method + " " + r.Path, Kind: samtemplate.RESTAPI,
			Method: r.Method, Path: r.Path, PayloadVersion: "1.0", Stage: "Prod"})
		if !seen[r.Path] {
			seen[r.Path] = true
			fn.Events = append(fn.Events, samtemplate.Event{Name: "ANY " + r.Path, Kind: samtemplate.RESTAPI,
				Method: "ANY", Path: r.Path, PayloadVersion: "1.0", Stage: "Prod"})
		}
	}
	env := map[string]string{}
	for k, v := range fn.Environment {
		env[k] = v
	}
	env["SCALEAPI_SCHEMA"] = abs
	fn.Environment = env
	return s, nil
}

// schemaDataDir is the data directory of -schema's database: one per schema file, under dir.
func schemaDataDir(dir, path string) string {
	abs, _ := filepath.Abs(path)
	sum := sha256.Sum256([]byte(abs))
	name := strings.ReplaceAll(filepath.Base(filepath.Dir(abs)), ".", "")
	return filepath.Join(dir, "schema", name+"-"+hex.EncodeToString(sum[:4]))
}

// createTables makes s's tables in the database at url, fresh from the platform's migrations.
func createTables(ctx context.Context, url string, s *apsorc.Schema) error {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	tx, err := conn.Begin(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback(ctx) }()
	for _, stmt := range s.CreateSQL() {
		if _, err := tx.Exec(ctx, stmt); err != nil {
			return fmt.Errorf("schema: %s: %w", stmt, err)
		}
	}
	return tx.Commit(ctx)
}
