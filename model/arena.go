package model

import "mnistgpu/kernels"

// arena allocates device buffers and frees them together. After a failed
// allocation it returns nil and keeps the first error in err, so a block of
// allocations needs one check.
type arena struct {
	dev  kernels.Device
	bufs []kernels.Buffer
	err  error
}

// alloc returns a zeroed buffer of n elements, or nil once an allocation
// has failed.
func (a *arena) alloc(dt kernels.DType, n int) kernels.Buffer {
	if a.err != nil {
		return nil
	}
	b, err := a.dev.Alloc(dt, n)
	if err != nil {
		a.err = err
		return nil
	}
	a.bufs = append(a.bufs, b)
	return b
}

// free releases every buffer the arena allocated.
func (a *arena) free() {
	for _, b := range a.bufs {
		a.dev.Free(b)
	}
	a.bufs = nil
}
