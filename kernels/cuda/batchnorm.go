package cuda

import (
	"fmt"
	"unsafe"

	"mnistgpu/kernels"
)

// bnChunk is about how many values of a channel one block reduces.
const bnChunk = 4096

// batchNorm is spatial batch normalisation over ch channels of spatial
// values, as the kernels of batchnorm.cu (the default) or as cuDNN's
// CUDNN_BATCHNORM_SPATIAL (Options.CuDNNBatchNorm). Scratch memory and
// descriptors are made at plan time.
type batchNorm struct {
	d             *Device
	ch, spatial   int
	maxN          int
	eps, momentum float32
	pmax          int    // most partial blocks per channel
	part          uint64 // 2*ch*pmax doubles of partial sums
	coef          uint64 // 2*ch floats for the backward

	cudnn bool
	bnd   uintptr // cuDNN: 1×C×1×1 scale/bias/mean/var descriptor
	per   []bnN   // cuDNN: x descriptor per batch size
}

type bnN struct {
	n int
	x uintptr
}

// NewBatchNorm plans batch normalisation of [n, ch, spatial] for n up to maxN.
func (d *Device) NewBatchNorm(ch, spatial, maxN int, eps, momentum float32) (kernels.BatchNorm, error) {
	if err := kernels.CheckBatchNormShape(ch, spatial, maxN, eps); err != nil {
		return nil, fmt.Errorf("cuda: %w", err)
	}
	if err := d.enter(); err != nil {
		return nil, err
	}
	defer d.leave()
	b := &batchNorm{d: d, ch: ch, spatial: spatial, maxN: maxN, eps: eps, momentum: momentum, cudnn: d.opts.CuDNNBatchNorm}
	b.pmax = max(1, min(ceilDiv(maxN*spatial, bnChunk), 1024))
	var err error
	if b.part, err = d.devAlloc("batch norm scratch", 2*ch*b.pmax*8); err != nil {
		return nil, err
	}
	if b.coef, err = d.devAlloc("batch norm scratch", 2*ch*4); err != nil {
		b.close()
		return nil, err
	}
	if b.cudnn {
		if err := b.initCudnn(); err != nil {
			b.close()
			return nil, fmt.Errorf("cuda: NewBatchNorm: %w", err)
		}
	}
	d.plans = append(d.plans, b)
	return b, nil
}

// partials is the number of blocks per channel for batch n.
func (b *batchNorm) partials(n int) int {
	return max(1, min(ceilDiv(n*b.spatial, bnChunk), b.pmax))
}

// ForwardTrain normalises x with the batch statistics (three kernels:
// partial sums, per-channel finalisation with the running averages, the
// affine map).
func (b *batchNorm) ForwardTrain(n int, x, gamma, beta, runMean, runVar, y, saveMean, saveInvStd kernels.Buffer) error {
	const op = "BatchNorm.ForwardTrain"
	if err := kernels.CheckBatchNormTrain(b.ch, b.spatial, b.maxN, n, x, gamma, beta, runMean, runVar, y, saveMean, saveInvStd); err != nil {
		return fmt.Errorf("cuda: %w", err)
	}
	d := b.d
	count := n * b.ch * b.spatial
	xb, err := d.f32(op, "x", x, count)
	if err != nil {
		return err
	}
	yb, err := d.f32(op, "y", y, count)
	if err != nil {
		return err
	}
	var ch [6]*buffer
	for i, p := range []struct {
		name string
		b    kernels.Buffer
	}{{"gamma", gamma}, {"beta", beta}, {"runMean", runMean}, {"runVar", runVar}, {"saveMean", saveMean}, {"saveInvStd", saveInvStd}} {
		if ch[i], err = d.f32(op, p.name, p.b, b.ch); err != nil {
			return err
		}
	}
	g, be, rm, rv, sm, si := ch[0], ch[1], ch[2], ch[3], ch[4], ch[5]
	if err := d.enter(); err != nil {
		return err
	}
	defer d.leave()
	if b.cudnn {
		return b.cudnnTrain(n, xb, g, be, rm, rv, yb, sm, si)
	}
	P := b.partials(n)
	if err := d.launch(kBNPartialStats, b.ch*P, argPtr(xb), b.part, argInt(n), argInt(b.ch), argInt(b.spatial), argInt(P)); err != nil {
		return err
	}
	if err := d.launch(kBNFinalizeStats, ceilDiv(b.ch, blockSize), b.part, argPtr(sm), argPtr(si), argPtr(rm), argPtr(rv),
		argInt(n), argInt(b.ch), argInt(b.spatial), argInt(P), argF32(b.eps), argF32(b.momentum)); err != nil {
		return err
	}
	return d.launch(kBNApply, d.grid(count), argPtr(xb), argPtr(yb), argPtr(sm), argPtr(si), argPtr(g), argPtr(be),
		argInt(n), argInt(b.ch), argInt(b.spatial))
}

// ForwardInfer normalises x with the running averages.
func (b *batchNorm) ForwardInfer(n int, x, gamma, beta, runMean, runVar, y kernels.Buffer) error {
	const op = "BatchNorm.ForwardInfer"
	if err := kernels.CheckBatchNormInfer(b.ch, b.spatial, b.maxN, n, x, gamma, beta, runMean, runVar, y); err != nil {
		return fmt.Errorf("cuda: %w", err)
	}
	d := b.d
	count := n * b.ch * b.spatial
	xb, err := d.f32(op, "x", x, count)
	if err != nil {
		return err
	}
	yb, err := d.f32(op, "y", y, count)
	if err != nil {
		return err
	}
	var ch [4]*buffer
	for i, p := range []struct {
		name string
		b    kernels.Buffer
	}{{"gamma", gamma}, {"beta", beta}, {"runMean", runMean}, {"runVar", runVar}} {
		if ch[i], err = d.f32(op, p.name, p.b, b.ch); err != nil {
			return err
		}
	}
	if err := d.enter(); err != nil {
		return err
	}
	defer d.leave()
	if b.cudnn {
		return b.cudnnInfer(n, xb, ch[0], ch[1], ch[2], ch[3], yb)
	}
	return d.launch(kBNInfer, d.grid(count), argPtr(xb), argPtr(yb), argPtr(ch[2]), argPtr(ch[3]), argPtr(ch[0]), argPtr(ch[1]),
		argInt(n), argInt(b.ch), argInt(b.spatial), argF32(b.eps))
}

// Backward computes dx, dgamma and dbeta from the saved statistics.
func (b *batchNorm) Backward(n int, x, dy, gamma, saveMean, saveInvStd, dx, dgamma, dbeta kernels.Buffer) error {
	const op = "BatchNorm.Backward"
	if err := kernels.CheckBatchNormBackward(b.ch, b.spatial, b.maxN, n, x, dy, gamma, saveMean, saveInvStd, dx, dgamma, dbeta); err != nil {
		return fmt.Errorf("cuda: %w", err)
	}
	d := b.d
	count := n * b.ch * b.spatial
	var big [3]*buffer
	var err error
	for i, p := range []struct {
		name string
		b    kernels.Buffer
	}{{"x", x}, {"dy", dy}, {"dx", dx}} {
		if big[i], err = d.f32(op, p.name, p.b, count); err != nil {
			return err
		}
	}
	var ch [5]*buffer
	for i, p := range []struct {
		name string
		b    kernels.Buffer
	}{{"gamma", gamma}, {"saveMean", saveMean}, {"saveInvStd", saveInvStd}, {"dgamma", dgamma}, {"dbeta", dbeta}} {
		if ch[i], err = d.f32(op, p.name, p.b, b.ch); err != nil {
			return err
		}
	}
	xb, dyb, dxb := big[0], big[1], big[2]
	g, sm, si, dg, db := ch[0], ch[1], ch[2], ch[3], ch[4]
	if err := d.enter(); err != nil {
		return err
	}
	defer d.leave()
	if b.cudnn {
		return b.cudnnBackward(n, xb, dyb, g, sm, si, dxb, dg, db)
	}
	P := b.partials(n)
	if err := d.launch(kBNPartialGrad, b.ch*P, argPtr(xb), argPtr(dyb), argPtr(sm), b.part,
		argInt(n), argInt(b.ch), argInt(b.spatial), argInt(P)); err != nil {
		return err
	}
	if err := d.launch(kBNFinalizeGrad, ceilDiv(b.ch, blockSize), b.part, argPtr(si), argPtr(dg), argPtr(db), b.coef,
		argInt(n), argInt(b.ch), argInt(b.spatial), argInt(P)); err != nil {
		return err
	}
	return d.launch(kBNDx, d.grid(count), argPtr(xb), argPtr(dyb), argPtr(dxb), argPtr(sm), argPtr(si), argPtr(g), b.coef,
		argInt(n), argInt(b.ch), argInt(b.spatial))
}

func (b *batchNorm) close() {
	d := b.d
	if b.part != 0 {
		d.cu.cuMemFree(b.part)
		b.part = 0
	}
	if b.coef != 0 {
		d.cu.cuMemFree(b.coef)
		b.coef = 0
	}
	for _, e := range b.per {
		d.dnn.destroyTensor(e.x)
	}
	b.per = nil
	if b.bnd != 0 {
		d.dnn.destroyTensor(b.bnd)
		b.bnd = 0
	}
}

// The cuDNN path. Its x descriptor is [n, ch, spatial, 1] NCHW; the
// statistics descriptor is derived from it (1×C×1×1). cuDNN updates the
// running variance with the unbiased batch variance (var·M/(M-1); PyTorch
// hands its running_var to cuDNN unchanged, and NVIDIA's forum thread 45063
// observes the same) and its saved "inverse variance" is 1/sqrt(var + eps)
// (PyTorch uses it as save_invstd): the contract of the kernels.
// TestGPUBatchNormCuDNN checks both against the CPU device on the GPU.
// These entry points take double arguments, so they go through purego's
// reflection-based call, which allocates a little on every call.

func (b *batchNorm) initCudnn() error {
	dn := b.d.dnn
	x, err := dn.tensor4d(b.maxN, b.ch, b.spatial, 1)
	if err != nil {
		return err
	}
	b.per = append(b.per, bnN{b.maxN, x})
	if err := dn.err("cudnnCreateTensorDescriptor", dn.createTensor(&b.bnd)); err != nil {
		return err
	}
	return dn.err("cudnnDeriveBNTensorDescriptor", dn.deriveBN(b.bnd, x, cudnnBatchNormSpatial))
}

func (b *batchNorm) xDesc(n int) (uintptr, error) {
	for _, e := range b.per {
		if e.n == n {
			return e.x, nil
		}
	}
	x, err := b.d.dnn.tensor4d(n, b.ch, b.spatial, 1)
	if err != nil {
		return 0, err
	}
	b.per = append(b.per, bnN{n, x})
	return x, nil
}

func (b *batchNorm) cudnnTrain(n int, x, gamma, beta, rm, rv, y, sm, si *buffer) error {
	d := b.d
	xd, err := b.xDesc(n)
	if err != nil {
		return err
	}
	one, zero := unsafe.Pointer(&d.scal[0]), unsafe.Pointer(&d.scal[1])
	d.launches++
	st := d.dnn.bnFwdTrain(d.dnnH, cudnnBatchNormSpatial, one, zero, xd, x.ptr, xd, y.ptr,
		b.bnd, gamma.ptr, beta.ptr, float64(b.momentum), rm.ptr, rv.ptr, float64(b.eps), sm.ptr, si.ptr)
	return d.dnn.err("cudnnBatchNormalizationForwardTraining", st)
}

func (b *batchNorm) cudnnInfer(n int, x, gamma, beta, rm, rv, y *buffer) error {
	d := b.d
	xd, err := b.xDesc(n)
	if err != nil {
		return err
	}
	one, zero := unsafe.Pointer(&d.scal[0]), unsafe.Pointer(&d.scal[1])
	d.launches++
	st := d.dnn.bnFwdInfer(d.dnnH, cudnnBatchNormSpatial, one, zero, xd, x.ptr, xd, y.ptr,
		b.bnd, gamma.ptr, beta.ptr, rm.ptr, rv.ptr, float64(b.eps))
	return d.dnn.err("cudnnBatchNormalizationForwardInference", st)
}

func (b *batchNorm) cudnnBackward(n int, x, dy, gamma, sm, si, dx, dg, db *buffer) error {
	d := b.d
	xd, err := b.xDesc(n)
	if err != nil {
		return err
	}
	one, zero := unsafe.Pointer(&d.scal[0]), unsafe.Pointer(&d.scal[1])
	d.launches++
	st := d.dnn.bnBwd(d.dnnH, cudnnBatchNormSpatial, one, zero, one, zero, xd, x.ptr, xd, dy.ptr, xd, dx.ptr,
		b.bnd, gamma.ptr, dg.ptr, db.ptr, float64(b.eps), sm.ptr, si.ptr)
	return d.dnn.err("cudnnBatchNormalizationBackward", st)
}
