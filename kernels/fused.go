package kernels

// Step-state layout: a training step that is recorded once and replayed
// (a CUDA graph) cannot take what changes from step to step as host
// arguments, so those values live in a small I32 device buffer, the step
// counter, that the ops below read and the optimizer ops advance on the
// device.
const (
	// CtrOffset is the index of the batch's offset into the permutation.
	CtrOffset = 0
	// CtrStep is the index of the number of optimizer steps taken so far
	// (the 0-based number of the current step).
	CtrStep = 1
	// CtrDone is scratch of the device's optimizer ops (blocks finished);
	// it is 0 between ops.
	CtrDone = 2
	// CtrLen is the length of a step counter buffer.
	CtrLen = 3
)

// StepOps are the ops of a fused training step: ops whose per-step values
// (the batch's offset into the permutation, the step number) are read
// from a step counter ctr, an I32 buffer of CtrLen elements, instead of
// being passed from the host, so that one recording of the step serves
// every step; and fused ops that each do the work of several layer ops in
// fewer launches. Every Device implements them (the CPU device composes
// its separate ops, which gives the same bits as the layers run one by
// one); the fused ops may leave intermediate outputs that nothing reads in
// training unwritten, as their doc comments say.
type StepOps interface {
	// GatherBatch is GatherImages and GatherLabels for the n samples that
	// perm lists from offset ctr[CtrOffset] on: images gets the normalised
	// pixels and batchLabels the int32 labels.
	GatherBatch(n, d int, data, labels, perm, ctr, images, batchLabels Buffer, mean, std float32) error
	// DropoutForwardAt is DropoutForward with the generator's step
	// uint64(ctr[CtrStep])<<8 | sub (sub < 256 tells apart the dropout
	// layers of one network).
	DropoutForwardAt(count int, p float32, seed, sub uint64, ctr, x, mask, y Buffer) error
	// SGDAt is SGD, after which the counter moves to the next step: n
	// (the batch size) is added to ctr[CtrOffset] and 1 to ctr[CtrStep].
	SGDAt(count int, lr, momentum, wd float32, n int, ctr, params, grads, vel Buffer) error
	// AdamAt is Adam with step = ctr[CtrStep] + 1, after which the counter
	// moves to the next step as with SGDAt.
	AdamAt(count int, lr, beta1, beta2, eps, wd float32, n int, ctr, params, grads, m, v Buffer) error
	// DenseForward is a dense layer with its activation and, when mask is
	// not nil, its dropout, in one op: a = act(x·Wᵀ + b) for x [n, in],
	// w [out, in], b [out], a [n, out]; then, when mask is not nil, mask
	// and y as DropoutForwardAt(n·out, p, seed, sub, ctr, a, mask, y).
	// ctr may be nil when mask is.
	DenseForward(n, in, out int, act Activation, p float32, seed, sub uint64, ctr, x, w, b, a, mask, y Buffer) error
	// DenseForwardGather is GatherBatch (into x and batchLabels) followed
	// by DenseForward on x, in one op: the first layer of a network that
	// reads the data set directly.
	DenseForwardGather(n, in, out int, data, labels, perm, ctr Buffer, mean, std float32, x, batchLabels Buffer,
		act Activation, p float32, seed, sub uint64, w, b, a, mask, y Buffer) error
	// DenseBackward is a dense layer's backward in one op, given dy [n, out]
	// the gradient of its output x·Wᵀ + b and x [n, in] its input:
	// dw = dyᵀ·x, db = Σ_rows dy and, when dx is not nil, the gradient
	// through the previous layer's dropout and activation:
	// dx = ActBackward(act, a, (dy·W)·mask), where a nil mask is 1 and a nil
	// a (or Identity) passes the gradient through.
	DenseBackward(n, in, out int, dy, x, w, dw, db Buffer, act Activation, a, mask, dx Buffer) error
	// DenseLoss is a network's last dense layer (no activation, no
	// dropout), the loss and that layer's backward in one op:
	// logits = x·Wᵀ + b for x [n, in], w [out, in], b [out]; then
	// LossForward(loss, n, out, logits, labels, dlogits, lossSum, correct);
	// then DenseBackward(n, in, out, dlogits, x, w, dw, db, act, a, mask,
	// dx).
	DenseLoss(loss Loss, n, in, out int, x, w, b, logits, labels, dlogits, lossSum, correct, dw, db Buffer,
		act Activation, a, mask, dx Buffer) error
	// ActPoolForward is ActForward and pool's Forward in one op: y =
	// act(x) over the pool's input [n, ch, h, w], pooled = maxpool(y).
	// pool is a plan of this device.
	ActPoolForward(act Activation, pool MaxPool, n int, x, y, pooled Buffer) error
	// BNActPoolForward is bn's ForwardTrain and then ActPoolForward on its
	// output, with as few launches as the device can: bnY, the batch
	// norm's output, may be left unwritten (in training nothing reads it:
	// the batch norm's backward reads x, the activation's actY).
	BNActPoolForward(bn BatchNorm, act Activation, pool MaxPool, n int, x, gamma, beta, runMean, runVar, saveMean, saveInvStd,
		bnY, actY, pooled Buffer) error
	// PoolActBackward is pool's Backward and ActBackward in one op: the
	// pooled gradient dpooled routed to the arg-max of each window of y (the
	// activation's output), times act'(y), into dx.
	PoolActBackward(act Activation, pool MaxPool, n int, y, dpooled, dx Buffer) error
	// ConvBiasForward is conv's Forward and AddBias in one op:
	// y = conv(x, w) + b for the shape s conv was planned for.
	ConvBiasForward(s ConvShape, conv Conv2D, n int, x, w, b, y Buffer) error
	// ConvBiasBackward is BiasGrad, conv's BackwardFilter and, when dx is
	// not nil, its BackwardData, in one op.
	ConvBiasBackward(s ConvShape, conv Conv2D, n int, x, dy, w, dw, db, dx Buffer) error
	// ConvBNActPoolForward is ConvBiasForward (into convY) and then
	// BNActPoolForward on convY: a whole conv block's forward.
	ConvBNActPoolForward(s ConvShape, conv Conv2D, bn BatchNorm, act Activation, pool MaxPool, n int, x, w, b, convY, gamma, beta,
		runMean, runVar, saveMean, saveInvStd, bnY, actY, pooled Buffer) error
	// ConvBNActPoolForwardGather is GatherBatch (into x and batchLabels)
	// and then ConvBNActPoolForward on x: the first conv block of a network
	// that reads the data set directly.
	ConvBNActPoolForwardGather(data, labels, perm, ctr Buffer, mean, std float32, batchLabels Buffer,
		s ConvShape, conv Conv2D, bn BatchNorm, act Activation, pool MaxPool, n int, x, w, b, convY, gamma, beta,
		runMean, runVar, saveMean, saveInvStd, bnY, actY, pooled Buffer) error
	// PoolActBNBackward is PoolActBackward (into g, the gradient of the
	// batch norm's output, [n, ch, h, w]) and then bn's Backward with it:
	// x is the batch norm's input, dx its gradient.
	PoolActBNBackward(bn BatchNorm, act Activation, pool MaxPool, n int, actY, dpooled, g, x, gamma, saveMean, saveInvStd,
		dx, dgamma, dbeta Buffer) error
	// PoolActBNConvBackward is a conv block's backward in one op:
	// PoolActBNBackward (g the batch norm's output gradient, dconv its input
	// gradient, the gradient of the convolution's output convY) and then
	// ConvBiasBackward(s, conv, n, x, dconv, w, dw, db, dx) for the
	// convolution before the batch norm. dconv may be left unwritten (in
	// training nothing else reads it).
	PoolActBNConvBackward(bn BatchNorm, act Activation, pool MaxPool, n int, actY, dpooled, g, convY, gamma, saveMean, saveInvStd,
		dconv, dgamma, dbeta Buffer, s ConvShape, conv Conv2D, x, w, dw, db, dx Buffer) error
	// SetCounter writes offset and step into ctr, on the device's queue (no
	// host copy), e.g. at the start of an epoch.
	SetCounter(ctr Buffer, offset, step int) error
}

// Graph is a recorded sequence of device work that can be replayed.
type Graph interface {
	// Launch queues one replay of the recorded work.
	Launch() error
	// Kernels is the number of kernels (library calls included) one
	// replay runs.
	Kernels() int
	// Close releases the graph.
	Close()
}

// Grapher is implemented by devices that can record work instead of
// running it (CUDA stream capture) and replay the recording.
type Grapher interface {
	// Capture records the device work fn issues, without running it, into
	// a graph. Work fn issues must not copy to or from the host or wait
	// for the device.
	Capture(fn func() error) (Graph, error)
}

// LaunchCounter is implemented by devices that count the kernels and
// library calls they issue, so a training step's launches can be counted.
type LaunchCounter interface {
	// Launches is the number of kernels and library calls issued so far
	// (a replayed graph counts as one launch).
	Launches() int64
}
