package kernels

import (
	"errors"
	"fmt"
	"reflect"
)

// The device contract: the argument checks every Device makes, written once.
// Each Check function returns nil or one error naming the op and the
// argument at fault ("LossForward: labels is f32, want i32"); a device adds
// its own prefix ("cpu: ", "cuda: ") and checks what only it can know (that
// a buffer belongs to it and is not freed). The functions allocate nothing
// unless they return an error, so ops call them on every step.
//
// What a check cannot see without reading device memory (an index outside
// the data set, a label outside the classes) is checked where the values
// are: the CPU device checks them in the op with CheckIndices and
// CheckLabels; a GPU device flags them on the device and reports the error
// at the next Sync or Download, never with a per-step wait. Either way a
// bad call fails at the call or, at the latest, at the next Sync.

// ErrRange reports values out of range found on a device after the op that
// used them returned (an index outside the data set, a label outside the
// classes): the error at the next Sync or Download wraps it.
var ErrRange = errors.New("value out of range")

// CheckBuf checks that buffer argument name of op is present, of type dt,
// and holds at least n elements.
func CheckBuf(op, name string, b Buffer, dt DType, n int) error {
	if IsNil(b) {
		return fmt.Errorf("%s: %s is nil", op, name)
	}
	if b.DType() != dt {
		return fmt.Errorf("%s: %s is %v, want %v", op, name, b.DType(), dt)
	}
	if n < 0 {
		return fmt.Errorf("%s: %s: negative length %d", op, name, n)
	}
	if b.Len() < n {
		return fmt.Errorf("%s: %s has %d elements, need %d", op, name, b.Len(), n)
	}
	return nil
}

// checkF32 is CheckBuf for F32 buffers.
func checkF32(op, name string, b Buffer, n int) error { return CheckBuf(op, name, b, F32, n) }

// IsNil reports whether an optional buffer argument was left out: a nil
// interface, or a nil pointer in one.
func IsNil(b Buffer) bool {
	if b == nil {
		return true
	}
	v := reflect.ValueOf(b)
	return v.Kind() == reflect.Pointer && v.IsNil()
}

// hostLen returns the element type and length of a host slice passed to
// Upload or Download.
func hostLen(s any) (DType, int, error) {
	switch v := s.(type) {
	case []float32:
		return F32, len(v), nil
	case []uint8:
		return U8, len(v), nil
	case []int32:
		return I32, len(v), nil
	}
	return 0, 0, fmt.Errorf("unsupported host slice type %T (want []float32, []uint8 or []int32)", s)
}

// CheckUpload checks an Upload: src is a []float32, []uint8 or []int32 of
// dst's type and no longer than dst.
func CheckUpload(dst Buffer, src any) error {
	dt, n, err := hostLen(src)
	if err != nil {
		return fmt.Errorf("Upload: %w", err)
	}
	if IsNil(dst) {
		return errors.New("Upload: dst is nil")
	}
	if dst.DType() != dt || n > dst.Len() {
		return fmt.Errorf("Upload: cannot copy %T of %d elements into a %v buffer of %d", src, n, dst.DType(), dst.Len())
	}
	return nil
}

// CheckDownload checks a Download: dst is a []float32, []uint8 or []int32
// of src's type and no longer than src (a longer dst is an error, never a
// short copy).
func CheckDownload(dst any, src Buffer) error {
	dt, n, err := hostLen(dst)
	if err != nil {
		return fmt.Errorf("Download: %w", err)
	}
	if IsNil(src) {
		return errors.New("Download: src is nil")
	}
	if src.DType() != dt || n > src.Len() {
		return fmt.Errorf("Download: cannot copy a %v buffer of %d elements into %T of %d", src.DType(), src.Len(), dst, n)
	}
	return nil
}

// CheckFill checks a Fill: x is F32.
func CheckFill(x Buffer) error { return checkF32("Fill", "x", x, 0) }

// CheckCopy checks a Copy: dst and src have the same type and length.
func CheckCopy(dst, src Buffer) error {
	if IsNil(dst) || IsNil(src) {
		return errors.New("Copy: nil buffer")
	}
	if dst.DType() != src.DType() || dst.Len() != src.Len() {
		return fmt.Errorf("Copy: dst is %v[%d], src is %v[%d]", dst.DType(), dst.Len(), src.DType(), src.Len())
	}
	return nil
}

// CheckGatherImages checks GatherImages' shapes and buffers (n·d outputs
// from U8 data by n I32 indices; std not 0). The index values are checked
// with CheckIndices against data.Len()/d rows.
func CheckGatherImages(n, d int, data, idx, dst Buffer, std float32) error {
	const op = "GatherImages"
	if n < 0 || d < 0 {
		return fmt.Errorf("%s: negative size n=%d d=%d", op, n, d)
	}
	if std == 0 || std != std {
		return fmt.Errorf("%s: std is %v", op, std)
	}
	if err := CheckBuf(op, "data", data, U8, 0); err != nil {
		return err
	}
	if err := CheckBuf(op, "idx", idx, I32, n); err != nil {
		return err
	}
	return checkF32(op, "dst", dst, n*d)
}

// CheckGatherLabels checks GatherLabels' buffers (n I32 labels from U8
// labels by n I32 indices).
func CheckGatherLabels(n int, labels, idx, dst Buffer) error {
	const op = "GatherLabels"
	if n < 0 {
		return fmt.Errorf("%s: negative n=%d", op, n)
	}
	if err := CheckBuf(op, "labels", labels, U8, 0); err != nil {
		return err
	}
	if err := CheckBuf(op, "idx", idx, I32, n); err != nil {
		return err
	}
	return CheckBuf(op, "dst", dst, I32, n)
}

// CheckIndices checks that every index is in [0, rows): the values a
// gather reads.
func CheckIndices(op string, idx []int32, rows int) error {
	for i, r := range idx {
		if r < 0 || int(r) >= rows {
			return fmt.Errorf("%s: idx[%d] = %d outside the %d rows of the data: %w", op, i, r, rows, ErrRange)
		}
	}
	return nil
}

// CheckLabels checks that every label is in [0, classes).
func CheckLabels(op string, labels []int32, classes int) error {
	for i, l := range labels {
		if l < 0 || int(l) >= classes {
			return fmt.Errorf("%s: label %d at row %d outside 0..%d: %w", op, l, i, classes-1, ErrRange)
		}
	}
	return nil
}

// CheckGemm checks Gemm's shapes and buffers: A holds m·k, B k·n and C m·n
// F32 values.
func CheckGemm(m, n, k int, a, b, c Buffer) error {
	const op = "Gemm"
	if m < 0 || n < 0 || k < 0 {
		return fmt.Errorf("%s: negative shape m=%d n=%d k=%d", op, m, n, k)
	}
	if err := checkF32(op, "A", a, m*k); err != nil {
		return err
	}
	if err := checkF32(op, "B", b, k*n); err != nil {
		return err
	}
	return checkF32(op, "C", c, m*n)
}

// CheckBias checks AddBias (y, bias) and BiasGrad (dy, dbias): a [n, ch,
// spatial] F32 tensor and ch biases.
func CheckBias(op string, n, ch, spatial int, y, bias Buffer) error {
	if n < 0 || ch < 0 || spatial < 0 {
		return fmt.Errorf("%s: negative shape n=%d ch=%d spatial=%d", op, n, ch, spatial)
	}
	yName, bName := "y", "bias"
	if op == "BiasGrad" {
		yName, bName = "dy", "dbias"
	}
	if err := checkF32(op, yName, y, n*ch*spatial); err != nil {
		return err
	}
	return checkF32(op, bName, bias, ch)
}

// CheckActivation checks that act is one of the Activation constants.
func CheckActivation(op string, act Activation) error {
	if act < ReLU || act > Identity {
		return fmt.Errorf("%s: unknown activation %v", op, act)
	}
	return nil
}

// CheckElementwise checks count elements of each named F32 buffer of an
// elementwise op (ActForward, ActBackward, Mul, DropoutForward); a
// negative count is an error.
func CheckElementwise(op string, count int, names [4]string, bufs ...Buffer) error {
	if count < 0 {
		return fmt.Errorf("%s: negative count %d", op, count)
	}
	for i, b := range bufs {
		if err := checkF32(op, names[i], b, count); err != nil {
			return err
		}
	}
	return nil
}

// CheckActForward checks ActForward: a known activation and count
// elements of x and y.
func CheckActForward(act Activation, count int, x, y Buffer) error {
	const op = "ActForward"
	if err := CheckActivation(op, act); err != nil {
		return err
	}
	return CheckElementwise(op, count, [4]string{"x", "y"}, x, y)
}

// CheckActBackward checks ActBackward: a known activation and count
// elements of x, y, dy and dx.
func CheckActBackward(act Activation, count int, x, y, dy, dx Buffer) error {
	const op = "ActBackward"
	if err := CheckActivation(op, act); err != nil {
		return err
	}
	return CheckElementwise(op, count, [4]string{"x", "y", "dy", "dx"}, x, y, dy, dx)
}

// CheckDropout checks DropoutForward: p in [0, 1] and count elements of x,
// mask and y.
func CheckDropout(count int, p float32, x, mask, y Buffer) error {
	const op = "DropoutForward"
	if err := checkP(op, p); err != nil {
		return err
	}
	return CheckElementwise(op, count, [4]string{"x", "mask", "y"}, x, mask, y)
}

// CheckMul checks Mul: count elements of x, y and z.
func CheckMul(count int, x, y, z Buffer) error {
	return CheckElementwise("Mul", count, [4]string{"x", "y", "z"}, x, y, z)
}

// CheckLoss checks LossForward: a known loss, n ≥ 0 rows of classes ≥ 1
// logits, n I32 labels, dlogits (unless nil) like logits, and one-element
// F32 accumulators. The label values are checked with CheckLabels.
func CheckLoss(loss Loss, n, classes int, logits, labels, dlogits, lossSum, correct Buffer) error {
	const op = "LossForward"
	if loss < CrossEntropy || loss > MSE {
		return fmt.Errorf("%s: unknown loss %v", op, loss)
	}
	if n < 0 || classes < 1 {
		return fmt.Errorf("%s: bad shape n=%d classes=%d", op, n, classes)
	}
	if err := checkF32(op, "logits", logits, n*classes); err != nil {
		return err
	}
	if err := CheckBuf(op, "labels", labels, I32, n); err != nil {
		return err
	}
	if !IsNil(dlogits) {
		if err := checkF32(op, "dlogits", dlogits, n*classes); err != nil {
			return err
		}
	}
	if err := checkF32(op, "lossSum", lossSum, 1); err != nil {
		return err
	}
	return checkF32(op, "correct", correct, 1)
}

// CheckSoftmax checks Softmax: n ≥ 0 rows of classes ≥ 1 in x and y.
func CheckSoftmax(n, classes int, x, y Buffer) error {
	const op = "Softmax"
	if n < 0 || classes < 1 {
		return fmt.Errorf("%s: bad shape n=%d classes=%d", op, n, classes)
	}
	if err := checkF32(op, "x", x, n*classes); err != nil {
		return err
	}
	return checkF32(op, "y", y, n*classes)
}

// CheckSGD checks SGD: count elements of params and grads, and of vel
// when momentum is not 0.
func CheckSGD(count int, momentum float32, params, grads, vel Buffer) error {
	const op = "SGD"
	if err := CheckElementwise(op, count, [4]string{"params", "grads"}, params, grads); err != nil {
		return err
	}
	if momentum != 0 {
		return checkF32(op, "vel", vel, count)
	}
	return nil
}

// CheckAdam checks Adam: step ≥ 1 and count elements of params, grads, m
// and v.
func CheckAdam(count, step int, params, grads, m, v Buffer) error {
	const op = "Adam"
	if step < 1 {
		return fmt.Errorf("%s: step %d, want >= 1", op, step)
	}
	return CheckElementwise(op, count, [4]string{"params", "grads", "m", "v"}, params, grads, m, v)
}
