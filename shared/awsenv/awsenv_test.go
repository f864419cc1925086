package awsenv_test

import (
	"context"
	"strings"
	"testing"

	"scaleapi/shared/awsenv"
)

func lookupOf(env map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := env[k]; return v, ok }
}

func TestConfig(t *testing.T) {
	cfg, err := awsenv.Config(lookupOf(map[string]string{
		"AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": "secret", "AWS_SESSION_TOKEN": "token",
		"AWS_ENDPOINT_URL": "http://localhost.localstack.cloud:4566",
	}), "eu-west-1")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Region != "eu-west-1" {
		t.Errorf("region %q", cfg.Region)
	}
	if cfg.BaseEndpoint == nil || *cfg.BaseEndpoint != "http://localhost.localstack.cloud:4566" {
		t.Errorf("base endpoint %v, want AWS_ENDPOINT_URL's", cfg.BaseEndpoint)
	}
	c, err := cfg.Credentials.Retrieve(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if c.AccessKeyID != "AKID" || c.SecretAccessKey != "secret" || c.SessionToken != "token" || c.CanExpire {
		t.Errorf("credentials %+v", c)
	}
}

func TestConfigWithoutEndpoint(t *testing.T) {
	cfg, err := awsenv.Config(lookupOf(map[string]string{"AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": "secret"}), "us-east-1")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.BaseEndpoint != nil {
		t.Errorf("base endpoint %q without AWS_ENDPOINT_URL: the SDK must resolve the region's", *cfg.BaseEndpoint)
	}
	if c, err := cfg.Credentials.Retrieve(context.Background()); err != nil || c.SessionToken != "" {
		t.Errorf("credentials %+v, %v", c, err)
	}
}

func TestConfigWithoutCredentials(t *testing.T) {
	for name, env := range map[string]map[string]string{
		"none":      {},
		"no secret": {"AWS_ACCESS_KEY_ID": "AKID"},
		"no id":     {"AWS_SECRET_ACCESS_KEY": "secret"},
		"empty":     {"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": ""},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := awsenv.Config(lookupOf(env), "us-east-1")
			if err == nil || !strings.Contains(err.Error(), "AWS_ACCESS_KEY_ID") {
				t.Fatalf("err %v, want one naming the variables", err)
			}
		})
	}
}
