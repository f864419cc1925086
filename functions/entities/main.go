// Command entities is the Lambda function behind every route of the data model's entities: the
// resource engine over the root .apsorc (see function.Entities for why one function serves them
// all, and SCALEAPI_SCHEMA).
// Its wiring is function.Entities, which the server mode and the tests build too.
package main

import (
	"scaleapi/functions/internal/function"
	"scaleapi/functions/internal/lambdamain"
)

func main() { lambdamain.Run(function.Entities) }
