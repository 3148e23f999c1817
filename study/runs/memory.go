package runs

import (
	"fmt"

	"mnistgpu/internal/sysmem"
	"mnistgpu/kernels"
	"mnistgpu/model"
)

// hostRoom is sysmem.Available; tests replace it.
var hostRoom = sysmem.Available

// CheckMemory estimates what the run of cfg with batches of batch images
// needs (model.EstimateMemory, plus the test outputs copied to the host)
// and fails with one line when it cannot fit: in the device's free memory
// when the device has its own (kernels.MemoryInfo), and in what the host
// has left (MemAvailable, the cgroup's limit, the Go memory limit).
func CheckMemory(cfg Config, dev kernels.Device, data *Data, batch int) error {
	features := cfg.Figures && cfg.TSNELayer == "penultimate"
	images := data.Train.Len() + data.Val.Len() + data.Test.Len()
	m, err := model.EstimateMemory(cfg.Arch, batch, cfg.Train.Optimizer, images, data.Test.Len(), features)
	if err != nil {
		return err
	}
	lower := "lower --hidden or --batch-size"
	if cfg.Arch.Task == model.TaskCNN {
		lower = "lower --channels or --batch-size"
	}
	onDevice, onHost := m.Total(), m.Outputs // Predict downloads the outputs
	if mi, ok := dev.(kernels.MemoryInfo); ok {
		if free, _, err := mi.MemInfo(); err == nil && onDevice > float64(free) {
			return fmt.Errorf("needs %s of GPU memory, %s free on %s: %s", bytesText(onDevice), bytesText(float64(free)), dev.Name(), lower)
		}
	} else {
		onHost += onDevice
	}
	if l, ok := hostRoom(); ok && onHost > float64(l.Bytes) {
		return fmt.Errorf("needs %s, %s available (%s): %s", bytesText(onHost), bytesText(float64(l.Bytes)), l.Source, lower)
	}
	return nil
}

// bytesText writes a byte count in decimal units: "312 GB", "1.5 GB", "80 MB".
func bytesText(b float64) string {
	units := []string{"B", "kB", "MB", "GB", "TB", "PB", "EB"}
	i := 0
	for b >= 1000 && i < len(units)-1 {
		b /= 1000
		i++
	}
	if b < 10 && i > 0 {
		return fmt.Sprintf("%.1f %s", b, units[i])
	}
	return fmt.Sprintf("%.0f %s", b, units[i])
}
