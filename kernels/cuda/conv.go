package cuda

import (
	"fmt"
	"unsafe"

	"github.com/ebitengine/purego"

	"mnistgpu/kernels"
)

// findWorkspaceCap bounds the workspace offered to cuDNN's algorithm search.
const findWorkspaceCap = 256 << 20

// conv is a convolution planned with cuDNN: a filter descriptor, one
// convolution descriptor per direction (each carries the math type of the
// algorithm chosen for it), per-batch-size tensor descriptors and
// algorithms, and one workspace sized at plan time.
type conv struct {
	d    *Device
	s    kernels.ConvShape
	maxN int
	pad  int

	wDesc uintptr
	cDesc [3]uintptr // forward, backward data, backward filter
	math  [3]int32   // math type set on cDesc[i]
	algo  [3]int32   // algorithms chosen at maxN
	ws    uint64
	wsLen uint64
	per   []*convN
	// wAl is a 256-byte-aligned copy of the weights (or of their
	// gradient) for when the caller's buffer is a view that is not 16-byte
	// aligned (a parameter inside a flat parameter buffer): cuDNN's kernels
	// may use vector loads, and a misaligned pointer can make them fail.
	wAl uint64
}

// aligned says whether a device pointer suits cuDNN's vectorised kernels.
func aligned(p uint64) bool { return p%16 == 0 }

// convN is what a batch size needs: x and y descriptors and the algorithms.
type convN struct {
	n    int
	x, y uintptr
	algo [3]int32
}

const (
	dirFwd = iota
	dirBwdData
	dirBwdFilter
)

var dirNames = [3]string{"forward", "backward data", "backward filter"}

// dirAPI is each direction's part of the cuDNN function names
// (cudnnGetConvolution<dirAPI>Algorithm_v7, ...).
var dirAPI = [3]string{"Forward", "BackwardData", "BackwardFilter"}

// NewConv2D plans a stride-1 "same" convolution (pad (K-1)/2, cross-
// correlation as PyTorch's Conv2d) for batches of up to maxN. It chooses the
// fastest algorithm of each direction for maxN with cuDNN's Find*Ex (the
// only time this plan synchronises) and allocates the workspace they need.
func (d *Device) NewConv2D(s kernels.ConvShape, maxN int) (kernels.Conv2D, error) {
	if err := kernels.CheckConvShape(s, maxN); err != nil {
		return nil, fmt.Errorf("cuda: %w", err)
	}
	if err := d.enter(); err != nil {
		return nil, err
	}
	defer d.leave()
	c := &conv{d: d, s: s, maxN: maxN, pad: (s.K - 1) / 2}
	if err := c.init(); err != nil {
		c.close()
		return nil, fmt.Errorf("cuda: NewConv2D %+v: %w", s, err)
	}
	d.plans = append(d.plans, c)
	return c, nil
}

func (c *conv) init() error {
	dn, s := c.d.dnn, c.s
	if err := dn.err("cudnnCreateFilterDescriptor", dn.createFilter(&c.wDesc)); err != nil {
		return err
	}
	if err := dn.err("cudnnSetFilter4dDescriptor", dn.setFilter4d(c.wDesc, cudnnDataFloat, cudnnTensorNCHW, int32(s.OutC), int32(s.C), int32(s.K), int32(s.K))); err != nil {
		return err
	}
	for i := range c.cDesc {
		if err := dn.err("cudnnCreateConvolutionDescriptor", dn.createConv(&c.cDesc[i])); err != nil {
			return err
		}
		p := int32(c.pad)
		if err := dn.err("cudnnSetConvolution2dDescriptor", dn.setConv2d(c.cDesc[i], p, p, 1, 1, 1, 1, cudnnCrossCorrelation, cudnnDataFloat)); err != nil {
			return err
		}
		c.math[i] = cudnnFMAMath
		if c.d.opts.TF32 {
			c.math[i] = cudnnDefaultMath
		}
		if err := dn.err("cudnnSetConvolutionMathType", dn.setConvMath(c.cDesc[i], c.math[i])); err != nil {
			return err
		}
	}
	var err error
	if c.wAl, err = c.d.devAlloc("convolution weights copy", s.OutC*s.C*s.K*s.K*4); err != nil {
		return err
	}
	e, err := c.descriptors(c.maxN)
	if err != nil {
		return err
	}
	if err := c.chooseMax(e); err != nil {
		return err
	}
	c.per = append(c.per, e)
	return nil
}

// descriptors creates the x and y descriptors of batch size n.
func (c *conv) descriptors(n int) (*convN, error) {
	dn, s := c.d.dnn, c.s
	e := &convN{n: n}
	var err error
	if e.x, err = dn.tensor4d(n, s.C, s.H, s.W); err != nil {
		return nil, err
	}
	if e.y, err = dn.tensor4d(n, s.OutC, s.H, s.W); err != nil {
		dn.destroyTensor(e.x)
		return nil, err
	}
	return e, nil
}

// allowed says whether an algorithm's math type may run on descriptor i:
// without TF32 only FP32 (FMA) math; with it anything but
// CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION (which may round to FP16). After
// the choice at maxN, only the descriptor's math type.
func (c *conv) allowed(i int, p *convPerf, chosen bool) bool {
	if p.Status != 0 {
		return false
	}
	if chosen {
		return p.MathType == c.math[i] || (!c.d.opts.TF32 && p.MathType == cudnnDefaultMath)
	}
	if !c.d.opts.TF32 {
		return p.MathType == cudnnFMAMath || p.MathType == cudnnDefaultMath
	}
	return p.MathType != cudnnTensorOpMathAllowConversion
}

// heuristics runs cudnnGet*Algorithm_v7 (host only, no GPU work).
func (c *conv) heuristics(dir int, e *convN, perf *[convPerfMax]convPerf) (int, error) {
	dn, h := c.d.dnn, c.d.dnnH
	var ret int32
	var st int32
	p := unsafe.Pointer(&perf[0])
	switch dir {
	case dirFwd:
		st = dn.getFwdAlgo(h, e.x, c.wDesc, c.cDesc[dir], e.y, convPerfMax, &ret, p)
	case dirBwdData:
		st = dn.getBwdDataAlgo(h, c.wDesc, e.y, c.cDesc[dir], e.x, convPerfMax, &ret, p)
	default:
		st = dn.getBwdFilterAlgo(h, e.x, e.y, c.cDesc[dir], c.wDesc, convPerfMax, &ret, p)
	}
	if err := dn.err("cudnnGetConvolution"+dirAPI[dir]+"Algorithm_v7", st); err != nil {
		return 0, err
	}
	return int(min(max(ret, 0), convPerfMax)), nil
}

// workspace asks cuDNN how much workspace algo needs at e's batch size.
func (c *conv) workspace(dir int, e *convN, algo int32) (uint64, error) {
	dn, h := c.d.dnn, c.d.dnnH
	var n uint64
	var st int32
	switch dir {
	case dirFwd:
		st = dn.fwdWorkspace(h, e.x, c.wDesc, c.cDesc[dir], e.y, algo, &n)
	case dirBwdData:
		st = dn.bwdDataWorkspace(h, c.wDesc, e.y, c.cDesc[dir], e.x, algo, &n)
	default:
		st = dn.bwdFilterWorkspace(h, e.x, e.y, c.cDesc[dir], c.wDesc, algo, &n)
	}
	return n, dn.err("cudnnGetConvolution"+dirAPI[dir]+"WorkspaceSize", st)
}

// chooseMax picks the algorithms for maxN by timing them (Find*Ex) on
// scratch tensors, falling back to the heuristics, and allocates the
// workspace the chosen ones need.
func (c *conv) chooseMax(e *convN) error {
	d, s := c.d, c.s
	// The search's workspace: the most any heuristic candidate wants,
	// capped.
	var limit uint64
	for dir := 0; dir < 3; dir++ {
		var perf [convPerfMax]convPerf
		n, err := c.heuristics(dir, e, &perf)
		if err != nil {
			return err
		}
		for i := 0; i < n; i++ {
			if perf[i].Status == 0 && perf[i].Memory <= findWorkspaceCap {
				limit = max(limit, perf[i].Memory)
			}
		}
	}
	xBytes := e.n * s.C * s.H * s.W * 4
	yBytes := e.n * s.OutC * s.H * s.W * 4
	wBytes := s.OutC * s.C * s.K * s.K * 4
	var tmp [4]uint64
	defer func() {
		d.cu.cuStreamSynchronize(d.stream)
		for _, p := range tmp {
			if p != 0 {
				d.cu.cuMemFree(p)
			}
		}
	}()
	found := true
	for i, b := range []int{xBytes, yBytes, wBytes, int(limit)} {
		p, err := d.devAlloc("cuDNN algorithm search", b)
		if err != nil {
			found = false
			d.verbosef("conv %+v: no memory to time algorithms (%v); using heuristics", s, err)
			break
		}
		tmp[i] = p
		if i < 3 {
			d.cu.cuMemsetD8Async(p, 0, uint64(b), d.stream)
		}
	}
	for dir := 0; dir < 3; dir++ {
		var perf [convPerfMax]convPerf
		var ret int32
		var st int32 = -1
		if found {
			dn, h, p := d.dnn, d.dnnH, unsafe.Pointer(&perf[0])
			x, y, w, ws := tmp[0], tmp[1], tmp[2], tmp[3]
			switch dir {
			case dirFwd:
				st = dn.findFwd(h, e.x, x, c.wDesc, w, c.cDesc[dir], e.y, y, convPerfMax, &ret, p, ws, limit)
			case dirBwdData:
				st = dn.findBwdData(h, c.wDesc, w, e.y, y, c.cDesc[dir], e.x, x, convPerfMax, &ret, p, ws, limit)
			default:
				st = dn.findBwdFilter(h, e.x, x, e.y, y, c.cDesc[dir], c.wDesc, w, convPerfMax, &ret, p, ws, limit)
			}
			if st != 0 {
				d.verbosef("conv %+v %s: %v; using heuristics", s, dirNames[dir],
					d.dnn.err("cudnnFindConvolution"+dirAPI[dir]+"AlgorithmEx", st))
			}
		}
		n := int(min(max(ret, 0), convPerfMax))
		how := "timed"
		if st != 0 {
			var err error
			if n, err = c.heuristics(dir, e, &perf); err != nil {
				return err
			}
			how = "heuristic"
		}
		pick := -1
		for i := 0; i < n; i++ {
			if c.allowed(dir, &perf[i], false) && perf[i].Memory <= findWorkspaceCap {
				pick = i
				break
			}
		}
		if pick < 0 {
			return fmt.Errorf("cuDNN offers no usable %s algorithm (%d candidates)", dirNames[dir], n)
		}
		p := perf[pick]
		c.algo[dir] = p.Algo
		if c.d.opts.TF32 && p.MathType != c.math[dir] {
			if err := d.dnn.err("cudnnSetConvolutionMathType", d.dnn.setConvMath(c.cDesc[dir], p.MathType)); err != nil {
				return err
			}
			c.math[dir] = p.MathType
		}
		e.algo[dir] = p.Algo
		ws, err := c.workspace(dir, e, p.Algo)
		if err != nil {
			return err
		}
		c.wsLen = max(c.wsLen, ws, p.Memory)
		d.verbosef("conv C=%d K=%d OutC=%d %dx%d n=%d %s: algo %d (%s, %.3f ms, %d B workspace, math %d)",
			s.C, s.K, s.OutC, s.H, s.W, e.n, dirNames[dir], p.Algo, how, p.Time, ws, p.MathType)
	}
	if c.wsLen > 0 {
		ws, err := d.devAlloc("cuDNN convolution workspace", int(c.wsLen))
		if err != nil {
			return err
		}
		c.ws = ws
	}
	return nil
}

// entry returns batch size n's descriptors and algorithms, creating them
// the first time (host-only cuDNN calls: no GPU work, no allocation on the
// GPU). A run uses at most a few batch sizes.
func (c *conv) entry(n int) (*convN, error) {
	for _, e := range c.per {
		if e.n == n {
			return e, nil
		}
	}
	if n < 1 || n > c.maxN {
		return nil, fmt.Errorf("cuda: conv: batch %d outside [1, %d]", n, c.maxN)
	}
	e, err := c.descriptors(n)
	if err != nil {
		return nil, err
	}
	for dir := 0; dir < 3; dir++ {
		// The algorithm chosen for maxN, when it runs at n within the workspace.
		if ws, err := c.workspace(dir, e, c.algo[dir]); err == nil && ws <= c.wsLen {
			e.algo[dir] = c.algo[dir]
			continue
		}
		var perf [convPerfMax]convPerf
		cnt, err := c.heuristics(dir, e, &perf)
		if err != nil {
			return nil, err
		}
		pick := -1
		for i := 0; i < cnt; i++ {
			if !c.allowed(dir, &perf[i], true) {
				continue
			}
			if ws, err := c.workspace(dir, e, perf[i].Algo); err == nil && ws <= c.wsLen {
				pick = i
				break
			}
		}
		if pick < 0 {
			return nil, fmt.Errorf("cuda: conv n=%d: no %s algorithm fits the %d B workspace", n, dirNames[dir], c.wsLen)
		}
		e.algo[dir] = perf[pick].Algo
		c.d.verbosef("conv n=%d %s: algo %d (heuristic)", n, dirNames[dir], e.algo[dir])
	}
	c.per = append(c.per, e)
	return e, nil
}

// run issues one of the three 13-argument cuDNN convolution calls, which
// share the layout (handle, alpha, aDesc, a, bDesc, b, convDesc, algo,
// workspace, workspaceBytes, beta, outDesc, out), raw through the Device's
// argument array: no allocation.
func (c *conv) run(fn uintptr, name string, dir int, aDesc uintptr, a uint64, bDesc uintptr, b uint64, algo int32, outDesc uintptr, out uint64) error {
	d := c.d
	x := &d.args
	x[0] = d.dnnH
	x[1] = uintptr(unsafe.Pointer(&d.scal[0])) // alpha = 1
	x[2], x[3] = aDesc, uintptr(a)
	x[4], x[5] = bDesc, uintptr(b)
	x[6] = c.cDesc[dir]
	x[7] = uintptr(uint32(algo))
	x[8], x[9] = uintptr(c.ws), uintptr(c.wsLen)
	x[10] = uintptr(unsafe.Pointer(&d.scal[1])) // beta = 0
	x[11], x[12] = outDesc, uintptr(out)
	r, _, _ := purego.SyscallN(fn, x[:13]...)
	d.launches++
	if st := int32(r); st != 0 {
		return d.dnn.err(name, st)
	}
	return nil
}

// copyDtoD queues a device-to-device copy on the stream (raw call, no allocation).
func (d *Device) copyDtoD(dst, src uint64, bytes int) error {
	a := &d.args
	a[0], a[1], a[2], a[3] = uintptr(dst), uintptr(src), uintptr(bytes), d.stream
	r, _, _ := purego.SyscallN(d.cu.rawMemcpyDtoDAsync, a[:4]...)
	d.launches++
	if st := int32(r); st != 0 {
		return d.cu.err("cuMemcpyDtoDAsync_v2", st)
	}
	return nil
}

// weights returns w's pointer, or that of an aligned copy of w.
func (c *conv) weights(w *buffer, n int) (uint64, error) {
	if aligned(w.ptr) {
		return w.ptr, nil
	}
	return c.wAl, c.d.copyDtoD(c.wAl, w.ptr, n*4)
}

func (c *conv) sizes() (in, out, w int) {
	s := c.s
	return s.C * s.H * s.W, s.OutC * s.H * s.W, s.OutC * s.C * s.K * s.K
}

// Forward computes y = conv(x, w) (cudnnConvolutionForward).
func (c *conv) Forward(n int, x, w, y kernels.Buffer) error {
	d := c.d
	if err := kernels.CheckConv("Conv2D.Forward", c.s, c.maxN, n, x, w, y); err != nil {
		return fmt.Errorf("cuda: %w", err)
	}
	in, out, wn := c.sizes()
	xb, err := d.f32("Conv2D.Forward", "x", x, n*in)
	if err != nil {
		return err
	}
	wb, err := d.f32("Conv2D.Forward", "w", w, wn)
	if err != nil {
		return err
	}
	yb, err := d.f32("Conv2D.Forward", "y", y, n*out)
	if err != nil {
		return err
	}
	if err := d.enter(); err != nil {
		return err
	}
	defer d.leave()
	e, err := c.entry(n)
	if err != nil {
		return err
	}
	if err := c.checkAligned("Forward", xb, yb); err != nil {
		return err
	}
	wp, err := c.weights(wb, wn)
	if err != nil {
		return err
	}
	return c.run(d.dnn.rawConvFwd, "cudnnConvolutionForward", dirFwd, e.x, xb.ptr, c.wDesc, wp, e.algo[dirFwd], e.y, yb.ptr)
}

// BackwardData computes dx = conv_transpose(dy, w) (cudnnConvolutionBackwardData).
func (c *conv) BackwardData(n int, dy, w, dx kernels.Buffer) error {
	d := c.d
	if err := kernels.CheckConv("Conv2D.BackwardData", c.s, c.maxN, n, dy, w, dx); err != nil {
		return fmt.Errorf("cuda: %w", err)
	}
	in, out, wn := c.sizes()
	dyb, err := d.f32("Conv2D.BackwardData", "dy", dy, n*out)
	if err != nil {
		return err
	}
	wb, err := d.f32("Conv2D.BackwardData", "w", w, wn)
	if err != nil {
		return err
	}
	dxb, err := d.f32("Conv2D.BackwardData", "dx", dx, n*in)
	if err != nil {
		return err
	}
	if err := d.enter(); err != nil {
		return err
	}
	defer d.leave()
	e, err := c.entry(n)
	if err != nil {
		return err
	}
	if err := c.checkAligned("BackwardData", dyb, dxb); err != nil {
		return err
	}
	wp, err := c.weights(wb, wn)
	if err != nil {
		return err
	}
	return c.run(d.dnn.rawConvBwdData, "cudnnConvolutionBackwardData", dirBwdData, c.wDesc, wp, e.y, dyb.ptr, e.algo[dirBwdData], e.x, dxb.ptr)
}

// BackwardFilter computes dw, summed over the batch (cudnnConvolutionBackwardFilter).
func (c *conv) BackwardFilter(n int, x, dy, dw kernels.Buffer) error {
	d := c.d
	if err := kernels.CheckConv("Conv2D.BackwardFilter", c.s, c.maxN, n, x, dy, dw); err != nil {
		return fmt.Errorf("cuda: %w", err)
	}
	in, out, wn := c.sizes()
	xb, err := d.f32("Conv2D.BackwardFilter", "x", x, n*in)
	if err != nil {
		return err
	}
	dyb, err := d.f32("Conv2D.BackwardFilter", "dy", dy, n*out)
	if err != nil {
		return err
	}
	dwb, err := d.f32("Conv2D.BackwardFilter", "dw", dw, wn)
	if err != nil {
		return err
	}
	if err := d.enter(); err != nil {
		return err
	}
	defer d.leave()
	e, err := c.entry(n)
	if err != nil {
		return err
	}
	if err := c.checkAligned("BackwardFilter", xb, dyb); err != nil {
		return err
	}
	if aligned(dwb.ptr) {
		return c.run(d.dnn.rawConvBwdFilter, "cudnnConvolutionBackwardFilter", dirBwdFilter, e.x, xb.ptr, e.y, dyb.ptr, e.algo[dirBwdFilter], c.wDesc, dwb.ptr)
	}
	if err := c.run(d.dnn.rawConvBwdFilter, "cudnnConvolutionBackwardFilter", dirBwdFilter, e.x, xb.ptr, e.y, dyb.ptr, e.algo[dirBwdFilter], c.wDesc, c.wAl); err != nil {
		return err
	}
	return d.copyDtoD(dwb.ptr, c.wAl, wn*4)
}

// checkAligned rejects activations that are misaligned views (the model
// passes whole buffers; only parameters live inside a flat buffer).
func (c *conv) checkAligned(op string, a, b *buffer) error {
	if !aligned(a.ptr) || !aligned(b.ptr) {
		return fmt.Errorf("cuda: Conv2D.%s: activation buffers must start on a 16-byte boundary (not a view at an odd offset)", op)
	}
	return nil
}

func (c *conv) close() {
	dn := c.d.dnn
	for _, e := range c.per {
		dn.destroyTensor(e.x)
		dn.destroyTensor(e.y)
	}
	c.per = nil
	for i, cd := range c.cDesc {
		if cd != 0 {
			dn.destroyConv(cd)
			c.cDesc[i] = 0
		}
	}
	if c.wDesc != 0 {
		dn.destroyFilter(c.wDesc)
		c.wDesc = 0
	}
	if c.ws != 0 {
		c.d.cu.cuMemFree(c.ws)
		c.ws = 0
	}
	if c.wAl != 0 {
		c.d.cu.cuMemFree(c.wAl)
		c.wAl = 0
	}
}
