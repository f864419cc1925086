// Command migrate is the Lambda function behind template.yaml's DatabaseMigration custom
// resource. CloudFormation invokes it when the stack creates the resource and whenever one of its
// properties changes; it applies shared/migrations to the Aurora writer, the same files under the
// same lock as `cmd/migrate up`, and answers CloudFormation through aws-lambda-go's cfn package.
// A failed run fails the deploy, and CloudFormation rolls the stack back. Deleting the resource
// (or the stack) leaves the schema alone: what happens to the data is the cluster's
// DeletionPolicy's business.
//
// Environment (set by the template):
//
//	DATABASE_URL         the writer's URL without a password: the cluster endpoint, never the
//	                     proxy (see shared/migrations)
//	DATABASE_SECRET_ARN  the master user's secret, {"username": ..., "password": ...}, which RDS
//	                     creates and rotates; read on every run, so a rotation is never missed
//
// The resource's SchemaVersion property must be this build's newest migration: a template and a
// build that disagree would otherwise report a migration as applied that this binary does not
// have.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/cfn"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"scaleapi/shared/auth"
	"scaleapi/shared/awsenv"
	"scaleapi/shared/migrations"
)

// physicalID names the one thing the resource stands for. It never changes, so an update is never
// taken for a replacement, which CloudFormation would follow with a Delete of the old id.
const physicalID = "schema"

// answerMargin is kept free before the invocation's deadline, so that a migration stuck on a lock
// is cut off while there is still time to tell CloudFormation; a function killed at its timeout
// sends nothing and leaves the deploy waiting for an hour.
const answerMargin = 15 * time.Second

func main() {
	cfg, err := awsenv.Config(os.LookupEnv, os.Getenv("AWS_REGION"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "migrate: aws config:", err)
		os.Exit(1)
	}
	m := migrator{
		databaseURL: os.Getenv("DATABASE_URL"),
		secretARN:   os.Getenv("DATABASE_SECRET_ARN"),
		secrets:     secretsmanager.NewFromConfig(cfg),
		up:          migrations.Up,
		status:      migrations.Status,
		log:         os.Stdout,
	}
	lambda.Start(cfn.LambdaWrap(m.handle))
}

// migrator is the custom resource's handler and what it needs.
type migrator struct {
	databaseURL string
	secretARN   string
	secrets     auth.SecretsGetter
	up          func(ctx context.Context, url string) error
	status      func(ctx context.Context, url string, w io.Writer) error
	log         io.Writer
}

func (m migrator) handle(ctx context.Context, event cfn.Event) (string, map[string]any, error) {
	if event.RequestType == cfn.RequestDelete {
		return physicalID, nil, nil
	}
	newest, err := migrations.Newest()
	if err != nil {
		return physicalID, nil, err
	}
	if want := fmt.Sprint(event.ResourceProperties["SchemaVersion"]); want != strconv.FormatInt(newest, 10) {
		return physicalID, nil, fmt.Errorf("the template's SchemaVersion is %s, but this build's newest migration is %d: deploy the template and the code together", want, newest)
	}
	if deadline, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, deadline.Add(-answerMargin))
		defer cancel()
	}
	dsn, err := m.writerURL(ctx)
	if err != nil {
		return physicalID, nil, err
	}
	if err := m.up(ctx, dsn); err != nil {
		return physicalID, nil, err
	}
	// The status goes to the function's log, so the deploy's migrations can be read there.
	if err := m.status(ctx, dsn, m.log); err != nil {
		return physicalID, nil, err
	}
	return physicalID, map[string]any{"SchemaVersion": newest}, nil
}

// writerURL is DATABASE_URL with the master user's current credentials from the secret.
func (m migrator) writerURL(ctx context.Context) (string, error) {
	if m.databaseURL == "" || m.secretARN == "" {
		return "", errors.New("DATABASE_URL and DATABASE_SECRET_ARN are required")
	}
	u, err := url.Parse(m.databaseURL)
	if err != nil {
		return "", errors.New("DATABASE_URL: not a URL")
	}
	out, err := m.secrets.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: &m.secretARN})
	if err != nil {
		return "", fmt.Errorf("get secret %s: %w", m.secretARN, err)
	}
	if out.SecretString == nil {
		return "", fmt.Errorf("secret %s has no string value", m.secretARN)
	}
	var creds struct {
		Username string `json:"username"`
		Password string `json:"password"`
	}
	// The error would quote the secret: name only the secret.
	if json.Unmarshal([]byte(*out.SecretString), &creds) != nil || creds.Username == "" || creds.Password == "" {
		return "", fmt.Errorf("secret %s is not {\"username\", \"password\"}", m.secretARN)
	}
	u.User = url.UserPassword(creds.Username, creds.Password)
	return u.String(), nil
}
