package main

import (
	"context"
	"errors"
	"io"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/cfn"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"scaleapi/shared/migrations"
)

// secrets answers GetSecretValue with value for arn, and counts the calls.
type secrets struct {
	arn, value string
	calls      int
}

func (s *secrets) GetSecretValue(_ context.Context, in *secretsmanager.GetSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	s.calls++
	if aws.ToString(in.SecretId) != s.arn {
		return nil, errors.New("ResourceNotFoundException")
	}
	return &secretsmanager.GetSecretValueOutput{SecretString: aws.String(s.value)}, nil
}

const (
	writer    = "postgres://scaleapi@cluster.example:5432/scaleapi?sslmode=require"
	secretARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:rds!cluster-1-AbCdEf"
)

// fixture returns a migrator whose up and status record the URL they were given.
func fixture(secret string) (*migrator, *secrets, *[]string) {
	s := &secrets{arn: secretARN, value: secret}
	var got []string
	m := &migrator{
		databaseURL: writer, secretARN: secretARN, secrets: s, log: io.Discard,
		up:     func(_ context.Context, u string) error { got = append(got, "up "+u); return nil },
		status: func(_ context.Context, u string, _ io.Writer) error { got = append(got, "status "+u); return nil },
	}
	return m, s, &got
}

func event(kind cfn.RequestType, version any) cfn.Event {
	return cfn.Event{RequestType: kind, ResourceProperties: map[string]any{"ServiceToken": "arn", "SchemaVersion": version}}
}

func TestHandle(t *testing.T) {
	v, err := migrations.Newest()
	if err != nil {
		t.Fatal(err)
	}
	// CloudFormation hands every property over as a string.
	version, older := strconv.FormatInt(v, 10), strconv.FormatInt(v-1, 10)
	for _, kind := range []cfn.RequestType{cfn.RequestCreate, cfn.RequestUpdate} {
		t.Run(string(kind), func(t *testing.T) {
			m, _, got := fixture(`{"username":"scaleapi","password":"p@ss/w:rd","engine":"postgres"}`)
			id, data, err := m.handle(t.Context(), event(kind, version))
			if err != nil {
				t.Fatal(err)
			}
			if id != physicalID || data["SchemaVersion"] != v {
				t.Errorf("answer = %q %v, want %q and SchemaVersion %d", id, data, physicalID, v)
			}
			if len(*got) != 2 || !strings.HasPrefix((*got)[0], "up ") || !strings.HasPrefix((*got)[1], "status ") {
				t.Fatalf("calls = %q, want up then status", *got)
			}
			u, err := url.Parse(strings.TrimPrefix((*got)[0], "up "))
			if err != nil {
				t.Fatal(err)
			}
			pw, _ := u.User.Password()
			if u.User.Username() != "scaleapi" || pw != "p@ss/w:rd" || u.Host != "cluster.example:5432" || u.RawQuery != "sslmode=require" {
				t.Errorf("migrated %s, want the writer with the secret's credentials", u.Redacted())
			}
		})
	}

	t.Run("DeleteLeavesTheSchema", func(t *testing.T) {
		m, s, got := fixture(`{}`)
		id, _, err := m.handle(t.Context(), event(cfn.RequestDelete, version))
		if err != nil || id != physicalID || len(*got) != 0 || s.calls != 0 {
			t.Errorf("delete: id %q, err %v, calls %q, secret reads %d; want nothing done", id, err, *got, s.calls)
		}
	})

	t.Run("VersionMismatch", func(t *testing.T) {
		m, _, got := fixture(`{"username":"u","password":"p"}`)
		_, _, err := m.handle(t.Context(), event(cfn.RequestUpdate, older))
		if err == nil || !strings.Contains(err.Error(), "SchemaVersion is "+older) || len(*got) != 0 {
			t.Errorf("err = %v, calls %q; want a refusal before touching the database", err, *got)
		}
	})

	t.Run("BadSecretNotQuoted", func(t *testing.T) {
		m, _, got := fixture(`{"username":"u","pass":"hunter2"}`)
		_, _, err := m.handle(t.Context(), event(cfn.RequestCreate, version))
		if err == nil || strings.Contains(err.Error(), "hunter2") || len(*got) != 0 {
			t.Errorf("err = %v, calls %q; want an error that names the secret, not its value", err, *got)
		}
	})

	t.Run("MigrationErrorFailsTheDeploy", func(t *testing.T) {
		m, _, _ := fixture(`{"username":"u","password":"p"}`)
		m.up = func(context.Context, string) error { return errors.New("lock wait timeout") }
		if _, _, err := m.handle(t.Context(), event(cfn.RequestCreate, version)); err == nil || !strings.Contains(err.Error(), "lock wait") {
			t.Errorf("err = %v, want the migration's error", err)
		}
	})

	t.Run("DeadlineLeavesTimeToAnswer", func(t *testing.T) {
		m, _, _ := fixture(`{"username":"u","password":"p"}`)
		deadline := time.Now().Add(time.Minute)
		var left time.Duration
		m.up = func(ctx context.Context, _ string) error {
			d, _ := ctx.Deadline()
			left = deadline.Sub(d)
			return nil
		}
		ctx, cancel := context.WithDeadline(t.Context(), deadline)
		defer cancel()
		if _, _, err := m.handle(ctx, event(cfn.RequestCreate, version)); err != nil {
			t.Fatal(err)
		}
		if left != answerMargin {
			t.Errorf("migrations end %v before the invocation's deadline, want %v", left, answerMargin)
		}
	})
}
