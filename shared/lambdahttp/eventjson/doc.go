// Package eventjson reads and writes the JSON of API Gateway's Lambda proxy events and responses
// (aws-lambda-go's events types, payload 1.0 and 2.0) in one pass, without reflection.
//
// Every request through a function crosses four such documents — the event the gateway writes
// and the function reads, the response the function writes and the gateway reads — and with
// encoding/json they cost more CPU than a cached read's own work. The functions
// (shared/lambdahttp) and cmd/local's gateway both use this package.
//
// It is exact or it gives up. The writers produce the bytes json.Marshal produces for the same
// value. The readers produce the value json.Unmarshal produces, or report that they can't
// (invalid JSON, an unexpected type, a repeated member, a key that matches a field only
// case-insensitively), and the caller then decodes with encoding/json, whose result or error is
// the answer. The tests compare both directions with encoding/json, by example and by fuzzing.
package eventjson
