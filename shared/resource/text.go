package resource

import "strconv"

// Index returns the field-name prefix of item i of a bulk request: "bulk[3].".
func Index(i int) string { return "bulk[" + strconv.Itoa(i) + "]." }
