package gateway

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"slices"

	"scaleapi/internal/samtemplate"
)

// EnvFile is an environment file in the format of `sam local start-api --env-vars`: an object
// whose "Parameters" entry applies to every function and whose other entries, named by a
// function's logical id (or its FunctionName), apply to that function.
//
//	{"Parameters": {"LOG_LEVEL": "debug"}, "EntitiesFunction": {"DATABASE_URL": "postgres://..."}}
type EnvFile map[string]map[string]string

// ReadEnvFile reads an EnvFile. Values may be strings, numbers or booleans.
func ReadEnvFile(path string) (EnvFile, error) {
	b, err := os.ReadFile(path) // #nosec G304 -- the developer's -env-vars file, as sam local's
	if err != nil {
		return nil, fmt.Errorf("env vars file: %w", err)
	}
	var raw map[string]map[string]any
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("env vars file %s: %w", path, err)
	}
	f := EnvFile{}
	for section, vars := range raw {
		f[section] = map[string]string{}
		for k, v := range vars {
			switch v.(type) {
			case string, float64, bool:
				f[section][k] = fmt.Sprint(v)
			default:
				return nil, fmt.Errorf("env vars file %s: %s.%s is not a string, number or boolean", path, section, k)
			}
		}
	}
	return f, nil
}

// credentials are passed from the host environment to every function, as `sam local` passes
// the caller's credentials into its containers, so SDK calls (Secrets Manager, LocalStack) work.
var credentials = []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"}

// FunctionEnv composes a function's environment variables with `sam local`'s precedence. Only
// the variables the template declares for the function (Globals included) are set; for each,
// from lowest to highest:
//
//  1. the template's value;
//  2. the host environment's value (host), if set and not empty — so DATABASE_URL=... on the
//     command line reaches every function that declares DATABASE_URL;
//  3. the env file's "Parameters" section;
//  4. the env file's section for the function (by logical id, then by FunctionName).
//
// AWS credentials in host are added as well. The Lambda runtime's own variables (AWS_REGION,
// AWS_LAMBDA_*, ...) are set later by lambdaenv and win over all of these. ignored lists the
// env file's variables for this function that the template does not declare, which `sam local`
// drops without a word.
func FunctionEnv(fn *samtemplate.Function, host map[string]string, file EnvFile) (env map[string]string, ignored []string) {
	env = maps.Clone(fn.Environment)
	if env == nil {
		env = map[string]string{}
	}
	for k := range fn.Environment {
		if v := host[k]; v != "" {
			env[k] = v
		}
	}
	sections := []string{"Parameters", fn.LogicalID}
	if fn.Name != fn.LogicalID {
		sections = append(sections, fn.Name)
	}
	for _, section := range sections {
		for k, v := range file[section] {
			if _, declared := fn.Environment[k]; declared {
				env[k] = v
			} else if section != "Parameters" {
				ignored = append(ignored, k)
			}
		}
	}
	for _, k := range credentials {
		if v := host[k]; v != "" {
			env[k] = v
		}
	}
	slices.Sort(ignored)
	return env, ignored
}
