// Command auth is the Lambda function behind /auth: register, login, refresh (public), logout
// and me.
package main

import (
	"net/http"
	"time"

	"scaleapi/functions/internal/lambdamain"
	"scaleapi/shared/api"
	"scaleapi/shared/auth"
	"scaleapi/shared/guard"
	"scaleapi/shared/platform"
	"scaleapi/shared/user"
)

// authReplayTTL is how long an auth answer stays replayable under its Idempotency-Key.
const authReplayTTL = 10 * time.Minute

var needs = platform.Needs{Database: true, Redis: true, Auth: true}

func main() { lambdamain.Run(needs, handler) }

func handler(d *platform.Deps) (http.Handler, error) {
	// These answers carry tokens, kept in Redis in the clear while they can be replayed, so
	// they are kept long enough for a client's retries, not the 24 h of other routes.
	guards, err := guard.Setup(d, guard.WithReplayTTL(authReplayTTL))
	if err != nil {
		return nil, err
	}
	passwords, err := auth.NewPasswords(auth.DefaultParams)
	if err != nil {
		return nil, err
	}
	r := api.NewRouter()
	user.Routes(r, user.NewService(user.NewPG(d.Primary), passwords, d.Tokens, d.Sessions, d.Log), guards)
	return r, nil
}
