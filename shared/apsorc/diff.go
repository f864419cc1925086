package apsorc

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// Diff returns the statements that take a database from the tables of snapshot old to those
// of snapshot new (up) and back (down), both documents as Snapshot writes them. Down is the
// same plan made the other way, so it reverses up exactly (less the data a drop lost).
//
// A plan runs in this order, each group in table, column and constraint name order, so that
// the same two snapshots always give the same statements:
//
//  1. drop the foreign keys, checks, uniques, primary keys and indexes that go or change;
//  2. DROP TABLE the tables that go, in one statement (dependencies among them need no order);
//  3. DROP COLUMN the columns that go;
//  4. CREATE TABLE the tables that come, without their foreign keys (as CreateSQL writes them);
//  5. ADD COLUMN the columns that come;
//  6. ALTER COLUMN the columns that change: TYPE … USING col::type (the default dropped first
//     and set again after; to varchar(n) without USING, whose assignment cast refuses a value
//     too long where the explicit cast would truncate it), default, nullability;
//  7. add the checks, uniques and primary keys that come or changed (an enum's new values are
//     its check dropped in 1 and added here);
//  8. add the foreign keys, now that every table and column exists;
//  9. CREATE INDEX the indexes that come or changed.
//
// Drops of constraints and indexes say IF EXISTS, as CreateSQL's creates say IF NOT EXISTS:
// the hand-written migrations that realise the first snapshot name some of them otherwise.
//
// What a snapshot can't tell is said in an SQL comment at the head of the statement, for
// whoever reviews the migration:
//   - a rename is a drop and an add (a snapshot has names only): when a table loses columns
//     and gains others, or tables go while others come, the drop says that its data is lost
//     unless it is replaced by a RENAME;
//   - a NOT NULL column without a default added to an existing table, or a column becoming
//     NOT NULL, fails on a table with rows (or NULLs): it is generated all the same, with a note
//     to backfill, rather than refused, because a new entity's empty table and a development
//     database take it as it is, and the failure is PostgreSQL's own, in the migration's
//     transaction, leaving nothing half done;
//   - dropping deleted_at (soft delete turned off) makes the rows deleted so far live again;
//   - a type change casts every value and, unless it only widens the type (to text, a longer
//     varchar, an integer to bigint, numeric or double precision), fails on one that doesn't
//     convert.
//
// One change is refused with an error: a key column (a primary or a foreign key's) that changes
// type or identity, as when an entity goes from uuid to serial keys. Its rows' ids and every
// reference to them would have to be rewritten, and uuid and bigint have no cast between them;
// that is a migration to write by hand (or a new entity).
//
// Statements carry no trailing semicolon.
func Diff(old, new []byte) (up, down []string, err error) {
	from, err := readSnapshot(old)
	if err != nil {
		return nil, nil, fmt.Errorf("old snapshot: %w", err)
	}
	to, err := readSnapshot(new)
	if err != nil {
		return nil, nil, fmt.Errorf("new snapshot: %w", err)
	}
	if up, err = plan(from, to); err != nil {
		return nil, nil, err
	}
	if down, err = plan(to, from); err != nil {
		return nil, nil, err
	}
	return up, down, nil
}

// snapshot is the document Snapshot writes.
type snapshot struct {
	Format int     `json:"format"`
	Tables []table `json:"tables"`
}

// readSnapshot decodes a snapshot, its tables sorted by name (as Snapshot sorts them, and
// sorted again for a document written by hand).
func readSnapshot(b []byte) ([]table, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var s snapshot
	if err := dec.Decode(&s); err != nil {
		return nil, err
	}
	if s.Format != 1 {
		return nil, fmt.Errorf("format %d, want 1", s.Format)
	}
	seen := map[string]bool{}
	for _, t := range s.Tables {
		if t.Name == "" || seen[t.Name] {
			return nil, fmt.Errorf("table %q is unnamed or listed twice", t.Name)
		}
		seen[t.Name] = true
		cols := map[string]bool{}
		for _, c := range t.Columns {
			if c.Name == "" || c.Type == "" || cols[c.Name] {
				return nil, fmt.Errorf("table %s: column %q is unnamed, untyped or listed twice", t.Name, c.Name)
			}
			cols[c.Name] = true
		}
	}
	slices.SortFunc(s.Tables, func(a, b table) int { return strings.Compare(a.Name, b.Name) })
	return s.Tables, nil
}

// steps are a plan's statements by group, in the order Diff runs them.
type steps struct {
	dropFKs, dropConstraints, dropIndexes, dropTables, dropColumns []string
	createTables, addColumns, alterColumns, addConstraints, addFKs []string
	createIndexes                                                  []string
}

func (s *steps) all() []string {
	return slices.Concat(s.dropFKs, s.dropConstraints, s.dropIndexes, s.dropTables, s.dropColumns,
		s.createTables, s.addColumns, s.alterColumns, s.addConstraints, s.addFKs, s.createIndexes)
}

// plan returns the statements that take tables from to to.
func plan(from, to []table) ([]string, error) {
	old := map[string]table{}
	for _, t := range from {
		old[t.Name] = t
	}
	var s steps
	var gone, came []string
	for _, t := range from {
		if !slices.ContainsFunc(to, func(n table) bool { return n.Name == t.Name }) {
			gone = append(gone, t.Name)
		}
	}
	for _, t := range to {
		o, ok := old[t.Name]
		if !ok {
			came = append(came, t.Name)
			s.createTables = append(s.createTables, createTable(t, false))
			for _, fk := range t.ForeignKeys {
				s.addFKs = append(s.addFKs, addFK(t.Name, fk))
			}
			for _, x := range t.Indexes {
				s.createIndexes = append(s.createIndexes, createIndex(t, x))
			}
			continue
		}
		if err := s.table(o, t); err != nil {
			return nil, err
		}
	}
	if len(gone) > 0 {
		st := "DROP TABLE " + strings.Join(gone, ", ")
		if len(came) > 0 {
			st = note("Dropped: %s; created: %s. A renamed table looks the same: if one is, replace its DROP and CREATE with ALTER TABLE old RENAME TO new, or its rows are lost.",
				strings.Join(gone, ", "), strings.Join(came, ", ")) + st
		}
		s.dropTables = append(s.dropTables, st)
	}
	return s.all(), nil
}

// table adds the steps that take table o to t.
func (s *steps) table(o, t table) error {
	isKey := func(col string) bool {
		return slices.Contains(t.PrimaryKey, col) ||
			slices.ContainsFunc(t.ForeignKeys, func(fk fkey) bool { return slices.Contains(fk.Columns, col) })
	}
	for _, c := range t.Columns {
		if oc, ok := columnOf(o, c.Name); ok && (oc.Identity != c.Identity || oc.Type != c.Type && isKey(c.Name)) {
			return fmt.Errorf("table %s: key column %s changes from %s to %s: its ids and every reference to them would have to be rewritten, which is not generated (write that migration by hand, or make a new entity)",
				t.Name, c.Name, keyDesc(oc), keyDesc(c))
		}
	}
	alter := "ALTER TABLE " + t.Name + " "
	for _, fk := range o.ForeignKeys {
		if n, ok := named(t.ForeignKeys, fk.Name); !ok || !sameFK(fk, n) {
			s.dropFKs = append(s.dropFKs, alter+"DROP CONSTRAINT IF EXISTS "+fk.Name)
		}
	}
	for _, fk := range t.ForeignKeys {
		if p, ok := named(o.ForeignKeys, fk.Name); !ok || !sameFK(fk, p) {
			s.addFKs = append(s.addFKs, addFK(t.Name, fk))
		}
	}

	if !slices.Equal(o.PrimaryKey, t.PrimaryKey) {
		s.dropConstraints = append(s.dropConstraints, alter+"DROP CONSTRAINT IF EXISTS "+pkeyName(t.Name))
		s.addConstraints = append(s.addConstraints, alter+"ADD PRIMARY KEY ("+strings.Join(t.PrimaryKey, ", ")+")")
	}
	for _, c := range o.Checks {
		if n, ok := named(t.Checks, c.Name); !ok || n.Expression != c.Expression {
			s.dropConstraints = append(s.dropConstraints, alter+"DROP CONSTRAINT IF EXISTS "+c.Name)
		}
	}
	for _, u := range o.Uniques {
		if n, ok := named(t.Uniques, u.Name); !ok || !slices.Equal(n.Columns, u.Columns) {
			s.dropConstraints = append(s.dropConstraints, alter+"DROP CONSTRAINT IF EXISTS "+u.Name)
		}
	}
	for _, c := range t.Checks {
		if p, ok := named(o.Checks, c.Name); !ok || p.Expression != c.Expression {
			st := alter + "ADD CONSTRAINT " + c.Name + " CHECK (" + c.Expression + ")"
			if ok {
				st = note("Fails while a row breaks the new check (a value it no longer allows).") + st
			}
			s.addConstraints = append(s.addConstraints, st)
		}
	}
	for _, u := range t.Uniques {
		if p, ok := named(o.Uniques, u.Name); !ok || !slices.Equal(p.Columns, u.Columns) {
			s.addConstraints = append(s.addConstraints, note("Fails while two rows share a value.")+
				alter+"ADD CONSTRAINT "+u.Name+" UNIQUE ("+strings.Join(u.Columns, ", ")+")")
		}
	}

	for _, x := range o.Indexes {
		if n, ok := named(t.Indexes, x.Name); !ok || !slices.Equal(n.Columns, x.Columns) {
			s.dropIndexes = append(s.dropIndexes, "DROP INDEX IF EXISTS "+x.Name)
		}
	}
	for _, x := range t.Indexes {
		if p, ok := named(o.Indexes, x.Name); !ok || !slices.Equal(p.Columns, x.Columns) {
			s.createIndexes = append(s.createIndexes, createIndex(t, x))
		}
	}

	var gone, came []string
	for _, c := range o.Columns {
		if _, ok := columnOf(t, c.Name); !ok {
			gone = append(gone, c.Name)
		}
	}
	for _, c := range t.Columns {
		if _, ok := columnOf(o, c.Name); !ok {
			came = append(came, c.Name)
		}
	}
	for _, c := range gone {
		st := alter + "DROP COLUMN " + c
		if c == "deleted_at" {
			st = note("Soft delete ends: the rows deleted so far are live again. Put DELETE FROM %s WHERE deleted_at IS NOT NULL before this if they should stay gone.", t.Name) + st
		}
		if len(came) > 0 {
			st = note("%s.%s is dropped while %s gains %s: a renamed column looks the same. If it is one, replace the DROP and the ADD with ALTER TABLE %s RENAME COLUMN %s TO …, or its values are lost.",
				t.Name, c, t.Name, strings.Join(came, ", "), t.Name, c) + st
		}
		s.dropColumns = append(s.dropColumns, st)
	}
	for _, c := range t.Columns {
		oc, ok := columnOf(o, c.Name)
		if !ok {
			st := alter + "ADD COLUMN " + columnDef(c)
			if !c.Nullable && c.Default == "" {
				st = note("NOT NULL without a default: fails on a table that has rows. If it has, add the column nullable, backfill it, then SET NOT NULL.") + st
			}
			s.addColumns = append(s.addColumns, st)
			continue
		}
		s.alterColumns = append(s.alterColumns, alterColumn(alter, oc, c)...)
	}
	return nil
}

// keyDesc is a key column's type as the error names it.
func keyDesc(c column) string {
	if c.Identity {
		return c.Type + " identity"
	}
	return c.Type
}

// pkeyName is the name PostgreSQL gives table's primary key: table_pkey, the table's name cut
// so that it fits in 63 bytes.
func pkeyName(table string) string {
	if len(table) > maxIdent-len("_pkey") {
		table = table[:maxIdent-len("_pkey")]
	}
	return table + "_pkey"
}

// alterColumn returns the statements (each after alter, "ALTER TABLE t ") that change column o
// into c.
func alterColumn(alter string, o, c column) []string {
	alter += "ALTER COLUMN " + c.Name + " "
	var out []string
	def := o.Default
	if o.Type != c.Type {
		if def != "" {
			out = append(out, alter+"DROP DEFAULT") // the old default may not cast to the new type
			def = ""
		}
		var st string
		if n, ok := varcharLength(c.Type); ok {
			// No USING: the assignment cast refuses a value that is too long, where an explicit
			// ::varchar(n) would cut it short without a word.
			st = alter + "TYPE " + c.Type
			if m, ok := varcharLength(o.Type); !ok || m > n {
				st = note("Fails on a value longer than %d characters.", n) + st
			}
		} else {
			st = alter + "TYPE " + c.Type + " USING " + c.Name + "::" + c.Type
			if c.Type != "text" && !(o.Type == "integer" && (c.Type == "bigint" || c.Type == "numeric" || c.Type == "double precision")) {
				st = note("Casts every value to %s: fails on one that doesn't convert.", c.Type) + st
			}
		}
		out = append(out, st)
	}
	switch {
	case c.Default != "" && c.Default != def:
		out = append(out, alter+"SET DEFAULT "+c.Default)
	case c.Default == "" && def != "":
		out = append(out, alter+"DROP DEFAULT")
	}
	switch {
	case o.Nullable && !c.Nullable:
		out = append(out, note("Fails while the column holds NULLs: backfill them first.")+alter+"SET NOT NULL")
	case !o.Nullable && c.Nullable:
		out = append(out, alter+"DROP NOT NULL")
	}
	return out
}

// varcharLength is n of varchar(n).
func varcharLength(sqlType string) (int, bool) {
	var n int
	_, err := fmt.Sscanf(sqlType, "varchar(%d)", &n)
	return n, err == nil
}

// columnDef is c's definition in an ADD COLUMN (never a key's, so never an identity: a new
// table's key is in its CREATE TABLE).
func columnDef(c column) string {
	d := c.Name + " " + c.Type
	if !c.Nullable {
		d += " NOT NULL"
	}
	if c.Default != "" {
		d += " DEFAULT " + c.Default
	}
	return d
}

func addFK(tbl string, fk fkey) string {
	return "ALTER TABLE " + tbl + " ADD CONSTRAINT " + fk.Name + " " + fk.sql()
}

// createIndex is x's CREATE INDEX, under the comment saying what it serves that the
// migration files carry above every index.
func createIndex(t table, x index) string {
	why := "Declared in the .apsorc (indexes, or index: true on a field or relation)."
	switch {
	case slices.Equal(x.Columns, []string{"organization_id", "id"}):
		why = "Keyset pages of one organization's rows: the tenant scope, in id order."
	default:
		for _, fk := range t.ForeignKeys {
			if slices.Equal(fk.Columns, x.Columns) {
				why = "The foreign key to " + fk.References + ": joins, /{id}/{relation} lists and ON DELETE from " + fk.References + "."
				break
			}
		}
	}
	return note("%s", why) + createIndexes(table{Name: t.Name, Indexes: []index{x}})[0]
}

// note is an SQL comment line, to head a statement.
func note(format string, args ...any) string { return "-- " + fmt.Sprintf(format, args...) + "\n" }

func columnOf(t table, name string) (column, bool) { return named(t.Columns, name) }

// named returns the element of xs called name.
func named[T interface{ id() string }](xs []T, name string) (T, bool) {
	for _, x := range xs {
		if x.id() == name {
			return x, true
		}
	}
	var zero T
	return zero, false
}

func (c column) id() string { return c.Name }
func (c check) id() string  { return c.Name }
func (x index) id() string  { return x.Name }
func (fk fkey) id() string  { return fk.Name }

func sameFK(a, b fkey) bool {
	return slices.Equal(a.Columns, b.Columns) && a.References == b.References &&
		slices.Equal(a.RefColumns, b.RefColumns) && a.OnDelete == b.OnDelete
}
