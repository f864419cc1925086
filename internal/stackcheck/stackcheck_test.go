package stackcheck

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"scaleapi/internal/samtemplate"
	"scaleapi/shared/config"
	"scaleapi/shared/metrics"
	"scaleapi/shared/migrations"
)

const templatePath = "../../template.yaml"

// proxyARN stands for the created proxy's ARN: the rds-db:connect policy takes its resource id
// (the last part) apart with Fn::Split.
const proxyARN = "arn:aws:rds:us-east-1:123456789012:db-proxy:prx-0123456789abcdef0"

// stack is a resolved template.
type stack struct {
	t         *testing.T
	resources map[string]map[string]any
	globals   map[string]any
}

func resolve(t *testing.T, params map[string]string) *stack {
	t.Helper()
	doc, err := samtemplate.Resolve(templatePath, samtemplate.Options{
		Parameters: params,
		// What only a deployment knows, where the template takes it apart or a URL needs it.
		Attributes: map[string]any{
			"DatabaseProxy.DBProxyArn":      proxyARN,
			"Cache.Endpoint.Port":           "6379",
			"DatabaseCluster.Endpoint.Port": "5432",
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	s := &stack{t: t, resources: map[string]map[string]any{}}
	for id, r := range doc["Resources"].(map[string]any) {
		s.resources[id] = r.(map[string]any)
	}
	g, _ := doc["Globals"].(map[string]any)
	s.globals, _ = g["Function"].(map[string]any)
	return s
}

func (s *stack) props(id string) map[string]any {
	s.t.Helper()
	r, ok := s.resources[id]
	if !ok {
		s.t.Fatalf("no resource %s", id)
	}
	p, _ := r["Properties"].(map[string]any)
	return p
}

func (s *stack) ofType(typ string) []string {
	var ids []string
	for id, r := range s.resources {
		if r["Type"] == typ {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

// functions are the API functions (SAM) and the plain Lambda functions (the migration's).
func (s *stack) functions() []string {
	return append(s.ofType("AWS::Serverless::Function"), s.ofType("AWS::Lambda::Function")...)
}

// vpcConfig is a function's VpcConfig, from Globals for a SAM function that has none of its own.
func (s *stack) vpcConfig(id string) map[string]any {
	p := s.props(id)
	if v, ok := p["VpcConfig"].(map[string]any); ok {
		return v
	}
	if s.resources[id]["Type"] == "AWS::Serverless::Function" {
		v, _ := s.globals["VpcConfig"].(map[string]any)
		return v
	}
	return nil
}

// environment is a SAM function's variables with Globals merged, as SAM merges them.
func (s *stack) environment(id string) map[string]string {
	out := map[string]string{}
	for _, p := range []map[string]any{s.globals, s.props(id)} {
		env, _ := p["Environment"].(map[string]any)
		vars, _ := env["Variables"].(map[string]any)
		for k, v := range vars {
			out[k] = fmt.Sprint(v)
		}
	}
	return out
}

func strs(v any) []string {
	var out []string
	switch v := v.(type) {
	case []any:
		for _, e := range v {
			out = append(out, fmt.Sprint(e))
		}
	case string:
		out = append(out, v)
	}
	return out
}

// statement is one IAM policy statement, with Action and Resource as lists.
type statement struct {
	Effect   string
	Action   []string
	Resource []string
}

func statementsOf(doc any) []statement {
	d, _ := doc.(map[string]any)
	var out []statement
	list, ok := d["Statement"].([]any)
	if !ok {
		list = []any{d["Statement"]}
	}
	for _, e := range list {
		m, _ := e.(map[string]any)
		out = append(out, statement{Effect: fmt.Sprint(m["Effect"]), Action: strs(m["Action"]), Resource: strs(m["Resource"])})
	}
	return out
}

// policy is every statement a function's role grants beyond the execution role SAM and the
// managed AWS policies give (logs, ENIs, X-Ray), whose resources the test does not own.
func (s *stack) policy(id string) []statement {
	s.t.Helper()
	var out []statement
	p := s.props(id)
	if s.resources[id]["Type"] == "AWS::Lambda::Function" {
		// GetAtt Role.Arn resolves to an ARN placeholder ending in the role's logical id.
		arn := fmt.Sprint(p["Role"])
		role := arn[strings.LastIndex(arn, ":")+1:]
		for _, pol := range s.props(role)["Policies"].([]any) {
			out = append(out, statementsOf(pol.(map[string]any)["PolicyDocument"])...)
		}
		return out
	}
	for _, pol := range p["Policies"].([]any) {
		switch pol := pol.(type) {
		case string: // a managed policy of the stack, by Ref
			out = append(out, statementsOf(s.props(pol)["PolicyDocument"])...)
		case map[string]any:
			out = append(out, statementsOf(pol)...)
		default:
			s.t.Errorf("%s: policy %v is neither a Ref to the stack's managed policy nor a statement list", id, pol)
		}
	}
	return out
}

// grants maps each action a function may take to the resources it may take it on.
func grants(stmts []statement) map[string][]string {
	out := map[string][]string{}
	for _, st := range stmts {
		if st.Effect != "Allow" {
			continue
		}
		for _, a := range st.Action {
			out[a] = append(out[a], st.Resource...)
		}
	}
	return out
}

// rule is one allowed path of a security group, written as the template's comment names it.
func rule(kind, group, proto string, from, to any, peer string) string {
	return fmt.Sprintf("%s %s %s %v-%v %s", kind, group, proto, from, to, peer)
}

// rules lists every security group rule of the stack, inline or standalone, but the 127.0.0.1/32
// placeholders that replace the default egress.
func (s *stack) rules() []string {
	s.t.Helper()
	var out []string
	peer := func(p map[string]any) string {
		for _, k := range []string{"SourceSecurityGroupId", "DestinationSecurityGroupId", "CidrIp", "DestinationPrefixListId", "CidrIpv6"} {
			if v, ok := p[k]; ok {
				return fmt.Sprint(v)
			}
		}
		return "?"
	}
	for _, id := range s.ofType("AWS::EC2::SecurityGroup") {
		p := s.props(id)
		if in, ok := p["SecurityGroupIngress"]; ok {
			s.t.Errorf("%s: inline ingress %v; every allowed path is a standalone rule", id, in)
		}
		for _, e := range p["SecurityGroupEgress"].([]any) {
			if e := e.(map[string]any); e["CidrIp"] != "127.0.0.1/32" {
				out = append(out, rule("egress", id, fmt.Sprint(e["IpProtocol"]), e["FromPort"], e["ToPort"], peer(e)))
			}
		}
	}
	for kind, typ := range map[string]string{"ingress": "AWS::EC2::SecurityGroupIngress", "egress": "AWS::EC2::SecurityGroupEgress"} {
		for _, id := range s.ofType(typ) {
			p := s.props(id)
			out = append(out, rule(kind, fmt.Sprint(p["GroupId"]), fmt.Sprint(p["IpProtocol"]), p["FromPort"], p["ToPort"], peer(p)))
		}
	}
	slices.Sort(out)
	return out
}

// loadConfig loads a function's configuration from its resolved environment, as its main does in
// Lambda (which sets AWS_REGION), requiring everything a function may need.
func loadConfig(env map[string]string) (config.Config, error) {
	return config.Load(func(k string) (string, bool) {
		if k == "AWS_REGION" {
			return "us-east-1", true
		}
		v, ok := env[k]
		return v, ok
	}, config.Needs{Database: true, Redis: true, Signing: true})
}

func host(t *testing.T, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("%q is not a URL", raw)
	}
	return u.Hostname()
}

// TestFreshAccount resolves the template with every endpoint parameter left empty, as
// `sam deploy --guided` on a fresh account does, so the stack creates everything.
func TestFreshAccount(t *testing.T) {
	s := resolve(t, nil)
	subnets := []string{"PrivateSubnetA", "PrivateSubnetB"}

	t.Run("Network", func(t *testing.T) {
		for _, typ := range []string{"AWS::EC2::NatGateway", "AWS::EC2::InternetGateway", "AWS::EC2::EIP"} {
			if ids := s.ofType(typ); len(ids) > 0 {
				t.Errorf("%s %v: the private subnets need no way out but the VPC endpoints", typ, ids)
			}
		}
		if a, b := s.props("PrivateSubnetA")["AvailabilityZone"], s.props("PrivateSubnetB")["AvailabilityZone"]; a == b || a == nil {
			t.Errorf("subnets in AZs %v and %v, want two different ones", a, b)
		}
		for _, id := range subnets {
			if s.props(id)["MapPublicIpOnLaunch"] != false {
				t.Errorf("%s maps public IPs", id)
			}
		}
		endpoints := map[string]string{}
		for _, id := range s.ofType("AWS::EC2::VPCEndpoint") {
			p := s.props(id)
			svc := fmt.Sprint(p["ServiceName"])
			endpoints[svc[strings.LastIndex(svc, ".")+1:]] = fmt.Sprint(p["VpcEndpointType"])
			if p["VpcEndpointType"] == "Interface" {
				if p["PrivateDnsEnabled"] != true || !slices.Equal(strs(p["SubnetIds"]), subnets) || !slices.Equal(strs(p["SecurityGroupIds"]), []string{"EndpointSecurityGroup"}) {
					t.Errorf("%s: want private DNS, both private subnets and EndpointSecurityGroup, got %v", id, p)
				}
			}
		}
		// Secrets Manager: the JWT key and the migrations' password; S3: the migration's answer to
		// CloudFormation (a presigned URL); Logs: the issue's, for API calls from inside the VPC;
		// X-Ray: the tracing collector's exports (Tracing=xray, the default).
		want := map[string]string{"secretsmanager": "Interface", "logs": "Interface", "s3": "Gateway", "xray": "Interface"}
		if !maps.Equal(endpoints, want) {
			t.Errorf("VPC endpoints %v, want %v", endpoints, want)
		}
		if p := s.props("Vpc"); p["EnableDnsSupport"] != true || p["EnableDnsHostnames"] != true {
			t.Error("the VPC needs DNS support and hostnames for the endpoints' private DNS")
		}
	})

	t.Run("EveryFunctionInThePrivateSubnets", func(t *testing.T) {
		fns := s.functions()
		if len(fns) != 6 {
			t.Fatalf("functions %v, want the five API functions and the migration's", fns)
		}
		for _, id := range fns {
			v := s.vpcConfig(id)
			if v == nil {
				t.Errorf("%s runs outside the VPC", id)
				continue
			}
			want := "FunctionSecurityGroup"
			if id == "MigrateFunction" {
				want = "MigrationSecurityGroup"
			}
			if got := strs(v["SubnetIds"]); !slices.Equal(got, subnets) {
				t.Errorf("%s: subnets %v, want %v", id, got, subnets)
			}
			if got := strs(v["SecurityGroupIds"]); !slices.Equal(got, []string{want}) {
				t.Errorf("%s: security groups %v, want [%s]", id, got, want)
			}
		}
		for id, key := range map[string]string{
			"DatabaseProxy": "VpcSubnetIds", "DatabaseProxyReaderEndpoint": "VpcSubnetIds",
			"Cache": "SubnetIds", "DatabaseSubnetGroup": "SubnetIds",
		} {
			if got := strs(s.props(id)[key]); !slices.Equal(got, subnets) {
				t.Errorf("%s: subnets %v, want %v", id, got, subnets)
			}
		}
	})

	t.Run("SecurityGroupsAllowOnlyTheNamedPaths", func(t *testing.T) {
		want := []string{
			rule("egress", "FunctionSecurityGroup", "tcp", 443, 443, "0.0.0.0/0"),
			rule("egress", "FunctionSecurityGroup", "tcp", 5432, 5432, "ProxySecurityGroup"),
			rule("egress", "FunctionSecurityGroup", "tcp", 6379, 6380, "CacheSecurityGroup"),
			rule("egress", "MigrationSecurityGroup", "tcp", 443, 443, "0.0.0.0/0"),
			rule("egress", "MigrationSecurityGroup", "tcp", 5432, 5432, "DatabaseSecurityGroup"),
			rule("egress", "ProxySecurityGroup", "tcp", 5432, 5432, "DatabaseSecurityGroup"),
			rule("ingress", "CacheSecurityGroup", "tcp", 6379, 6380, "FunctionSecurityGroup"),
			rule("ingress", "DatabaseSecurityGroup", "tcp", 5432, 5432, "MigrationSecurityGroup"),
			rule("ingress", "DatabaseSecurityGroup", "tcp", 5432, 5432, "ProxySecurityGroup"),
			rule("ingress", "EndpointSecurityGroup", "tcp", 443, 443, "FunctionSecurityGroup"),
			rule("ingress", "EndpointSecurityGroup", "tcp", 443, 443, "MigrationSecurityGroup"),
			rule("ingress", "ProxySecurityGroup", "tcp", 5432, 5432, "FunctionSecurityGroup"),
		}
		slices.Sort(want)
		if got := s.rules(); !slices.Equal(got, want) {
			t.Errorf("security group rules:\n got %s\nwant %s", strings.Join(got, "\n     "), strings.Join(want, "\n     "))
		}
		if got := strs(s.props("DatabaseCluster")["VpcSecurityGroupIds"]); !slices.Equal(got, []string{"DatabaseSecurityGroup"}) {
			t.Errorf("cluster security groups %v", got)
		}
		if got := strs(s.props("Cache")["SecurityGroupIds"]); !slices.Equal(got, []string{"CacheSecurityGroup"}) {
			t.Errorf("cache security groups %v", got)
		}
		for _, id := range []string{"DatabaseProxy", "DatabaseProxyReaderEndpoint"} {
			if got := strs(s.props(id)["VpcSecurityGroupIds"]); !slices.Equal(got, []string{"ProxySecurityGroup"}) {
				t.Errorf("%s security groups %v", id, got)
			}
		}
	})

	t.Run("ProxyRequiresIAMAndTLS", func(t *testing.T) {
		p := s.props("DatabaseProxy")
		if p["RequireTLS"] != true || p["EngineFamily"] != "POSTGRESQL" {
			t.Errorf("proxy: RequireTLS %v, EngineFamily %v", p["RequireTLS"], p["EngineFamily"])
		}
		auth, _ := p["Auth"].([]any)
		if len(auth) == 0 {
			t.Fatal("proxy has no Auth")
		}
		for _, a := range auth {
			a := a.(map[string]any)
			if a["IAMAuth"] != "REQUIRED" || a["SecretArn"] != "DatabaseCluster.MasterUserSecret.SecretArn" {
				t.Errorf("proxy auth %v: want IAM required, signing in with the master user's secret", a)
			}
		}
		if r := s.props("DatabaseProxyReaderEndpoint"); r["TargetRole"] != "READ_ONLY" || r["DBProxyName"] != "DatabaseProxy" {
			t.Errorf("reader endpoint %v", r)
		}
		if g := s.props("DatabaseProxyTargetGroup"); !slices.Equal(strs(g["DBClusterIdentifiers"]), []string{"DatabaseCluster"}) {
			t.Errorf("target group %v", g)
		}
		if v := s.props("DatabaseClusterParameterGroup")["Parameters"].(map[string]any)["rds.force_ssl"]; v != "1" {
			t.Errorf("rds.force_ssl = %v, want 1", v)
		}
		var instances []string
		for _, id := range s.ofType("AWS::RDS::DBInstance") {
			if p := s.props(id); p["DBClusterIdentifier"] == "DatabaseCluster" && p["DBInstanceClass"] == "db.serverless" {
				instances = append(instances, id)
			}
		}
		if !slices.Equal(instances, []string{"DatabaseReader", "DatabaseWriter"}) {
			t.Errorf("serverless instances %v, want a writer and a reader", instances)
		}
	})

	t.Run("EveryPolicyScoped", func(t *testing.T) {
		connect := "arn:aws:rds-db:us-east-1:123456789012:dbuser:prx-0123456789abcdef0/scaleapi"
		want := map[string]map[string][]string{
			"AuthFunction":          {"rds-db:connect": {connect}, "secretsmanager:GetSecretValue": {"JwtSecret"}},
			"OrganizationsFunction": {"rds-db:connect": {connect}, "secretsmanager:GetSecretValue": {"JwtSecret"}},
			"EntitiesFunction":      {"rds-db:connect": {connect}, "secretsmanager:GetSecretValue": {"JwtSecret"}},
			"ReportsFunction":       {"rds-db:connect": {connect}, "secretsmanager:GetSecretValue": {"JwtSecret"}},
			"HealthFunction":        {"rds-db:connect": {connect}},
			"MigrateFunction": {
				"secretsmanager:GetSecretValue": {"DatabaseCluster.MasterUserSecret.SecretArn"},
				"logs:CreateLogStream":          {"arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/local-migrate:*"},
				"logs:PutLogEvents":             {"arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/local-migrate:*"},
			},
		}
		for _, id := range s.functions() {
			got := grants(s.policy(id))
			for action, resources := range got {
				if slices.Contains(resources, "*") || strings.HasSuffix(action, ":*") || action == "*" {
					t.Errorf("%s: %s on %v is not scoped", id, action, resources)
				}
			}
			if !maps.EqualFunc(got, want[id], slices.Equal) {
				t.Errorf("%s grants %v, want %v", id, got, want[id])
			}
		}
		if got := grants(statementsOf(s.props("DatabaseProxyRole")["Policies"].([]any)[0].(map[string]any)["PolicyDocument"])); !maps.EqualFunc(got,
			map[string][]string{"secretsmanager:GetSecretValue": {"DatabaseCluster.MasterUserSecret.SecretArn"}}, slices.Equal) {
			t.Errorf("the proxy's role grants %v, want only the master user's secret", got)
		}
	})

	t.Run("FunctionsGetTheCreatedEndpoints", func(t *testing.T) {
		for _, id := range s.ofType("AWS::Serverless::Function") {
			env := s.environment(id)
			cfg, err := loadConfig(env)
			if err != nil {
				t.Errorf("%s: %v", id, err)
				continue
			}
			if !cfg.DatabaseIAMAuth || !cfg.RedisCluster || cfg.JWTSecretARN != "JwtSecret" || cfg.JWTSecret != "" {
				t.Errorf("%s: IAM auth %v, Redis cluster %v, JWT secret ARN %q: want IAM tokens, a cluster client and the created secret",
					id, cfg.DatabaseIAMAuth, cfg.RedisCluster, cfg.JWTSecretARN)
			}
			for got, want := range map[string]string{
				host(t, cfg.DatabaseURL):       "DatabaseProxy.Endpoint",
				host(t, cfg.DatabaseReaderURL): "DatabaseProxyReaderEndpoint.Endpoint",
				host(t, cfg.RedisURL):          "Cache.Endpoint.Address",
			} {
				if got != want {
					t.Errorf("%s: connects to %s, want %s", id, got, want)
				}
			}
			if !strings.HasSuffix(cfg.DatabaseURL, "sslmode=verify-full") || !strings.HasPrefix(cfg.RedisURL, "rediss://") {
				t.Errorf("%s: %s and %s: want verified TLS to the proxy and TLS to the cache", id, cfg.DatabaseURL, cfg.RedisURL)
			}
		}
	})

	t.Run("MigrationsOnDeploy", func(t *testing.T) {
		newest, err := migrations.Newest()
		if err != nil {
			t.Fatal(err)
		}
		p := s.props("DatabaseMigration")
		if want := "arn:aws:lambda:us-east-1:123456789012:MigrateFunction"; p["ServiceToken"] != want {
			t.Errorf("ServiceToken %v, want MigrateFunction's ARN", p["ServiceToken"])
		}
		if got := fmt.Sprint(p["SchemaVersion"]); got != fmt.Sprint(newest) {
			t.Errorf("DatabaseMigration's SchemaVersion is %s, but the newest migration is %d: set it, so that the deploy runs the new migration", got, newest)
		}
		// The run must not start before its way to the writer and to Secrets Manager and S3 (the
		// answer to CloudFormation) exists; otherwise a fresh stack's first deploy fails.
		waits := append(strs(s.resources["DatabaseMigration"]["DependsOn"]), strs(p["WaitsFor"])...)
		for _, id := range []string{"DatabaseWriter", "MigrationToDatabaseEgress", "DatabaseFromMigrationIngress",
			"MigrationToAwsApisEgress", "EndpointFromMigrationIngress", "SecretsManagerEndpoint", "S3Endpoint"} {
			if !slices.Contains(waits, id) {
				t.Errorf("DatabaseMigration does not wait for %s", id)
			}
		}
		env := s.props("MigrateFunction")["Environment"].(map[string]any)["Variables"].(map[string]any)
		if h := host(t, fmt.Sprint(env["DATABASE_URL"])); h != "DatabaseCluster.Endpoint.Address" {
			t.Errorf("migrations connect to %s, want the writer itself (DatabaseCluster.Endpoint.Address), not the proxy", h)
		}
		if u, _ := url.Parse(fmt.Sprint(env["DATABASE_URL"])); u != nil {
			if _, has := u.User.Password(); has {
				t.Error("the migrations' DATABASE_URL carries a password; it comes from the secret at run time")
			}
		}
		if env["DATABASE_SECRET_ARN"] != "DatabaseCluster.MasterUserSecret.SecretArn" {
			t.Errorf("DATABASE_SECRET_ARN = %v", env["DATABASE_SECRET_ARN"])
		}
	})
}

// existing are the parameters of a stack that reuses every endpoint, as localstack/deploy.sh
// passes them.
func existing() map[string]string {
	return map[string]string{
		"DatabaseProxyEndpoint": "proxy.example", "DatabaseReaderEndpoint": "reader.example", "DatabasePort": "6432",
		"DatabaseIAMAuth": "false", "RedisUrl": "redis://redis.example:6379/0",
		"JwtSecretArn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:scaleapi/jwt",
	}
}

// created are the resources the stack makes only when it creates something.
var created = []string{
	"Vpc", "PrivateSubnetA", "FunctionSecurityGroup", "DatabaseCluster", "DatabaseProxy", "Cache", "JwtSecret",
	"MigrateFunction", "DatabaseMigration", "DatabaseConnectPolicy",
}

// TestExistingEndpoints resolves the template with every endpoint given: nothing is created,
// the functions run where they are told and get what they are given.
func TestExistingEndpoints(t *testing.T) {
	t.Run("OutsideAVpc", func(t *testing.T) {
		s := resolve(t, existing())
		for _, id := range created {
			if _, ok := s.resources[id]; ok {
				t.Errorf("%s is created, but every endpoint is given", id)
			}
		}
		for _, id := range s.functions() {
			if s.vpcConfig(id) != nil {
				t.Errorf("%s has a VpcConfig without subnets to put it in", id)
			}
			env := s.environment(id)
			if env["DATABASE_URL"] != "postgres://scaleapi@proxy.example:6432/scaleapi?sslmode=require" ||
				env["DATABASE_READER_URL"] != "postgres://scaleapi@reader.example:6432/scaleapi?sslmode=require" ||
				env["REDIS_URL"] != "redis://redis.example:6379/0" || env["REDIS_CLUSTER"] != "false" || env["DATABASE_IAM_AUTH"] != "false" {
				t.Errorf("%s environment %v: want the given endpoints", id, env)
			}
			if got := grants(s.policy(id)); id != "HealthFunction" && !slices.Equal(got["secretsmanager:GetSecretValue"], []string{existing()["JwtSecretArn"] + "*"}) {
				t.Errorf("%s grants %v, want GetSecretValue on the given secret only", id, got)
			}
		}
	})

	t.Run("ExistingProxyWithIAM", func(t *testing.T) {
		p := existing()
		p["DatabaseIAMAuth"], p["DatabaseProxyResourceId"] = "true", "prx-0fedcba987654321"
		s := resolve(t, p)
		want := "arn:aws:rds-db:us-east-1:123456789012:dbuser:prx-0fedcba987654321/scaleapi"
		for _, id := range s.functions() {
			if got := grants(s.policy(id))["rds-db:connect"]; !slices.Equal(got, []string{want}) {
				t.Errorf("%s: rds-db:connect on %v, want %s", id, got, want)
			}
		}
	})

	// DatabaseShards replaces the one database's URLs (shared/config refuses both), and the
	// functions may connect through the shards' proxies, which the stack does not know.
	t.Run("Sharded", func(t *testing.T) {
		const shards = `[{"name":"main","writer":"postgres://scaleapi@proxy.example:6432/scaleapi"},{"name":"s2","writer":"postgres://scaleapi@proxy-2.example:6432/scaleapi"}]`
		for _, create := range []bool{false, true} {
			p := existing()
			p["DatabaseIAMAuth"], p["DatabaseProxyResourceId"], p["DatabaseShards"] = "true", "prx-0fedcba987654321", shards
			if create {
				delete(p, "DatabaseProxyEndpoint")
			}
			s := resolve(t, p)
			want := "arn:aws:rds-db:us-east-1:123456789012:dbuser:*/scaleapi"
			for _, id := range s.functions() {
				if id == "MigrateFunction" {
					continue // the stack's own writer, as unsharded
				}
				env := s.environment(id)
				if env["DATABASE_SHARDS"] != shards || env["DATABASE_URL"] != "" || env["DATABASE_READER_URL"] != "" {
					t.Errorf("create=%v %s: environment %v, want DATABASE_SHARDS and no DATABASE_URL or DATABASE_READER_URL", create, id, env)
				}
				if got := grants(s.policy(id))["rds-db:connect"]; !slices.Equal(got, []string{want}) {
					t.Errorf("create=%v %s: rds-db:connect on %v, want %s", create, id, got, want)
				}
			}
		}
	})

	t.Run("GivenSubnets", func(t *testing.T) {
		p := existing()
		p["SubnetIds"], p["SecurityGroupIds"] = "subnet-a,subnet-b", "sg-functions"
		s := resolve(t, p)
		for _, id := range s.functions() {
			v := s.vpcConfig(id)
			if !slices.Equal(strs(v["SubnetIds"]), []string{"subnet-a", "subnet-b"}) || !slices.Equal(strs(v["SecurityGroupIds"]), []string{"sg-functions"}) {
				t.Errorf("%s: VpcConfig %v, want the given subnets and security groups", id, v)
			}
		}
	})

	t.Run("DatabaseInAGivenVpc", func(t *testing.T) {
		p := existing()
		delete(p, "DatabaseProxyEndpoint")
		p["SubnetIds"], p["VpcId"] = "subnet-a,subnet-b", "vpc-1"
		s := resolve(t, p)
		if _, ok := s.resources["Vpc"]; ok {
			t.Error("a VPC is created although subnets are given")
		}
		for _, id := range []string{"FunctionSecurityGroup", "ProxySecurityGroup", "DatabaseSecurityGroup", "MigrationSecurityGroup"} {
			if got := s.props(id)["VpcId"]; got != "vpc-1" {
				t.Errorf("%s in %v, want the given VPC", id, got)
			}
		}
		if got := strs(s.props("DatabaseProxy")["VpcSubnetIds"]); !slices.Equal(got, []string{"subnet-a", "subnet-b"}) {
			t.Errorf("proxy subnets %v", got)
		}
		for _, id := range s.functions() {
			want := []string{"FunctionSecurityGroup"}
			if id == "MigrateFunction" {
				want = []string{"MigrationSecurityGroup"}
			}
			if got := strs(s.vpcConfig(id)["SecurityGroupIds"]); !slices.Equal(got, want) {
				t.Errorf("%s: security groups %v, want %v", id, got, want)
			}
		}
	})
}

// metricRef is a metric an alarm watches.
type metricRef struct {
	namespace, name string
	dimensions      map[string]string
}

func alarmMetrics(p map[string]any) []metricRef {
	dims := func(v any) map[string]string {
		out := map[string]string{}
		for _, d := range v.([]any) {
			d := d.(map[string]any)
			out[fmt.Sprint(d["Name"])] = fmt.Sprint(d["Value"])
		}
		return out
	}
	if name, ok := p["MetricName"]; ok {
		return []metricRef{{fmt.Sprint(p["Namespace"]), fmt.Sprint(name), dims(p["Dimensions"])}}
	}
	var out []metricRef
	for _, m := range p["Metrics"].([]any) {
		stat, ok := m.(map[string]any)["MetricStat"].(map[string]any)
		if !ok {
			continue // an expression over the others
		}
		metric := stat["Metric"].(map[string]any)
		out = append(out, metricRef{fmt.Sprint(metric["Namespace"]), fmt.Sprint(metric["MetricName"]), dims(metric["Dimensions"])})
	}
	return out
}

// emitted returns, for each metric a function's request line declares to CloudWatch, the
// dimension sets it is declared under: from a real line of shared/metrics, with every optional
// metric present (a cold start, a query on each pool, cache traffic).
func emitted(t *testing.T, namespace string) map[string][][]string {
	t.Helper()
	ctx, rec := metrics.WithRecord(context.Background())
	metrics.CacheHit(ctx)
	metrics.CacheMiss(ctx)
	metrics.Query(ctx, "primary", time.Millisecond, false)
	metrics.Query(ctx, "replica", time.Millisecond, false)
	var buf bytes.Buffer
	err := metrics.NewEmitter(&buf, namespace, "f").Emit(metrics.Line{
		Time: time.Now(), Method: "GET", Route: "GET /x", Status: 200, Duration: time.Millisecond, ColdStart: true, Record: rec.Snapshot(),
	})
	if err != nil {
		t.Fatal(err)
	}
	var line struct {
		AWS struct {
			CloudWatchMetrics []struct {
				Namespace  string
				Dimensions [][]string
				Metrics    []struct{ Name string }
			}
		} `json:"_aws"`
	}
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatal(err)
	}
	out := map[string][][]string{}
	for _, d := range line.AWS.CloudWatchMetrics {
		if d.Namespace != namespace {
			t.Fatalf("directive in namespace %s, want %s", d.Namespace, namespace)
		}
		for _, m := range d.Metrics {
			out[m.Name] = append(out[m.Name], d.Dimensions...)
		}
	}
	return out
}
