package cuda

import (
	"fmt"
	"unsafe"
)

// cuDNN constants (cuDNN 9 headers: cudnn_graph.h, cudnn_ops.h, cudnn_cnn.h).
const (
	cudnnDataFloat        = 0 // CUDNN_DATA_FLOAT
	cudnnTensorNCHW       = 0 // CUDNN_TENSOR_NCHW
	cudnnCrossCorrelation = 1 // CUDNN_CROSS_CORRELATION (cudnnConvolutionMode_t)

	cudnnDefaultMath                 = 0 // CUDNN_DEFAULT_MATH (TF32 allowed for FP32 on Ampere+)
	cudnnTensorOpMath                = 1 // CUDNN_TENSOR_OP_MATH
	cudnnTensorOpMathAllowConversion = 2 // CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION (may round to FP16)
	cudnnFMAMath                     = 3 // CUDNN_FMA_MATH: FP32 FMA kernels only

	cudnnBatchNormSpatial = 1 // CUDNN_BATCHNORM_SPATIAL
)

// convPerf mirrors cudnnConvolutionFwdAlgoPerf_t, ...BwdDataAlgoPerf_t and
// ...BwdFilterAlgoPerf_t, which share one layout (cudnn_cnn.h):
//
//	struct { int algo; cudnnStatus_t status; float time; size_t memory;
//	         cudnnDeterminism_t determinism; cudnnMathType_t mathType;
//	         int reserved[3]; }
//
// size_t memory is 8-aligned, so 4 bytes of padding follow time, and the
// struct is padded to 48 bytes.
type convPerf struct {
	Algo        int32
	Status      int32
	Time        float32
	_           int32
	Memory      uint64
	Determinism int32
	MathType    int32
	Reserved    [3]int32
	_           int32
}

const convPerfMax = 8 // CUDNN_CONVOLUTION_FWD_ALGO_COUNT, the largest of the three

// dnnAPI is libcudnn.so.9 (its legacy, "deprecated" but supported API).
type dnnAPI struct {
	lib *dynlib

	// size_t cudnnGetVersion(void)
	getVersion func() uint64
	// const char *cudnnGetErrorString(cudnnStatus_t status)
	errorString func(st int32) string
	// void cudnnGetLastErrorString(char *message, size_t max_size); optional (9.0+)
	lastError func(msg *byte, n uint64)
	// cudnnStatus_t cudnnCreate(cudnnHandle_t *handle)
	create func(h *uintptr) int32
	// cudnnStatus_t cudnnDestroy(cudnnHandle_t handle)
	destroy func(h uintptr) int32
	// cudnnStatus_t cudnnSetStream(cudnnHandle_t handle, cudaStream_t streamId)
	setStream func(h, s uintptr) int32

	// cudnnStatus_t cudnnCreateTensorDescriptor(cudnnTensorDescriptor_t *tensorDesc)
	createTensor func(d *uintptr) int32
	// cudnnStatus_t cudnnSetTensor4dDescriptor(cudnnTensorDescriptor_t tensorDesc,
	//   cudnnTensorFormat_t format, cudnnDataType_t dataType, int n, int c, int h, int w)
	setTensor4d func(d uintptr, format, dtype, n, c, h, w int32) int32
	// cudnnStatus_t cudnnDestroyTensorDescriptor(cudnnTensorDescriptor_t tensorDesc)
	destroyTensor func(d uintptr) int32

	// cudnnStatus_t cudnnCreateFilterDescriptor(cudnnFilterDescriptor_t *filterDesc)
	createFilter func(d *uintptr) int32
	// cudnnStatus_t cudnnSetFilter4dDescriptor(cudnnFilterDescriptor_t filterDesc,
	//   cudnnDataType_t dataType, cudnnTensorFormat_t format, int k, int c, int h, int w)
	// (note: data type before format, the reverse of cudnnSetTensor4dDescriptor)
	setFilter4d func(d uintptr, dtype, format, k, c, h, w int32) int32
	// cudnnStatus_t cudnnDestroyFilterDescriptor(cudnnFilterDescriptor_t filterDesc)
	destroyFilter func(d uintptr) int32

	// cudnnStatus_t cudnnCreateConvolutionDescriptor(cudnnConvolutionDescriptor_t *convDesc)
	createConv func(d *uintptr) int32
	// cudnnStatus_t cudnnSetConvolution2dDescriptor(cudnnConvolutionDescriptor_t convDesc,
	//   int pad_h, int pad_w, int u, int v, int dilation_h, int dilation_w,
	//   cudnnConvolutionMode_t mode, cudnnDataType_t computeType)
	setConv2d func(d uintptr, padH, padW, u, v, dilH, dilW, mode, computeType int32) int32
	// cudnnStatus_t cudnnSetConvolutionMathType(cudnnConvolutionDescriptor_t convDesc, cudnnMathType_t mathType)
	setConvMath func(d uintptr, math int32) int32
	// cudnnStatus_t cudnnDestroyConvolutionDescriptor(cudnnConvolutionDescriptor_t convDesc)
	destroyConv func(d uintptr) int32

	// cudnnStatus_t cudnnGetConvolutionForwardAlgorithm_v7(handle, srcDesc (x),
	//   filterDesc (w), convDesc, destDesc (y), int requestedAlgoCount,
	//   int *returnedAlgoCount, cudnnConvolutionFwdAlgoPerf_t *perfResults)
	getFwdAlgo func(h, x, w, conv, y uintptr, req int32, ret *int32, perf unsafe.Pointer) int32
	// cudnnStatus_t cudnnGetConvolutionBackwardDataAlgorithm_v7(handle, filterDesc (w),
	//   diffDesc (dy), convDesc, gradDesc (dx), requested, *returned, *perf)
	getBwdDataAlgo func(h, w, dy, conv, dx uintptr, req int32, ret *int32, perf unsafe.Pointer) int32
	// cudnnStatus_t cudnnGetConvolutionBackwardFilterAlgorithm_v7(handle, srcDesc (x),
	//   diffDesc (dy), convDesc, gradDesc (dw filter), requested, *returned, *perf)
	getBwdFilterAlgo func(h, x, dy, conv, dw uintptr, req int32, ret *int32, perf unsafe.Pointer) int32

	// cudnnStatus_t cudnnFindConvolutionForwardAlgorithmEx(handle, xDesc, const void *x,
	//   wDesc, const void *w, convDesc, yDesc, void *y, int requestedAlgoCount,
	//   int *returnedAlgoCount, cudnnConvolutionFwdAlgoPerf_t *perfResults,
	//   void *workSpace, size_t workSpaceSizeInBytes)
	findFwd func(h, xd uintptr, x uint64, wd uintptr, w uint64, conv, yd uintptr, y uint64, req int32, ret *int32, perf unsafe.Pointer, ws, wsBytes uint64) int32
	// cudnnStatus_t cudnnFindConvolutionBackwardDataAlgorithmEx(handle, wDesc, const void *w,
	//   dyDesc, const void *dy, convDesc, dxDesc, void *dx, requested, *returned,
	//   *perf, void *workSpace, size_t workSpaceSizeInBytes)
	findBwdData func(h, wd uintptr, w uint64, dyd uintptr, dy uint64, conv, dxd uintptr, dx uint64, req int32, ret *int32, perf unsafe.Pointer, ws, wsBytes uint64) int32
	// cudnnStatus_t cudnnFindConvolutionBackwardFilterAlgorithmEx(handle, xDesc, const void *x,
	//   dyDesc, const void *y (dy), convDesc, dwDesc, void *dw, requested,
	//   *returned, *perf, void *workSpace, size_t workSpaceSizeInBytes)
	findBwdFilter func(h, xd uintptr, x uint64, dyd uintptr, dy uint64, conv, dwd uintptr, dw uint64, req int32, ret *int32, perf unsafe.Pointer, ws, wsBytes uint64) int32

	// cudnnStatus_t cudnnGetConvolutionForwardWorkspaceSize(handle, xDesc, wDesc,
	//   convDesc, yDesc, cudnnConvolutionFwdAlgo_t algo, size_t *sizeInBytes)
	fwdWorkspace func(h, x, w, conv, y uintptr, algo int32, size *uint64) int32
	// cudnnStatus_t cudnnGetConvolutionBackwardDataWorkspaceSize(handle, wDesc,
	//   dyDesc, convDesc, dxDesc, algo, size_t *sizeInBytes)
	bwdDataWorkspace func(h, w, dy, conv, dx uintptr, algo int32, size *uint64) int32
	// cudnnStatus_t cudnnGetConvolutionBackwardFilterWorkspaceSize(handle, xDesc,
	//   dyDesc, convDesc, gradDesc (dw), algo, size_t *sizeInBytes)
	bwdFilterWorkspace func(h, x, dy, conv, dw uintptr, algo int32, size *uint64) int32

	// Raw, 13 arguments each (cudnn_cnn.h):
	// cudnnConvolutionForward(handle, const void *alpha, xDesc, const void *x,
	//   wDesc, const void *w, convDesc, algo, void *workSpace, size_t wsBytes,
	//   const void *beta, yDesc, void *y)
	rawConvFwd uintptr
	// cudnnConvolutionBackwardData(handle, const void *alpha, wDesc, const void *w,
	//   dyDesc, const void *dy, convDesc, algo, void *workSpace, size_t wsBytes,
	//   const void *beta, dxDesc, void *dx)
	rawConvBwdData uintptr
	// cudnnConvolutionBackwardFilter(handle, const void *alpha, xDesc, const void *x,
	//   dyDesc, const void *dy, convDesc, algo, void *workSpace, size_t wsBytes,
	//   const void *beta, dwDesc, void *dw)
	rawConvBwdFilter uintptr

	// Batch norm (optional path, Options.CuDNNBatchNorm), cudnn_ops.h:
	// cudnnStatus_t cudnnDeriveBNTensorDescriptor(cudnnTensorDescriptor_t derivedBnDesc,
	//   const cudnnTensorDescriptor_t xDesc, cudnnBatchNormMode_t mode)
	deriveBN func(bn, x uintptr, mode int32) int32
	// cudnnBatchNormalizationForwardTraining(handle, mode, const void *alpha,
	//   const void *beta, xDesc, const void *x, yDesc, void *y,
	//   bnScaleBiasMeanVarDesc, const void *bnScale, const void *bnBias,
	//   double exponentialAverageFactor, void *resultRunningMean,
	//   void *resultRunningVariance, double epsilon, void *resultSaveMean,
	//   void *resultSaveInvVariance)
	bnFwdTrain func(h uintptr, mode int32, alpha, beta unsafe.Pointer, xd uintptr, x uint64, yd uintptr, y uint64,
		bnd uintptr, scale, bias uint64, factor float64, runMean, runVar uint64, eps float64, saveMean, saveInvVar uint64) int32
	// cudnnBatchNormalizationForwardInference(handle, mode, const void *alpha,
	//   const void *beta, xDesc, const void *x, yDesc, void *y,
	//   bnScaleBiasMeanVarDesc, const void *bnScale, const void *bnBias,
	//   const void *estimatedMean, const void *estimatedVariance, double epsilon)
	bnFwdInfer func(h uintptr, mode int32, alpha, beta unsafe.Pointer, xd uintptr, x uint64, yd uintptr, y uint64,
		bnd uintptr, scale, bias, mean, variance uint64, eps float64) int32
	// cudnnBatchNormalizationBackward(handle, mode, const void *alphaDataDiff,
	//   const void *betaDataDiff, const void *alphaParamDiff,
	//   const void *betaParamDiff, xDesc, const void *x, dyDesc, const void *dy,
	//   dxDesc, void *dx, dBnScaleBiasDesc, const void *bnScale,
	//   void *dBnScaleResult, void *dBnBiasResult, double epsilon,
	//   const void *savedMean, const void *savedInvVariance)
	bnBwd func(h uintptr, mode int32, alphaD, betaD, alphaP, betaP unsafe.Pointer, xd uintptr, x uint64, dyd uintptr, dy uint64,
		dxd uintptr, dx uint64, bnd uintptr, scale, dScale, dBias uint64, eps float64, saveMean, saveInvVar uint64) int32
}

func bindCudnn(l *dynlib) (*dnnAPI, error) {
	a := &dnnAPI{lib: l}
	for _, b := range []struct {
		f    any
		name string
	}{
		{&a.getVersion, "cudnnGetVersion"},
		{&a.errorString, "cudnnGetErrorString"},
		{&a.create, "cudnnCreate"},
		{&a.destroy, "cudnnDestroy"},
		{&a.setStream, "cudnnSetStream"},
		{&a.createTensor, "cudnnCreateTensorDescriptor"},
		{&a.setTensor4d, "cudnnSetTensor4dDescriptor"},
		{&a.destroyTensor, "cudnnDestroyTensorDescriptor"},
		{&a.createFilter, "cudnnCreateFilterDescriptor"},
		{&a.setFilter4d, "cudnnSetFilter4dDescriptor"},
		{&a.destroyFilter, "cudnnDestroyFilterDescriptor"},
		{&a.createConv, "cudnnCreateConvolutionDescriptor"},
		{&a.setConv2d, "cudnnSetConvolution2dDescriptor"},
		{&a.setConvMath, "cudnnSetConvolutionMathType"},
		{&a.destroyConv, "cudnnDestroyConvolutionDescriptor"},
		{&a.getFwdAlgo, "cudnnGetConvolutionForwardAlgorithm_v7"},
		{&a.getBwdDataAlgo, "cudnnGetConvolutionBackwardDataAlgorithm_v7"},
		{&a.getBwdFilterAlgo, "cudnnGetConvolutionBackwardFilterAlgorithm_v7"},
		{&a.findFwd, "cudnnFindConvolutionForwardAlgorithmEx"},
		{&a.findBwdData, "cudnnFindConvolutionBackwardDataAlgorithmEx"},
		{&a.findBwdFilter, "cudnnFindConvolutionBackwardFilterAlgorithmEx"},
		{&a.fwdWorkspace, "cudnnGetConvolutionForwardWorkspaceSize"},
		{&a.bwdDataWorkspace, "cudnnGetConvolutionBackwardDataWorkspaceSize"},
		{&a.bwdFilterWorkspace, "cudnnGetConvolutionBackwardFilterWorkspaceSize"},
		{&a.deriveBN, "cudnnDeriveBNTensorDescriptor"},
		{&a.bnFwdTrain, "cudnnBatchNormalizationForwardTraining"},
		{&a.bnFwdInfer, "cudnnBatchNormalizationForwardInference"},
		{&a.bnBwd, "cudnnBatchNormalizationBackward"},
	} {
		if err := l.bind(b.f, b.name); err != nil {
			return nil, err
		}
	}
	l.bindOpt(&a.lastError, "cudnnGetLastErrorString")
	if err := l.symbols(map[string]*uintptr{
		"cudnnConvolutionForward":        &a.rawConvFwd,
		"cudnnConvolutionBackwardData":   &a.rawConvBwdData,
		"cudnnConvolutionBackwardFilter": &a.rawConvBwdFilter,
	}); err != nil {
		return nil, err
	}
	return a, nil
}

// err turns a cudnnStatus_t into an *Error, with cuDNN's last error message
// when the library keeps one.
func (a *dnnAPI) err(fn string, st int32) error {
	if st == 0 {
		return nil
	}
	e := &Error{Func: fn, Code: int(st), Name: a.errorString(st)}
	if e.Name == "" {
		e.Name = statusName(cudnnStatusNames, "CUDNN_STATUS", int(st))
	}
	if a.lastError != nil {
		buf := make([]byte, 1024)
		a.lastError(&buf[0], uint64(len(buf)))
		e.Msg = cstring(&buf[0])
	}
	return e
}

// version formats cudnnGetVersion (major*10000 + minor*100 + patch in 9.x).
func (a *dnnAPI) version() string {
	return versionString(int(a.getVersion()), 10000)
}

// tensor4d creates an NCHW float descriptor.
func (a *dnnAPI) tensor4d(n, c, h, w int) (uintptr, error) {
	var d uintptr
	if err := a.err("cudnnCreateTensorDescriptor", a.createTensor(&d)); err != nil {
		return 0, err
	}
	if err := a.err("cudnnSetTensor4dDescriptor", a.setTensor4d(d, cudnnTensorNCHW, cudnnDataFloat, int32(n), int32(c), int32(h), int32(w))); err != nil {
		a.destroyTensor(d)
		return 0, fmt.Errorf("tensor [%d %d %d %d]: %w", n, c, h, w, err)
	}
	return d, nil
}
