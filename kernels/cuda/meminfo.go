package cuda

import "mnistgpu/kernels"

var _ kernels.MemoryInfo = (*Device)(nil)

// MemInfo returns the GPU's free and total memory in bytes (cuMemGetInfo).
func (d *Device) MemInfo() (free, total uint64, err error) {
	if err := d.enter(); err != nil {
		return 0, 0, err
	}
	defer d.leave()
	if st := d.cu.cuMemGetInfo(&free, &total); st != 0 {
		return 0, 0, d.cu.err("cuMemGetInfo_v2", st)
	}
	return free, total, nil
}
