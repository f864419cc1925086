package stackcheck

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
)

// functionOrder is the order of ReservedConcurrency's counts (template.yaml's parameter).
var functionOrder = []string{"AuthFunction", "OrganizationsFunction", "EntitiesFunction", "ReportsFunction", "HealthFunction"}

// The connection arithmetic template.yaml's ReservedConcurrency states.
const (
	connectionsPerACU   = 210  // Aurora Serverless v2's max_connections per ACU of AuroraMaxCapacity, about
	maxConnectionsCap   = 5000 // and its ceiling
	proxyPercent        = 90   // DatabaseProxyTargetGroup's MaxConnectionsPercent
	connsPerEnvironment = 2    // DB_MAX_CONNS, a Lambda environment's pool (shared/config)
	accountLimit        = 1000 // Lambda's default concurrency limit per account and region
	unreserved          = 100  // what the account must keep unreserved
)

// samconfigEnvs reads samconfig.toml's environments' parameter_overrides.
func samconfigEnvs(t *testing.T) map[string]map[string]string {
	t.Helper()
	var doc map[string]map[string]map[string]any
	if _, err := toml.DecodeFile("../../samconfig.toml", &doc); err != nil {
		t.Fatal(err)
	}
	envs := map[string]map[string]string{}
	for name, cmds := range doc {
		deploy, ok := cmds["deploy"]["parameters"].(map[string]any)
		if !ok {
			continue
		}
		overrides, _ := deploy["parameter_overrides"].([]any)
		params := map[string]string{}
		for _, o := range overrides {
			k, v, _ := strings.Cut(fmt.Sprint(o), "=")
			params[k] = v
		}
		envs[name] = params
	}
	return envs
}

// TestConcurrency checks each samconfig.toml environment's concurrency against the proxy's
// connection budget and the account's limit, and what the template makes of it: each function's
// reservation, and the entities function's provisioned concurrency tracking 70 % on its alias.
func TestConcurrency(t *testing.T) {
	envs := samconfigEnvs(t)
	for _, name := range []string{"dev", "staging", "prod"} {
		params, ok := envs[name]
		if !ok {
			t.Fatalf("samconfig.toml has no %s environment", name)
		}
		t.Run(name, func(t *testing.T) {
			s := resolve(t, params)
			reserved := map[string]int{}
			if list := params["ReservedConcurrency"]; list != "" {
				counts := strings.Split(list, ",")
				if len(counts) != len(functionOrder) {
					t.Fatalf("ReservedConcurrency %q: want %d counts", list, len(functionOrder))
				}
				total := 0
				for i, c := range counts {
					n, err := strconv.Atoi(c)
					if err != nil || n < 1 {
						t.Fatalf("ReservedConcurrency %q: %q is not a positive count", list, c)
					}
					reserved[functionOrder[i]] = n
					total += n
				}
				acus, err := strconv.ParseFloat(params["AuroraMaxCapacity"], 64)
				if err != nil {
					t.Fatalf("AuroraMaxCapacity %q", params["AuroraMaxCapacity"])
				}
				budget := min(int(acus*connectionsPerACU), maxConnectionsCap) * proxyPercent / 100
				if total*connsPerEnvironment > budget {
					t.Errorf("%d reserved environments × %d connections > the proxy's %d", total, connsPerEnvironment, budget)
				}
				if total > accountLimit-unreserved {
					t.Errorf("%d reserved > the account's %d - %d unreserved", total, accountLimit, unreserved)
				}
			}
			for _, fn := range functionOrder {
				got, set := s.props(fn)["ReservedConcurrentExecutions"]
				switch want, ok := reserved[fn]; {
				case !ok && set:
					t.Errorf("%s reserves %v with no ReservedConcurrency", fn, got)
				case ok && fmt.Sprint(got) != strconv.Itoa(want):
					t.Errorf("%s reserves %v, want %d", fn, got, want)
				}
			}

			entities := s.props("EntitiesFunction")
			if entities["AutoPublishAlias"] != "live" {
				t.Errorf("EntitiesFunction's AutoPublishAlias = %v, want live (the API invokes the alias)", entities["AutoPublishAlias"])
			}
			floor, _ := strconv.Atoi(params["EntitiesProvisionedConcurrency"])
			pc, _ := entities["ProvisionedConcurrencyConfig"].(map[string]any)
			targets := s.ofType("AWS::ApplicationAutoScaling::ScalableTarget")
			if floor == 0 {
				if pc != nil || len(targets) > 0 {
					t.Errorf("no provisioned concurrency asked for, got %v and targets %v", pc, targets)
				}
				return
			}
			if fmt.Sprint(pc["ProvisionedConcurrentExecutions"]) != strconv.Itoa(floor) {
				t.Errorf("ProvisionedConcurrencyConfig %v, want %d", pc, floor)
			}
			ceiling, _ := strconv.Atoi(params["EntitiesProvisionedConcurrencyMax"])
			if ceiling < floor || (reserved["EntitiesFunction"] > 0 && ceiling > reserved["EntitiesFunction"]) {
				t.Errorf("provisioned ceiling %d: want between the floor %d and the reservation %d", ceiling, floor, reserved["EntitiesFunction"])
			}
			tp := s.props("EntitiesConcurrencyTarget")
			if tp["ResourceId"] != "function:EntitiesFunction:live" || tp["ScalableDimension"] != "lambda:function:ProvisionedConcurrency" ||
				fmt.Sprint(tp["MinCapacity"]) != strconv.Itoa(floor) || fmt.Sprint(tp["MaxCapacity"]) != strconv.Itoa(ceiling) {
				t.Errorf("EntitiesConcurrencyTarget %v", tp)
			}
			policy := s.props("EntitiesConcurrencyScaling")
			cfg, _ := policy["TargetTrackingScalingPolicyConfiguration"].(map[string]any)
			metric, _ := cfg["PredefinedMetricSpecification"].(map[string]any)
			if fmt.Sprint(cfg["TargetValue"]) != "0.7" || metric["PredefinedMetricType"] != "LambdaProvisionedConcurrencyUtilization" {
				t.Errorf("EntitiesConcurrencyScaling %v: want target tracking of provisioned concurrency at 0.7", cfg)
			}
		})
	}
}
