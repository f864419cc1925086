package migrations_test

import (
	"fmt"
	"io/fs"
	"strings"
	"testing"

	"scaleapi/shared/migrations"
)

// TestFiles checks the conventions of the migration files themselves: numbered without gaps,
// an Up and a non-empty Down in each, and a comment saying why above every index.
func TestFiles(t *testing.T) {
	names, err := fs.Glob(migrations.FS, "*.sql")
	if err != nil {
		t.Fatal(err)
	}
	if len(names) == 0 {
		t.Fatal("no migrations embedded")
	}
	for i, name := range names {
		t.Run(name, func(t *testing.T) {
			if want := fmt.Sprintf("%05d_", i+1); !strings.HasPrefix(name, want) {
				t.Errorf("name should start with %s: versions are numbered in order without gaps", want)
			}
			b, err := fs.ReadFile(migrations.FS, name)
			if err != nil {
				t.Fatal(err)
			}
			text := string(b)
			up := strings.Index(text, "-- +goose Up")
			down := strings.Index(text, "-- +goose Down")
			if up < 0 || down < up {
				t.Fatal("needs a -- +goose Up section followed by a -- +goose Down section")
			}
			if !hasStatement(text[down:]) {
				t.Error("the Down section is empty: every migration must be reversible")
			}
			lines := strings.Split(text, "\n")
			for j, line := range lines {
				upper := strings.ToUpper(strings.TrimSpace(line))
				if !strings.HasPrefix(upper, "CREATE INDEX") && !strings.HasPrefix(upper, "CREATE UNIQUE INDEX") {
					continue
				}
				if j == 0 || !strings.HasPrefix(strings.TrimSpace(lines[j-1]), "--") {
					t.Errorf("line %d: %s\n\tneeds a comment above it saying which query it serves", j+1, line)
				}
			}
		})
	}
}

// TestNewest checks Newest against the files: numbered without gaps (TestFiles), the newest
// version is their count.
func TestNewest(t *testing.T) {
	names, err := fs.Glob(migrations.FS, "*.sql")
	if err != nil {
		t.Fatal(err)
	}
	got, err := migrations.Newest()
	if err != nil {
		t.Fatal(err)
	}
	if want := int64(len(names)); got != want {
		t.Errorf("Newest() = %d, want %d", got, want)
	}
}

// hasStatement reports whether sql holds anything but comments and blank lines.
func hasStatement(sql string) bool {
	for _, line := range strings.Split(sql, "\n") {
		line = strings.TrimSpace(line)
		if line != "" && !strings.HasPrefix(line, "--") {
			return true
		}
	}
	return false
}
