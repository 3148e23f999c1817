package cuda

import "fmt"

// cuBLAS constants (cublas_api.h, library_types.h).
const (
	cublasOpN = 0 // CUBLAS_OP_N
	cublasOpT = 1 // CUBLAS_OP_T

	cublasPointerModeHost = 0 // CUBLAS_POINTER_MODE_HOST

	cublasDefaultMath    = 0 // CUBLAS_DEFAULT_MATH: FP32 stays FP32
	cublasTF32TensorMath = 3 // CUBLAS_TF32_TENSOR_OP_MATH

	libMajorVersion = 0 // MAJOR_VERSION (libraryPropertyType)
	libMinorVersion = 1 // MINOR_VERSION
	libPatchLevel   = 2 // PATCH_LEVEL

	cublasWorkspaceBytes = 32 << 20 // NVIDIA's recommendation for Hopper
)

// blasAPI is libcublas.so.13 (or .12). The _v2 names are the real symbols
// behind cublas_v2.h's cublasCreate, cublasSgemm, ...
type blasAPI struct {
	lib *dynlib

	// cublasStatus_t cublasCreate_v2(cublasHandle_t *handle)
	create func(h *uintptr) int32
	// cublasStatus_t cublasDestroy_v2(cublasHandle_t handle)
	destroy func(h uintptr) int32
	// cublasStatus_t cublasSetStream_v2(cublasHandle_t handle, cudaStream_t streamId)
	setStream func(h, stream uintptr) int32
	// cublasStatus_t cublasSetPointerMode_v2(cublasHandle_t handle, cublasPointerMode_t mode)
	setPointerMode func(h uintptr, mode int32) int32
	// cublasStatus_t cublasSetMathMode(cublasHandle_t handle, cublasMath_t mode)
	setMathMode func(h uintptr, mode int32) int32
	// cublasStatus_t cublasSetWorkspace_v2(cublasHandle_t handle, void *workspace, size_t bytes); optional
	setWorkspace func(h uintptr, ws uint64, bytes uint64) int32
	// cublasStatus_t cublasGetProperty(libraryPropertyType type, int *value)
	getProperty func(t int32, v *int32) int32
	// const char *cublasGetStatusString(cublasStatus_t status); optional (11.4+)
	statusString func(st int32) string
	// const char *cublasGetStatusName(cublasStatus_t status); optional (11.4+)
	statusName func(st int32) string

	// cublasStatus_t cublasSgemm_v2(cublasHandle_t handle, cublasOperation_t transa,
	//   cublasOperation_t transb, int m, int n, int k, const float *alpha,
	//   const float *A, int lda, const float *B, int ldb, const float *beta,
	//   float *C, int ldc) — 14 arguments, called raw.
	rawSgemm uintptr
}

func bindCublas(l *dynlib) (*blasAPI, error) {
	a := &blasAPI{lib: l}
	for _, b := range []struct {
		f    any
		name string
	}{
		{&a.create, "cublasCreate_v2"},
		{&a.destroy, "cublasDestroy_v2"},
		{&a.setStream, "cublasSetStream_v2"},
		{&a.setPointerMode, "cublasSetPointerMode_v2"},
		{&a.setMathMode, "cublasSetMathMode"},
		{&a.getProperty, "cublasGetProperty"},
	} {
		if err := l.bind(b.f, b.name); err != nil {
			return nil, err
		}
	}
	l.bindOpt(&a.setWorkspace, "cublasSetWorkspace_v2")
	l.bindOpt(&a.statusString, "cublasGetStatusString")
	l.bindOpt(&a.statusName, "cublasGetStatusName")
	var err error
	if a.rawSgemm, err = l.sym("cublasSgemm_v2"); err != nil {
		return nil, err
	}
	return a, nil
}

// err turns a cublasStatus_t into an *Error.
func (a *blasAPI) err(fn string, st int32) error {
	if st == 0 {
		return nil
	}
	e := &Error{Func: fn, Code: int(st), Name: statusName(cublasStatusNames, "CUBLAS_STATUS", int(st))}
	if a.statusName != nil {
		if s := a.statusName(st); s != "" {
			e.Name = s
		}
	}
	if a.statusString != nil {
		e.Msg = a.statusString(st)
	}
	return e
}

// version reads MAJOR.MINOR.PATCH with cublasGetProperty (no handle needed).
func (a *blasAPI) version() string {
	var v [3]int32
	for i, t := range []int32{libMajorVersion, libMinorVersion, libPatchLevel} {
		if st := a.getProperty(t, &v[i]); st != 0 {
			return "? (" + a.err("cublasGetProperty", st).Error() + ")"
		}
	}
	return fmt.Sprintf("%d.%d.%d", v[0], v[1], v[2])
}
