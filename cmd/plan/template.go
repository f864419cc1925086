package main

import (
	"fmt"
	"strconv"

	"scaleapi/internal/samtemplate"
	"scaleapi/shared/config"
)

// Stack is what the plan takes from template.yaml (its parameters' defaults): each function's
// memory and pool size, and the sizes of what the stack creates.
type Stack struct {
	Functions map[string]StackFunction // by logical id
	// AuroraMinACU and AuroraMaxACU are the cluster's ServerlessV2ScalingConfiguration.
	AuroraMinACU, AuroraMaxACU float64
	// ProxyMaxConnectionsPercent is the share of Aurora's max_connections the proxy may open.
	ProxyMaxConnectionsPercent float64
	// CacheMaxECPUPerSecond and CacheMaxStorageGB are the serverless cache's usage limits.
	CacheMaxECPUPerSecond, CacheMaxStorageGB float64
	// Secrets counts the Secrets Manager secrets the stack creates, the RDS-managed master
	// password included.
	Secrets int
	// EndpointAZs counts interface VPC endpoints × the subnets (AZs) each is in: what is billed
	// per hour. Gateway endpoints (S3) are free.
	EndpointAZs int
}

// StackFunction is one function as template.yaml deploys it.
type StackFunction struct {
	MemoryMB int
	// DBMaxConns is DB_MAX_CONNS as the function reads it (shared/config, its default when the
	// template leaves it out): the most connections one environment opens per database pool.
	DBMaxConns int
}

func readStack(path string) (*Stack, error) {
	t, err := samtemplate.Parse(path, samtemplate.Options{})
	if err != nil {
		return nil, err
	}
	s := &Stack{Functions: map[string]StackFunction{}}
	for _, f := range t.Functions {
		cfg, err := config.Load(func(k string) (string, bool) { v, ok := f.Environment[k]; return v, ok }, config.Needs{})
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", path, f.LogicalID, err)
		}
		s.Functions[f.LogicalID] = StackFunction{MemoryMB: f.MemorySize, DBMaxConns: int(cfg.DBMaxConns)}
	}

	raw, err := samtemplate.Resolve(path, samtemplate.Options{})
	if err != nil {
		return nil, err
	}
	resources, _ := raw["Resources"].(map[string]any)
	var bad []string
	num := func(resource string, keys ...string) float64 {
		v := any(resources[resource])
		for _, k := range keys {
			m, _ := v.(map[string]any)
			v = m[k]
		}
		switch v := v.(type) {
		case float64:
			return v
		case string: // a parameter override arrives as a string
			if n, err := strconv.ParseFloat(v, 64); err == nil {
				return n
			}
		}
		bad = append(bad, resource)
		return 0
	}
	s.AuroraMinACU = num("DatabaseCluster", "Properties", "ServerlessV2ScalingConfiguration", "MinCapacity")
	s.AuroraMaxACU = num("DatabaseCluster", "Properties", "ServerlessV2ScalingConfiguration", "MaxCapacity")
	s.ProxyMaxConnectionsPercent = num("DatabaseProxyTargetGroup", "Properties", "ConnectionPoolConfigurationInfo", "MaxConnectionsPercent")
	s.CacheMaxECPUPerSecond = num("Cache", "Properties", "CacheUsageLimits", "ECPUPerSecond", "Maximum")
	s.CacheMaxStorageGB = num("Cache", "Properties", "CacheUsageLimits", "DataStorage", "Maximum")
	if len(bad) > 0 {
		return nil, fmt.Errorf("%s: the plan sizes the stack's own Aurora, RDS Proxy and ElastiCache, and cannot read %v (created only with the endpoint parameters left empty)", path, bad)
	}
	for _, v := range resources {
		r, _ := v.(map[string]any)
		props, _ := r["Properties"].(map[string]any)
		switch r["Type"] {
		case "AWS::SecretsManager::Secret":
			s.Secrets++
		case "AWS::RDS::DBCluster":
			if props["ManageMasterUserPassword"] == true {
				s.Secrets++
			}
		case "AWS::EC2::VPCEndpoint":
			if props["VpcEndpointType"] == "Interface" {
				subnets, _ := props["SubnetIds"].([]any)
				s.EndpointAZs += len(subnets)
			}
		}
	}
	return s, nil
}
