package cuda_test

import (
	"regexp"
	"testing"
)

// TestGPUVersions checks that the device names the driver's and every
// library's version as dotted numbers (on the fake libraries too).
func TestGPUVersions(t *testing.T) {
	v := gpu(t).Versions()
	num := regexp.MustCompile(`^[0-9]+(\.[0-9]+)+$`)
	for _, k := range []string{"cuda_driver", "nvrtc", "cublas", "cudnn"} {
		if !num.MatchString(v[k]) {
			t.Errorf("Versions()[%q] = %q, want a dotted version", k, v[k])
		}
	}
	if len(v) != 4 {
		t.Errorf("Versions() = %v, want 4 entries", v)
	}
}
