package model

import (
	"fmt"

	"mnistgpu/dataset"
	"mnistgpu/kernels"
)

// Paths a training step can take, as Trainer.Path reports them. Layers
// are fused into blocks on every path (see fusePlan).
const (
	// PathGraph replays one captured graph per full batch (CUDA graphs).
	PathGraph = "fused+graph"
	// PathFused issues every op of the step from the host.
	PathFused = "fused"
)

// stepState is what a Trainer keeps for its steps: the step counter on the
// device (kernels.StepOps), its host mirror, and the step captured as a
// graph for the full batch.
type stepState struct {
	ctr  kernels.Buffer // [kernels.CtrLen] int32 on the device
	mem  arena
	plan plan // the network's layers, fused into blocks (fusePlan)

	// next is the permutation view the counter points at: a step on
	// another view (a new epoch, or a caller's own order) first resets it.
	nextView int
	nextPerm kernels.Buffer

	graph    kernels.Graph
	graphFor *Resident // the set the graph's buffers belong to
	tried    bool      // capture attempted for graphFor
	why      string    // why the step is not replayed from a graph

	// kernels is the launches of the last step (the graph's node count on
	// the graph path); steps and hostCalls count steps and host launches.
	kernels          int
	steps, hostCalls int64
}

// issueStep issues one training step of n samples, reading the batch's
// offset and the step number from the device counter: the list of calls
// that is also what a captured graph replays.
func (t *Trainer) issueStep(r *Resident, n int) error {
	dev, net, ctr := t.dev, t.net, t.st.ctr
	if !t.st.plan.gathers() {
		if err := dev.GatherBatch(n, r.D, r.X, r.Y, r.perm, ctr, net.Input(), t.labels, dataset.Mean, dataset.Std); err != nil {
			return fmt.Errorf("gather batch: %w", err)
		}
	}
	if err := t.st.plan.forward(n, r, t.labels); err != nil {
		return err
	}
	if ds := t.st.plan.lossStage(); ds != nil {
		l := ds.lin
		if err := dev.DenseLoss(t.loss, n, l.in, l.out, l.nd.x, l.w.W, l.b.W, l.nd.y, t.labels, l.nd.dy, t.lossSum, t.correct,
			l.w.G, l.b.G, ds.prevAct, ds.prevA, ds.prevMask, ds.dx); err != nil {
			return fmt.Errorf("%s forward, loss and backward: %w", l.nd.name, err)
		}
	} else if err := dev.LossForward(t.loss, n, net.Classes(), net.Logits(), t.labels, net.DLogits(), t.lossSum, t.correct); err != nil {
		return fmt.Errorf("loss: %w", err)
	}
	if err := t.st.plan.backward(n); err != nil {
		return err
	}
	if err := t.opt.stepAt(n, ctr); err != nil {
		return fmt.Errorf("optimizer: %w", err)
	}
	return nil
}

// launchStep replays the captured step.
func (t *Trainer) launchStep(g kernels.Graph) error {
	t.st.hostCalls++
	if err := g.Launch(); err != nil {
		return fmt.Errorf("training step graph: %w", err)
	}
	return nil
}

// issueDirect issues the step op by op, counting its launches when the
// device counts them.
func (t *Trainer) issueDirect(r *Resident, n int) error {
	lc, ok := t.dev.(kernels.LaunchCounter)
	var before int64
	if ok {
		before = lc.Launches()
	}
	if err := t.issueStep(r, n); err != nil {
		return err
	}
	if ok {
		k := lc.Launches() - before
		t.st.hostCalls += k
		if n == t.net.MaxBatch() {
			t.st.kernels = int(k)
		}
	}
	return nil
}

// stepAt updates the parameters with the step number read from the device
// counter ctr (Adam's bias correction), which it then advances past the
// batch of n.
func (o *optimizer) stepAt(n int, ctr kernels.Buffer) error {
	if o.kind == OptAdam {
		return o.dev.AdamAt(o.count, o.lr, o.beta1, o.beta2, o.eps, o.wd, n, ctr, o.params, o.grads, o.m1, o.m2)
	}
	return o.dev.SGDAt(o.count, o.lr, o.momentum, o.wd, n, ctr, o.params, o.grads, o.vel)
}

// startStep makes the counter point at idx (a batch view of r's
// permutation) and returns the batch size. The counter is set from the
// host (SetCounter, a queued op) only when the steps leave the order of
// the views, at the start of an epoch; otherwise the previous step has
// advanced it on the device.
func (t *Trainer) startStep(r *Resident, idx kernels.Buffer) (int, error) {
	s := &t.st
	if s.ctr == nil {
		s.mem.dev = t.dev
		s.ctr = s.mem.alloc(kernels.I32, kernels.CtrLen)
		if s.mem.err != nil {
			return 0, fmt.Errorf("step counter: %w", s.mem.err)
		}
		t.net.ctr = s.ctr
		s.plan = fusePlan(t.net)
	}
	views := t.batchViews(r.perm, r.N)
	i := s.nextView
	if s.nextPerm != r.perm || i >= len(views) || views[i] != idx {
		i = -1
		for j, v := range views {
			if v == idx {
				i = j
				break
			}
		}
		if i < 0 {
			return 0, fmt.Errorf("training step: the batch is not a view of the training order")
		}
		if err := t.dev.SetCounter(s.ctr, i*t.net.MaxBatch(), t.opt.t); err != nil {
			return 0, fmt.Errorf("step counter: %w", err)
		}
		s.hostCalls++
	}
	s.nextView, s.nextPerm = i+1, r.perm
	t.net.step = uint64(t.opt.t)
	return idx.Len(), nil
}

// resyncCounter makes the next step set the device counter from the host
// mirror (the optimizer's step count) before it runs: what a change of the
// step count from the host (a resumed run's SetSteps) must call.
func (t *Trainer) resyncCounter() { t.st.nextPerm = nil }

// endStep advances the host mirror of the counter.
func (t *Trainer) endStep() {
	t.opt.t++
	t.st.steps++
}

// stepGraph returns the captured step for a full batch of r, capturing it
// the first time, or nil when the step is to be issued op by op: a partial
// batch, a device without graphs (the CPU), or a failed capture (the
// reason is kept for Path).
func (t *Trainer) stepGraph(r *Resident, n int) kernels.Graph {
	s := &t.st
	if n != t.net.MaxBatch() {
		return nil
	}
	if s.graphFor != r {
		if s.graph != nil {
			s.graph.Close()
			s.graph = nil
		}
		s.graphFor, s.tried = r, false
	}
	if s.graph != nil || s.tried {
		return s.graph
	}
	s.tried = true
	gr, ok := t.dev.(kernels.Grapher)
	if !ok {
		s.why = t.dev.Name() + " does not capture graphs"
		return nil
	}
	g, err := gr.Capture(func() error { return t.issueStep(r, n) })
	if err != nil {
		s.why = err.Error()
		return nil
	}
	s.graph, s.why = g, ""
	return g
}

// Path is the way full-batch training steps run: PathGraph or PathFused,
// with the reason when a graph was wanted but could not be used.
func (t *Trainer) Path() (path, why string) {
	if t.st.graph != nil {
		return PathGraph, ""
	}
	return PathFused, t.st.why
}

// KernelsPerStep is the number of kernels (library calls, memsets and
// copies included) a full-batch training step runs on a device that counts
// them: the captured graph's nodes, or the launches of one step issued op
// by op (measured by running one). It is 0 when the device does not count.
func (t *Trainer) KernelsPerStep() int {
	if t.st.graph != nil {
		return t.st.graph.Kernels()
	}
	return t.st.kernels
}

// HostCallsPerStep is the number of launches the host made per training
// step so far (graph launches, ops issued one by one, counter resets),
// averaged over the steps; 0 on a device that does not count launches and
// replays no graph.
func (t *Trainer) HostCallsPerStep() float64 {
	if t.st.steps == 0 {
		return 0
	}
	return float64(t.st.hostCalls) / float64(t.st.steps)
}

func (s *stepState) close(t *Trainer) {
	if s.graph != nil {
		s.graph.Close()
		s.graph = nil
	}
	if t.net != nil && t.net.ctr == s.ctr {
		t.net.ctr = nil
	}
	s.mem.free()
	s.ctr, s.graphFor, s.nextPerm = nil, nil, nil
}

// stage is one step of a training step's forward and backward: a node of
// the network run by its own layer, or a block of nodes run by fused ops:
// a dense block (linear, then its activation and dropout when they follow:
// DenseForward, DenseBackward), a convolution with its bias
// (ConvBiasForward, ConvBiasBackward), or [batch norm,] activation and
// max-pool (BNActPoolForward or ConvBNActPoolForward with the convolution
// before it, ActPoolForward; PoolActBNBackward, PoolActBackward).
type stage struct {
	nd      *node // an unfused node (the others nil)
	dense   *denseStage
	actPool *actPoolStage
	conv    *conv // a convolution and its bias: ConvBiasForward, ConvBiasBackward
	// convInNext says the next stage (batch norm, activation, pool) runs
	// this convolution's forward (ConvBNActPoolForward), convBackInNext its
	// backward too (PoolActBNConvBackward).
	convInNext, convBackInNext bool
}

// actPoolStage is an activation and the max-pool right after it, run by
// ActPoolForward and PoolActBackward, or, with the batch norm before them,
// by BNActPoolForward and PoolActBackward and the batch norm's backward.
type actPoolStage struct {
	conv                      *conv      // the convolution before the batch norm, when its forward is fused here
	bn                        *batchNorm // nil if none
	act                       *activation
	pool                      *maxPool
	bnNode, actNode, poolNode *node
	net                       *Network
	// gather says conv is the network's first layer and the stage reads
	// the batch from the data set itself (ConvBNActPoolForwardGather).
	gather bool
	// convBack says the stage's backward runs conv's too
	// (PoolActBNConvBackward).
	convBack bool
}

// denseStage is a fused dense block of nodes [first, last].
type denseStage struct {
	net     *Network
	lin     *linear
	act     kernels.Activation
	actNode *node    // the activation node, nil if none
	drop    *dropout // the dropout node (p > 0), nil if none
	// a is the activation's output (the linear's when there is none).
	a kernels.Buffer
	// gather says the block is the network's first and reads the batch
	// from the data set itself (DenseForwardGather).
	gather bool
	// loss says the block is the network's last, a linear alone whose
	// output is the logits: its forward, the loss and its backward run in
	// one op (DenseLoss), between the other stages' forwards and backwards.
	loss bool
	// gradIn says the next stage's DenseBackward writes this block's
	// linear-output gradient through its dropout and activation, so their
	// own backward is skipped.
	gradIn bool
	// dx, act and mask of DenseBackward: the previous block's
	// linear-output gradient when it is a dense block, else this linear's
	// own input gradient (nil for the first layer).
	dx, prevA, prevMask kernels.Buffer
	prevAct             kernels.Activation
}

// fusePlan groups net's nodes into stages: each linear with the activation
// and the dropout (p > 0) right after it becomes one dense block, each
// convolution a stage of its own, an activation with the max-pool after it
// (and the batch norm before it) one stage, whose forward also runs the
// convolution before the batch norm. The first dense or conv block
// gathers the batch itself. Every other node runs alone.
func fusePlan(net *Network) plan {
	var plan plan
	nodes := net.nodes
	for i := 0; i < len(nodes); i++ {
		if c, ok := nodes[i].l.(*conv); ok {
			plan = append(plan, stage{conv: c})
			continue
		}
		if bn, ok := nodes[i].l.(*batchNorm); ok && i+2 < len(nodes) && nodes[i+1].dx != nil {
			a, okA := nodes[i+1].l.(*activation)
			mp, okP := nodes[i+2].l.(*maxPool)
			if okA && okP {
				plan = append(plan, stage{actPool: &actPoolStage{bn: bn, act: a, pool: mp, bnNode: nodes[i], actNode: nodes[i+1], poolNode: nodes[i+2]}})
				i += 2
				continue
			}
		}
		if a, ok := nodes[i].l.(*activation); ok && i+1 < len(nodes) && nodes[i].dx != nil {
			if mp, ok := nodes[i+1].l.(*maxPool); ok {
				plan = append(plan, stage{actPool: &actPoolStage{act: a, pool: mp, actNode: nodes[i], poolNode: nodes[i+1]}})
				i++
				continue
			}
		}
		lin, ok := nodes[i].l.(*linear)
		if !ok {
			plan = append(plan, stage{nd: nodes[i]})
			continue
		}
		ds := &denseStage{net: net, lin: lin, act: kernels.Identity, a: lin.nd.y}
		if i+1 < len(nodes) {
			if a, ok := nodes[i+1].l.(*activation); ok {
				ds.act, ds.actNode, ds.a = a.act, nodes[i+1], nodes[i+1].y
				i++
			}
		}
		if i+1 < len(nodes) {
			if d, ok := nodes[i+1].l.(*dropout); ok && d.p > 0 {
				ds.drop = d
				i++
			}
		}
		plan = append(plan, stage{dense: ds})
	}
	for k := range plan {
		if c := plan[k].conv; c != nil && k+1 < len(plan) {
			if ap := plan[k+1].actPool; ap != nil && ap.bn != nil && ap.bnNode.x == c.nd.y {
				ap.conv, plan[k].convInNext = c, true
				ap.gather, ap.net = k == 0 && c.nd.x == net.input, net
				if ap.bnNode.dx != nil && ap.bnNode.dx == c.nd.dy {
					ap.convBack, plan[k].convBackInNext = true, true
				}
			}
		}
	}
	for k, st := range plan {
		ds := st.dense
		if ds == nil {
			continue
		}
		ds.gather = k == 0 && ds.lin.nd.x == net.input
		ds.loss = k == len(plan)-1 && !ds.gather && ds.actNode == nil && ds.drop == nil &&
			ds.lin.nd.y == net.Logits() && ds.lin.nd.dy == net.dlogits
		ds.dx, ds.prevAct = ds.lin.nd.dx, kernels.Identity
		if k == 0 || ds.dx == nil {
			continue
		}
		if p := plan[k-1].dense; p != nil {
			p.gradIn = true
			ds.dx, ds.prevAct = p.lin.nd.dy, p.act
			if p.actNode != nil {
				ds.prevA = p.a
			}
			if p.drop != nil {
				ds.prevMask = p.drop.mask
			}
		}
	}
	return plan
}

// plan is a training step's stages in order.
type plan []stage

// lossStage returns the last stage when DenseLoss runs it with the loss,
// else nil.
func (p plan) lossStage() *denseStage {
	if len(p) > 0 && p[len(p)-1].dense != nil && p[len(p)-1].dense.loss {
		return p[len(p)-1].dense
	}
	return nil
}

// gathers says the first stage gathers the batch itself.
func (p plan) gathers() bool {
	switch {
	case len(p) > 0 && p[0].dense != nil:
		return p[0].dense.gather
	case len(p) > 1 && p[0].convInNext:
		return p[1].actPool.gather
	}
	return false
}

// forward runs the stages' forwards in training mode on n samples (the
// first dense block reading them from r into the network's input and
// their labels into labels).
func (p plan) forward(n int, r *Resident, labels kernels.Buffer) error {
	for _, st := range p {
		if st.nd != nil {
			if err := st.nd.l.forward(n, true); err != nil {
				return fmt.Errorf("%s forward: %w", st.nd.name, err)
			}
			continue
		}
		if c := st.conv; c != nil {
			if st.convInNext {
				continue
			}
			if err := c.dev.ConvBiasForward(c.s, c.plan, n, c.nd.x, c.w.W, c.b.W, c.nd.y); err != nil {
				return fmt.Errorf("%s forward: %w", c.nd.name, err)
			}
			continue
		}
		if ap := st.actPool; ap != nil {
			dev := ap.act.dev
			var err error
			if bn, c := ap.bn, ap.conv; c != nil && ap.gather {
				err = dev.ConvBNActPoolForwardGather(r.X, r.Y, r.perm, ap.net.ctr, dataset.Mean, dataset.Std, labels,
					c.s, c.plan, bn.plan, ap.act.act, ap.pool.plan, n, c.nd.x, c.w.W, c.b.W, c.nd.y,
					bn.gamma.W, bn.beta.W, bn.runMean.Buf, bn.runVar.Buf, bn.saveMean, bn.saveInvStd, ap.bnNode.y, ap.actNode.y, ap.poolNode.y)
			} else if c != nil {
				err = dev.ConvBNActPoolForward(c.s, c.plan, bn.plan, ap.act.act, ap.pool.plan, n, c.nd.x, c.w.W, c.b.W, c.nd.y,
					bn.gamma.W, bn.beta.W, bn.runMean.Buf, bn.runVar.Buf, bn.saveMean, bn.saveInvStd, ap.bnNode.y, ap.actNode.y, ap.poolNode.y)
			} else if bn != nil {
				err = dev.BNActPoolForward(bn.plan, ap.act.act, ap.pool.plan, n, ap.bnNode.x, bn.gamma.W, bn.beta.W, bn.runMean.Buf, bn.runVar.Buf,
					bn.saveMean, bn.saveInvStd, ap.bnNode.y, ap.actNode.y, ap.poolNode.y)
			} else {
				err = dev.ActPoolForward(ap.act.act, ap.pool.plan, n, ap.actNode.x, ap.actNode.y, ap.poolNode.y)
			}
			if err != nil {
				return fmt.Errorf("%s+%s forward: %w", ap.actNode.name, ap.poolNode.name, err)
			}
			continue
		}
		ds := st.dense
		if ds.loss {
			continue // DenseLoss
		}
		l := ds.lin
		var mask, y kernels.Buffer
		var pr float32
		var sub uint64
		if ds.drop != nil {
			mask, y, pr, sub = ds.drop.mask, ds.drop.nd.y, ds.drop.p, ds.drop.id
		}
		var err error
		if ds.gather {
			err = l.dev.DenseForwardGather(n, l.in, l.out, r.X, r.Y, r.perm, ds.net.ctr, dataset.Mean, dataset.Std, l.nd.x, labels,
				ds.act, pr, ds.net.seed, sub, l.w.W, l.b.W, ds.a, mask, y)
		} else {
			err = l.dev.DenseForward(n, l.in, l.out, ds.act, pr, ds.net.seed, sub, ds.net.ctr, l.nd.x, l.w.W, l.b.W, ds.a, mask, y)
		}
		if err != nil {
			return fmt.Errorf("%s forward: %w", l.nd.name, err)
		}
	}
	return nil
}

// backward runs the stages' backwards from the loss gradient.
func (p plan) backward(n int) error {
	for k := len(p) - 1; k >= 0; k-- {
		st := p[k]
		if st.nd != nil {
			if err := st.nd.l.backward(n); err != nil {
				return fmt.Errorf("%s backward: %w", st.nd.name, err)
			}
			continue
		}
		if c := st.conv; c != nil {
			if st.convBackInNext {
				continue // PoolActBNConvBackward
			}
			if err := c.dev.ConvBiasBackward(c.s, c.plan, n, c.nd.x, c.nd.dy, c.w.W, c.w.G, c.b.G, c.nd.dx); err != nil {
				return fmt.Errorf("%s backward: %w", c.nd.name, err)
			}
			continue
		}
		if ap := st.actPool; ap != nil {
			dev := ap.act.dev
			var err error
			if bn, c := ap.bn, ap.conv; ap.convBack {
				err = dev.PoolActBNConvBackward(bn.plan, ap.act.act, ap.pool.plan, n, ap.actNode.y, ap.poolNode.dy, ap.actNode.dx, ap.bnNode.x,
					bn.gamma.W, bn.saveMean, bn.saveInvStd, ap.bnNode.dx, bn.gamma.G, bn.beta.G, c.s, c.plan, c.nd.x, c.w.W, c.w.G, c.b.G, c.nd.dx)
			} else if bn != nil && ap.bnNode.dx != nil {
				err = dev.PoolActBNBackward(bn.plan, ap.act.act, ap.pool.plan, n, ap.actNode.y, ap.poolNode.dy, ap.actNode.dx, ap.bnNode.x,
					bn.gamma.W, bn.saveMean, bn.saveInvStd, ap.bnNode.dx, bn.gamma.G, bn.beta.G)
			} else {
				err = dev.PoolActBackward(ap.act.act, ap.pool.plan, n, ap.actNode.y, ap.poolNode.dy, ap.actNode.dx)
				if err == nil && ap.bn != nil {
					err = ap.bn.backward(n)
				}
			}
			if err != nil {
				return fmt.Errorf("%s+%s backward: %w", ap.poolNode.name, ap.actNode.name, err)
			}
			continue
		}
		ds := st.dense
		if ds.loss {
			continue // DenseLoss
		}
		if !ds.gradIn {
			if ds.drop != nil {
				if err := ds.drop.backward(n); err != nil {
					return fmt.Errorf("%s backward: %w", ds.drop.nd.name, err)
				}
			}
			if ds.actNode != nil {
				if err := ds.actNode.l.backward(n); err != nil {
					return fmt.Errorf("%s backward: %w", ds.actNode.name, err)
				}
			}
		}
		l := ds.lin
		if err := l.dev.DenseBackward(n, l.in, l.out, l.nd.dy, l.nd.x, l.w.W, l.w.G, l.b.G, ds.prevAct, ds.prevA, ds.prevMask, ds.dx); err != nil {
			return fmt.Errorf("%s backward: %w", l.nd.name, err)
		}
	}
	return nil
}
