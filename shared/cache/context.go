package cache

import "context"

// bypassKey is the private context key for WithBypass.
type bypassKey struct{}

// WithBypass returns a context whose reads skip the cache lookup but still refresh the entry
// (see the package comment): what an API's cache=0 parameter should set.
func WithBypass(ctx context.Context) context.Context {
	return context.WithValue(ctx, bypassKey{}, true)
}

// Bypassed reports whether ctx carries WithBypass.
func Bypassed(ctx context.Context) bool {
	b, _ := ctx.Value(bypassKey{}).(bool)
	return b
}
