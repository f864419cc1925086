// Command health is the Lambda function behind GET /health and GET /openapi.json, both public.
// Its wiring is function.Health, which the server mode and the tests build too.
package main

import (
	"scaleapi/functions/internal/function"
	"scaleapi/functions/internal/lambdamain"
)

func main() { lambdamain.Run(function.Health) }
