package cuda

import (
	"fmt"
	"unsafe"

	"github.com/ebitengine/purego"

	"mnistgpu/kernels"
)

// Gemm computes C = alpha·op(A)·op(B) + beta·C for row-major matrices
// (op(A) m×k, op(B) k×n, C m×n) with cublasSgemm_v2. cuBLAS is
// column-major, and a row-major matrix read column-major is its transpose,
// so the row-major product is the column-major C^T = op(B)^T·op(A)^T: B is
// passed first, A second, m and n swap, and nothing is copied.
//
// Leading dimensions (column-major rows of the stored matrices): B is
// stored k×n row-major (ld n) or, transposed, n×k (ld k); A is m×k (ld k)
// or k×m (ld m); C is m×n (ld n).
func (d *Device) Gemm(transA, transB bool, m, n, k int, alpha float32, a, b kernels.Buffer, beta float32, c kernels.Buffer) error {
	if err := kernels.CheckGemm(m, n, k, a, b, c); err != nil {
		return fmt.Errorf("cuda: %w", err)
	}
	ab, err := d.f32("Gemm", "A", a, m*k)
	if err != nil {
		return err
	}
	bb, err := d.f32("Gemm", "B", b, k*n)
	if err != nil {
		return err
	}
	cb, err := d.f32("Gemm", "C", c, m*n)
	if err != nil {
		return err
	}
	if m == 0 || n == 0 {
		return nil
	}
	if err := d.enter(); err != nil {
		return err
	}
	defer d.leave()
	opA, lda := uintptr(cublasOpN), k
	if transA {
		opA, lda = cublasOpT, m
	}
	opB, ldb := uintptr(cublasOpN), n
	if transB {
		opB, ldb = cublasOpT, k
	}
	d.scal[2], d.scal[3] = alpha, beta
	x := &d.args
	x[0] = d.blasH
	x[1], x[2] = opB, opA
	x[3], x[4], x[5] = uintptr(n), uintptr(m), uintptr(k)
	x[6] = uintptr(unsafe.Pointer(&d.scal[2]))
	x[7], x[8] = uintptr(bb.ptr), uintptr(max(1, ldb))
	x[9], x[10] = uintptr(ab.ptr), uintptr(max(1, lda))
	x[11] = uintptr(unsafe.Pointer(&d.scal[3]))
	x[12], x[13] = uintptr(cb.ptr), uintptr(max(1, n))
	r, _, _ := purego.SyscallN(d.blas.rawSgemm, x[:14]...)
	d.launches++
	if st := int32(r); st != 0 {
		err := d.blas.err("cublasSgemm_v2", st)
		if e, ok := err.(*Error); ok {
			e.Detail = fmt.Sprintf("row-major m=%d n=%d k=%d transA=%v transB=%v", m, n, k, transA, transB)
		}
		return err
	}
	return nil
}
