package runs

import "mnistgpu/kernels"

// CheckMemory is filled in below.
func CheckMemory(cfg Config, dev kernels.Device, data *Data, batch int) error { return nil }
