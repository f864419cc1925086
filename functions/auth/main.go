// Command auth is the Lambda function behind /auth: register, login, refresh (public), logout
// and me.
// Its wiring is function.Auth, which the server mode and the tests build too.
package main

import (
	"scaleapi/functions/internal/function"
	"scaleapi/functions/internal/lambdamain"
)

func main() { lambdamain.Run(function.Auth) }
