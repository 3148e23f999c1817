package cuda

import (
	"errors"
	"fmt"
	"os"

	"github.com/ebitengine/purego"

	"mnistgpu/kernels"
)

// GraphsEnv is the environment variable that turns CUDA graphs off when
// set to 0 (for debugging and for A/B benchmarks): Capture then fails and
// training launches every op directly.
const GraphsEnv = "MNISTGPU_CUDA_GRAPHS"

var _ kernels.Grapher = (*Device)(nil)
var _ kernels.LaunchCounter = (*Device)(nil)

// Launches is the number of kernels, cuBLAS and cuDNN calls, memsets and
// device-to-device copies issued so far; a graph launch counts as one.
// Work recorded by Capture is not counted (it does not run).
func (d *Device) Launches() int64 { return d.launches }

// graph is a captured step: the CUDA graph and its executable instance.
type graph struct {
	d       *Device
	g, exec uintptr
	kernels int
}

// Capture records the work fn issues on the device's stream into a CUDA
// graph (cuStreamBeginCapture_v2 in relaxed mode, so other devices of the
// process, e.g. a sweep's other trainings, are not disturbed), without
// running it, and instantiates it. fn must not copy to or from the host or
// synchronise: the driver refuses and the capture fails. A failure leaves
// the device usable, with nothing recorded.
func (d *Device) Capture(fn func() error) (kernels.Graph, error) {
	if !d.cu.graphs {
		return nil, errors.New("cuda: the driver has no CUDA graph API (cuStreamBeginCapture_v2, cuGraphInstantiateWithFlags, cuGraphLaunch)")
	}
	if os.Getenv(GraphsEnv) == "0" {
		return nil, fmt.Errorf("cuda: CUDA graphs are off (%s=0)", GraphsEnv)
	}
	if err := d.enter(); err != nil {
		return nil, err
	}
	defer d.leave()
	cu := d.cu
	if err := cu.err("cuStreamBeginCapture_v2", cu.cuStreamBeginCapture(d.stream, cuStreamCaptureModeRelaxed)); err != nil {
		return nil, err
	}
	before := d.launches
	ferr := fn()
	counted := int(d.launches - before)
	d.launches = before // nothing ran
	var g uintptr
	st := cu.cuStreamEndCapture(d.stream, &g)
	if ferr != nil {
		if st == 0 && g != 0 {
			cu.cuGraphDestroy(g)
		}
		return nil, fmt.Errorf("cuda: capture: %w", ferr)
	}
	if err := cu.err("cuStreamEndCapture", st); err != nil {
		return nil, err
	}
	var exec uintptr
	if err := cu.err("cuGraphInstantiateWithFlags", cu.cuGraphInstantiateWithFlags(&exec, g, 0)); err != nil {
		cu.cuGraphDestroy(g)
		return nil, err
	}
	gr := &graph{d: d, g: g, exec: exec, kernels: counted}
	if n, ok := d.graphNodes(g); ok {
		gr.kernels = n
	}
	if d.graphs == nil {
		d.graphs = map[*graph]struct{}{}
	}
	d.graphs[gr] = struct{}{}
	return gr, nil
}

// graphNodes counts the kernel, memset and memcpy nodes of g (a cuBLAS or
// cuDNN call may add several kernels), when the driver can list them.
func (d *Device) graphNodes(g uintptr) (int, bool) {
	cu := d.cu
	if cu.cuGraphGetNodes == nil {
		return 0, false
	}
	var n uint64
	if cu.cuGraphGetNodes(g, nil, &n) != 0 {
		return 0, false
	}
	if n == 0 {
		return 0, true
	}
	nodes := make([]uintptr, n)
	if cu.cuGraphGetNodes(g, &nodes[0], &n) != 0 {
		return 0, false
	}
	count := 0
	for _, nd := range nodes[:n] {
		var t int32
		if cu.cuGraphNodeGetType(nd, &t) != 0 {
			return 0, false
		}
		if t == cuGraphNodeTypeKernel || t == cuGraphNodeTypeMemset || t == cuGraphNodeTypeMemcpy {
			count++
		}
	}
	return count, true
}

// Launch queues one replay of the graph on the device's stream
// (cuGraphLaunch, a raw call: no allocation).
func (g *graph) Launch() error {
	d := g.d
	if g.exec == 0 {
		return errors.New("cuda: launch of a closed graph")
	}
	if err := d.enter(); err != nil {
		return err
	}
	defer d.leave()
	a := &d.args
	a[0], a[1] = g.exec, d.stream
	r, _, _ := purego.SyscallN(d.cu.rawGraphLaunch, a[:2]...)
	d.launches++
	if st := int32(r); st != 0 {
		return d.cu.err("cuGraphLaunch", st)
	}
	return nil
}

// Kernels is the number of kernel, memset and memcpy nodes of the graph
// (cuGraphGetNodes), or the launches counted while capturing it when the
// driver cannot list nodes.
func (g *graph) Kernels() int { return g.kernels }

// Close waits for queued replays and destroys the graph.
func (g *graph) Close() {
	d := g.d
	if g.exec == 0 || d.closed {
		return
	}
	if d.enter() != nil {
		return
	}
	defer d.leave()
	d.destroyGraph(g)
}

// destroyGraph releases g; the context must be current.
func (d *Device) destroyGraph(g *graph) {
	d.cu.cuStreamSynchronize(d.stream)
	d.cu.cuGraphExecDestroy(g.exec)
	d.cu.cuGraphDestroy(g.g)
	g.exec, g.g = 0, 0
	delete(d.graphs, g)
}
