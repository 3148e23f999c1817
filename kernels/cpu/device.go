// Package cpu is the pure-Go implementation of mnistgpu's compute device
// (kernels.Device): buffers are Go slices, ops are plain loops run in
// parallel over the batch (or over output rows and columns for GEMM) by a
// small pool of worker goroutines started by New.
//
// The device is synchronous (every op has finished when it returns, so Sync
// only reports nil) and is not safe for concurrent use: ops must be issued
// from one goroutine at a time, as the interface's "issued in order" implies.
// After warm-up a training step allocates nothing: tasks are preallocated
// structs, and per-thread scratch belongs to the plans (NewConv2D, ...) or
// to the Device and grows at most once to its largest size.
//
// Semantics follow PyTorch (see each op's doc comment); the CUDA device is
// checked against this one.
package cpu

import (
	"fmt"
	"runtime"

	"mnistgpu/kernels"
)

// Buffer is the CPU device's kernels.Buffer: one Go slice of the buffer's
// element type. A view shares the slice of the buffer it was cut from.
type Buffer struct {
	dt    kernels.DType
	f32   []float32
	u8    []uint8
	i32   []int32
	dev   *Device
	view  bool
	freed bool
}

// DType is the element type.
func (b *Buffer) DType() kernels.DType { return b.dt }

// Len is the number of elements.
func (b *Buffer) Len() int {
	switch b.dt {
	case kernels.F32:
		return len(b.f32)
	case kernels.U8:
		return len(b.u8)
	case kernels.I32:
		return len(b.i32)
	}
	return 0
}

// Float32s returns the buffer's memory as a slice (nil unless F32). Writes
// through it are visible to the device: it is the same memory.
func (b *Buffer) Float32s() []float32 { return b.f32 }

// Uint8s returns the buffer's memory as a slice (nil unless U8).
func (b *Buffer) Uint8s() []uint8 { return b.u8 }

// Int32s returns the buffer's memory as a slice (nil unless I32).
func (b *Buffer) Int32s() []int32 { return b.i32 }

// Device is the CPU compute device. Create it with New and release it with
// Close. Its methods must not be called concurrently.
type Device struct {
	threads   int
	pool      *pool
	allocated int64
	closed    bool

	// Preallocated task structs of the device-level parallel ops.
	gemm   gemmTask
	bias   biasTask
	gather gatherTask
	act    actTask
	drop   dropTask
	opt    optTask
	lossP  []float64 // LossForward's per-row scratch, grown once to classes
}

var (
	_ kernels.Device  = (*Device)(nil)
	_ kernels.Counter = (*Device)(nil)
	_ kernels.Buffer  = (*Buffer)(nil)
)

// New returns a CPU device that runs ops on threads goroutines (the caller's
// and threads-1 helpers); threads <= 0 means runtime.GOMAXPROCS(0).
func New(threads int) *Device {
	if threads <= 0 {
		threads = runtime.GOMAXPROCS(0)
	}
	d := &Device{threads: threads, pool: newPool(threads)}
	d.gemm.packs = newGemmPacks(threads)
	return d
}

// Name describes the device, e.g. "cpu (2 threads)".
func (d *Device) Name() string {
	if d.threads == 1 {
		return "cpu (1 thread)"
	}
	return fmt.Sprintf("cpu (%d threads)", d.threads)
}

// Threads is the number of goroutines ops run on.
func (d *Device) Threads() int { return d.threads }

// Close stops the worker goroutines. Using the device afterwards runs every
// op on the calling goroutine; closing twice is harmless.
func (d *Device) Close() error {
	if !d.closed {
		d.closed = true
		d.pool.close()
	}
	return nil
}

// Allocated is the number of bytes held by buffers from Alloc not yet freed.
func (d *Device) Allocated() int64 { return d.allocated }

// Alloc returns a zeroed buffer of n elements.
func (d *Device) Alloc(dt kernels.DType, n int) (kernels.Buffer, error) {
	if n < 0 {
		return nil, fmt.Errorf("cpu: Alloc(%v, %d): negative length", dt, n)
	}
	b := &Buffer{dt: dt, dev: d}
	switch dt {
	case kernels.F32:
		b.f32 = make([]float32, n)
	case kernels.U8:
		b.u8 = make([]uint8, n)
	case kernels.I32:
		b.i32 = make([]int32, n)
	default:
		return nil, fmt.Errorf("cpu: Alloc(%v, %d): unknown dtype", dt, n)
	}
	d.allocated += int64(n) * int64(dt.Size())
	return b, nil
}

// Free releases a buffer returned by Alloc. Freeing a view, a foreign buffer
// or a freed buffer does nothing. Views of a freed buffer keep its memory
// alive (it is garbage collected) but the buffer itself becomes empty.
func (d *Device) Free(b kernels.Buffer) {
	cb, ok := b.(*Buffer)
	if !ok || cb.dev != d || cb.view || cb.freed {
		return
	}
	d.allocated -= int64(cb.Len()) * int64(cb.dt.Size())
	cb.f32, cb.u8, cb.i32 = nil, nil, nil
	cb.freed = true
}

// View returns the elements [off, off+n) of b, sharing its memory. It
// allocates a small header, so views belong in set-up code, not in a step.
// It panics if b is not a buffer of this device or the range is outside b:
// both are programming errors.
func (d *Device) View(b kernels.Buffer, off, n int) kernels.Buffer {
	cb, ok := b.(*Buffer)
	if !ok || cb.dev != d {
		panic(fmt.Sprintf("cpu: View of a buffer (%T) that is not from this device", b))
	}
	if off < 0 || n < 0 || off+n > cb.Len() {
		panic(fmt.Sprintf("cpu: View [%d, %d) out of range of a %v buffer of %d elements", off, off+n, cb.dt, cb.Len()))
	}
	v := &Buffer{dt: cb.dt, dev: d, view: true}
	switch cb.dt {
	case kernels.F32:
		v.f32 = cb.f32[off : off+n : off+n]
	case kernels.U8:
		v.u8 = cb.u8[off : off+n : off+n]
	case kernels.I32:
		v.i32 = cb.i32[off : off+n : off+n]
	}
	return v
}

// Upload copies src ([]float32, []uint8 or []int32 matching dst's type) into
// the start of dst; len(src) may be less than dst.Len().
func (d *Device) Upload(dst kernels.Buffer, src any) error {
	b, err := d.buf("Upload", "dst", dst)
	if err != nil {
		return err
	}
	if err := kernels.CheckUpload(dst, src); err != nil {
		return fmt.Errorf("cpu: %w", err)
	}
	n := 0
	switch s := src.(type) {
	case []float32:
		if b.dt == kernels.F32 && len(s) <= len(b.f32) {
			copy(b.f32, s)
			return nil
		}
		n = len(s)
	case []uint8:
		if b.dt == kernels.U8 && len(s) <= len(b.u8) {
			copy(b.u8, s)
			return nil
		}
		n = len(s)
	case []int32:
		if b.dt == kernels.I32 && len(s) <= len(b.i32) {
			copy(b.i32, s)
			return nil
		}
		n = len(s)
	default:
		return fmt.Errorf("cpu: Upload: unsupported source type %T", src)
	}
	return fmt.Errorf("cpu: Upload: cannot copy %T of %d elements into a %v buffer of %d", src, n, b.dt, b.Len())
}

// Download copies the start of src into dst ([]float32, []uint8 or []int32
// matching src's type); len(dst) may be less than src.Len().
func (d *Device) Download(dst any, src kernels.Buffer) error {
	b, err := d.buf("Download", "src", src)
	if err != nil {
		return err
	}
	if err := kernels.CheckDownload(dst, src); err != nil {
		return fmt.Errorf("cpu: %w", err)
	}
	n := 0
	switch s := dst.(type) {
	case []float32:
		if b.dt == kernels.F32 && len(s) <= len(b.f32) {
			copy(s, b.f32)
			return nil
		}
		n = len(s)
	case []uint8:
		if b.dt == kernels.U8 && len(s) <= len(b.u8) {
			copy(s, b.u8)
			return nil
		}
		n = len(s)
	case []int32:
		if b.dt == kernels.I32 && len(s) <= len(b.i32) {
			copy(s, b.i32)
			return nil
		}
		n = len(s)
	default:
		return fmt.Errorf("cpu: Download: unsupported destination type %T", dst)
	}
	return fmt.Errorf("cpu: Download: cannot copy a %v buffer of %d elements into %T of %d", b.dt, b.Len(), dst, n)
}

// Sync returns nil: every op has finished when it returns.
func (d *Device) Sync() error { return nil }

// Fill sets every element of the F32 buffer x to v.
func (d *Device) Fill(x kernels.Buffer, v float32) error {
	b, err := d.buf("Fill", "x", x)
	if err != nil {
		return err
	}
	if err := kernels.CheckFill(x); err != nil {
		return fmt.Errorf("cpu: %w", err)
	}
	s := b.f32
	for i := range s {
		s[i] = v
	}
	return nil
}

// Copy copies src into dst (same type and length).
func (d *Device) Copy(dst, src kernels.Buffer) error {
	db, err := d.buf("Copy", "dst", dst)
	if err != nil {
		return err
	}
	sb, err := d.buf("Copy", "src", src)
	if err != nil {
		return err
	}
	if err := kernels.CheckCopy(dst, src); err != nil {
		return fmt.Errorf("cpu: %w", err)
	}
	copy(db.f32, sb.f32)
	copy(db.u8, sb.u8)
	copy(db.i32, sb.i32)
	return nil
}

// buf checks that b is a live buffer of this device.
func (d *Device) buf(op, name string, b kernels.Buffer) (*Buffer, error) {
	cb, ok := b.(*Buffer)
	if !ok || cb == nil {
		return nil, fmt.Errorf("cpu: %s: %s is %T, not a cpu buffer", op, name, b)
	}
	if cb.dev != d {
		return nil, fmt.Errorf("cpu: %s: %s belongs to another device", op, name)
	}
	if cb.freed {
		return nil, fmt.Errorf("cpu: %s: %s has been freed", op, name)
	}
	return cb, nil
}

// f32 returns the first n elements of the F32 buffer b, checking its type
// and length; op and name give errors their context.
func (d *Device) f32(op, name string, b kernels.Buffer, n int) ([]float32, error) {
	cb, err := d.buf(op, name, b)
	if err != nil {
		return nil, err
	}
	if cb.dt != kernels.F32 {
		return nil, fmt.Errorf("cpu: %s: %s is %v, want f32", op, name, cb.dt)
	}
	if n < 0 || len(cb.f32) < n {
		return nil, fmt.Errorf("cpu: %s: %s has %d elements, need %d", op, name, len(cb.f32), n)
	}
	return cb.f32[:n:n], nil
}

// i32 is f32 for I32 buffers.
func (d *Device) i32(op, name string, b kernels.Buffer, n int) ([]int32, error) {
	cb, err := d.buf(op, name, b)
	if err != nil {
		return nil, err
	}
	if cb.dt != kernels.I32 {
		return nil, fmt.Errorf("cpu: %s: %s is %v, want i32", op, name, cb.dt)
	}
	if n < 0 || len(cb.i32) < n {
		return nil, fmt.Errorf("cpu: %s: %s has %d elements, need %d", op, name, len(cb.i32), n)
	}
	return cb.i32[:n:n], nil
}

// u8 is f32 for U8 buffers; it returns the whole buffer.
func (d *Device) u8(op, name string, b kernels.Buffer) ([]uint8, error) {
	cb, err := d.buf(op, name, b)
	if err != nil {
		return nil, err
	}
	if cb.dt != kernels.U8 {
		return nil, fmt.Errorf("cpu: %s: %s is %v, want u8", op, name, cb.dt)
	}
	return cb.u8, nil
}
