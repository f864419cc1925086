package auth

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// secretsStub answers GetSecretValue from a map; Secrets Manager itself is not reachable from
// tests (loopback only), and LoadSecret's logic is pure apart from this one call.
type secretsStub map[string]*secretsmanager.GetSecretValueOutput

func (s secretsStub) GetSecretValue(_ context.Context, in *secretsmanager.GetSecretValueInput,
	_ ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	if out, ok := s[*in.SecretId]; ok {
		return out, nil
	}
	return nil, errors.New("ResourceNotFoundException: secret not found")
}

func TestLoadSecret(t *testing.T) {
	key := strings.Repeat("k", 48)
	stub := secretsStub{
		"arn:string": {SecretString: &key},
		"arn:binary": {SecretBinary: []byte(key)},
		"arn:short":  {SecretString: new("short")},
	}
	ctx := context.Background()
	for _, arn := range []string{"arn:string", "arn:binary"} {
		got, err := LoadSecret(ctx, stub, arn)
		if err != nil || string(got) != key {
			t.Fatalf("LoadSecret(%s) = %q, %v", arn, got, err)
		}
	}
	t.Run("TooShort", func(t *testing.T) {
		_, err := LoadSecret(ctx, stub, "arn:short")
		if err == nil || strings.Contains(err.Error(), "short\"") {
			t.Fatalf("LoadSecret(short) = %v; want an error that does not echo the secret", err)
		}
	})
	t.Run("Missing", func(t *testing.T) {
		if _, err := LoadSecret(ctx, stub, "arn:missing"); err == nil {
			t.Fatal("no error for a missing secret")
		}
	})
	t.Run("EmptyARN", func(t *testing.T) {
		if _, err := LoadSecret(ctx, stub, ""); err == nil {
			t.Fatal("no error for an empty ARN")
		}
	})
	t.Run("KeyWorksForTokens", func(t *testing.T) {
		k, _ := LoadSecret(ctx, stub, "arn:string")
		if _, err := NewTokens(k); err != nil {
			t.Fatal(err)
		}
	})
}
