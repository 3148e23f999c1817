//go:build !linux

package sysmem

// hostLimits knows no host limit outside Linux; the Go limit still applies.
func hostLimits() []Limit { return nil }
