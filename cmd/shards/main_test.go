package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/google/uuid"

	"scaleapi/shared/devservices/devtest"
	"scaleapi/shared/organization"
	"scaleapi/shared/platform"
	"scaleapi/shared/shard"
	"scaleapi/shared/user"
)

func TestMain(m *testing.M) { os.Exit(devtest.Main(m)) }

func TestUsage(t *testing.T) {
	for _, args := range [][]string{nil, {"nope"}, {"where"}, {"where", "not-a-uuid"}, {"move", uuid.NewString()}} {
		var out, errs bytes.Buffer
		if code := run(context.Background(), args, func(string) (string, bool) { return "", false }, &out, &errs); code != 2 {
			t.Errorf("%v: exit %d, want 2 (%s)", args, code, errs.String())
		}
	}
}

// TestMoveCommand moves an organization with a project between two of three shards and reads
// the directory before and after.
func TestMoveCommand(t *testing.T) {
	ctx := context.Background()
	dbs := devtest.NewShardDatabases(t, 3)
	specs := make([]shard.Spec, len(dbs))
	for i, d := range dbs {
		specs[i] = shard.Spec{Name: fmt.Sprintf("s%d", i+1), Writer: d.PoolerURL}
	}
	b, _ := json.Marshal(specs)
	env := map[string]string{"DATABASE_SHARDS": string(b), "REDIS_URL": devtest.Services(t).RedisURL}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	d, err := platform.Build(ctx, lookup, io.Discard, platform.Needs{Database: true, Redis: true})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	u := &user.User{ID: uuid.Must(uuid.NewV7()), Email: "mover-" + uuid.NewString()[:8] + "@example.com", Name: "Mover", PasswordHash: "x"}
	if err := user.NewPG(d.Primary).Create(ctx, u); err != nil {
		t.Fatal(err)
	}
	o, err := organization.NewService(d.Primary, d.Shards, d.Cache, nil).Create(ctx, u.ID, organization.Creation{Name: "Moving"})
	if err != nil {
		t.Fatal(err)
	}
	from, _ := d.Shards.For(ctx, o.ID)
	conn, _ := from.Primary(ctx)
	project := uuid.Must(uuid.NewV7())
	if _, err := conn.Exec(ctx, "INSERT INTO projects (id, organization_id, name) VALUES ($1, $2, 'Apollo')", project, o.ID); err != nil {
		t.Fatal(err)
	}
	to := "s3"
	if from.Name() == "s3" {
		to = "s2"
	}

	cmd := func(args ...string) string {
		t.Helper()
		var out, errs bytes.Buffer
		if code := run(ctx, args, lookup, &out, &errs); code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, errs.String())
		}
		return out.String()
	}
	if got := cmd("where", o.ID.String()); got != o.ID.String()+" "+from.Name()+"\n" {
		t.Fatalf("where before: %q", got)
	}
	if got := cmd("move", o.ID.String(), to); !strings.Contains(got, "from "+from.Name()+" to "+to) {
		t.Fatalf("move: %q", got)
	}
	if got := cmd("where", o.ID.String()); got != o.ID.String()+" "+to+"\n" {
		t.Fatalf("where after: %q", got)
	}
	if got := cmd("spread"); !strings.Contains(got, to+" 1\n") {
		t.Fatalf("spread: %q", got)
	}
	dst, _ := d.Shards.Named(to)
	dconn, _ := dst.Primary(ctx)
	var name string
	if err := dconn.QueryRow(ctx, "SELECT name FROM projects WHERE id = $1", project).Scan(&name); err != nil || name != "Apollo" {
		t.Fatalf("the project on %s: %q, %v", to, name, err)
	}
	var errs bytes.Buffer
	if code := run(ctx, []string{"move", o.ID.String(), to}, lookup, io.Discard, &errs); code != 1 || !strings.Contains(errs.String(), "already on shard") {
		t.Fatalf("moving it again: exit %d: %s", code, errs.String())
	}
}
