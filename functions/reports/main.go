// Command reports is the Lambda function behind the reporting routes, which read the replica.
// Its wiring is function.Reports, which the server mode and the tests build too.
package main

import (
	"scaleapi/functions/internal/function"
	"scaleapi/functions/internal/lambdamain"
)

func main() { lambdamain.Run(function.Reports) }
