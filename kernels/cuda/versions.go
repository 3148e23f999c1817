package cuda

// Versions names the CUDA driver's and each loaded library's version, for
// a run's config.json: keys "cuda_driver" (the CUDA version the driver
// supports, e.g. "13.0"), "nvrtc", "cublas" and "cudnn". A version the
// library would not give reads "?" with the call's error.
func (d *Device) Versions() map[string]string {
	var drv string
	var v int32
	if st := d.cu.cuDriverGetVersion(&v); st == 0 {
		drv = versionString(int(v), 1000)
	} else {
		drv = "? (" + d.cu.errText("cuDriverGetVersion", st) + ")"
	}
	return map[string]string{
		"cuda_driver": drv,
		"nvrtc":       d.rtc.version(),
		"cublas":      d.blas.version(),
		"cudnn":       d.dnn.version(),
	}
}
