package kernels

// MemoryInfo is implemented by a Device with memory of its own (a GPU),
// so that a run can check before allocating that it fits. A Device without
// it allocates from the host's memory.
type MemoryInfo interface {
	// MemInfo returns the device's free and total memory in bytes.
	MemInfo() (free, total uint64, err error)
}
