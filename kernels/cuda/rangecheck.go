package cuda

import (
	"fmt"
	"unsafe"

	"github.com/ebitengine/purego"

	"mnistgpu/kernels"
)

// Indices and labels live on the device, so the ops that read them cannot
// check them on the host without waiting for the GPU every step. Instead
// the kernels check them (gather.cu, loss.cu): a value out of range is not
// read, and the kernel sets its slot of the device's range flags. Sync and
// Download, which wait for the GPU anyway, read the flags (a 12-byte copy),
// clear them, and return the op's error wrapping kernels.ErrRange. So a bad
// index or label fails the run at the epoch's end on the GPU, and at the
// call on the CPU, and never silently.

// Range-flag slots: RANGE_* in common.cuh.
const (
	rangeGatherImages = iota
	rangeGatherLabels
	rangeLossLabels
	rangeGatherBatch
	rangeSlots
)

// rangeWhat says what each slot's flag means.
var rangeWhat = [rangeSlots]string{
	rangeGatherImages: "GatherImages: an index was outside the data set",
	rangeGatherLabels: "GatherLabels: an index was outside the labels",
	rangeLossLabels:   "LossForward: a label was outside the classes",
	rangeGatherBatch:  "GatherBatch: the batch was outside the permutation, or an index outside the data set",
}

// rangeFlags is the device's int[rangeSlots] of flags and the host copy it
// is read into.
type rangeFlags struct {
	buf  *buffer
	host [rangeSlots]int32
}

// allocRangeFlags allocates the range flags (zeroed) once, at Open.
func (d *Device) allocRangeFlags() error {
	b, err := d.Alloc(kernels.I32, rangeSlots)
	if err != nil {
		return err
	}
	d.rng.buf = b.(*buffer)
	return nil
}

// checkRange reads and clears the range flags after the stream has been
// synchronised; the caller holds enter.
func (d *Device) checkRange() error {
	if d.rng.buf == nil {
		return nil
	}
	st := d.cu.cuMemcpyDtoHAsync(unsafe.Pointer(&d.rng.host[0]), d.rng.buf.ptr, rangeSlots*4, d.stream)
	if st == 0 {
		st = d.cu.cuStreamSynchronize(d.stream)
	}
	if err := d.cu.err("cuMemcpyDtoHAsync_v2", st); err != nil {
		return err
	}
	first := -1
	for i, v := range d.rng.host {
		if v != 0 && first < 0 {
			first = i
		}
	}
	if first < 0 {
		return nil
	}
	d.rng.host = [rangeSlots]int32{}
	a := &d.args
	a[0], a[1], a[2], a[3] = uintptr(d.rng.buf.ptr), 0, rangeSlots, d.stream
	r, _, _ := purego.SyscallN(d.cu.rawMemsetD32Async, a[:4]...)
	if st := int32(r); st != 0 {
		return d.cu.err("cuMemsetD32Async", st)
	}
	return fmt.Errorf("cuda: %s (found on the device after the call returned): %w", rangeWhat[first], kernels.ErrRange)
}
