package model

import (
	"fmt"

	"mnistgpu/kernels"
)

// Memory is an estimate, in bytes, of what a training run holds on its
// device at once. Bytes are float64 so that absurd sizes (--hidden 1e12)
// are estimated rather than overflowing.
type Memory struct {
	// Params holds the parameters, their gradients and the batch-norm
	// statistics; Optimizer the optimizer's state.
	Params, Optimizer float64
	// Activations are the layers' outputs, their gradients and the saved
	// masks and statistics, at the batch size.
	Activations float64
	// Data is the resident data set (uint8 pixels and labels, int32 orders).
	Data float64
	// Outputs are the whole test set's logits, probabilities and (when
	// features) last-layer inputs, which the evaluation keeps.
	Outputs float64
}

// Total is the sum of the parts.
func (m Memory) Total() float64 { return m.Params + m.Optimizer + m.Activations + m.Data + m.Outputs }

// EstimateMemory estimates what training a with batches of batch images
// and optimizer opt needs on its device, with images images resident (the
// training, validation and test sets) and the outputs of test test images.
// It follows Build, NewTrainer, Upload and Predict buffer by buffer; a
// device's own scratch space (convolution workspaces) is not counted.
func EstimateMemory(a Arch, batch int, opt string, images, test int, features bool) (Memory, error) {
	if err := a.Validate(); err != nil {
		return Memory{}, err
	}
	const f32 = 4
	b := float64(batch)
	var params, states, act float64 // params and states in values, act in values per sample
	in := float64(prod(a.Input))
	act += in // the input batch
	node := func(out float64, masks int) { act += float64(2+masks) * out }
	feat := 0.0
	switch a.Task {
	case TaskMLP:
		prev := in
		for _, h := range a.Hidden {
			w := float64(h)
			params += prev*w + w
			node(w, 0) // linear
			node(w, 0) // activation
			if a.Dropout > 0 {
				node(w, 1)
			}
			prev = w
		}
		params += prev*float64(a.Classes) + float64(a.Classes)
		feat = prev
	case TaskCNN:
		c, h, w := float64(a.Input[0]), a.Input[1], a.Input[2]
		k := float64(a.Kernel)
		for _, ch := range a.Channels {
			o := float64(ch)
			plane := float64(h * w)
			params += c*o*k*k + o
			node(o*plane, 0) // conv
			if a.BatchNorm {
				params += 2 * o
				states += 2 * o
				node(o*plane, 0)
				act += 2 * o / b // saved mean and inverse std, per batch
			}
			node(o*plane, 0) // activation
			h, w = h/2, w/2
			node(o*float64(h*w), 0) // pool
			if a.Dropout > 0 {
				node(o*float64(h*w), 1)
			}
			c = o
		}
		feat = c * float64(h*w)
		params += feat*float64(a.Classes) + float64(a.Classes)
	default:
		return Memory{}, fmt.Errorf("unknown task %q", a.Task)
	}
	node(float64(a.Classes), 0) // logits
	m := Memory{
		Params:      f32 * (2*params + states),
		Activations: f32*b*act + f32*b + 2*f32 + 4*kernels.CtrLen, // plus the labels, the two accumulators and the step counter
		Data:        float64(images) * (in + 1 + 2*4),
		Outputs:     f32 * float64(test) * 2 * float64(a.Classes),
	}
	if features {
		m.Outputs += f32 * float64(test) * feat
	}
	m.Optimizer = f32 * params
	if opt == OptAdam {
		m.Optimizer *= 2
	}
	return m, nil
}
