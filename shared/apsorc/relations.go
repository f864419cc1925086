package apsorc

import (
	"encoding/json"
	"fmt"
	"slices"
)

// decl is one relationship declaration: an entry of version 2's relationships, or a version 1
// association translated to one as APSO's parse-v1 does.
type decl struct {
	where    string
	from, to *spec
	kind     Kind
	toName   string
	bi       *bool // bi_directional as written, nil when absent
	nullable bool
	index    bool
	cascade  bool
	// joinTable, joinCol and invJoinCol are a ManyToMany's joinTableName, joinColumnName and
	// inverseJoinColumnName.
	joinTable, joinCol, invJoinCol string
}

func (d *decl) biDirectional() bool { return d.bi != nil && *d.bi }

func (d *decl) namesJoin() bool { return d.joinTable != "" || d.joinCol != "" || d.invJoinCol != "" }

var kinds = map[string]Kind{"ManyToOne": ManyToOne, "OneToMany": OneToMany, "OneToOne": OneToOne, "ManyToMany": ManyToMany}

// relationship reads entry i of version 2's relationships; nil when it can't be resolved.
func (l *loader) relationship(i int, raw json.RawMessage) *decl {
	o := readObject(&l.ps, fmt.Sprintf("relationship %d", i), raw)
	if o == nil {
		return nil
	}
	from, _ := o.str("from")
	typ, _ := o.str("type")
	to, _ := o.str("to")
	o.where = fmt.Sprintf("relationship %d (%s %s %s)", i, from, typ, to)
	o.check("from", "to", "type", "to_name", "nullable", "bi_directional", "cascadeDelete", "index",
		"joinTableName", "joinColumnName", "inverseJoinColumnName")
	d := &decl{where: o.where, index: o.boolean("index", false), cascade: o.boolean("cascadeDelete", false)}
	d.nullable, _ = o.looseBool("nullable", false, true)
	if o.has("bi_directional") {
		b := o.boolean("bi_directional", false)
		d.bi = &b
	}
	d.toName, _ = o.str("to_name")
	d.joinTable, _ = o.str("joinTableName")
	d.joinCol, _ = o.str("joinColumnName")
	d.invJoinCol, _ = o.str("inverseJoinColumnName")
	if !l.endpoints(o, d, "from", "to", "type", "to_name") {
		return nil
	}
	switch {
	case d.kind != ManyToMany && d.namesJoin():
		l.ps.add(d.where, "joinTableName, joinColumnName and inverseJoinColumnName apply to ManyToMany only")
	case d.kind == ManyToMany && d.cascade:
		l.ps.add(d.where, "cascadeDelete does not apply to ManyToMany: a join row always goes with either side")
	default:
		return d
	}
	return nil
}

// endpoints resolves d's entities, kind and to_name from o's keys from, to, type and toName
// (whose names differ between the versions); false when one is missing or wrong.
func (l *loader) endpoints(o *object, d *decl, fromKey, toKey, typeKey, toNameKey string) bool {
	ok := true
	for _, key := range []string{fromKey, toKey, typeKey} {
		if key != "" && !o.has(key) {
			l.ps.add(o.where, "%q is required", key)
			ok = false
		}
	}
	resolve := func(key string, dst **spec) {
		if name, has := o.str(key); has {
			if *dst = l.byName[name]; *dst == nil {
				l.ps.add(o.where, "no entity %q", name)
				ok = false
			}
		}
	}
	if fromKey != "" {
		resolve(fromKey, &d.from)
	}
	resolve(toKey, &d.to)
	if t, has := o.str(typeKey); has {
		if d.kind = kinds[t]; d.kind == 0 {
			l.ps.add(o.where, "type %q must be OneToMany, ManyToOne, OneToOne or ManyToMany", t)
			ok = false
		}
	}
	if d.toName != "" && !nameRE.MatchString(d.toName) {
		l.ps.add(o.where, notAName, toNameKey, d.toName)
		ok = false
	}
	return ok && d.from != nil && d.to != nil && d.kind != 0
}

// assoc is a version 1 association: the relationship as one of its entities sees it.
type assoc struct {
	*decl
	joinTable bool
}

var inverseKind = map[Kind]Kind{OneToOne: OneToOne, OneToMany: ManyToOne, ManyToOne: OneToMany, ManyToMany: ManyToMany}

// translateV1 turns the version 1 associations into declarations as APSO's parse-v1 does: an
// association whose inverse the other entity declares makes one bidirectional declaration
// (from its OneToMany side, or from the ManyToMany side that has join_table), one without
// makes a unidirectional one, and two ManyToMany sides that both have join_table stay two
// unidirectional relationships.
func (l *loader) translateV1() []*decl {
	all := map[*spec][]*assoc{}
	for _, sp := range l.specs {
		for _, o := range sp.associations {
			name, _ := o.str("name")
			o.where += fmt.Sprintf(" (%s)", name)
			o.check("name", "type", "reference_name", "join_table", "nullable", "index", "nested")
			a := &assoc{decl: &decl{where: o.where, from: sp, index: o.boolean("index", false)},
				joinTable: o.boolean("join_table", false)}
			a.nullable, _ = o.looseBool("nullable", false, true)
			a.toName, _ = o.str("reference_name")
			o.boolean("nested", false) // APSO's generator ignores it too
			if l.endpoints(o, a.decl, "", "name", "type", "reference_name") {
				all[sp] = append(all[sp], a)
			}
		}
	}
	var decls []*decl
	for _, sp := range l.specs {
		for _, a := range all[sp] {
			var inv *assoc
			if a.to != sp {
				for _, b := range all[a.to] {
					if b.to == sp && b.kind == inverseKind[a.kind] {
						inv = b
						break
					}
				}
			}
			bi := inv != nil
			d := *a.decl
			switch {
			case a.kind == ManyToOne && bi:
				continue // the OneToMany side declares it
			case a.kind == OneToMany && bi:
				d.index = inv.index
			case a.kind == ManyToMany && bi && !a.joinTable && inv.joinTable:
				continue // the join_table side declares it
			case a.kind == ManyToMany && bi && a.joinTable && inv.joinTable:
				bi = false
			}
			d.nullable = a.nullable || inv != nil && inv.nullable
			d.bi = &bi
			decls = append(decls, &d)
		}
	}
	return decls
}

// link is a relationship resolved: the entity that holds its foreign key (or owns its join
// table), and the names of its two sides.
type link struct {
	where string
	// kind is ManyToOne (from a ManyToOne or a OneToMany declaration), OneToOne or ManyToMany,
	// as seen from holder.
	kind           Kind
	holder, target *spec
	// name is the holder's relation; inverse the target's, "" when unidirectional.
	name, inverse string
	// named says a declaration named the inverse (a OneToMany's, or the partner declaration of a
	// OneToOne or ManyToMany), rather than the inverse being the default of a bidirectional
	// ManyToOne; fromOneToMany and merged track the declarations of a ManyToOne link.
	named, fromOneToMany, merged bool
	nullable, index, cascade     bool
	joinTable, joinCol, invCol   string
	// fk is the foreign key the link adds to holder (nil for a ManyToMany).
	fk *Field
}

// resolve turns the declarations into links, and the links into relations and foreign keys.
func (l *loader) resolve(decls []*decl) {
	partner := map[*decl]*decl{}
	taken := map[*decl]bool{}
	for i, d := range decls {
		if (d.kind != OneToOne && d.kind != ManyToMany) || taken[d] {
			continue
		}
		for _, p := range decls[i+1:] {
			if !taken[p] && p.kind == d.kind && p.from == d.to && p.to == d.from && (d.biDirectional() || p.biDirectional()) {
				partner[d], taken[p] = p, true
				break
			}
		}
	}
	var links []*link
	for _, d := range decls {
		if taken[d] {
			continue
		}
		lk := l.link(d, partner[d])
		if lk == nil {
			continue
		}
		if lk.kind == ManyToOne {
			if prev := findLink(links, lk); prev != nil {
				l.mergeLink(prev, lk)
				continue
			}
		}
		links = append(links, lk)
	}
	for _, lk := range links {
		l.relate(lk)
	}
}

// link makes d's link; p is d's partner declaration (a OneToOne or ManyToMany declared from
// the other side too, bidirectional).
func (l *loader) link(d, p *decl) *link {
	lk := &link{where: d.where, holder: d.from, target: d.to, kind: d.kind, nullable: d.nullable, index: d.index, cascade: d.cascade}
	from, to := d.from.e.Name, d.to.e.Name
	switch d.kind {
	case OneToMany:
		lk.kind, lk.holder, lk.target = ManyToOne, d.to, d.from
		lk.name, lk.inverse, lk.named, lk.fromOneToMany = camelCase(from), camelCase(plural(or(d.toName, to))), true, true
	case ManyToOne:
		lk.name = camelCase(or(d.toName, to))
		if (d.bi == nil || *d.bi) && d.from != d.to {
			lk.inverse = camelCase(plural(from))
		}
	case OneToOne:
		lk.name = camelCase(or(d.toName, to))
		switch {
		case p != nil:
			lk.inverse, lk.named = camelCase(or(p.toName, from)), true
		case d.biDirectional():
			lk.inverse = camelCase(from)
		}
	case ManyToMany:
		if p != nil && p.namesJoin() {
			if d.namesJoin() {
				l.ps.add(d.where, "%s names the join table too; name it in one of them", p.where)
				return nil
			}
			d, p = p, d // the side that names the join table owns it
			from, to = to, from
			lk.where, lk.holder, lk.target = d.where, d.from, d.to
		}
		lk.name = manyName(d)
		switch {
		case p != nil:
			lk.inverse, lk.named = manyName(p), true
		case d.biDirectional():
			lk.inverse = camelCase(plural(from))
		}
		lk.joinTable = or(d.joinTable, snakeCase(from)+"_"+tableName(to))
		lk.joinCol = or(d.joinCol, snakeCase(from)+"_id")
		lk.invCol = or(d.invJoinCol, snakeCase(to)+"_id")
	}
	return lk
}

// manyName is the name of a ManyToMany declaration's relation: to_name, else the target's
// name pluralized.
func manyName(d *decl) string {
	if d.toName != "" {
		return camelCase(d.toName)
	}
	return camelCase(plural(d.to.e.Name))
}

func or(s, def string) string {
	if s != "" {
		return s
	}
	return def
}

// findLink returns the link of links that makes the same foreign key as lk.
func findLink(links []*link, lk *link) *link {
	for _, o := range links {
		if o.kind == lk.kind && o.holder == lk.holder && o.target == lk.target && o.name == lk.name {
			return o
		}
	}
	return nil
}

// mergeLink folds lk into prev, the link with the same foreign key: a OneToMany and the
// ManyToOne declared back (as APSO's own templates write them) are one relationship, whose
// collection takes the OneToMany's name and whose flags are either's. Two declarations of
// the same kind are a mistake.
func (l *loader) mergeLink(prev, lk *link) {
	if prev.merged || prev.fromOneToMany == lk.fromOneToMany {
		hint := ""
		if !lk.fromOneToMany {
			hint = `; give each a distinct "to_name"`
		}
		l.ps.add(lk.where, "makes relation %q of entity %q, as %s does%s", lk.name, lk.holder.e.Name, prev.where, hint)
		return
	}
	if lk.fromOneToMany {
		prev.inverse = lk.inverse
	}
	prev.named, prev.merged = true, true
	prev.nullable = prev.nullable || lk.nullable
	prev.index = prev.index || lk.index
	prev.cascade = prev.cascade || lk.cascade
}

// inverseKinds is the kind of a link's inverse side.
var inverseKinds = map[Kind]Kind{ManyToOne: OneToMany, OneToOne: OneToOne, ManyToMany: ManyToMany}

// relate adds lk's relations, and its foreign key, to its entities.
func (l *loader) relate(lk *link) {
	h, t := lk.holder.e, lk.target.e
	rel := &Relation{Name: lk.name, Kind: lk.kind, Target: t, Nullable: lk.nullable, CascadeDelete: lk.cascade,
		JoinTable: lk.joinTable, JoinColumn: lk.joinCol, InverseJoinColumn: lk.invCol}
	h.Relations = append(h.Relations, rel)
	l.origin[rel] = lk.where
	lk.holder.links = append(lk.holder.links, lk)
	if lk.kind != ManyToMany {
		f := &Field{Name: lk.name + "Id", Column: snakeCase(lk.name + "Id"), Nullable: lk.nullable,
			Unique: lk.kind == OneToOne, Relation: rel}
		rel.Field, lk.fk = f, f
		h.Fields = append(h.Fields, f)
	}
	if lk.inverse == "" {
		return
	}
	// Two bidirectional ManyToOne to the same entity (networkStack and databaseStack, both to
	// InfrastructureStack) would give it two collections of the same name by default. APSO's
	// generator keeps the first; so does this, and a collection the file names wins over a
	// default one.
	if i := slices.IndexFunc(t.Relations, func(r *Relation) bool { return r.Name == lk.inverse && r.Target == h }); i >= 0 {
		old := t.Relations[i]
		switch {
		case !lk.named:
			return
		case l.defaultInverse[old]:
			old.Inverse.Inverse = nil
			t.Relations = slices.Delete(t.Relations, i, i+1)
		}
	}
	inv := &Relation{Name: lk.inverse, Kind: inverseKinds[lk.kind], Target: h, Inverse: rel,
		JoinTable: lk.joinTable, JoinColumn: lk.invCol, InverseJoinColumn: lk.joinCol}
	rel.Inverse = inv
	t.Relations = append(t.Relations, inv)
	l.origin[inv] = lk.where
	l.defaultInverse[inv] = !lk.named
}
