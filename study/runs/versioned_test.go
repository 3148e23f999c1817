package runs

import "mnistgpu/kernels/cuda"

// The GPU device names its library versions for config.json.
var _ versioned = (*cuda.Device)(nil)
