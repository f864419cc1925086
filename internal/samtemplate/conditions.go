package samtemplate

import (
	"fmt"
	"reflect"
	"strings"
)

// evaluateConditions computes every entry of the Conditions section from the parameters, so
// Fn::If and resource Conditions can be decided. Condition functions only ever see parameters,
// pseudo parameters and literals, which is what makes evaluating them before the rest possible.
func (r *resolver) evaluateConditions() error {
	r.conditions = map[string]bool{}
	visiting := map[string]bool{}
	var eval func(name string) (bool, error)
	var cond func(v any) (bool, error)
	eval = func(name string) (bool, error) {
		if b, ok := r.conditions[name]; ok {
			return b, nil
		}
		expr, ok := r.section("Conditions")[name]
		if !ok {
			return false, fmt.Errorf("condition %s is not defined", name)
		}
		if visiting[name] {
			return false, fmt.Errorf("condition %s refers to itself", name)
		}
		visiting[name] = true
		b, err := cond(expr)
		if err != nil {
			return false, fmt.Errorf("condition %s: %w", name, err)
		}
		r.conditions[name] = b
		return b, nil
	}
	cond = func(v any) (bool, error) {
		if name, ok := v.(string); ok {
			// goformation's YAML reader has no !Condition tag, so `!Condition Name` arrives as
			// the bare name; inside Fn::And/Or/Not a string can only be a condition's name.
			return eval(name)
		}
		m, ok := v.(map[string]any)
		if !ok || len(m) != 1 {
			return false, fmt.Errorf("%v is not a condition function", v)
		}
		for fn, arg := range m {
			args, _ := arg.([]any)
			switch fn {
			case "Condition":
				name, _ := arg.(string)
				return eval(name)
			case "Fn::Equals":
				if len(args) != 2 {
					return false, fmt.Errorf("Fn::Equals takes two values")
				}
				a, b := r.value(args[0]), r.value(args[1])
				return reflect.DeepEqual(scalar(a), scalar(b)), nil
			case "Fn::Not":
				if len(args) != 1 {
					return false, fmt.Errorf("Fn::Not takes one condition")
				}
				b, err := cond(args[0])
				return !b, err
			case "Fn::And", "Fn::Or":
				all := fn == "Fn::And"
				for _, a := range args {
					b, err := cond(a)
					if err != nil {
						return false, err
					}
					if b != all {
						return b, nil
					}
				}
				return all, nil
			}
			return false, fmt.Errorf("%s is not a condition function", fn)
		}
		return false, nil
	}
	for name := range r.section("Conditions") {
		if _, err := eval(name); err != nil {
			return err
		}
	}
	return nil
}

// value resolves the operand of Fn::Equals: a literal, a Ref, or an Fn::Sub/Fn::If/Fn::Join of
// them (Fn::Join is how a condition asks whether a list parameter is empty).
func (r *resolver) value(v any) any {
	m, ok := v.(map[string]any)
	if !ok || len(m) != 1 {
		return v
	}
	for fn, arg := range m {
		switch fn {
		case "Ref":
			return r.ref(arg)
		case "Fn::Sub":
			return r.sub(arg)
		case "Fn::If":
			return r.value(r.fnIf(arg))
		case "Fn::Join":
			args, _ := arg.([]any)
			if len(args) != 2 {
				return v
			}
			list, _ := r.value(args[1]).([]any)
			parts := make([]string, len(list))
			for i, e := range list {
				parts[i] = scalar(r.value(e))
			}
			return strings.Join(parts, scalar(args[0]))
		}
	}
	return v
}
