package samtemplate

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/awslabs/goformation/v7/intrinsics"
)

// noValue stands for AWS::NoValue until dropNoValue removes the property that holds it, as
// CloudFormation does; goformation's nil would leave the key in place.
const noValue = "\x00AWS::NoValue"

type resolver struct {
	opts       Options
	tpl        rawTemplate
	conditions map[string]bool
}

// handlers are the intrinsic function handlers that replace goformation's defaults.
func (r *resolver) handlers() map[string]intrinsics.IntrinsicHandler {
	return map[string]intrinsics.IntrinsicHandler{
		"Ref":        func(_ string, in, _ any) any { return r.ref(in) },
		"Fn::GetAtt": func(_ string, in, _ any) any { return r.getAtt(in) },
		"Fn::Sub":    func(_ string, in, _ any) any { return r.sub(in) },
		"Fn::If":     func(_ string, in, _ any) any { return r.fnIf(in) },
		"Fn::Split":  func(_ string, in, _ any) any { return split(in) },
	}
}

// split is Fn::Split returning []any: goformation's returns []string, which its own Fn::Select
// does not index, so Select of a Split (how a template takes an ARN apart) came out nil.
func split(in any) any {
	arr, _ := in.([]any)
	if len(arr) != 2 {
		return nil
	}
	delim, ok1 := arr[0].(string)
	src, ok2 := arr[1].(string)
	if !ok1 || !ok2 {
		return nil
	}
	var out []any
	for _, e := range strings.Split(src, delim) {
		out = append(out, e)
	}
	return out
}

func (r *resolver) section(name string) map[string]any {
	m, _ := r.tpl[name].(map[string]any)
	return m
}

// applyParameters makes each override the parameter's Default, which is what Ref reads: first
// the Defaults of parameters the template declares, then the Parameters.
func (r *resolver) applyParameters() error {
	params := r.section("Parameters")
	for name, v := range r.opts.Defaults {
		if p, ok := params[name].(map[string]any); ok {
			p["Default"] = v
		}
	}
	for name, v := range r.opts.Parameters {
		p, ok := params[name].(map[string]any)
		if !ok {
			return fmt.Errorf("parameter override %s: the template has no such parameter", name)
		}
		p["Default"] = v
	}
	return nil
}

func (r *resolver) ref(in any) any {
	name, _ := in.(string)
	switch name {
	case "AWS::AccountId":
		return r.opts.AccountID
	case "AWS::Region":
		return r.opts.Region
	case "AWS::StackName":
		return r.opts.StackName
	case "AWS::StackId":
		return fmt.Sprintf("arn:aws:cloudformation:%s:%s:stack/%s/local", r.opts.Region, r.opts.AccountID, r.opts.StackName)
	case "AWS::Partition":
		return "aws"
	case "AWS::URLSuffix":
		return "amazonaws.com"
	case "AWS::NoValue":
		return noValue
	case "AWS::NotificationARNs":
		return []any{}
	}
	if p, ok := r.section("Parameters")[name].(map[string]any); ok {
		v := p["Default"] // nil for a parameter without a default and no override
		if list, ok := v.(string); ok && p["Type"] == "CommaDelimitedList" {
			// As CloudFormation: a list of the comma-separated values, [""] for an empty one.
			var out []any
			for _, e := range strings.Split(list, ",") {
				out = append(out, strings.TrimSpace(e))
			}
			return out
		}
		return v
	}
	if _, ok := r.section("Resources")[name]; ok {
		return name // a resource's physical id does not exist locally; `sam local` uses the logical id
	}
	return nil
}

// getAtt resolves a resource attribute to its value in Options.Attributes, else to a stable
// placeholder: an ARN in the template's region and account for Arn, "LogicalId.Attribute"
// otherwise.
func (r *resolver) getAtt(in any) any {
	var id, attr string
	switch v := in.(type) {
	case string:
		id, attr, _ = strings.Cut(v, ".")
	case []any:
		if len(v) == 2 {
			id, _ = v[0].(string)
			attr, _ = v[1].(string)
		}
	}
	res, ok := r.section("Resources")[id].(map[string]any)
	if !ok || attr == "" {
		return nil
	}
	if v, ok := r.opts.Attributes[id+"."+attr]; ok {
		return v
	}
	if attr == "Arn" {
		service := "local"
		if typ, _ := res["Type"].(string); strings.Count(typ, "::") == 2 {
			service = strings.ToLower(strings.Split(typ, "::")[1])
		}
		return fmt.Sprintf("arn:aws:%s:%s:%s:%s", service, r.opts.Region, r.opts.AccountID, id)
	}
	return id + "." + attr
}

var subVar = regexp.MustCompile(`\$\{([^}]*)\}`)

// sub resolves Fn::Sub in both forms, "text ${Name}" and ["text ${Name}", {Name: value}], with
// ${!Literal} escaping; a name it cannot resolve becomes "", as in goformation.
func (r *resolver) sub(in any) any {
	var src string
	vars := map[string]any{}
	switch v := in.(type) {
	case string:
		src = v
	case []any:
		if len(v) != 2 {
			return nil
		}
		src, _ = v[0].(string)
		vars, _ = v[1].(map[string]any)
	default:
		return nil
	}
	return subVar.ReplaceAllStringFunc(src, func(m string) string {
		name := m[2 : len(m)-1]
		if strings.HasPrefix(name, "!") {
			return "${" + name[1:] + "}"
		}
		name = strings.TrimSpace(name)
		var v any
		if val, ok := vars[name]; ok {
			v = val
		} else if strings.Contains(name, ".") && !strings.HasPrefix(name, "AWS::") {
			v = r.getAtt(name)
		} else {
			v = r.ref(name)
		}
		if v == noValue {
			return ""
		}
		return scalar(v)
	})
}

func (r *resolver) fnIf(in any) any {
	arr, ok := in.([]any)
	if !ok || len(arr) != 3 {
		return nil
	}
	name, _ := arr[0].(string)
	if r.conditions[name] {
		return arr[1]
	}
	return arr[2]
}

// dropNoValue removes the map entries and list items that resolved to AWS::NoValue.
func dropNoValue(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			if e == noValue {
				delete(v, k)
				continue
			}
			v[k] = dropNoValue(e)
		}
	case []any:
		out := v[:0]
		for _, e := range v {
			if e != noValue {
				out = append(out, dropNoValue(e))
			}
		}
		return out
	}
	return v
}
