package platform_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"scaleapi/shared/awsenv"
	"scaleapi/shared/platform"
)

const secretARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:jwt-AbCdEf"

// secretsManager is Secrets Manager's GetSecretValue on loopback (its JSON 1.1 protocol), which
// answers only requests signed with the access key id AKIDTEST for eu-west-1.
func secretsManager(t *testing.T, calls *atomic.Int32) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		auth := r.Header.Get("Authorization")
		if !strings.Contains(auth, "Credential=AKIDTEST/") || !strings.Contains(auth, "/eu-west-1/secretsmanager/") {
			http.Error(w, `{"__type":"UnrecognizedClientException"}`, http.StatusBadRequest)
			return
		}
		var in struct{ SecretId string }
		body, _ := io.ReadAll(r.Body)
		if r.Header.Get("X-Amz-Target") != "secretsmanager.GetSecretValue" || json.Unmarshal(body, &in) != nil || in.SecretId != secretARN {
			http.Error(w, `{"__type":"ResourceNotFoundException"}`, http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		_ = json.NewEncoder(w).Encode(map[string]string{"ARN": secretARN, "SecretString": strings.Repeat("k", 48)})
	}))
	t.Cleanup(srv.Close)
	return srv
}

// env is a function's environment with its signing key in Secrets Manager. Redis is never
// reached: its clients connect on first use.
func env(endpoint string, extra map[string]string) func(string) (string, bool) {
	e := map[string]string{
		"AWS_REGION": "eu-west-1", "JWT_SECRET_ARN": secretARN, "REDIS_URL": "redis://127.0.0.1:1",
		"AWS_ENDPOINT_URL": endpoint,
	}
	for k, v := range extra {
		e[k] = v
	}
	return func(k string) (string, bool) { v, ok := e[k]; return v, ok }
}

// TestSigningKeyFromLambdasEnvironment builds a function that needs its signing key as one
// does in Lambda: the credentials and LocalStack's endpoint come from the environment
// (shared/awsenv), and the key from Secrets Manager at that endpoint.
func TestSigningKeyFromLambdasEnvironment(t *testing.T) {
	var calls atomic.Int32
	srv := secretsManager(t, &calls)
	d, err := platform.Build(t.Context(), env(srv.URL, map[string]string{
		"AWS_ACCESS_KEY_ID": "AKIDTEST", "AWS_SECRET_ACCESS_KEY": "secret", "AWS_SESSION_TOKEN": "token",
	}), io.Discard, platform.Needs{Redis: true, Auth: true})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if d.Tokens == nil || calls.Load() != 1 {
		t.Fatalf("tokens %v after %d calls to Secrets Manager, want a verifier after 1", d.Tokens, calls.Load())
	}
}

// TestSigningKeyWithoutCredentials fails the build, naming what is missing, when the
// environment has no credentials, and calls nothing.
func TestSigningKeyWithoutCredentials(t *testing.T) {
	var calls atomic.Int32
	srv := secretsManager(t, &calls)
	_, err := platform.Build(t.Context(), env(srv.URL, nil), io.Discard, platform.Needs{Redis: true, Auth: true})
	if err == nil || !strings.Contains(err.Error(), "AWS_ACCESS_KEY_ID") || calls.Load() != 0 {
		t.Fatalf("err %v after %d calls, want one naming AWS_ACCESS_KEY_ID after none", err, calls.Load())
	}
}

// TestWithAWS builds with a loader of the program's own (server mode's default chain), which
// is asked for the deployment's region and used in place of the environment's credentials.
func TestWithAWS(t *testing.T) {
	var calls atomic.Int32
	srv := secretsManager(t, &calls)
	var region string
	load := func(_ context.Context, r string) (aws.Config, error) {
		region = r
		return awsenv.Config(func(k string) (string, bool) {
			return map[string]string{"AWS_ACCESS_KEY_ID": "AKIDTEST", "AWS_SECRET_ACCESS_KEY": "s", "AWS_ENDPOINT_URL": srv.URL}[k], true
		}, r)
	}
	d, err := platform.Build(t.Context(), env(srv.URL, nil), io.Discard, platform.Needs{Redis: true, Auth: true}, platform.WithAWS(load))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if region != "eu-west-1" || d.Tokens == nil || calls.Load() != 1 {
		t.Fatalf("loader asked for %q, tokens %v, %d calls", region, d.Tokens, calls.Load())
	}
}
