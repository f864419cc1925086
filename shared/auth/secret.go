package auth

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// SecretsGetter is the one Secrets Manager call LoadSecret needs; *secretsmanager.Client
// satisfies it, and tests pass a stand-in.
type SecretsGetter interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput,
		opts ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

var _ SecretsGetter = (*secretsmanager.Client)(nil)

// LoadSecret fetches the signing key stored in the secret arn (its current version): the
// SecretString's bytes, or SecretBinary. main calls it once at cold start; warm invocations reuse
// the key. The key must be at least MinKeyLen bytes. The error never contains the secret.
func LoadSecret(ctx context.Context, client SecretsGetter, arn string) ([]byte, error) {
	if arn == "" {
		return nil, errors.New("auth: secret ARN is empty")
	}
	out, err := client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: &arn})
	if err != nil {
		return nil, fmt.Errorf("auth: get secret %s: %w", arn, err)
	}
	var key []byte
	switch {
	case out.SecretString != nil:
		key = []byte(*out.SecretString)
	case len(out.SecretBinary) > 0:
		key = out.SecretBinary
	}
	if len(key) < MinKeyLen {
		return nil, fmt.Errorf("auth: secret %s holds %d bytes, need at least %d", arn, len(key), MinKeyLen)
	}
	return key, nil
}
