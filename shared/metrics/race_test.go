//go:build race

package metrics

// The race detector makes sync.Pool drop some of what is put back, so allocation counts that
// rely on a pooled buffer being reused do not hold under it.
func init() { raceEnabled = true }
