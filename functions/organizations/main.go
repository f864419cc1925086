// Command organizations is the Lambda function behind /organizations and its members.
// Its wiring is function.Organizations, which the server mode and the tests build too.
package main

import (
	"scaleapi/functions/internal/function"
	"scaleapi/functions/internal/lambdamain"
)

func main() { lambdamain.Run(function.Organizations) }
