package model

import (
	"fmt"
	"strconv"
	"strings"

	"mnistgpu/kernels"
)

// Task names the two architectures of the study.
const (
	TaskMLP = "mlp" // task 1: a multilayer perceptron
	TaskCNN = "cnn" // task 2: a small CNN with batch norm
)

// maxInputSize bounds the values of one input sample (C·H·W).
const maxInputSize = 1 << 24

// Arch is everything needed to rebuild a network: it is saved in config.json
// and in a checkpoint's metadata.
type Arch struct {
	Task string `json:"task"`
	// Input is the per-sample input shape [C, H, W] (1, 28, 28 for MNIST).
	Input   []int `json:"input"`
	Classes int   `json:"classes"`
	// Activation is relu, sigmoid or tanh.
	Activation string `json:"activation"`
	// Dropout is the drop probability after each hidden block (0: none).
	Dropout float64 `json:"dropout"`
	// Hidden are the MLP's hidden layer widths.
	Hidden []int `json:"hidden,omitempty"`
	// Channels are the CNN's conv block output channels.
	Channels []int `json:"channels,omitempty"`
	// Kernel is the CNN's (odd) conv kernel size.
	Kernel int `json:"kernel,omitempty"`
	// BatchNorm puts batch norm after each conv.
	BatchNorm bool `json:"batchnorm"`
}

// DefaultArch is the seed's architecture for a task (its sections 11.1 and
// 11.2), with logits out and the softmax left to the loss: the MLP
// 784-128-64-10 with ReLU and dropout 0.3, the CNN of two blocks of
// conv 3×3 (4 channels), batch norm, ReLU, 2×2 max-pool, then Linear(196, 10).
func DefaultArch(task string) (Arch, error) {
	switch task {
	case TaskMLP:
		return Arch{Task: task, Input: []int{1, 28, 28}, Classes: 10, Activation: "relu", Dropout: 0.3, Hidden: []int{128, 64}}, nil
	case TaskCNN:
		return Arch{Task: task, Input: []int{1, 28, 28}, Classes: 10, Activation: "relu", Channels: []int{4, 4}, Kernel: 3, BatchNorm: true}, nil
	}
	return Arch{}, fmt.Errorf("unknown task %q: want %s or %s", task, TaskMLP, TaskCNN)
}

// ParseActivation turns a flag value into an activation.
func ParseActivation(s string) (kernels.Activation, error) {
	switch strings.ToLower(s) {
	case "relu":
		return kernels.ReLU, nil
	case "sigmoid":
		return kernels.Sigmoid, nil
	case "tanh":
		return kernels.Tanh, nil
	}
	return 0, fmt.Errorf("--activation %s: want relu, sigmoid or tanh", s)
}

// ParseLoss turns a flag value into a loss.
func ParseLoss(s string) (kernels.Loss, error) {
	switch strings.ToLower(s) {
	case "ce", "cross-entropy", "crossentropy":
		return kernels.CrossEntropy, nil
	case "nll":
		return kernels.NLL, nil
	case "mse":
		return kernels.MSE, nil
	}
	return 0, fmt.Errorf("--loss %s: want ce, nll or mse", s)
}

// ParseInts parses a comma-separated list of positive integers such as
// "128,64"; flag names the flag for the error.
func ParseInts(flag, s string) ([]int, error) {
	if strings.TrimSpace(s) == "" {
		return nil, fmt.Errorf("--%s: empty list", flag)
	}
	parts := strings.Split(s, ",")
	out := make([]int, 0, len(parts))
	for _, p := range parts {
		p = strings.TrimSpace(p)
		v, err := strconv.Atoi(p)
		if p == "" || err != nil || v <= 0 {
			return nil, fmt.Errorf("--%s %s: %q is not a positive integer (want a list like 128,64)", flag, s, p)
		}
		out = append(out, v)
	}
	return out, nil
}

// Validate checks an architecture.
func (a Arch) Validate() error {
	if _, err := ParseActivation(a.Activation); err != nil {
		return err
	}
	if !(a.Dropout >= 0 && a.Dropout < 1) { // also rejects NaN
		return fmt.Errorf("--dropout %g: must be at least 0 and less than 1", a.Dropout)
	}
	if len(a.Input) != 3 || a.Classes < 2 {
		return fmt.Errorf("input shape %v with %d classes is not supported", a.Input, a.Classes)
	}
	// Each dimension positive, and the product bounded before it is taken
	// (a checkpoint's arch is read from a file: [-1, -1, 4] or [2^31, 2^31,
	// 4] must not reach Build).
	size := 1
	for _, d := range a.Input {
		if d <= 0 || d > maxInputSize/size {
			return fmt.Errorf("input shape %v: each dimension must be positive, %d values at most", a.Input, maxInputSize)
		}
		size *= d
	}
	switch a.Task {
	case TaskMLP:
		if len(a.Hidden) == 0 {
			return fmt.Errorf("--hidden: need at least one hidden layer")
		}
		for _, h := range a.Hidden {
			if h <= 0 {
				return fmt.Errorf("--hidden: width %d is not positive", h)
			}
		}
	case TaskCNN:
		if len(a.Channels) == 0 {
			return fmt.Errorf("--channels: need at least one conv block")
		}
		if a.Kernel <= 0 || a.Kernel%2 == 0 {
			return fmt.Errorf("--kernel %d: must be a positive odd number", a.Kernel)
		}
		h, w := a.Input[1], a.Input[2]
		for _, c := range a.Channels {
			if c <= 0 {
				return fmt.Errorf("--channels: %d is not positive", c)
			}
			h, w = h/2, w/2
		}
		if h == 0 || w == 0 {
			return fmt.Errorf("--channels: %d pooling blocks shrink a %dx%d image to nothing", len(a.Channels), a.Input[1], a.Input[2])
		}
	default:
		_, err := DefaultArch(a.Task)
		return err
	}
	return nil
}

// Build makes the network for a on dev, for batches of up to maxBatch, with
// parameters initialised from seed. Layer names follow PyTorch modules:
// fc1, fc2, ... for linear layers, conv1, bn1, ... for conv blocks.
func Build(dev kernels.Device, a Arch, maxBatch int, seed uint64) (*Network, error) {
	if err := a.Validate(); err != nil {
		return nil, err
	}
	if maxBatch <= 0 {
		return nil, fmt.Errorf("batch size %d: must be positive", maxBatch)
	}
	act, _ := ParseActivation(a.Activation)
	b := newBuilder(dev, maxBatch, a.Input)
	b.net.seed = seed
	switch a.Task {
	case TaskMLP:
		for i, h := range a.Hidden {
			b.linear(fmt.Sprintf("fc%d", i+1), h)
			b.activation(fmt.Sprintf("act%d", i+1), act)
			if a.Dropout > 0 {
				b.dropout(fmt.Sprintf("drop%d", i+1), a.Dropout, uint64(i))
			}
		}
		b.linear(fmt.Sprintf("fc%d", len(a.Hidden)+1), a.Classes)
	case TaskCNN:
		for i, c := range a.Channels {
			b.conv(fmt.Sprintf("conv%d", i+1), c, a.Kernel)
			if a.BatchNorm {
				b.batchNorm(fmt.Sprintf("bn%d", i+1))
			}
			b.activation(fmt.Sprintf("act%d", i+1), act)
			b.maxPool(fmt.Sprintf("pool%d", i+1))
			if a.Dropout > 0 {
				b.dropout(fmt.Sprintf("drop%d", i+1), a.Dropout, uint64(i))
			}
		}
		b.linear("fc1", a.Classes)
	}
	net, err := b.build(seed)
	if err != nil {
		return nil, fmt.Errorf("build %s: %w", a.Task, err)
	}
	return net, nil
}
