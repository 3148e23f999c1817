package cuda

import (
	"regexp"
	"strings"
	"testing"
	"unsafe"
)

// TestKernelSignatures checks the Go launch table against the .cu sources:
// every extern "C" __global__ kernel is in the table, with one parameter
// kind per C parameter (p pointer, i int, f float, u unsigned long long).
// A mismatch would pass garbage to the GPU, so it is checked here, without one.
func TestKernelSignatures(t *testing.T) {
	src := kernelSource()
	re := regexp.MustCompile(`extern "C" __global__ void (\w+)\(([^)]*)\)`)
	found := map[string]string{}
	for _, m := range re.FindAllStringSubmatch(src, -1) {
		var sig strings.Builder
		for _, p := range strings.Split(m[2], ",") {
			p = strings.TrimSpace(p)
			switch {
			case strings.Contains(p, "*"):
				sig.WriteByte('p')
			case strings.HasPrefix(p, "int "):
				sig.WriteByte('i')
			case strings.HasPrefix(p, "float "):
				sig.WriteByte('f')
			case strings.HasPrefix(p, "u64 "), strings.HasPrefix(p, "unsigned long long "):
				sig.WriteByte('u')
			default:
				t.Errorf("kernel %s: parameter %q has a type the launcher does not encode", m[1], p)
			}
		}
		if _, dup := found[m[1]]; dup {
			t.Errorf("kernel %s defined twice", m[1])
		}
		found[m[1]] = sig.String()
	}
	for _, k := range kernelSpecs {
		got, ok := found[k.name]
		if !ok {
			t.Errorf("kernel %s is in the launch table but not in the sources", k.name)
			continue
		}
		if got != k.sig {
			t.Errorf("kernel %s: sources say %q, launch table %q", k.name, got, k.sig)
		}
		if len(k.sig) > maxParams {
			t.Errorf("kernel %s: %d parameters, at most %d", k.name, len(k.sig), maxParams)
		}
		delete(found, k.name)
	}
	for name := range found {
		t.Errorf("kernel %s is in the sources but not in the launch table", name)
	}
}

// TestKernelSourceLayout checks the one-op-per-file layout and that the
// program starts with the shared definitions.
func TestKernelSourceLayout(t *testing.T) {
	src := kernelSource()
	if !strings.HasPrefix(src, "#line 1 \"common.cuh\"") {
		t.Errorf("program does not start with common.cuh")
	}
	for _, f := range []string{"gather.cu", "bias.cu", "batchnorm.cu", "maxpool.cu", "loss.cu", "softmax.cu", "dropout.cu", "optim.cu", "elementwise.cu"} {
		if !strings.Contains(src, "#line 1 \""+f+"\"") {
			t.Errorf("program lacks %s", f)
		}
	}
	if strings.Contains(src, "__expf") || strings.Contains(src, "__fdividef") {
		t.Error("kernels use fast-math intrinsics")
	}
}

func TestLaunchArgumentEncoding(t *testing.T) {
	if argInt(-1) != 0xffffffff || argInt(7) != 7 {
		t.Error("argInt")
	}
	if argF32(1) != 0x3f800000 {
		t.Error("argF32")
	}
	k := newKernel("x", "pif", 0)
	for i := range k.ptrs {
		if k.ptrs[i] == 0 {
			t.Fatal("argument pointer not set")
		}
	}
}

// TestConvPerfLayout pins the Go mirror of cudnnConvolution*AlgoPerf_t.
func TestConvPerfLayout(t *testing.T) {
	var p convPerf
	if s := unsafe.Sizeof(p); s != 48 {
		t.Errorf("sizeof convPerf = %d, want 48", s)
	}
	if o := unsafe.Offsetof(p.Memory); o != 16 {
		t.Errorf("offsetof memory = %d, want 16", o)
	}
	if o := unsafe.Offsetof(p.MathType); o != 28 {
		t.Errorf("offsetof mathType = %d, want 28", o)
	}
}
